package io.ctx4j.servlet;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.http.ConnectTimeoutHeader;
import io.ctx4j.http.DeadlineHeader;
import io.ctx4j.http.GrpcTimeoutHeader;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import io.ctx4j.servlet.internal.ContainerHooks;
import io.ctx4j.servlet.internal.IncomingDeadline;
import io.ctx4j.servlet.internal.RequestScope;
import io.ctx4j.servlet.internal.ScopedRequest;
import io.ctx4j.servlet.internal.SharedDeadlines;
import io.ctx4j.servlet.internal.WatchedResponse;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.FilterConfig;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletRequestWrapper;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Enumeration;
import java.util.Objects;

/**
 * A servlet filter that gives every HTTP request a ctx4j context: a child of the server root
 * context, with the deadline the caller sent, cancelled as soon as the request is over or the
 * client is known to be gone. Go's {@code http.Request.Context()}, for Jakarta Servlet 6.1
 * containers.
 *
 * <pre>{@code
 * ContextServletFilter filter = ContextServletFilter.builder()
 *     .maxTimeout(Duration.ofSeconds(30))
 *     .build();
 * // register it for the REQUEST and ASYNC dispatcher types, with async support
 * // in the servlet:
 * Context ctx = CurrentContext.get();               // or ContextServletFilter.contextOf(request)
 * String price = prices.lookup(ctx, sku);            // gives up when the caller's time is over
 * // at shutdown, before the container stops:
 * filter.shutdown();                                 // every request in flight ends, cause SERVER_SHUTDOWN
 * }</pre>
 *
 * <h2>The deadline</h2>
 *
 * The filter reads {@link DeadlineHeader#NAME Ctx4j-Timeout-Ms} (milliseconds), {@link
 * ConnectTimeoutHeader#NAME Connect-Timeout-Ms} (milliseconds) and {@link GrpcTimeoutHeader#NAME
 * grpc-timeout} (a number and a unit). Each may occur on several lines and hold comma-separated
 * lists; the smallest value of all wins. The budget is measured from the moment the filter sees the
 * request, on the root's time source; {@code 0} means the caller is already out of time and gives a
 * context that is born done. If any value is malformed the filter answers {@code 400 Bad Request}
 * with a one-line {@code text/plain} body naming the header and quoting the value, and the handler
 * is not called: a caller that tried to set a deadline must learn that it did not work, rather than
 * have its request run without one. So is a {@link DispatcherType#FORWARD FORWARD} or {@link
 * DispatcherType#ASYNC ASYNC} dispatch that reaches the filter without a context (from a servlet
 * the filter is not mapped for), which still decides the answer. An {@link DispatcherType#ERROR
 * ERROR} or {@link DispatcherType#INCLUDE INCLUDE} dispatch, or one whose response is committed,
 * ignores a malformed header and runs without a caller deadline, since a {@code 400} there would
 * replace the answer already decided (the error page after a filter in front of this one answered
 * {@code 503}). An optional server {@linkplain Builder#maxTimeout maximum}
 * caps every request, with or without a header; {@linkplain Builder#trustTimeoutHeaders(boolean)
 * untrusted callers} can be ignored entirely (then only the maximum applies).
 *
 * <p>Requests with a timeout from 100 ms to one day whose deadlines (arrival plus timeout) fall in
 * the same window, set by the same header, share one deadline context under the root, and each
 * request's context is a child of it: callers that propagate their deadlines send a different
 * budget nearly every time, and still share. The window is a power of two milliseconds, the largest
 * not above 1% of the timeout, at least one (8 ms for a second, 256 ms for 30 s). A request's
 * deadline is the start of the window its own falls in: up to one window earlier than asked, never
 * later. The deadline's timer and its registration with the root are then paid once per window,
 * not once per request. A request's context still ends on its own (completion, disconnect), and the
 * shared one is closed once its last request has ended.
 *
 * <h2>When the request context ends, and with what cause</h2>
 *
 * The cause ({@code ctx.cause()}) is a {@link RequestCanceledException} whose {@link
 * RequestCanceledException#reason() reason} says why:
 *
 * <ul>
 *   <li>{@code DEADLINE_EXCEEDED}: the caller's budget (or the server maximum) ran out; {@code
 *       err()} is {@link Context#DEADLINE_EXCEEDED}, the message names the header that set it
 *       ({@code "deadline exceeded: set by the caller's grpc-timeout"}) but not its value, since
 *       requests with other values share the deadline; {@code ctx.deadline()} tells when;
 *   <li>{@code RESPONSE_COMPLETED}: the handler returned without starting async processing, or the
 *       async cycle completed ({@code AsyncListener.onComplete}); {@code HANDLER_FAILED}: the
 *       handler threw (any {@code Throwable}; it passes on unchanged, a checked exception thrown
 *       sneakily included), before or after starting async (the container then ends the cycle
 *       with an error, and its {@code onError} finds the context ended); or a {@code
 *       WriteListener} set on the filter's response threw from {@code onWritePossible}, or a
 *       {@code ReadListener} threw from {@code onDataAvailable} or {@code onAllDataRead}, set on
 *       the stream of the request the chain got (see below);
 *   <li>{@code ASYNC_TIMEOUT}: the async timeout fired ({@code AsyncListener.onTimeout}; the
 *       filter's listener is added when the handler calls {@code startAsync} on the chain's
 *       request, before the application's own, so those find the context ended already);
 *   <li>{@code CLIENT_DISCONNECTED}: the container reported that the client went away or the
 *       exchange failed, other than by a timeout of its own (an idle timeout is {@code
 *       REQUEST_FAILED}, even when the container reports it as an {@code IOException}) ({@code
 *       AsyncListener.onError}; on Jetty 12.1 also the core request's
 *       failure listener, which reports HTTP/2 resets and closed HTTP/2 connections at once), or
 *       writing the response through this filter's response (the one the chain gets, on the
 *       first dispatch and on every ASYNC dispatch, and the one {@code AsyncContext.getResponse()}
 *       hands out after {@code startAsync()} on the chain's request) failed;
 *   <li>{@code SERVER_SHUTDOWN}: {@link #shutdown()} or {@link #destroy()} cancelled the root.
 * </ul>
 *
 * <p>Causes are immutable (no stack trace, no suppressed exceptions), and requests that end for the
 * same reason with the same detail may share one instance (for example every deadline set by
 * {@code Ctx4j-Timeout-Ms}, or every completed response): compare {@code reason()}, not identity.
 *
 * <p>What no container tells a filter: over HTTP/1.1, a client that closes its connection while a
 * synchronous handler is not reading or writing is not noticed by Jetty 12.1 nor Tomcat 11 (neither
 * keeps a read pending while the handler runs, unlike Go's server); the context then ends when the
 * handler next writes and flushes (the write fails) or when the handler returns. Tomcat 11 also
 * reports an HTTP/2 reset of a synchronous request only to the handler's next I/O. The module's
 * README has the measured matrix. Send a deadline: it ends the work regardless.
 *
 * <h2>Where the context is</h2>
 *
 * In the thread that runs the filter chain the context is {@link CurrentContext#get()} (the one
 * current-context store of ctx4j), on every dispatch this filter is mapped to, async dispatches
 * included. It is also the request attribute {@value #ATTRIBUTE}, read by {@link
 * #contextOf(ServletRequest)}, for async handlers that continue in other threads. The filter
 * passes a request wrapper down the chain that answers this attribute itself, so a request that
 * stays synchronous costs the container no attribute map; the attribute is stored in the
 * container's request when async processing starts (the ASYNC dispatch and {@code
 * AsyncContext.getRequest()} carry the request given to {@code startAsync}, the container's own
 * for the form without arguments), and when the handler calls {@code sendError}, the dispatch
 * throws, or the status is 400 or above (the ERROR dispatch carries the container's request). So
 * after a synchronous request that succeeded, code outside the chain (a filter in front of this
 * one, after the chain returned; a request listener; an access log) finds no attribute. The
 * attribute is read-only: setting or removing it through the request the chain gets is ignored,
 * on every dispatch the filter runs; an ASYNC dispatch takes the context from the filter's own
 * state and puts the attribute back in the container's own request if it was removed or replaced
 * there, so it never runs with another context or a new budget.
 *
 * <p>An error page (an ERROR dispatch, after {@code sendError} or an exception) finds the
 * request's context: as {@link CurrentContext#get()} if the filter is mapped for {@link
 * DispatcherType#ERROR} too, through {@link #contextOf(ServletRequest)} either way. It has usually
 * ended by then ({@code RESPONSE_COMPLETED}, {@code HANDLER_FAILED}, or whatever ended it first):
 * the request's work is over. An error page that must call out derives a context of its own, for
 * example from {@link #root()}.
 *
 * <p>{@code startAsync()} on the request the chain got returns the container's {@code
 * AsyncContext} wrapped, so that writes through its {@code getResponse()} (the container's own
 * response) end the context when they fail; {@code getAsyncContext()} answers the same wrapper,
 * but {@code AsyncEvent.getAsyncContext()} in a listener is the container's own: do not compare
 * the two by identity.
 *
 * <p>{@code getInputStream()} and {@code getReader()} on the request the chain got (or a wrapper
 * of it, {@code AsyncContext.getRequest()} after {@code startAsync(request, response)} with such a
 * request included) return the container's stream or reader watched: a read that fails ends the
 * context before the caller sees the exception ({@code CLIENT_DISCONNECTED} for a lost client,
 * {@code REQUEST_FAILED} for the container's read timeout), which is the one notice a synchronous
 * handler gets of a client that left while it read the body; and a {@code ReadListener} set on
 * the stream that throws ends the context as {@code HANDLER_FAILED}. A read after the application
 * closed the stream or reader ends nothing (Tomcat throws an {@code IOException} for it). The
 * container's own request ({@code AsyncContext.getRequest()} after {@code startAsync()} without
 * arguments) hands out the container's stream, which is not watched: an {@code IOException} its
 * listener throws is then taken for a lost client ({@code CLIENT_DISCONNECTED}) by Tomcat, and not
 * seen on Jetty.
 *
 * <p>The body the container reads itself is watched on the same request: {@code getParameter},
 * {@code getParameterMap}, {@code getParameterNames} and {@code getParameterValues} (a form POST)
 * and {@code getParts} and {@code getPart} (multipart). Jetty 12.1 and Tomcat 11 report a read that
 * failed there as a bad request ({@code HttpException}, {@code InvalidParameterException}, {@code
 * FileUploadException}, a {@code ServletException}), with the I/O failure as a cause; the call
 * ends the context before the caller sees that exception, unchanged, when the cause chain holds
 * a timeout ({@code REQUEST_FAILED}) or a lost connection ({@code CLIENT_DISCONNECTED}: a {@code
 * SocketException}, Jetty's {@code EofException}, Tomcat's {@code ClientAbortException}). A
 * malformed body from a client that is still there ends nothing, even where the container reports
 * it as an {@code IOException} or an {@code EOFException} (Jetty's multipart parser, a body
 * without its closing boundary).
 *
 * <h2>Registration</h2>
 *
 * Map the filter to all paths, for {@link DispatcherType#REQUEST} and {@link DispatcherType#ASYNC},
 * with async support on (a filter without it makes every async servlet behind it fail). Created by
 * the container from {@code web.xml} or {@code web-fragment.xml}, or by {@code
 * ServletContext.addFilter(name, ContextServletFilter.class)}, it uses the no-argument constructor
 * and reads the init parameters {@value #INIT_MAX_TIMEOUT_MILLIS} and {@value #INIT_TRUST_HEADERS}
 * (the class is final: {@code @WebFilter} cannot name it). When several servlet contexts share one
 * instance, the {@code destroy()} of the last of them shuts the root down; a later {@code init} (a
 * container started again with the instance) gives it a new root. The settings are the instance's:
 * the last {@code init}'s parameters apply to every context it serves. Jetty, unlike Tomcat, calls
 * {@code destroy()} for a context whose {@code init} threw, which then counts as the stop of a
 * context that started. Give each context its own instance when their parameters differ or may be
 * malformed.
 *
 * <p>One filter per chain. A second {@code ContextServletFilter} instance behind the first (say
 * one a framework registered and one of the application's) finds the first one's context and
 * uses it as it is, as a once-per-request filter would: its own maximum, header policy and root do
 * not apply. It logs a warning once ({@link System.Logger}, named after this class), since that is
 * rarely what was meant. The same instance mapped twice is fine.
 *
 * <h2>Resources</h2>
 *
 * Nothing stays registered once a request has ended: its context is cancelled, which removes it
 * from the root and stops its deadline timer; nothing is registered on a connection (which
 * outlives its requests). No thread is started per request. The filter wraps the response (an {@code
 * HttpServletResponseWrapper}) to see failed writes.
 *
 * <p>Thread safety: a filter is thread-safe once initialised, as the Servlet specification requires.
 * Memory consistency effects: the request context is created in the dispatch thread before the
 * chain runs, so it is fully visible to the handler; the usual ctx4j guarantees hold for its
 * cancellation.
 *
 * @since 0.1
 */
public final class ContextServletFilter implements Filter {

  /**
   * The request attribute that holds the request {@link Context}: answered by the request the
   * filter passes down the chain (and by any wrapper of it), and stored in the container's request
   * once async processing starts or the dispatch fails or sends an error status.
   */
  public static final String ATTRIBUTE = "io.ctx4j.servlet.context";

  /**
   * The init parameter that sets the {@linkplain Builder#maxTimeout server maximum}, in whole
   * milliseconds (1 to 18 ASCII digits, not 0; whitespace around them is ignored); absent means
   * no maximum.
   */
  public static final String INIT_MAX_TIMEOUT_MILLIS = "ctx4j.maxTimeoutMillis";

  /**
   * The init parameter that sets {@linkplain Builder#trustTimeoutHeaders(boolean) whether timeout
   * headers are honoured}: {@code true} (the default) or {@code false}.
   */
  public static final String INIT_TRUST_HEADERS = "ctx4j.trustTimeoutHeaders";

  private final Context parent;
  /**
   * The root and the shared deadlines under it. Replaced, as a pair, only by an {@link #init} after
   * {@link #destroy()} (a container started again with this instance), which the container runs
   * before the first request of the new start; volatile for a filter used outside a container.
   */
  private volatile Life life;
  private final boolean configurable;
  // Written by init() before the container sends the first request (a happens-before edge the
  // container provides); volatile so that a filter used outside a container is safe too.
  private volatile MaxTimeout maxTimeout;
  private volatile boolean trustHeaders;
  /** Set by the last {@link #destroy()}: a later {@link #init} starts a new {@link Life}. */
  private volatile boolean destroyed;
  /**
   * The servlet contexts that initialised this instance and have not destroyed it yet: one
   * instance may serve several, and the root shuts down with the last. Guarded by {@code this}.
   */
  private int started;
  // Racy on purpose: at worst a few threads each log the warning once.
  private boolean warned;
  private boolean warnedPutBack;
  // One deadline cause per header: the requests whose deadlines fall in one window share a
  // deadline context, and with it its cause, which can therefore name the header but not each
  // request's value. Causes are immutable, so requests share them as they share
  // RequestScope.COMPLETED. Header h uses the shared deadlines' cause slot h, the server maximum the
  // slot after them, so no two causes in use replace each other's deadlines.
  private final RequestCanceledException[] headerCauses = headerCauses();
  // Below SharedDeadlines.CAUSES, which SharedDeadlines.take checks on every call.
  private static final int MAX_TIMEOUT_SLOT = IncomingDeadline.HEADERS;

  /**
   * Creates a filter with the default settings, for containers that instantiate filters from {@code
   * web.xml} or by class: the root is a child of {@link Context#background()}, timeout
   * headers are honoured, there is no server maximum; {@link #init(FilterConfig)} may change the
   * last two from the init parameters {@value #INIT_MAX_TIMEOUT_MILLIS} and {@value
   * #INIT_TRUST_HEADERS}.
   */
  public ContextServletFilter() {
    this(Context.background(), null, true, true);
  }

  private ContextServletFilter(
      Context parent, Duration maxTimeout, boolean trustHeaders, boolean configurable) {
    this.parent = parent;
    this.life = new Life(parent);
    this.maxTimeout = maxTimeout == null ? null : new MaxTimeout(maxTimeout);
    this.trustHeaders = trustHeaders;
    this.configurable = configurable;
  }

  /**
   * Returns a filter with the default settings (see {@link Builder}).
   *
   * @return a new filter
   */
  public static ContextServletFilter create() {
    return builder().build();
  }

  /**
   * Returns a builder for a filter.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Returns the context of a request that passed through a {@code ContextServletFilter}, for async
   * handlers and other threads (in the dispatch thread, {@link CurrentContext#get()} returns it
   * too).
   *
   * @param request the request the chain got (or a wrapper of it), or the container's own request
   *     once async processing has started (as {@code AsyncContext.getRequest()} returns it)
   * @return the request context
   * @throws NullPointerException if {@code request} is null
   * @throws IllegalStateException if no {@code ContextServletFilter} handled the request
   */
  public static Context contextOf(ServletRequest request) {
    Objects.requireNonNull(request, "request");
    Object ctx = request.getAttribute(ATTRIBUTE);
    if (!(ctx instanceof Context)) {
      // A wrapper in front that keeps attributes to itself hides it on a later dispatch (a
      // forward, an include, an error page): looked up under it, as the filter itself does.
      ctx = ScopedRequest.underWrappers(request, ATTRIBUTE);
    }
    if (!(ctx instanceof Context)) {
      throw new IllegalStateException(
          "request has no ctx4j context: no ContextServletFilter in front of this servlet");
    }
    return (Context) ctx;
  }

  /**
   * Returns the server root context: the parent of every request context. Derive background work
   * that must stop at shutdown from it. A container that starts again with this instance after it
   * destroyed it ({@link #init} after {@link #destroy()}) gives the filter a new root, a child of
   * the same parent; the old one stays shut down.
   *
   * @return the current root
   */
  public Context root() {
    return life.root;
  }

  /** A filter's root and the shared deadlines under it, for one start of the container. */
  private static final class Life {
    final CancelableContext root;
    final SharedDeadlines shared;

    Life(Context parent) {
      root = Context.withCancel(parent);
      shared = new SharedDeadlines(root);
    }
  }

  /**
   * Cancels the server root, so that every request context in flight ends at once, with a cause
   * whose reason is {@link Reason#SERVER_SHUTDOWN}; requests that arrive later get contexts that
   * are born done. Call it when a graceful shutdown starts, before the container stops. Idempotent:
   * the first call's cause stays.
   *
   * @return true if this call cancelled the root
   */
  public boolean shutdown() {
    return shutdown(life, null, null);
  }

  /**
   * Like {@link #shutdown()}, with a detail and an underlying cause (a signal, an operator's
   * command) in the request contexts' cause.
   *
   * @param detail what happened, for the message; may be null
   * @param cause the underlying cause; may be null
   * @return true if this call cancelled the root
   */
  public boolean shutdown(String detail, Throwable cause) {
    return shutdown(life, detail, cause);
  }

  private static boolean shutdown(Life l, String detail, Throwable cause) {
    return l.root.cancel(new RequestCanceledException(Reason.SERVER_SHUTDOWN, detail, cause));
  }

  /**
   * Reads the init parameters {@value #INIT_MAX_TIMEOUT_MILLIS} and {@value #INIT_TRUST_HEADERS}
   * if this filter was made by the no-argument constructor; a filter made by a {@link Builder}
   * keeps its settings. Each call sets both settings: a parameter that is absent (or a null {@code
   * config}) gives its default, no maximum and headers honoured, whatever an earlier {@code init()}
   * set.
   *
   * @param config the filter configuration; may be null
   * @throws ServletException if a parameter is malformed, or named {@code ctx4j.*} but none of
   *     these two (a mistyped name); the message names it. Such an init is no start
   */
  @Override
  public void init(FilterConfig config) throws ServletException {
    // The parameters first: an init that throws is no start (Tomcat never destroys a filter whose
    // init failed), so it must neither count nor change anything.
    MaxTimeout max = null;
    Boolean trust = null;
    if (configurable && config != null) {
      refuseUnknownParameters(config);
      max = maxTimeoutParameter(config.getInitParameter(INIT_MAX_TIMEOUT_MILLIS));
      trust = trustParameter(config.getInitParameter(INIT_TRUST_HEADERS));
    }
    synchronized (this) {
      started++;
      if (destroyed) {
        // A container started again with this instance (an embedded Jetty that keeps its
        // handlers): the old root is shut down for good, so this start gets a new one, or every
        // request would be born done.
        destroyed = false;
        life = new Life(parent);
      }
    }
    if (configurable) {
      // Every init sets both: an absent parameter is its default, so that a start without it
      // (a restart after the operator removed it, another context's init) does not keep an old one.
      maxTimeout = max;
      trustHeaders = trust == null || trust;
    }
  }

  /**
   * Refuses an init parameter named {@code ctx4j.*} that is not one of this filter's: a mistyped
   * name would otherwise leave the server without the setting its operator asked for. Other names
   * are left alone (a container or another library may pass its own).
   */
  private static void refuseUnknownParameters(FilterConfig config) throws ServletException {
    Enumeration<String> names = config.getInitParameterNames();
    while (names != null && names.hasMoreElements()) {
      String name = names.nextElement();
      if (name != null
          && name.startsWith("ctx4j.")
          && !name.equals(INIT_MAX_TIMEOUT_MILLIS)
          && !name.equals(INIT_TRUST_HEADERS)) {
        throw new ServletException(
            "unknown init parameter \""
                + name
                + "\"; ctx4j's are "
                + INIT_MAX_TIMEOUT_MILLIS
                + " and "
                + INIT_TRUST_HEADERS);
      }
    }
  }

  /** The init parameter {@value #INIT_MAX_TIMEOUT_MILLIS}, or null if it is absent. */
  private static MaxTimeout maxTimeoutParameter(String max) throws ServletException {
    if (max == null) {
      return null;
    }
    // ASCII digits only, as in the timeout headers: Long.parseLong also takes a sign and the
    // digits of other scripts.
    String digits = max.strip();
    long millis = 0;
    boolean valid = !digits.isEmpty() && digits.length() <= 18;
    for (int i = 0; valid && i < digits.length(); i++) {
      char c = digits.charAt(i);
      valid = c >= '0' && c <= '9';
      millis = millis * 10 + (c - '0');
    }
    if (!valid || millis == 0) {
      throw new ServletException(
          INIT_MAX_TIMEOUT_MILLIS
              + " must be a positive number of milliseconds (1 to 18 ASCII digits), got \""
              + max
              + "\"");
    }
    return new MaxTimeout(Duration.ofMillis(millis));
  }

  /** The init parameter {@value #INIT_TRUST_HEADERS}, or null if it is absent. */
  private static Boolean trustParameter(String trust) throws ServletException {
    if (trust == null) {
      return null;
    }
    String t = trust.strip();
    if (!t.equalsIgnoreCase("true") && !t.equalsIgnoreCase("false")) {
      throw new ServletException(
          INIT_TRUST_HEADERS + " must be true or false, got \"" + trust + "\"");
    }
    return Boolean.parseBoolean(t);
  }

  /**
   * Gives the request its context and runs the rest of the chain with it; see the class
   * documentation. On a later dispatch of the same request (async, forward, include, error) the
   * same context is bound again. Requests that are not HTTP pass through untouched.
   *
   * @param request the request
   * @param response the response
   * @param chain the rest of the chain
   * @throws IOException as thrown by the chain, or by writing the 400 answer
   * @throws ServletException as thrown by the chain
   */
  @Override
  public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
      throws IOException, ServletException {
    if (!(request instanceof HttpServletRequest) || !(response instanceof HttpServletResponse)) {
      chain.doFilter(request, response);
      return;
    }
    // The container's own request on its first dispatch has no context yet: the filter puts it in
    // the container only for later dispatches (ScopedRequest). Anything else (a wrapper, maybe a
    // ScopedRequest of a filter in front; an ASYNC, FORWARD, INCLUDE or ERROR dispatch) is looked
    // up: the scope is stored only once async has started (afterDispatch), for the ASYNC
    // dispatch; a forward, include or error dispatch, or a second filter in the chain, needs the
    // context alone.
    DispatcherType type = request.getDispatcherType();
    if (request instanceof ServletRequestWrapper || type != DispatcherType.REQUEST) {
      if (type == DispatcherType.ASYNC) {
        // The scope, not the attribute: the application may have replaced or removed that in the
        // container's request, and the request must not get another context, nor a new budget.
        Object s = request.getAttribute(RequestScope.ATTRIBUTE);
        if (!(s instanceof RequestScope)) {
          s = ScopedRequest.underWrappers(request, RequestScope.ATTRIBUTE);
        }
        if (s instanceof RequestScope && !((RequestScope) s).inDispatch()) {
          asyncDispatch((RequestScope) s, (HttpServletRequest) request, response, chain);
          return;
        }
      }
      Object existing = request.getAttribute(ATTRIBUTE);
      if (!(existing instanceof Context) && type != DispatcherType.REQUEST) {
        // Not on a first dispatch, where the context is nowhere yet: no lookup for nothing.
        existing = ScopedRequest.underWrappers(request, ATTRIBUTE);
      }
      if (existing instanceof Context
          && type == DispatcherType.REQUEST
          && ((Context) existing).isDone()
          && ScopedRequest.ownerOf(request) == null) {
        // No filter of ours in front on this dispatch, yet a context in the container, ended: an
        // earlier run of the chain put it there for an error page, and a filter in front runs the
        // chain again (a retry) through a wrapper of its own. That run gets a context of its own,
        // as one with the container's request itself does; the ended one would fail its work at
        // once.
        existing = null;
      }
      if (existing instanceof Context) {
        // Inside a dispatch that has its context (a forward, an include, an error page, this
        // filter again): only bound; the dispatch that owns the request decides when it is over.
        ServletRequest down = request;
        if (type == DispatcherType.REQUEST) {
          if (ScopedRequest.ownerOf(request) != this) {
            warnOnce();
          }
        } else if (existing instanceof CancelableContext
            && ScopedRequest.ownerOf(request) == null) {
          // A later dispatch of the container's request (an error page), not of a read-only
          // request of the first dispatch: read-only here too, as on every dispatch the filter
          // runs, or the error page could replace or remove the attribute in the container.
          down =
              new ScopedRequest(
                  (HttpServletRequest) request,
                  ATTRIBUTE,
                  new RequestScope((CancelableContext) existing),
                  this);
        }
        invoke((Context) existing, chain, down, response);
        return;
      }
    }
    // The budget starts now, when the filter first sees the request.
    Duration timeout = null;
    IncomingDeadline source = null;
    if (trustHeaders) {
      IncomingDeadline incoming;
      try {
        incoming = IncomingDeadline.read((HttpServletRequest) request);
      } catch (IllegalArgumentException e) {
        if (!answerDecided(type, response)) {
          reject((HttpServletResponse) response, e.getMessage());
          return;
        }
        // A dispatch of a request this filter did not see first whose answer is decided already
        // (an error page after a filter in front answered 503, an include): a 400 would replace
        // it. A forward from a servlet the filter is not mapped for decides nothing yet: refused.
        incoming = null;
      }
      if (incoming != null) {
        timeout = incoming.timeout();
        source = incoming;
      }
    }
    RequestCanceledException cause = null;
    int slot = MAX_TIMEOUT_SLOT;
    MaxTimeout max = maxTimeout;
    if (max != null && (timeout == null || max.duration.compareTo(timeout) < 0)) {
      timeout = max.duration;
      cause = max.cause;
    } else if (source != null) {
      slot = source.header();
      cause = headerCauses[slot];
    }
    CancelableContext ctx;
    SharedDeadlines.Entry shared = null;
    Life l = life;
    if (timeout == null) {
      ctx = Context.withCancel(l.root);
    } else if (SharedDeadlines.shares(timeout)) {
      shared = l.shared.take(timeout, cause, slot);
      ctx = Context.withCancel(shared.context());
    } else {
      ctx = Context.withTimeoutCause(l.root, timeout, cause);
    }
    RequestScope scope = new RequestScope(ctx, shared);
    // The request answers the context attribute itself: no attribute map in the container for a
    // request that stays synchronous.
    ScopedRequest scoped =
        new ScopedRequest((HttpServletRequest) request, ATTRIBUTE, scope, this);
    Throwable failure = null;
    // Everything from here on is inside the try: a wrapper in front may throw from the setup too,
    // and the context must end (its timer, its shared deadline) all the same.
    try {
      ContainerHooks.attach(request, scope);
      // Wrapped so that a failed write ends the context: the only disconnect notice Tomcat gives a
      // synchronous handler, and Jetty's over HTTP/1.1.
      ServletResponse res = new WatchedResponse((HttpServletResponse) response, scoped);
      invoke(ctx, chain, scoped, res);
      if (((HttpServletResponse) response).getStatus() >= 400) {
        // An ERROR dispatch may follow, with the container's request: it must find the context
        // there. (Before an ASYNC dispatch, startAsync or afterDispatch puts it there.)
        scoped.publish();
      }
    } catch (Throwable e) {
      // Any throwable, even one that is neither an Exception nor an Error (thrown sneakily, as
      // other JVM languages can): it is the handler's failure, and passes on unchanged.
      failure = e;
      try {
        scoped.publish(); // for the ERROR dispatch
      } catch (RuntimeException | Error x) {
        e.addSuppressed(x);
      }
      throw e;
    } finally {
      afterDispatch(request, scope, scoped, failure);
    }
  }

  /**
   * Shuts the root down ({@link #shutdown(String, Throwable)}, detail {@code "filter destroyed"}):
   * the container is stopping. The Servlet specification lets a container call this only after the
   * requests in the filter have left it (or a timeout), so to end requests in flight call {@link
   * #shutdown()} when a graceful shutdown begins. With one instance in several servlet contexts,
   * the last one's {@code destroy()} does. A later {@link #init} (the container starts again with
   * this instance) gives the filter a new root.
   */
  @Override
  public void destroy() {
    Life ending;
    synchronized (this) {
      // A destroy() without an init() (a filter used outside a container) shuts down too.
      if (started > 0 && --started > 0) {
        return; // another servlet context still serves through this instance
      }
      destroyed = true;
      // This life, read under the lock: an init() of another servlet context may start a new one
      // as soon as the lock is free, and that one must not end here.
      ending = life;
    }
    shutdown(ending, "filter destroyed", null);
  }

  /**
   * Returns a description of this filter's settings.
   *
   * @return a short description
   */
  @Override
  public String toString() {
    MaxTimeout max = maxTimeout;
    return "ContextServletFilter[trustTimeoutHeaders="
        + trustHeaders
        + ", maxTimeout="
        + (max == null ? "none" : max.millis + "ms")
        + ", root="
        + life.root
        + "]";
  }

  /**
   * An ASYNC dispatch of a request whose async cycle this filter follows: the same context, bound
   * again, read-only through the request the chain gets, and ended by a failed write of the
   * response, as on the first dispatch; when it returns, the request is over unless async goes on.
   */
  private void asyncDispatch(
      RequestScope scope, HttpServletRequest request, ServletResponse response, FilterChain chain)
      throws IOException, ServletException {
    Context ctx = scope.context();
    ScopedRequest scoped = null;
    Throwable failure = null;
    scope.inDispatch(true);
    try {
      putBack(request, ctx);
      // The request given to startAsync(request, response) may be the first dispatch's
      // ScopedRequest itself: read-only already, it needs no second layer. Anything else (an
      // application's wrapper, which may keep attributes of its own) gets one.
      scoped =
          request instanceof ScopedRequest && ((ScopedRequest) request).scope() == scope
              ? (ScopedRequest) request
              : new ScopedRequest(request, ATTRIBUTE, scope, this);
      // The response of startAsync() is the container's own: watched too, so that a write that
      // fails here ends the context at once, as on the first dispatch. The filter's own response,
      // given to startAsync(request, response), is watched already.
      ServletResponse res =
          response instanceof WatchedResponse && ((WatchedResponse) response).watches(scope)
              ? response
              : new WatchedResponse((HttpServletResponse) response, scoped);
      invoke(ctx, chain, scoped, res);
    } catch (Throwable e) {
      failure = e;
      throw e;
    } finally {
      scope.inDispatch(false);
      afterDispatch(request, scope, scoped, failure);
    }
  }

  /**
   * Puts the context back in the container's own request if the application removed or replaced
   * it there (through {@code AsyncContext.getRequest()}, unwrapped), for later dispatches and
   * threads: in the container's request itself, since every {@code ScopedRequest} in between
   * ignores the name. Not needed by this dispatch, which has the context from the scope: if the
   * container refuses (an attribute listener that throws), the dispatch goes on, and the refusal
   * is logged once, since {@code contextOf} on that request will then fail.
   */
  private void putBack(ServletRequest request, Context ctx) {
    ServletRequest container = ScopedRequest.innermost(request);
    try {
      if (container.getAttribute(ATTRIBUTE) != ctx) {
        container.setAttribute(ATTRIBUTE, ctx);
      }
    } catch (RuntimeException refused) {
      if (!warnedPutBack) {
        warnedPutBack = true;
        System.getLogger(ContextServletFilter.class.getName())
            .log(
                System.Logger.Level.WARNING,
                this
                    + ": the container refused to take the request attribute "
                    + ATTRIBUTE
                    + " back on an ASYNC dispatch; contextOf(request) will fail on that request,"
                    + " CurrentContext.get() in the dispatch still answers (logged once)",
                refused);
      }
    }
  }

  /**
   * A container-initiated dispatch is returning: the request is over unless async goes on, and
   * failed if the dispatch threw, whether async goes on or not (the container then ends the cycle
   * with an error, after the ERROR dispatch that finds the context handed on). What
   * the request answers here may come from a wrapper in front: if {@code isAsyncStarted()} throws,
   * or {@code getAsyncContext()} or {@code addListener} throws anything but the container's {@code
   * IllegalStateException} of a cycle that completed meanwhile, the filter can no longer tell
   * whether async goes on, and ends the request now rather than leave its context (with its timer
   * or its share of a deadline) to outlive it. The throwable then goes on to the container, or is
   * added as suppressed to the chain's own failure if there is one.
   */
  private static void afterDispatch(
      ServletRequest request, RequestScope scope, ScopedRequest scoped, Throwable failure) {
    boolean first = false;
    boolean over;
    Throwable refused = null;
    try {
      over = !request.isAsyncStarted();
    } catch (Throwable x) {
      // Containers answer this without throwing, whatever the state: a wrapper in front failed.
      over = true;
      refused = x;
    }
    if (!over) {
      try {
        scope.listenTo(request.getAsyncContext());
        first = scope.handOn();
      } catch (IllegalStateException e) {
        // The cycle completed in another thread while this dispatch was returning.
        over = true;
      } catch (Throwable x) {
        over = true;
        refused = x;
      }
    }
    if (!over) {
      if (first) {
        handOn(request, scope, scoped, failure);
      }
      scope.dispatchReturned(); // a complete() taken during the dispatch is waited for from now
      if (failure != null) {
        // The handler threw with a cycle started: the container ends the cycle with an error, and
        // hands onError this throwable (or a wrapper of it), which must not pass for a lost client
        // when it is an IOException of the handler's own (a backend that refused the connection).
        scope.end(ended(failure));
      }
      return;
    }
    if (refused == null || failure != null) {
      scope.end(ended(failure));
    } else {
      scope.end(
          new RequestCanceledException(
              Reason.REQUEST_FAILED, RequestScope.describe(refused), refused));
    }
    if (refused != null) {
      if (failure == null) {
        throw CoreInternals.<RuntimeException>rethrow(refused);
      }
      if (refused != failure) {
        failure.addSuppressed(refused);
      }
    }
  }

  /** The cause of a request whose dispatch returned ({@code failure} null) or threw. */
  private static RequestCanceledException ended(Throwable failure) {
    return failure == null
        ? RequestScope.COMPLETED
        : RequestScope.handlerFailed(failure);
  }

  /**
   * Leaves the context and the scope in the container for the first ASYNC dispatch, which the
   * container starts only after this dispatch has returned. (The context is there already if
   * async was started through the ScopedRequest, as it normally is.) A failure here is not the end
   * of the cycle, as the container's {@code IllegalStateException} above is: it goes to the
   * container (suppressed by the chain's own failure, if any), which ends the cycle, and the
   * listener the scope.
   */
  private static void handOn(
      ServletRequest request, RequestScope scope, ScopedRequest scoped, Throwable failure) {
    try {
      if (scoped != null) {
        scoped.publish();
      }
      request.setAttribute(RequestScope.ATTRIBUTE, scope);
      // The ASYNC dispatch carries the container's request: a wrapper in front may have kept it.
      ScopedRequest.reachContainer(request, RequestScope.ATTRIBUTE, scope);
    } catch (RuntimeException | Error x) {
      if (failure == null) {
        throw x;
      }
      failure.addSuppressed(x);
    }
  }

  private static void invoke(
      Context ctx, FilterChain chain, ServletRequest request, ServletResponse response)
      throws IOException, ServletException {
    try {
      CurrentContext.call(
          ctx,
          () -> {
            chain.doFilter(request, response);
            return null;
          });
    } catch (IOException | ServletException | RuntimeException e) {
      throw e;
    } catch (Exception e) {
      // Another checked exception, thrown sneakily by the chain: it passes on unchanged, as it
      // would without this filter.
      throw CoreInternals.<RuntimeException>rethrow(e);
    }
  }

  /**
   * Whether the answer to a request is decided before this dispatch: an ERROR dispatch (the error
   * page renders a status set already), an INCLUDE (which cannot set the status), or a committed
   * response. A 400 for a malformed header would replace or garble such an answer.
   */
  private static boolean answerDecided(DispatcherType type, ServletResponse response) {
    return type == DispatcherType.ERROR
        || type == DispatcherType.INCLUDE
        || response.isCommitted();
  }

  /**
   * Answers 400 with one line. The response is not committed ({@link #answerDecided}); whatever a
   * filter in front wrote to its buffer is discarded, or the line would come after it, and through
   * the stream the length declared for the line would cut it short (Tomcat) or be refused (Jetty:
   * "too much content written"); so are a length and an encoding it declared.
   */
  private static void reject(HttpServletResponse response, String message) throws IOException {
    String line = message + "\n";
    byte[] body = line.getBytes(StandardCharsets.UTF_8);
    response.resetBuffer();
    // resetBuffer keeps the headers: a length a filter in front declared would cut the line short
    // or fail it (Jetty: "written 81 > 10 content-length"), and an encoding it declared would
    // mislabel the plain line.
    response.setContentLengthLong(-1);
    response.setHeader("Content-Encoding", null);
    response.setStatus(HttpServletResponse.SC_BAD_REQUEST);
    response.setContentType("text/plain;charset=UTF-8");
    // The body quotes the caller's header value: never let a browser sniff it as HTML.
    response.setHeader("X-Content-Type-Options", "nosniff");
    ServletOutputStream out;
    try {
      out = response.getOutputStream();
    } catch (IllegalStateException writerTaken) {
      // A filter in front took the writer: the container refuses the stream, and the answer
      // goes through the writer, in the charset it was taken with (the message is printable
      // ASCII, but its length is left to the container all the same).
      response.getWriter().write(line);
      return;
    }
    response.setContentLength(body.length);
    out.write(body);
  }

  /**
   * Says once per filter that a request reached it with a context it did not give: another {@code
   * ContextServletFilter} in front (or something that put the attribute), whose context is used as
   * it is, so this filter's settings do not apply to the request.
   */
  private void warnOnce() {
    if (!warned) {
      warned = true;
      System.getLogger(ContextServletFilter.class.getName())
          .log(
              System.Logger.Level.WARNING,
              "{0}: a request arrived with a ctx4j context that this filter did not give it (another"
                  + " ContextServletFilter in front of it in the chain, or the request attribute {1}"
                  + " set by other code); that context is used as it is, and this filter''s settings do"
                  + " not apply to it. Register one ContextServletFilter per chain.",
              this,
              ATTRIBUTE);
    }
  }

  /** The shared deadlines still current (registered with the root until they end), for tests. */
  int sharedDeadlinesKept() {
    return life.shared.currentCount();
  }

  private static RequestCanceledException[] headerCauses() {
    RequestCanceledException[] causes = new RequestCanceledException[IncomingDeadline.HEADERS];
    for (int h = 0; h < causes.length; h++) {
      causes[h] =
          new RequestCanceledException(
              Reason.DEADLINE_EXCEEDED, "set by the caller's " + IncomingDeadline.name(h), null);
    }
    return causes;
  }

  /** The longest server maximum, as documented on {@link Builder#maxTimeout}. */
  private static final Duration LONGEST_MAX_TIMEOUT = Duration.ofMillis(Long.MAX_VALUE);

  /** The server maximum, its name and its cause, made once rather than for every request. */
  private static final class MaxTimeout {
    final Duration duration;
    /** The maximum in milliseconds, exactly: {@code 150.5}, not {@code 150}. */
    final String millis;
    final RequestCanceledException cause;

    MaxTimeout(Duration duration) {
      this.duration = duration;
      this.millis = exactMillis(duration);
      this.cause =
          new RequestCanceledException(
              Reason.DEADLINE_EXCEEDED, "server maximum " + millis + " ms", null);
    }

    /**
     * {@code d} in milliseconds with as many decimals as it needs (up to six, nanoseconds): a
     * message that names the maximum must name the one configured, and {@code toMillis()} cuts
     * 150.5 ms to 150, and half a millisecond to 0.
     */
    static String exactMillis(Duration d) {
      return java.math.BigDecimal.valueOf(d.getSeconds())
          .scaleByPowerOfTen(3)
          .add(java.math.BigDecimal.valueOf(d.getNano(), 6))
          .stripTrailingZeros()
          .toPlainString();
    }
  }

  /**
   * Builds a {@link ContextServletFilter}. Defaults: the root is a child of {@link
   * Context#background()}, timeout headers are honoured, no server maximum. Not thread-safe; the
   * filter it builds is.
   *
   * @since 0.1
   */
  public static final class Builder {
    private Context parent = Context.background();
    private Duration maxTimeout;
    private boolean trustHeaders = true;

    private Builder() {}

    /**
     * Sets the parent of the server root: cancelling it ends every request (for example a {@code
     * SignalContext} from ctx4j-signal), its deadline caps them, its values are visible to them.
     *
     * @param parent the parent
     * @return this builder
     * @throws NullPointerException if {@code parent} is null
     */
    public Builder parent(Context parent) {
      this.parent = Objects.requireNonNull(parent, "parent");
      return this;
    }

    /**
     * Sets the longest time any request may take, measured from when the filter sees it: with a
     * timeout header the smaller of the two applies, without one this does. Connect's protocol
     * allows servers to clamp this way.
     *
     * <p>The cause of a deadline the maximum sets names it in milliseconds, exactly ({@code
     * "deadline exceeded: server maximum 150.5 ms"}), as does the filter's {@code toString()}.
     *
     * @param max the maximum, or null for none
     * @return this builder
     * @throws IllegalArgumentException if {@code max} is zero or negative, or longer than {@code
     *     Long.MAX_VALUE} milliseconds
     */
    public Builder maxTimeout(Duration max) {
      if (max != null && (max.isNegative() || max.isZero())) {
        throw new IllegalArgumentException("maxTimeout must be positive, got " + max);
      }
      if (max != null && max.compareTo(LONGEST_MAX_TIMEOUT) > 0) {
        throw new IllegalArgumentException(
            "maxTimeout is too large, got " + max + " (at most " + LONGEST_MAX_TIMEOUT + ")");
      }
      this.maxTimeout = max;
      return this;
    }

    /**
     * Sets whether the timeout headers are honoured. Turn it off for untrusted callers, who could
     * otherwise choose how long the server works for them (only the {@link #maxTimeout} applies
     * then, and malformed headers are not rejected since they are not read).
     *
     * @param trust false to ignore the headers
     * @return this builder
     */
    public Builder trustTimeoutHeaders(boolean trust) {
      this.trustHeaders = trust;
      return this;
    }

    /**
     * Builds the filter; its root context is created now.
     *
     * @return a new filter
     */
    public ContextServletFilter build() {
      return new ContextServletFilter(parent, maxTimeout, trustHeaders, false);
    }
  }
}
