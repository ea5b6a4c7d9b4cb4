package io.ctx4j.okhttp;

import io.ctx4j.Context;
import io.ctx4j.Registration;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.http.ContextHttp;
import io.ctx4j.http.DeadlineHeader;
import io.ctx4j.http.internal.ClientFailures;
import io.ctx4j.internal.CoreInternals;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetSocketAddress;
import java.net.ProtocolException;
import java.net.Proxy;
import java.lang.ref.Cleaner;
import java.lang.ref.WeakReference;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import okhttp3.Call;
import okhttp3.Connection;
import okhttp3.EventListener;
import okhttp3.HttpUrl;
import okhttp3.Interceptor;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.Buffer;
import okio.BufferedSink;
import okio.BufferedSource;
import okio.ForwardingSink;
import okio.ForwardingSource;
import okio.Okio;

/**
 * Runs OkHttp 5 calls under a ctx4j {@link Context}: the request carries the context's remaining
 * time in the {@link DeadlineHeader#NAME} header, the call is {@linkplain Call#cancel() cancelled}
 * as soon as the context ends, and a call whose context has already ended, or whose deadline has
 * passed, is never sent.
 *
 * <pre>{@code
 * OkHttpClient client = ContextOkHttp.install(new OkHttpClient.Builder()).build();
 * Request request = ContextOkHttp.withContext(new Request.Builder().url(url).build(), ctx);
 * try (Response response = client.newCall(request).execute()) {
 *   ...
 * } catch (IOException e) {
 *   if (e.getCause() instanceof DeadlineExceededException) { ... } // the context's error
 * }
 * }</pre>
 *
 * <h2>Which context</h2>
 *
 * A call runs under the context in its request's tag of type {@code Context} ({@link
 * #withContext}, or {@code Request.Builder.tag(Context.class, ctx)}), or else under {@link
 * CurrentContext#get()} as the interceptor finds it: the caller's current context for {@code
 * Call.execute()}, which runs the interceptors on the calling thread. {@code Call.enqueue()} runs
 * them on OkHttp's dispatcher thread, where no context is current: tag the request of an enqueued
 * call, or it runs under {@code Context.background()} (no deadline, never cancelled). Every request
 * of a call on the wire (a redirect hop, a retry, an authentication round) runs under the context
 * {@link #interceptor()} took for the call, even a follow-up the application builds afresh, without
 * the tag (an {@code Authenticator}'s new {@code Request}).
 *
 * <h2>The two interceptors</h2>
 *
 * <ul>
 *   <li>{@link #interceptor()}, an <em>application</em> interceptor, once per call: fails the call
 *       at once if its context has ended or its deadline has passed, cancels the call when the
 *       context ends, and sends the header with the first request.
 *   <li>{@link #networkInterceptor()}, a <em>network</em> interceptor, once per request that goes
 *       on the wire: states the time left at that moment, and sends nothing once the context has
 *       ended or its deadline has passed. OkHttp follows redirects and retries below the
 *       application interceptors, re-sending the first request's headers; without the network
 *       interceptor every redirect hop and retry would carry the first hop's budget, stale by
 *       however long the earlier hops took. It cancels nothing: alone, it leaves a call whose
 *       context ends in flight running.
 * </ul>
 *
 * {@link #install} adds both, which is what to use unless the order of interceptors matters.
 *
 * <h2>Errors</h2>
 *
 * OkHttp's calls fail with {@link IOException} ({@code Callback.onFailure} takes nothing else; an
 * unchecked exception thrown by an interceptor of an enqueued call escapes to the dispatcher
 * thread). So when the context ends, the call fails with an {@link java.io.InterruptedIOException}
 * whose {@linkplain IOException#getCause() cause} is a fresh copy of the context's error ({@code
 * CanceledException} or {@code DeadlineExceededException}, carrying the context's cause), as Go's
 * {@code http.Client} returns a {@code url.Error} that wraps {@code context.Canceled} ({@link
 * ContextHttp#ioErrorOf}; OkHttp does not retry an {@code InterruptedIOException}). This holds for a context that
 * has ended before the call (nothing is sent), while the request is in flight, while the
 * response body is being read, and while a duplex request body ({@code RequestBody.isDuplex()},
 * HTTP/2 only) is being written after {@code execute()} has returned: the response body, and the
 * sink a duplex request body writes to, are wrapped so that a read or write failing because the
 * context ended says so. A deadline that has passed counts as an end even before ctx4j's timer has
 * ended the context (a loaded timer thread, a custom context that lags): the call, or the redirect
 * hop or retry, fails unsent with a {@code DeadlineExceededException} that has no cause, the
 * context having none yet, rather than go out with a budget of 0; and an exchange or body read that
 * fails once the deadline has passed fails with that error too, its own failure suppressed on it.
 *
 * <p>Two moments lie outside any interceptor. An enqueued call waiting in the dispatcher's queue
 * runs no interceptor yet: a context that ends then fails the call, unsent, only when it gets a
 * slot. And a context that ends after the interceptor has returned the response, before {@code
 * execute()} does, makes OkHttp throw its own {@code IOException("Canceled")} without a cause.
 * (One that ends as the response comes in, before the interceptor returns it, fails the call with
 * its error: {@code Call.cancel()} marks the call before it closes the connection, so the response
 * may still arrive, and the interceptor then fails the call itself.)
 *
 * <h2>Timeouts</h2>
 *
 * OkHttp starts a call's {@code callTimeout} before the first interceptor runs ({@code
 * RealCall.execute} and {@code AsyncCall.run} call {@code timeout().enter()} first), so no
 * interceptor can set it for its own call. The context's deadline does the same job: at the
 * deadline ctx4j's timer cancels the call, as OkHttp's call timeout does, and the call fails with
 * the context's {@code DeadlineExceededException} rather than OkHttp's {@code
 * InterruptedIOException("timeout")}. A {@code callTimeout}, connect, read or write timeout
 * configured on the client stays in force as well; whichever ends first ends the call.
 *
 * <h2>Registrations</h2>
 *
 * A call holds one registration on its context from the moment the application interceptor sends
 * it until the call ends in OkHttp's sense ({@code EventListener.callEnd} or {@code callFailed}):
 * the response body read to its end or closed, the call failed or cancelled. Closing the response
 * body (or its source) releases it in any case, but for an upgrade (101), which goes on after its
 * body, and for a duplex call, whose caller may go on writing the request body after closing the
 * response: that one is released once both bodies are closed (the response body alone if OkHttp
 * never took the request body, as when the server answers {@code Expect: 100-continue} with a
 * final status). (OkHttp stops telling a call's
 * listeners at the first that throws, and the client's own {@code EventListener} comes before
 * ctx4j's.) A response that is abandoned without being closed keeps it only until the garbage
 * collector finds the response's body unreachable (a {@link Cleaner} releases it then, even while
 * OkHttp's own threads still reach the call; for an upgrade or a duplex call, until it finds the
 * call unreachable, since the exchange may go on without the response); OkHttp reclaims
 * the connection of such a call once the call is unreachable, and logs it. Close response bodies.
 * A custom {@code Context} whose {@code onDone} returns null instead of a {@code Registration}
 * fails the call at once, unsent, with a {@code NullPointerException} that names its class: {@code
 * execute()} throws it; an enqueued call's {@code Callback.onFailure} gets OkHttp's own {@code
 * IOException("canceled due to ...")} with it as cause, and OkHttp rethrows it to the dispatcher
 * thread's uncaught-exception handler. One
 * whose registration's {@code stop()} throws has it called once per call: after a failed call, the
 * call's own {@code IOException} goes on with {@code stop()}'s failure {@linkplain
 * Throwable#addSuppressed suppressed} on it; after a successful exchange, {@code stop()}'s failure
 * reaches the caller where the call ended (the read that ends the body, {@code close()}, or {@code
 * execute()} for a response without a body). The connection is given back either way.
 *
 * <p>All methods are thread-safe and the interceptors are stateless singletons. Actions of the
 * thread that ends the context happen-before the call's failure is observed.
 *
 * @since 0.1
 */
public final class ContextOkHttp {

  private ContextOkHttp() {}

  /** One daemon thread for the whole module: releases the registrations of abandoned calls. */
  private static final Cleaner ABANDONED = Cleaner.create();

  private static final Interceptor APPLICATION = ContextOkHttp::interceptCall;
  private static final Interceptor NETWORK = ContextOkHttp::interceptNetwork;

  /** Why {@link #networkInterceptor()} refuses to run where it finds no connection. */
  static final String NETWORK_AS_APPLICATION =
      "ContextOkHttp.networkInterceptor() runs as an application interceptor"
          + " (OkHttpClient.Builder.addInterceptor): there it sees only the first request of a call,"
          + " and every redirect hop and retry would carry that request's budget, stale by the time"
          + " the earlier hops took; add it with addNetworkInterceptor, or use"
          + " ContextOkHttp.install(builder), which adds both interceptors where they belong";

  /** Why {@link #interceptor()} refuses to run where it finds a connection. */
  static final String APPLICATION_AS_NETWORK =
      "ContextOkHttp.interceptor() runs as a network interceptor"
          + " (OkHttpClient.Builder.addNetworkInterceptor): there it runs only once a connection is"
          + " open, and once per request on the wire, so a call under an ended context would open a"
          + " connection and a context ending while it connects would not be acted on; add it with"
          + " addInterceptor, or use ContextOkHttp.install(builder), which adds both interceptors"
          + " where they belong";

  /** The oldest OkHttp whose {@code Call} has {@code addEventListener}, which the interceptor uses. */
  static final String MINIMUM_OKHTTP = "5.4.0";

  /** Why the OkHttp on the class path cannot run {@link #interceptor()}, or null if it can. */
  private static final String UNSUPPORTED = unsupported(Call.class, okhttp3.OkHttp.VERSION);

  /**
   * Returns why {@code call} (OkHttp's {@code Call} type, of OkHttp {@code version}) cannot serve the
   * interceptor, or null if it can. Without {@code Call.addEventListener} (OkHttp before {@value
   * #MINIMUM_OKHTTP}) every call would fail with a {@code NoSuchMethodError} deep in OkHttp.
   */
  static String unsupported(Class<?> call, String version) {
    try {
      call.getMethod("addEventListener", EventListener.class);
      return null;
    } catch (NoSuchMethodException e) {
      return "ctx4j-okhttp needs OkHttp " + MINIMUM_OKHTTP + " or later (Call.addEventListener);"
          + " the class path has OkHttp " + version;
    }
  }

  private static void requireSupportedOkHttp() {
    if (UNSUPPORTED != null) {
      throw new IllegalStateException(UNSUPPORTED);
    }
  }

  /**
   * Returns the application interceptor: add it with {@code OkHttpClient.Builder.addInterceptor}.
   * For each call it takes the context ({@link #contextOf}); if the context has ended or its
   * deadline has passed, fails the call without sending anything; otherwise sets the {@link
   * DeadlineHeader#NAME} header to the time left ({@link DeadlineHeader#valueFor}, less the transit
   * allowance; any such header is removed when the context has no deadline), tags the request with
   * the context for {@link #networkInterceptor()}, and cancels the call if the context ends before
   * the call does. The response body it returns, and a duplex request body it sends, are wrapped so
   * that a read or a write failing because the context ended fails with the context's error.
   *
   * <p>Added with {@code addNetworkInterceptor} instead, it would run only after OkHttp has opened
   * the connection (so a call under an ended context would open one, and a context that ends while
   * connecting would not be acted on) and once per request on the wire. So it refuses to run there:
   * every call fails, before its request is sent and before it registers on its context, with an
   * {@link IOException} (a {@link ProtocolException}, which OkHttp does not retry) that says so,
   * with an {@link IllegalStateException} saying the same as its cause: {@code execute()} throws it,
   * an enqueued call's {@code Callback.onFailure} gets it, and nothing reaches the dispatcher
   * thread's uncaught-exception handler (OkHttp hands any exception of an interceptor that is not an
   * {@code IOException} to both). OkHttp tells an interceptor which kind it is by its chain's {@code
   * connection()}, null for an application interceptor and never null for a network one.
   *
   * @return the interceptor, the same instance every time
   * @throws IllegalStateException if the OkHttp on the class path is older than {@value
   *     #MINIMUM_OKHTTP}
   */
  public static Interceptor interceptor() {
    requireSupportedOkHttp();
    return APPLICATION;
  }

  /**
   * Returns the network interceptor: add it with {@code
   * OkHttpClient.Builder.addNetworkInterceptor}. For each request that goes on the wire (the first
   * one, every redirect hop and retry) it sets the {@link DeadlineHeader#NAME} header to the time
   * left at that moment, and fails the request without sending it if the context has ended or its
   * deadline has passed. The context is the call's, as {@link #interceptor()} took it, whatever
   * tag the request on the wire carries (a follow-up built afresh carries none); without {@link
   * #interceptor()} in the chain, the request's own ({@link #contextOf}).
   *
   * <p><b>It does not cancel the call.</b> Only {@link #interceptor()} registers the call's cancel
   * on the context (and wraps the response body so that a failed read carries the context's error):
   * added without it, this interceptor leaves a call whose context ends while its request is in
   * flight running to its response, or to OkHttp's own timeouts. Add both, or use {@link #install}.
   *
   * <p>Added with {@code addInterceptor} instead, it would see only the first request of a call, and
   * every redirect hop and retry would go out with that request's budget, stale by the time the
   * earlier hops took. So it refuses to run there: every call fails, before its request is sent, with
   * an {@link IOException} (a {@link ProtocolException}) that names {@code addNetworkInterceptor} and
   * {@link #install}, with an {@link IllegalStateException} saying the same as its cause ({@code
   * execute()} throws it, an enqueued call's {@code Callback.onFailure} gets it, and nothing reaches
   * the dispatcher thread's uncaught-exception handler), and the call leaves no registration on its
   * context. OkHttp tells an interceptor which kind it is by its chain's {@code connection()},
   * null for an application interceptor and never null for a network one.
   *
   * @return the interceptor, the same instance every time
   */
  public static Interceptor networkInterceptor() {
    return NETWORK;
  }

  /**
   * Adds {@link #interceptor()} as the last application interceptor and {@link
   * #networkInterceptor()} as the last network interceptor of {@code builder}, each unless {@code
   * builder} has it already: installing again, on the {@code newBuilder()} of a client built so,
   * adds nothing, and one added by hand keeps its place.
   *
   * @param builder the client's builder
   * @return {@code builder}
   * @throws NullPointerException if {@code builder} is null
   * @throws IllegalStateException if the OkHttp on the class path is older than {@value
   *     #MINIMUM_OKHTTP}
   */
  public static OkHttpClient.Builder install(OkHttpClient.Builder builder) {
    Objects.requireNonNull(builder, "builder");
    requireSupportedOkHttp();
    // Twice in the chain, each call would register on its context, wrap its body and state its
    // budget twice: correct, but paid twice.
    if (!builder.interceptors().contains(APPLICATION)) {
      builder.addInterceptor(APPLICATION);
    }
    if (!builder.networkInterceptors().contains(NETWORK)) {
      builder.addNetworkInterceptor(NETWORK);
    }
    return builder;
  }

  /**
   * Returns a copy of {@code request} tagged with {@code ctx}, the context its calls run under.
   * Same as {@code request.newBuilder().tag(Context.class, ctx).build()}.
   *
   * @param request the request
   * @param ctx the context
   * @return a new request
   * @throws NullPointerException if an argument is null
   */
  public static Request withContext(Request request, Context ctx) {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(ctx, "ctx");
    return request.newBuilder().tag(Context.class, ctx).build();
  }

  /**
   * Returns the context a call of {@code request} runs under: the request's tag of type {@code
   * Context}, or else {@link CurrentContext#get()} on the calling thread.
   *
   * @param request the request
   * @return the context, never null
   * @throws NullPointerException if {@code request} is null
   */
  public static Context contextOf(Request request) {
    Objects.requireNonNull(request, "request");
    Context tagged = request.tag(Context.class);
    return tagged != null ? tagged : CurrentContext.get();
  }

  // ---------------------------------------------------------------------------- the interceptors

  private static Response interceptCall(Interceptor.Chain chain) throws IOException {
    // OkHttp gives only a network interceptor's chain a connection: there, this would run once per
    // request on the wire and only after the connect, which it must cover.
    if (chain.connection() != null) {
      throw misplaced(APPLICATION_AS_NETWORK);
    }
    Request request = chain.request();
    Context ctx = contextOf(request);
    ClientFailures.requireLive(ctx);
    RequestBody requestBody = request.body();
    boolean duplex = requestBody != null && requestBody.isDuplex();
    Call call = chain.call();
    // For the network interceptor: a follow-up the application builds afresh (an Authenticator's
    // new Request, say) has no tag, and the thread OkHttp sends it on may have another current
    // context; each hop of the call must state, and be refused for, the call's own.
    // Set on every run, not only the first: an application interceptor ahead of this one may
    // proceed() more than once, each attempt under a context of its own, and each attempt's hops
    // must go out under the context this run registered its cancel on.
    call.tag(CallContext.class, CallContext::new).ctx = ctx;
    // A custom Context's null is refused now, not in OkHttp's callEnd.
    Hook hook = new Hook(call);
    Registration registration = CoreInternals.register(ctx, hook);
    Release release = new Release(registration, duplex, hook, ctx);
    call.addEventListener(release);
    Request.Builder sent = request.newBuilder().tag(Context.class, ctx);
    if (duplex) {
      sent.method(request.method(), duplex(requestBody, ctx, release));
    }
    Response response;
    try {
      response = chain.proceed(withHeader(sent, ctx));
    } catch (IOException e) {
      IOException failure = ClientFailures.failed(ctx, e);
      release.after(failure);
      throw failure;
    } catch (Throwable e) { // even a checked one, thrown undeclared by a later interceptor
      release.after(e);
      throw e;
    }
    // OkHttp's Call.cancel() marks the call cancelled before it closes the exchange's socket, and
    // OkHttp fails a call marked so with its own IOException("Canceled"), without a cause, once the
    // interceptors return: a context that ended as the response came in would end the call so,
    // though it ended before this interceptor had the response. Its error instead, as OkHttp
    // would have failed the call: the response closed, nothing of it to the caller.
    if (call.isCanceled()) {
      InterruptedIOException end = ClientFailures.endedWith(ctx, new IOException("Canceled"));
      if (end != null) {
        try {
          response.close();
        } finally {
          release.after(end);
        }
        throw end;
      }
    }
    // A 101 (an HTTP/1 upgrade, WebSockets included) goes on after its response: the caller keeps
    // the upgraded socket, or OkHttp's RealWebSocket the call, and drops the response at once; the
    // call ends when the socket closes. Watched by its call there, as cancelling it still matters.
    // So is a duplex call: the caller may drop the response and go on writing the request body.
    boolean upgrade = response.code() == 101;
    // A duplex body OkHttp did not take by now it never will (the server answered an "Expect:
    // 100-continue" with a final status): the caller has no sink to write to or close, and the
    // request side is over. Otherwise the registration would wait for that close for ever.
    boolean writing = duplex && release.requestTaken;
    if (duplex && !writing) {
      release.requestClosed();
    }
    ContextBody body = new ContextBody(response.body(), ctx, upgrade ? null : release);
    release.whenUnreachable(upgrade || writing ? call : body);
    return response.newBuilder().body(body).build();
  }

  private static Response interceptNetwork(Interceptor.Chain chain) throws IOException {
    // An application interceptor's chain has no connection: there, this would run once per call,
    // above OkHttp's redirects and retries, which would all go out with the first hop's budget.
    if (chain.connection() == null) {
      throw misplaced(NETWORK_AS_APPLICATION);
    }
    Request request = chain.request();
    CallContext bound = chain.call().tag(CallContext.class);
    Context ctx = bound != null ? bound.ctx : contextOf(request);
    ClientFailures.requireLive(ctx);
    return chain.proceed(withHeader(request.newBuilder(), ctx));
  }

  /**
   * The failure of a call whose interceptor sits in the wrong kind of slot: an {@link IOException},
   * the way OkHttp expects an interceptor to fail. Anything else OkHttp takes for a crash: an
   * enqueued call's callback gets an {@code IOException("canceled due to ...")} and the dispatcher
   * thread's uncaught-exception handler the exception as well, so the error would be reported twice
   * (and the handler may kill or alarm the application). A {@link ProtocolException}, because
   * OkHttp's retry-and-follow-up interceptor, above the network interceptors, may retry most other
   * IOExceptions on another route; this one it never retries, so the refusal is made once. The
   * {@link IllegalStateException} it carries as its cause says the same, for code that looks for
   * the kind of error.
   */
  private static IOException misplaced(String why) {
    ProtocolException e = new ProtocolException(why);
    e.initCause(new IllegalStateException(why));
    return e;
  }

  private static Request withHeader(Request.Builder b, Context ctx) {
    Optional<String> value = DeadlineHeader.valueFor(ctx);
    if (value.isPresent()) {
      b.header(DeadlineHeader.NAME, value.get());
    } else {
      b.removeHeader(DeadlineHeader.NAME); // never forward a stale budget
    }
    return b.build();
  }

  /**
   * The context the application interceptor runs a call under, kept as a tag of the {@link Call}
   * (a type of ours, so that no tag of the application's is taken for it).
   */
  private static final class CallContext {
    /**
     * The context of the call's latest run of the application interceptor, set by that run before
     * it proceeds, so never null here; volatile, as OkHttp may send a hop of an enqueued call on
     * another thread than the one that set it.
     */
    volatile Context ctx;
  }

  /**
   * The callback registered on the context: cancels the call. Holds the call weakly, so that a long
   * lived context never keeps an abandoned call (and with it its connection) reachable.
   *
   * <p>Not while a response of the call has just been received in full ({@link #received}).
   * OkHttp's {@code Call.cancel()} reads the call's exchange and then closes that exchange's
   * socket; a cancel that has read it as the caller reads the body's last bytes, and is descheduled
   * before the close, would close the socket after OkHttp had given the connection back to its
   * pool, under the next call that took it (whose context may be fine): that call failed with
   * {@code SocketException: Socket closed}. {@link #received} runs when OkHttp reports the body's
   * end, before it gives the connection back, and waits for a cancel in progress: the connection
   * then goes back closed (OkHttp drops it) or is never touched again by this call's cancel.
   *
   * <p>A body's end is not always the call's: OkHttp reports one for every response it reads,
   * and a redirect, a retry of a 408 or an authentication round sends another request after it.
   * A context that ends in between is remembered ({@link #pending}); when OkHttp starts on the
   * next request ({@link #nextRequest}, on the call's thread, once the exchange of the one before
   * is over, so that no cancel can reach it any more), the call is cancellable again, and
   * cancelled there if the context has ended meanwhile.
   *
   * <pre>
   *   LIVE       run cancels the call
   *   RECEIVED   (received: a body has ended) run only sets pending
   *   received       LIVE -> RECEIVED, after a run in progress has returned
   *   nextRequest    RECEIVED -> LIVE, cancelling the call now if pending
   * </pre>
   */
  private static final class Hook extends WeakReference<Call> implements Runnable {
    private boolean received; // guarded by this
    /** The context ended while {@link #received}; guarded by this. */
    private boolean pending;

    Hook(Call call) {
      super(call);
    }

    @Override
    public void run() {
      synchronized (this) {
        Call call = get();
        if (call == null) {
          return;
        }
        if (received) {
          pending = true;
        } else {
          call.cancel();
        }
      }
    }

    /** A response has been received in full: no cancel from now on, none still under way. */
    synchronized void received() {
      received = true;
    }

    /**
     * OkHttp starts on another request of the call, on the call's thread, the exchange of the one
     * before being over: cancellable again, and cancelled now if the context ended meanwhile (on
     * this thread: the exchange it reaches, if any, is this request's own).
     */
    synchronized void nextRequest(Call call) {
      if (received) {
        received = false;
        if (pending) {
          pending = false;
          call.cancel();
        }
      }
    }
  }

  /**
   * Gives the call's registration back when OkHttp says the call has ended, in whatever way, when
   * the response body is closed (not for an upgrade; for a duplex call, once its request body is
   * closed too), or when the garbage collector finds the response body unreachable, whichever
   * comes first (each may call {@code stop()}, which takes effect once).
   *
   * <p>The collector watches the body the caller holds, not the call. OkHttp's own threads may keep
   * a call reachable long after the caller dropped its response: a TaskRunner thread that ran the
   * call's TCP connect holds that task, and through it the call, while it waits as the coordinator
   * for the next task (up to the connection pool's five-minute keep-alive). Nobody can read a body
   * that is unreachable, so nothing is left to cancel then. The exceptions are an upgrade (101),
   * whose exchange goes on over the socket after the response is gone, and a duplex call, whose
   * request body the caller may still be writing: their call is watched.
   *
   * <p>{@code stop()} is called once, by the first of these: a custom context's {@code stop()} may
   * throw, and would otherwise throw again at each later end the call hears of. After a failed call
   * its failure is {@linkplain #after suppressed} on the call's own.
   */
  private static final class Release extends EventListener implements Runnable {
    private final Registration registration;
    /** The call's cancel, told when the response body has ended; null for a duplex call. */
    private final Hook hook;
    /** The status of the last response head, so that an upgrade (101) is never told. */
    private volatile int code;
    /** Set once the response exists; volatile, with {@link #stopped}, so that no clean is missed. */
    private volatile Cleaner.Cleanable watch;

    private final AtomicBoolean stopped = new AtomicBoolean();

    /**
     * The two bodies of a call: the call is over for the caller once the response body is closed
     * and, for a duplex call, the request body too (before that the caller may still be writing).
     * Each side sets its flag, then reads the other's; both are volatile, so the side that closes
     * last sees both set (both may, and {@link #now} takes effect once).
     */
    private volatile boolean responseClosed;

    private volatile boolean requestOpen;

    /**
     * Set when OkHttp hands a duplex body its sink ({@code writeTo}), which it does inside {@code
     * proceed()} or never for that call.
     */
    volatile boolean requestTaken;

    /** The call's context: a follow-up the cache answers is refused here once it has ended. */
    private final Context ctx;

    Release(Registration registration, boolean duplex, Hook hook, Context ctx) {
      this.ctx = ctx;
      this.registration = registration;
      // A duplex call's request body may still be written after its response has ended (HTTP/2,
      // where a cancel resets the call's stream only): the context's end must still stop it.
      this.hook = duplex ? null : hook;
      this.requestOpen = duplex;
    }

    /** The cleaning action; must reach neither the call nor the body. */
    @Override
    public void run() {
      if (stopped.compareAndSet(false, true)) {
        registration.stop();
      }
    }

    /** Releases now, and drops the collector's watch if there is one, even if stop() throws. */
    void now() {
      try {
        run();
      } finally {
        Cleaner.Cleanable w = watch;
        if (w != null) {
          w.clean();
        }
      }
    }

    /**
     * Releases now, after the call failed with {@code failure}: a {@code stop()} that throws is
     * suppressed on it rather than thrown instead, so the caller learns why the call failed.
     */
    void after(Throwable failure) {
      try {
        now();
      } catch (Throwable stopFailure) {
        if (stopFailure != failure) {
          failure.addSuppressed(stopFailure);
        }
      }
    }

    /** The response body was closed: releases now unless a duplex request body is still open. */
    void responseClosed() {
      responseClosed = true;
      if (!requestOpen) {
        now();
      }
    }

    /** The duplex request body was closed: releases now if the response body is closed too. */
    void requestClosed() {
      requestOpen = false;
      if (responseClosed) {
        now();
      }
    }

    /** Releases when {@code holder} becomes unreachable, unless the call has ended already. */
    void whenUnreachable(Object holder) {
      if (stopped.get()) {
        return; // the call ended inside proceed(), e.g. a response without a body
      }
      Cleaner.Cleanable w = ABANDONED.register(holder, this);
      watch = w;
      // A now() that ran in between saw no watch; both fields are read and written with volatile
      // semantics, so one of us sees the other.
      if (stopped.get()) {
        w.clean();
      }
    }

    @Override
    public void responseHeadersEnd(Call call, Response response) {
      code = response.code();
    }

    // OkHttp's first steps of every request of a call, on the call's thread: a proxy choice, a
    // host lookup or a connect of its own, or a connection taken from the pool, and the head it
    // writes (a follow-up on the call's own connection needs none of the others). A follow-up's
    // come only after the exchange of the request before it is over (RetryAndFollowUpInterceptor
    // leaves that exchange first), so a cancel from here on reaches this request or none.

    @Override
    public void proxySelectStart(Call call, HttpUrl url) {
      nextRequest(call);
    }

    @Override
    public void dnsStart(Call call, String domainName) {
      nextRequest(call);
    }

    @Override
    public void connectStart(Call call, InetSocketAddress address, Proxy proxy) {
      nextRequest(call);
    }

    @Override
    public void connectionAcquired(Call call, Connection connection) {
      nextRequest(call);
    }

    @Override
    public void requestHeadersStart(Call call) {
      nextRequest(call);
    }

    // A request of the call the cache answers (a redirect target cached, say) starts none of the
    // above: the context's end while the request before it was over, or its deadline passed, is
    // acted on here, as the network interceptor would refuse that request on the wire.
    @Override
    public void cacheHit(Call call, Response cachedResponse) {
      nextRequest(call);
      // Only while this run's registration holds: a later run of the call (an interceptor ahead
      // that proceeds again under another context) is not this context's business.
      if (!stopped.get() && CoreInternals.endOf(ctx) != null) {
        call.cancel();
      }
    }

    @Override
    public void satisfactionFailure(Call call, Response response) {
      cacheHit(call, response);
    }

    private void nextRequest(Call call) {
      // Only while this run's registration holds, as in cacheHit: once it is given back (the
      // body was read and closed), a cancel the hook kept pending belongs to a run that is over,
      // and a later run of the call (an interceptor ahead that proceeds again under another
      // context) must not get it.
      if (hook != null && !stopped.get()) {
        hook.nextRequest(call);
      }
    }

    /**
     * OkHttp reports the end of the response body before it gives the connection back to its pool
     * (its {@code Exchange.bodyComplete}): from here on a cancel could only reach the next call on
     * that connection. An upgrade goes on after its body, and stays cancellable.
     */
    @Override
    public void responseBodyEnd(Call call, long byteCount) {
      if (hook != null && code != 101) {
        hook.received();
      }
    }

    @Override
    public void callEnd(Call call) {
      now();
    }

    /** OkHttp throws {@code ioe} to the caller (a body read, or {@code execute()}) after this. */
    @Override
    public void callFailed(Call call, IOException ioe) {
      after(ioe);
    }
  }

  /**
   * The response body as the caller reads it: a read that fails after the context ended (the call
   * was cancelled under it) fails with the context's error as cause. Closing it (or its source)
   * releases the call's registration, as OkHttp's {@code callEnd} does at that moment: OkHttp
   * stops telling a call's listeners at the first that throws, and the client's own listener
   * comes before ctx4j's.
   */
  private static final class ContextBody extends ResponseBody {
    private final ResponseBody body;
    private final Context ctx;
    /** Released on close; null for an upgrade, whose exchange goes on after its body. */
    private final Release release;

    private BufferedSource source; // guarded by this; OkHttp's bodies are single-reader anyway

    ContextBody(ResponseBody body, Context ctx, Release release) {
      this.body = body;
      this.ctx = ctx;
      this.release = release;
    }

    @Override
    public MediaType contentType() {
      return body.contentType();
    }

    @Override
    public long contentLength() {
      return body.contentLength();
    }

    @Override
    public synchronized BufferedSource source() {
      if (source == null) {
        // The source must keep this body reachable (it does, through ContextBody.this.ctx): the
        // registration is released when the body is collected, and a caller may hold only the
        // source or its stream.
        source =
            Okio.buffer(
                new ForwardingSource(body.source()) {
                  @Override
                  public long read(Buffer sink, long byteCount) throws IOException {
                    try {
                      return super.read(sink, byteCount);
                    } catch (IOException e) {
                      throw ClientFailures.failed(ctx, e);
                    }
                  }

                  @Override
                  public void close() throws IOException {
                    try {
                      super.close();
                    } finally {
                      closed();
                    }
                  }
                });
      }
      return source;
    }

    @Override
    public void close() {
      // Closes the underlying body even if source() was never called (OkHttp's close() would
      // otherwise open and close our wrapper, which is the same thing, only later).
      try {
        body.close();
      } finally {
        closed();
      }
    }

    private void closed() {
      if (release != null) {
        release.responseClosed();
      }
    }
  }

  /**
   * Returns a duplex request body as the caller writes it. OkHttp hands a duplex body its sink and
   * returns the response at once; the caller writes the body afterwards, outside every
   * interceptor, so a write failing because the context ended (the call was cancelled: OkHttp
   * resets the HTTP/2 stream) would otherwise say only {@code stream was reset: CANCEL}. Here it
   * fails with the context's error, as a read of the response body does. Closing the sink tells
   * {@link Release} that the request side is over, for the same reason as {@link ContextBody}'s
   * close.
   */
  private static RequestBody duplex(RequestBody body, Context ctx, Release release) {
    return new RequestBody() {
      @Override
      public MediaType contentType() {
        return body.contentType();
      }

      @Override
      public long contentLength() throws IOException {
        return body.contentLength();
      }

      @Override
      public boolean isDuplex() {
        return true;
      }

      @Override
      public boolean isOneShot() {
        return body.isOneShot();
      }

      @Override
      public void writeTo(BufferedSink sink) throws IOException {
        release.requestTaken = true;
        body.writeTo(
            Okio.buffer(
                new ForwardingSink(sink) {
                  @Override
                  public void write(Buffer source, long byteCount) throws IOException {
                    runMapped(ctx, () -> super.write(source, byteCount));
                  }

                  @Override
                  public void flush() throws IOException {
                    runMapped(ctx, super::flush);
                  }

                  @Override
                  public void close() throws IOException {
                    try {
                      runMapped(ctx, super::close);
                    } finally {
                      release.requestClosed();
                    }
                  }
                }));
      }
    };
  }

  /** A write, flush or close of a duplex request body's sink. */
  private interface SinkCall {
    void run() throws IOException;
  }

  /**
   * Runs {@code call}; its failure becomes the context's error once the context has ended or its
   * deadline has passed ({@link ClientFailures#failed}), as a failed read of the response does.
   */
  private static void runMapped(Context ctx, SinkCall call) throws IOException {
    try {
      call.run();
    } catch (IOException e) {
      throw ClientFailures.failed(ctx, e);
    }
  }
}
