package io.ctx4j.httpclient5;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Registration;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.concurrent.InterruptScope;
import io.ctx4j.http.ContextHttp;
import io.ctx4j.http.DeadlineHeader;
import io.ctx4j.http.internal.ClientFailures;
import io.ctx4j.internal.CoreInternals;
import java.io.Closeable;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.lang.ref.Cleaner;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import org.apache.hc.client5.http.classic.ExecChain;
import org.apache.hc.client5.http.classic.ExecChainHandler;
import org.apache.hc.client5.http.classic.ExecRuntime;
import org.apache.hc.client5.http.impl.classic.HttpClientBuilder;
import org.apache.hc.client5.http.impl.classic.RequestFailedException;
import org.apache.hc.client5.http.protocol.HttpClientContext;
import org.apache.hc.core5.concurrent.Cancellable;
import org.apache.hc.core5.concurrent.CancellableDependency;
import org.apache.hc.core5.http.ClassicHttpRequest;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.HttpEntity;
import org.apache.hc.core5.http.HttpException;
import org.apache.hc.core5.http.io.entity.HttpEntityWrapper;
import org.apache.hc.core5.http.message.HttpResponseWrapper;
import org.apache.hc.core5.http.protocol.HttpContext;

/**
 * Runs the requests of an Apache HttpClient 5 classic client under a ctx4j {@link Context}: each
 * request carries the context's remaining time in the {@link DeadlineHeader#NAME} header, the
 * exchange is aborted as soon as the context ends, and a request whose context has already ended,
 * or whose deadline has passed, is never sent.
 *
 * <pre>{@code
 * CloseableHttpClient client = ContextHttpClient5.install(HttpClients.custom()).build();
 * try (CloseableHttpResponse r = client.execute(new HttpGet(url), ContextHttpClient5.clientContext(ctx))) {
 *   ...
 * } catch (InterruptedIOException e) {
 *   if (e.getCause() instanceof DeadlineExceededException) { ... } // the context's error
 * }
 * }</pre>
 *
 * <h2>Which context</h2>
 *
 * A request runs under the context stored in its {@link HttpContext} under {@link
 * #CONTEXT_ATTRIBUTE} ({@link #clientContext(Context)} makes such an {@code HttpClientContext}), or
 * else under {@link CurrentContext#get()}: the classic client runs the exec chain on the calling
 * thread, so the caller's current context is the one a request without an explicit context runs
 * under.
 *
 * <h2>The two handlers</h2>
 *
 * <ul>
 *   <li>{@link #callHandler()}, the first element of the exec chain ({@code
 *       addExecInterceptorFirst}), once per {@code execute}: fails the request at once if the
 *       context has ended or its deadline has passed, and aborts the exchange (connection lease,
 *       connect, request, response and body) when the context ends. It runs the rest of the chain
 *       on a {@linkplain ExecRuntime#fork fork} of the client's {@code ExecRuntime} whose {@link
 *       CancellableDependency} the context cancels, the mechanism {@code HttpUriRequestBase.cancel()}
 *       uses; cancelling the caller's {@code HttpUriRequestBase} still aborts the exchange. Until
 *       the response comes back, the context's end also interrupts the calling thread (an {@link
 *       InterruptScope}), because {@code HttpRequestRetryExec} sleeps between attempts with no
 *       connection to abort; the interrupt is cleared before {@code execute} returns or throws.
 *       It comes after the abort, never before: a connection lease the pool granted just as its
 *       interrupted caller gave up on it would otherwise stay leased to no one.
 *   <li>{@link #hopHandler()}, the last element before the transport ({@code
 *       addExecInterceptorLast}), once per request that goes on the wire: the first one, every
 *       redirect hop ({@code RedirectExec}), every retry ({@code HttpRequestRetryExec}) and
 *       authentication round ({@code ProtocolExec}), all of which run above it: it states the time
 *       left at that moment, after the connection has been leased and connected, and sends
 *       nothing once the context has ended or its deadline has passed. A copy added above those
 *       handlers sees the first request only; at least one must sit below them (see {@link
 *       #hopHandler()}).
 * </ul>
 *
 * {@link #install} adds both under the names {@link #CALL_HANDLER} and {@link #HOP_HANDLER}, once
 * per builder; any further copy of either in one chain does nothing but pass the request on.
 *
 * <h2>Errors</h2>
 *
 * When the context ends, the request fails with an {@link java.io.InterruptedIOException} whose
 * cause is a fresh copy of the context's error ({@link ContextHttp#ioErrorOf}): before it is sent
 * (nothing is sent), while it is in flight, and while the response body is read. {@code
 * HttpRequestRetryExec}'s default strategy does not retry an {@code InterruptedIOException}. A
 * deadline that has passed counts as an end even before ctx4j's timer has ended the context (a
 * loaded timer thread, a custom context that lags): the request, or the redirect hop, retry or
 * authentication round, fails unsent with a {@code DeadlineExceededException} that has no cause,
 * the context having none yet, rather than go out with a budget of 0; and an exchange or body read
 * that fails once the deadline has passed fails with that error too, its own failure suppressed.
 *
 * <h2>Timeouts</h2>
 *
 * The response timeout ({@code RequestConfig.setResponseTimeout}) is left as configured: it is a
 * socket read timeout, not a deadline, and set to the time left it would race the context's own
 * timer, failing some requests with a {@code SocketTimeoutException} instead of the context's
 * error. At the deadline the context's timer aborts the exchange, which closes the connection at
 * once, as a response timeout would.
 *
 * <h2>Registrations</h2>
 *
 * A request holds one registration on its context (the abort, which also starts the interrupt)
 * from the start until the exchange is over: the response arrives without a
 * body, its body is read or skipped to the end (where HttpClient gives its connection back) or
 * closed (closing the response closes it, also once the application has replaced its entity), the
 * request fails, or the response is dropped unclosed
 * and the garbage collector finds it unreachable (a {@link Cleaner} releases it then; HttpClient
 * itself never gets such a connection back: close responses). Closing the response or its content
 * after the context aborted the exchange does not throw.
 *
 * <p>A context implemented outside ctx4j whose registration's {@code stop()} throws makes the call
 * throw what it threw, once the exchange has ended all the same: the connection is discarded (with
 * it the response, if one had come back) and a current context the call put on the {@code
 * HttpContext} is taken off again. If the exchange itself failed, that failure goes on, with the
 * {@code stop()} failure {@linkplain Throwable#addSuppressed suppressed} on it.
 *
 * <p>The async client ({@code HttpAsyncClientBuilder}, {@code AsyncExecChainHandler}) is not
 * covered.
 *
 * <p>All methods are thread-safe and the handlers are stateless singletons. Actions of the thread
 * that ends the context happen-before the request's failure is observed.
 *
 * @since 0.1
 */
public final class ContextHttpClient5 {

  private ContextHttpClient5() {}

  /**
   * The attribute of an {@link HttpContext} that names the ctx4j {@link Context} a request runs
   * under: {@value}.
   */
  public static final String CONTEXT_ATTRIBUTE = "io.ctx4j.context";

  /** The name under which {@link #install} adds {@link #callHandler()}: {@value}. */
  public static final String CALL_HANDLER = "ctx4j-call";

  /** The name under which {@link #install} adds {@link #hopHandler()}: {@value}. */
  public static final String HOP_HANDLER = "ctx4j-hop";

  /** One daemon thread for the whole module: releases the registrations of abandoned responses. */
  private static final Cleaner ABANDONED = Cleaner.create();

  /**
   * The builders {@link #install} has installed on, by identity ({@code HttpClientBuilder} does not
   * override {@code equals}), weakly: a builder is not kept alive by having been installed on.
   */
  private static final Map<HttpClientBuilder, Boolean> INSTALLED =
      Collections.synchronizedMap(new WeakHashMap<>());

  /**
   * The {@link HttpContext} attribute that holds the {@link CallAtWork} of the {@code execute}
   * whose call handler is at work, while it runs the rest of the chain: a second call handler
   * further down that chain finds its own exchange id there and only passes the request on, and the
   * hop handlers of that {@code execute} find its context there. A nested {@code execute} on the same
   * {@code HttpContext} has an exchange id of its own, so it neither passes on nor runs under the
   * outer call's context: it takes its own, from {@link #CONTEXT_ATTRIBUTE} or its current context.
   */
  private static final String CALL_AT_WORK = "io.ctx4j.httpclient5.call";

  /** The {@code execute} whose call handler is at work, and the context it runs under. */
  private static final class CallAtWork {
    final String exchangeId;
    final Context ctx;

    CallAtWork(String exchangeId, Context ctx) {
      this.exchangeId = exchangeId;
      this.ctx = ctx;
    }
  }

  /** The call handler at work for {@code scope}'s own {@code execute}, or null if none is. */
  private static CallAtWork callAtWork(ExecChain.Scope scope) {
    Object atWork = scope.clientContext.getAttribute(CALL_AT_WORK);
    return atWork instanceof CallAtWork && ((CallAtWork) atWork).exchangeId.equals(scope.exchangeId)
        ? (CallAtWork) atWork
        : null;
  }

  /**
   * The context a hop of {@code scope}'s {@code execute} runs under: its call handler's, or, with
   * no call handler of that {@code execute} at work (a hop handler alone, or one added above it),
   * the one {@link #contextOf(HttpContext)} names.
   */
  private static Context hopContext(ExecChain.Scope scope) {
    CallAtWork atWork = callAtWork(scope);
    return atWork != null ? atWork.ctx : contextOf(scope.clientContext);
  }

  /**
   * The {@link HttpContext} attribute that holds the request a hop handler has just stated the
   * budget of: every further hop handler below it only passes that very request on, leaving the
   * mark for the copies below it, and takes it off when the request comes back up through it. So
   * any number of copies in one chain state a request's budget once, and a request that goes on
   * the wire again within the first handler's pass has its budget stated again at the next copy
   * below the layer that sends it again: a first copy added above {@code ProtocolExec}, which
   * sends its next authentication round as the same request object, its headers reset to the
   * caller's.
   */
  private static final String HOP_STATED = "io.ctx4j.httpclient5.hop";

  /** Why {@link #callHandler()} refuses an authentication round sent below {@code ProtocolExec}. */
  static final String CALL_BELOW_PROTOCOL =
      "ContextHttpClient5.callHandler() runs below a handler that sent the request again without"
          + " closing the response before, whose connection would stay leased for good: ProtocolExec"
          + " at an authentication round (the call handler added before \"CONNECT\" or after"
          + " \"PROTOCOL\"), or an exec handler above it; add it with addExecInterceptorFirst, or use"
          + " ContextHttpClient5.install(builder), which adds both handlers where they belong";

  /**
   * The {@link HttpContext} attribute that holds the {@link Round} of the latest response a call
   * handler returned with a body, for {@link #refuseARoundLeftOpen}.
   */
  private static final String LAST_ROUND = "io.ctx4j.httpclient5.round";

  /**
   * A response with a body that a call handler returned for an exchange. Its entity is held weakly:
   * the attribute may stay on the caller's {@code HttpContext} long after the call, and must keep
   * neither the connection's runtime nor the context reachable.
   */
  private static final class Round {
    final String exchangeId;
    final WeakReference<ContextEntity> entity;

    Round(String exchangeId, ContextEntity entity) {
      this.exchangeId = exchangeId;
      this.entity = new WeakReference<>(entity);
    }
  }

  /** Why {@link #callHandler()} refuses to run where the connection is leased already. */
  static final String CALL_BELOW_CONNECT =
      "ContextHttpClient5.callHandler() runs below ConnectExec (added with addExecInterceptorLast,"
          + " or after \"CONNECT\"), where the connection is leased already and the exchange it must"
          + " abort cannot be reached; add it with addExecInterceptorFirst, or use"
          + " ContextHttpClient5.install(builder), which adds both handlers where they belong";

  private static final ExecChainHandler CALL = ContextHttpClient5::executeCall;
  private static final ExecChainHandler HOP = ContextHttpClient5::executeHop;

  /**
   * Adds {@link #callHandler()} as the first element of {@code builder}'s exec chain and {@link
   * #hopHandler()} as the last one before the transport, unless ctx4j was installed on {@code
   * builder} already.
   *
   * <p>Installing again adds nothing and each call pays once: on the same builder (ctx4j-spring-boot
   * installs on every Apache client Spring Boot builds, and an application's own customizer gets
   * that builder too; or a builder passed around), also after a client was built from it, which
   * keeps working. {@code HttpClientBuilder} neither refuses nor replaces a second handler of the
   * same name (both would run) and shows no one its handlers, so {@code install} remembers the
   * builders it has installed on (weakly: a builder is no longer kept alive by it). Further copies
   * of either handler that get into a chain all the same (added by hand besides {@code install},
   * one or more) pass the request on: the copy nearest the start of the chain does the work, the
   * others find it done through an attribute of the call's {@link HttpContext} and do nothing but
   * pass the request on (no registration, header, fork or interrupt of their own); a request that
   * goes on the wire again between two hop handlers (an authentication round, with the first above
   * {@code ProtocolExec}) gets its budget stated by the next one below.
   *
   * <p>Thread-safe: of concurrent installs on one builder, one adds the handlers; the builder
   * itself is for one thread at a time, as {@code HttpClientBuilder} says.
   *
   * @param builder the client's builder
   * @return {@code builder}
   * @throws NullPointerException if {@code builder} is null
   */
  public static HttpClientBuilder install(HttpClientBuilder builder) {
    Objects.requireNonNull(builder, "builder");
    // The builder keeps a handler added twice under one name twice, and every call would then
    // register on its context, fork its runtime and state its budget twice: correct, but paid twice.
    if (INSTALLED.putIfAbsent(builder, Boolean.TRUE) != null) {
      return builder;
    }
    return builder.addExecInterceptorFirst(CALL_HANDLER, CALL).addExecInterceptorLast(HOP_HANDLER, HOP);
  }

  /**
   * Returns the handler that binds an {@code execute} to its context: the first element of the exec
   * chain. See the class documentation.
   *
   * <p>Added below {@code ConnectExec} instead ({@code addExecInterceptorLast}, where the hop
   * handler goes, or after {@code "CONNECT"}), it finds the connection leased already and could
   * not abort the exchange on it, so it refuses to run there: every request fails, before it is
   * sent and before it registers on its context, with an {@link IllegalStateException} that names
   * {@code addExecInterceptorFirst} and {@link #install} ({@code ConnectExec} discards the
   * connection it made). A copy below one that does the work only passes the request on, as any
   * further copy does. Added below {@code ProtocolExec} (before {@code "CONNECT"}), it works until
   * an authentication round: {@code ProtocolExec} then sends again without closing the 401, whose
   * connection (on this handler's fork, which {@code ProtocolExec} cannot see) would stay leased for
   * good; so that round fails with an {@link IllegalStateException} saying so, the 401's connection
   * discarded and its registration released.
   *
   * @return the handler, the same instance every time
   */
  public static ExecChainHandler callHandler() {
    return CALL;
  }

  /**
   * Returns the handler that sets the {@link DeadlineHeader#NAME} header on each request that goes
   * on the wire, to the time left less {@link DeadlineHeader#TRANSIT_ALLOWANCE}, in place of every
   * such header the request carried (all of them are removed when the context has no deadline);
   * and fails a request whose context has ended, or whose deadline has passed, without sending it.
   * Add it as the last element of the exec chain, below redirects and retries.
   *
   * <p><b>At least one copy must sit below {@code ProtocolExec}</b> ({@code addExecInterceptorLast},
   * as {@link #install} adds it). It handles only the requests that pass through it, and {@code
   * RedirectExec}, {@code HttpRequestRetryExec} and {@code ProtocolExec} build each redirect hop,
   * retry and authentication round from the caller's request and send it below themselves. A copy
   * above them ({@code addExecInterceptorFirst}, or before {@code "REDIRECT"}, {@code "RETRY"} or
   * {@code "PROTOCOL"}) sees a call's first request only: alone, it lets every later request of the
   * call go out with the caller's own headers (no {@link DeadlineHeader#NAME}, or a stale one the
   * caller set), and does not refuse one whose deadline has passed. Beside a copy below, such a
   * copy is harmless: the one below states each of those requests. Nothing tells a handler what
   * lies below it ({@code ExecChain} is opaque, {@code HttpClientBuilder} shows no one its handlers,
   * and this handler is one instance shared by every client), so the first setup is not refused:
   * it cannot be told from the second before the first request goes out.
   *
   * @return the handler, the same instance every time
   */
  public static ExecChainHandler hopHandler() {
    return HOP;
  }

  /**
   * Returns a new {@link HttpClientContext} whose requests run under {@code ctx}: pass it to {@code
   * CloseableHttpClient.execute(request, context, ...)}. Like any {@code HttpClientContext}, it is
   * for one thread at a time.
   *
   * @param ctx the context
   * @return a new client context with {@link #CONTEXT_ATTRIBUTE} set to {@code ctx}
   * @throws NullPointerException if {@code ctx} is null
   */
  public static HttpClientContext clientContext(Context ctx) {
    Objects.requireNonNull(ctx, "ctx");
    HttpClientContext c = HttpClientContext.create();
    c.setAttribute(CONTEXT_ATTRIBUTE, ctx);
    return c;
  }

  /**
   * Returns the context a request executed with {@code clientContext} runs under: its {@link
   * #CONTEXT_ATTRIBUTE}, or else {@link CurrentContext#get()} on the calling thread.
   *
   * @param clientContext the request's HTTP context
   * @return the context, never null
   * @throws NullPointerException if {@code clientContext} is null
   * @throws IllegalArgumentException if the attribute is set to something else than a {@link
   *     Context}
   */
  public static Context contextOf(HttpContext clientContext) {
    Objects.requireNonNull(clientContext, "clientContext");
    Object attribute = clientContext.getAttribute(CONTEXT_ATTRIBUTE);
    if (attribute == null) {
      return CurrentContext.get();
    }
    if (!(attribute instanceof Context)) {
      throw new IllegalArgumentException(
          "the HttpContext attribute " + CONTEXT_ATTRIBUTE + " must be an io.ctx4j.Context, got "
              + attribute.getClass().getName());
    }
    return (Context) attribute;
  }

  // --------------------------------------------------------------------------------- the handlers

  @SuppressWarnings("try") // the interrupt scope works by being open
  private static ClassicHttpResponse executeCall(
      ClassicHttpRequest request, ExecChain.Scope scope, ExecChain chain)
      throws IOException, HttpException {
    HttpClientContext http = scope.clientContext;
    if (callAtWork(scope) != null) {
      return chain.proceed(request, scope); // a call handler above this one does the work
    }
    // Below ConnectExec the connection is leased already, and the fork this handler runs the rest
    // of the chain on would have none: HttpClient would fail every request saying only "Endpoint
    // not acquired". Nothing is sent or registered yet; ConnectExec discards its connection.
    if (scope.execRuntime.isEndpointAcquired()) {
      throw new IllegalStateException(CALL_BELOW_CONNECT);
    }
    refuseARoundLeftOpen(scope);
    Object callAtWork = http.getAttribute(CALL_AT_WORK); // an outer execute's, restored after
    Context ctx = contextOf(http);
    ClientFailures.requireLive(ctx);
    Abort abort = new Abort();
    if (scope.originalRequest instanceof CancellableDependency) {
      // The caller's own cancel() must still abort the exchange, which now runs on our fork.
      ((CancellableDependency) scope.originalRequest).setDependency(abort);
      if (abort.isCancelled()) {
        // Cancelled by the caller before it was executed: HttpClient's own answer to an abort.
        throw new RequestFailedException("Request aborted");
      }
    }
    ExecRuntime runtime = scope.execRuntime.fork(abort);
    abort.runtime = runtime;
    // A custom Context's null is refused now, before anything is sent.
    Registration registration = CoreInternals.register(ctx, abort);
    // For the hop handler, below redirects and retries; not as CONTEXT_ATTRIBUTE, which a nested
    // execute on this HttpContext would take for its caller's choice and run under this context.
    http.setAttribute(CALL_AT_WORK, new CallAtWork(scope.exchangeId, ctx));
    try {
      ClassicHttpResponse response;
      // The abort above reaches a connection; the retry handler's pause between attempts holds
      // none, and only an interrupt ends that sleep. It follows the abort, not ctx: see Abort.run.
      // Closed before anything else: no interrupt outlives it.
      try (InterruptScope pauses = InterruptScope.open(abort.interrupts)) {
        response =
            chain.proceed(
                request,
                new ExecChain.Scope(scope.exchangeId, scope.route, scope.originalRequest, runtime, http));
      }
      HttpEntity entity = response.getEntity();
      if (entity == null) {
        registration.stop(); // the transport has released the connection already
      } else {
        ContextEntity wrapped = new ContextEntity(entity, ctx, registration, runtime);
        response.setEntity(wrapped);
        http.setAttribute(LAST_ROUND, new Round(scope.exchangeId, wrapped));
        // Closing the response releases too, whatever entity it holds by then: a response handler
        // may have replaced ours, and HttpClient then closes only the replacement.
        return new ContextResponse(response, wrapped);
      }
      return response;
    } catch (Throwable e) { // even a checked one, thrown undeclared by an interceptor or a context
      // The client discards the endpoint of its own runtime on failure; ours holds it instead, also
      // that of a response a foreign context's stop() failure keeps from the caller.
      runtime.discardEndpoint();
      CoreInternals.stopAfter(e, registration);
      // Also past the deadline before the timer has ended the context: one cause, one error; an
      // end the hop handler made already goes on as is.
      InterruptedIOException end = e instanceof Error ? null : ClientFailures.endedWith(ctx, e);
      if (end != null) {
        throw end;
      }
      throw e;
    } finally {
      abort.chainReturned();
      // Restored, not removed: an execute that runs this one nested on its HttpContext is at work.
      if (callAtWork == null) {
        http.removeAttribute(CALL_AT_WORK);
      } else {
        http.setAttribute(CALL_AT_WORK, callAtWork);
      }
    }
  }

  /**
   * Refuses a second round of {@code scope}'s exchange sent while the round before still holds its
   * connection: the layer above sends again without having closed the response. {@code
   * ProtocolExec} does so at an authentication round, when it finds its own runtime's connection
   * not reusable (it is on this handler's fork, so it never is); so does an exec handler above that
   * proceeds again without closing what it got. Nobody would ever give that connection back, and
   * on a full pool the next round would wait for it until its lease timeout. It is discarded and
   * its registration released first.
   */
  private static void refuseARoundLeftOpen(ExecChain.Scope scope) {
    Object last = scope.clientContext.getAttribute(LAST_ROUND);
    if (!(last instanceof Round) || !((Round) last).exchangeId.equals(scope.exchangeId)) {
      return;
    }
    scope.clientContext.removeAttribute(LAST_ROUND);
    ContextEntity open = ((Round) last).entity.get();
    if (open != null && open.runtime.isEndpointAcquired()) {
      try {
        open.runtime.discardEndpoint();
      } finally {
        open.release.clean();
      }
      throw new IllegalStateException(CALL_BELOW_PROTOCOL);
    }
  }

  private static ClassicHttpResponse executeHop(
      ClassicHttpRequest request, ExecChain.Scope scope, ExecChain chain)
      throws IOException, HttpException {
    HttpClientContext http = scope.clientContext;
    Object stated = http.getAttribute(HOP_STATED);
    if (stated == request) {
      // A hop handler above this one has just stated it. The mark stays on the way down, for any
      // further copy below, and goes on the way back up: the request sent again from between the
      // copy that stated it and this one (an authentication round) is stated again here.
      try {
        return chain.proceed(request, scope);
      } finally {
        if (http.getAttribute(HOP_STATED) == request) {
          http.removeAttribute(HOP_STATED);
        }
      }
    }
    Context ctx = hopContext(scope);
    ClientFailures.requireLive(ctx);
    // Every such header of the caller's goes (removeHeaders), not only the first, which is all
    // setHeader replaces: the receiver takes the smallest value, so a stale one left beside ours
    // would cut the budget.
    DeadlineHeader.restate(ctx, request::removeHeaders, request::addHeader);
    http.setAttribute(HOP_STATED, request);
    try {
      return chain.proceed(request, scope);
    } catch (IOException e) {
      // Mapped here too, below the retry handler, so that an aborted exchange is not retried.
      throw ClientFailures.failed(ctx, e);
    } finally {
      // Put back as it was: an outer execute's mark, should this hop be a nested execute's.
      if (stated == null) {
        http.removeAttribute(HOP_STATED);
      } else {
        http.setAttribute(HOP_STATED, stated);
      }
    }
  }

  /**
   * The {@link CancellableDependency} of the forked runtime, cancelled by the context (it is the
   * registered callback) or by the caller's request. The runtime sets its dependency to the pending
   * connection lease, then to itself once the connection is leased; cancelling either aborts.
   * {@code cancelled} is written before {@code dependency} is read and {@code dependency} before
   * {@code cancelled} is read, both volatile, so a dependency set concurrently with a cancel is
   * cancelled by one of the two (possibly both: both cancels are idempotent).
   *
   * <p>One case is deferred. A leased connection that has no socket yet (the client is looking the
   * host up, or about to make the socket) cannot be aborted by discarding it: HttpClient 5 (5.1 to
   * 5.6.5 at least) lets the connect that follows bind its new socket to the discarded connection
   * anyway, and that connection then belongs to no one and stays open until a garbage collection
   * finds the socket. So the runtime's cancel is put off until the socket exists (the cancel then
   * closes it, which also aborts a connect in progress) or the chain has returned (its failure path
   * has discarded the connection, and the hop handler refuses to send once the context has ended).
   * Timers look again every 1 to 50 ms: no thread waits for a lookup that may take seconds. What
   * this cannot cover: a host with several addresses, whose next address HttpClient tries with a
   * new socket on the connection the cancel gave back (see the README).
   */
  private static final class Abort implements CancellableDependency, Runnable {
    /** The longest pause between two looks for the socket of a deferred cancel. */
    private static final long MAX_RECHECK_MILLIS = 50;

    /**
     * Ended by the context's end once the exchange is cancelled ({@link #run}): the caller's
     * interrupt scope follows it, so the interrupt never comes before the cancel.
     */
    final CancelableContext interrupts = Context.withCancel(Context.background());

    private volatile Cancellable dependency;
    private volatile boolean cancelled;
    /** The forked runtime whose dependency this is; set before the chain runs. */
    volatile ExecRuntime runtime;
    /** Set once the chain has returned or thrown: a deferred cancel has nothing left to do. */
    private volatile boolean returned;

    @Override
    public void setDependency(Cancellable cancellable) {
      dependency = cancellable;
      if (cancelled && cancellable != null) {
        cancelDependency(cancellable);
      }
    }

    @Override
    public boolean isCancelled() {
      return cancelled;
    }

    @Override
    public boolean cancel() {
      if (cancelled) {
        return false;
      }
      cancelNow();
      return true;
    }

    /** Marks this cancelled and cancels the dependency set now; a later one is cancelled as set. */
    private void cancelNow() {
      cancelled = true;
      Cancellable d = dependency;
      if (d != null) {
        cancelDependency(d);
      }
    }

    /**
     * The context's end: cancels the exchange, then interrupts the caller. In this order because
     * HttpClient gives up a connection lease it was interrupted in before it cancels the lease:
     * should the pool grant the lease in between, the cancel comes too late and the connection
     * stays leased to no one, and every later request on the pool waits for it. Cancelled first,
     * the lease is either refused by the pool or already granted, and then the caller takes it
     * (and this cancel's runtime cancel closes it). ctx4j runs a context's callbacks newest first,
     * so an interrupt scope of the context itself would interrupt first. The dependency is
     * cancelled here even if the caller's own {@code cancel()} came first: that one may still be
     * on its way to it (both cancels are idempotent).
     */
    @Override
    public void run() {
      try {
        cancelNow();
      } finally {
        interrupts.cancel();
      }
    }

    void chainReturned() {
      returned = true;
    }

    private void cancelDependency(Cancellable d) {
      if (d == runtime && leasedWithoutSocket()) {
        cancelOnceTheSocketExists(d, 1);
      } else {
        d.cancel();
      }
    }

    /**
     * Cancels {@code runtimeCancel} (the runtime, which is its own dependency) once the runtime
     * has its socket, looking again after {@code delayMillis}, doubling up to {@value
     * #MAX_RECHECK_MILLIS} ms.
     */
    private void cancelOnceTheSocketExists(Cancellable runtimeCancel, long delayMillis) {
      Context.afterFunc(
          Context.withTimeout(Context.background(), Duration.ofMillis(delayMillis)),
          () -> {
            if (returned) {
              return; // the chain's own failure path has discarded the connection
            }
            if (leasedWithoutSocket()) {
              cancelOnceTheSocketExists(runtimeCancel, Math.min(delayMillis * 2, MAX_RECHECK_MILLIS));
            } else {
              runtimeCancel.cancel();
            }
          });
    }

    /** A connection is leased but has no socket yet: the client is connecting, before the socket. */
    private boolean leasedWithoutSocket() {
      ExecRuntime r = runtime;
      try {
        return r.isEndpointAcquired() && !r.isEndpointConnected();
      } catch (RuntimeException released) {
        return false; // the endpoint went back to the pool meanwhile: cancel() has nothing to undo
      }
    }
  }

  /**
   * The response as the caller gets it, all of it the exchange's own; its close also releases
   * the registration ({@link ContextEntity#release}), even once the entity has been replaced.
   */
  private static final class ContextResponse extends HttpResponseWrapper implements ClassicHttpResponse {
    private final ClassicHttpResponse response;
    private final ContextEntity entity;

    ContextResponse(ClassicHttpResponse response, ContextEntity entity) {
      super(response);
      this.response = response;
      this.entity = entity;
    }

    @Override
    public HttpEntity getEntity() {
      return response.getEntity();
    }

    @Override
    public void setEntity(HttpEntity replacement) {
      response.setEntity(replacement);
    }

    @Override
    public void close() throws IOException {
      try {
        response.close();
      } finally {
        entity.release.clean();
      }
    }
  }

  /**
   * The response entity as the caller sees it: the end of its content, closing it or the response,
   * or dropping it unclosed releases the registration; a read or skip failing because the context
   * ended fails with the context's error.
   */
  private static final class ContextEntity extends HttpEntityWrapper {
    /** The largest buffer a skip reads into: {@code InputStream.skip}'s. */
    private static final int SKIP_BUFFER = 2048;

    private final Context ctx;
    private final Cleaner.Cleanable release;
    /** The fork the exchange ran on, which holds the connection until the body is done. */
    final ExecRuntime runtime;

    ContextEntity(HttpEntity entity, Context ctx, Registration registration, ExecRuntime runtime) {
      super(entity);
      this.ctx = ctx;
      this.runtime = runtime;
      // The action must not reach this entity, or it would never become unreachable.
      this.release = ABANDONED.register(this, registration::stop);
    }

    @Override
    public InputStream getContent() throws IOException {
      InputStream in;
      try {
        in = super.getContent();
      } catch (IOException e) {
        release.clean();
        throw mapped(e);
      }
      return in == null ? null : new Content(in);
    }

    @Override
    public void writeTo(OutputStream out) throws IOException {
      try {
        super.writeTo(out);
      } catch (IOException e) {
        throw mapped(e);
      } finally {
        release.clean();
      }
    }

    @Override
    public void close() throws IOException {
      closeAndRelease(super::close);
    }

    /**
     * Closes with {@code close} and releases the registration. Closing an entity whose exchange the
     * context aborted reads from a closed socket: the caller closing what it no longer wants is not
     * a failure then.
     */
    void closeAndRelease(Closeable close) throws IOException {
      try {
        close.close();
      } catch (IOException e) {
        if (ctx.err() == null) {
          throw e;
        }
      } finally {
        release.clean();
      }
    }

    IOException mapped(IOException e) {
      return ClientFailures.failed(ctx, e);
    }

    /** The content stream: released at its end or when closed. */
    private final class Content extends FilterInputStream {
      Content(InputStream in) {
        super(in);
      }

      @Override
      public int read() throws IOException {
        try {
          return atEnd(super.read());
        } catch (IOException e) {
          throw failed(e);
        }
      }

      @Override
      public int read(byte[] buf, int off, int len) throws IOException {
        try {
          return atEnd(super.read(buf, off, len));
        } catch (IOException e) {
          throw failed(e);
        }
      }

      /**
       * Skips by reading, as {@code InputStream.skip} does: HttpClient's own body stream skips so
       * and gives its connection back at the end a skip reaches, so the end must be seen here too,
       * which the wrapped stream's skip count does not tell.
       */
      @Override
      public long skip(long n) throws IOException {
        if (n <= 0) {
          return 0;
        }
        byte[] scratch = new byte[(int) Math.min(SKIP_BUFFER, n)];
        long left = n;
        while (left > 0) {
          int r = read(scratch, 0, (int) Math.min(scratch.length, left)); // maps and releases
          if (r < 0) {
            break;
          }
          left -= r;
        }
        return n - left;
      }

      private int atEnd(int n) {
        if (n < 0) {
          release.clean();
        }
        return n;
      }

      private IOException failed(IOException e) {
        release.clean();
        return mapped(e);
      }

      @Override
      public void close() throws IOException {
        closeAndRelease(super::close);
      }
    }
  }
}
