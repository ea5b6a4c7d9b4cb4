package io.ctx4j.spring.boot;

import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.concurrent.Closer;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.concurrent.InterruptScope;
import io.ctx4j.http.DeadlineHeader;
import io.ctx4j.internal.CoreInternals;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.Callable;
import java.util.concurrent.Flow;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpRequest;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.client.ClientHttpRequestExecution;
import org.springframework.http.client.ClientHttpRequestInterceptor;
import org.springframework.http.client.ClientHttpResponse;

/**
 * A {@link ClientHttpRequestInterceptor} for {@code RestClient} (and {@code RestTemplate}) that
 * runs every exchange under the ctx4j context current in the calling thread ({@link
 * CurrentContext#get()}, for example the request context of {@code ContextServletFilter}): the
 * request carries the time left in {@link DeadlineHeader#NAME} (computed by {@link
 * DeadlineHeader#valueFor}, just before the request is handed on; any such header already there is
 * removed, so a stale value is never forwarded), and the exchange is given up when the context ends.
 * A request that then waits below for a pooled connection carries that value, stale by the wait,
 * unless the client states it again once it has one: Apache HttpClient with ctx4j-httpclient5's
 * hop handler, Jetty's with {@link ContextJettyHttpClient}, Reactor Netty's with {@link
 * ContextReactorHttpClient} (the auto-configuration installs each on the clients Spring Boot
 * builds); the JDK {@code HttpClient} opens a new connection rather than wait.
 *
 * <h2>When the context ends</h2>
 *
 * <ul>
 *   <li>Already done when the call starts: nothing is sent; the call throws the context's error.
 *       So does a context whose deadline has passed though ctx4j's timer has not ended it yet (a
 *       tick after the deadline, longer on a loaded timer thread, for ever with a custom context
 *       that lags): rather than go out with a budget of 0 and perhaps succeed after its deadline,
 *       the call throws a {@code DeadlineExceededException} without a cause (the context has none
 *       yet).
 *   <li>While the request is sent and the response awaited: the calling thread is interrupted
 *       (through {@link InterruptScope}, which leaves no stray interrupt behind), and the call
 *       throws a fresh copy of the context's error ({@code CanceledException} or {@code
 *       DeadlineExceededException}, both {@code CancellationException}s, with the context's cause),
 *       with the request factory's own exception suppressed in it. An exchange that fails once
 *       the deadline has passed, before the timer has ended the context, throws a {@code
 *       DeadlineExceededException} without a cause the same way.
 *   <li>While the body is read: each read runs under its own {@code InterruptScope} and {@link
 *       Closer#call}: when the context ends, the reading thread is interrupted and the body stream
 *       is closed (which makes the JDK and Jetty clients give the connection up), and the read
 *       throws the context's error; so does every read after the context has ended, and a read
 *       that fails once the deadline has passed though the timer has not ended the context yet (a
 *       {@code DeadlineExceededException} without a cause, the stream's failure suppressed). The same
 *       holds for a {@code skip}. Two kinds of stream are not closed from another thread, and with them a read
 *       blocked on a silent server waits for it, and the next read fails: Apache HttpClient's,
 *       whose {@code close()} drains the body and is not thread-safe, and {@code
 *       HttpURLConnection}'s, whose {@code close()} waits for the read in progress to return, so it
 *       would stop nothing and would hold a ctx4j callback thread for as long as the server stays
 *       silent.
 *   <li>While the response is closed: Spring's responses drain the rest of the body on close (to
 *       reuse the connection; Jetty's does not, its close aborts the exchange). After the context
 *       ended, the body stream is closed first, whether or not the caller ever asked for it, so
 *       closing gives the connection up instead of waiting for a body nobody wants; a drain under
 *       way when the context ends is stopped like a read.
 * </ul>
 *
 * Whether an interrupt really aborts the exchange depends on the request factory: Spring's {@code
 * JdkClientHttpRequestFactory} (the JDK {@code HttpClient}; it cancels the exchange, which closes an
 * HTTP/1.1 connection or resets an HTTP/2 stream) and the Reactor Netty factory honour it; {@code
 * SimpleClientHttpRequestFactory} ({@code HttpURLConnection}) and Apache HttpClient's classic
 * blocking I/O do not, and there the call returns only when the server answers, which the deadline
 * header makes it do in time. On Spring's {@code JettyClientHttpRequestFactory} (Jetty's {@code
 * HttpClient}) the interrupt ends Spring's wait for the response, but Spring (7.0.8) does not abort
 * Jetty's request then: with {@link ContextJettyHttpClient} installed on the client (the
 * auto-configuration does it for the clients Spring Boot builds), Jetty's request is tied to this
 * call as it is queued, and the context's end aborts it (a redirect hop Jetty sends itself too);
 * each states the time left again when Jetty sends it, after any wait in Jetty's queue for a
 * connection;
 * without it, the exchange goes on below until the factory's read timeout aborts it. Once the
 * response is there, its body stream is closed from another thread as above, and Jetty's close
 * aborts the exchange. The module README lists what was measured.
 *
 * <h2>Resources</h2>
 *
 * A registration of this interceptor on the context lives only while the thread is inside the
 * exchange (two there with Jetty's request tied to the call: the interrupt and the abort), inside
 * one read of the body, or inside the response's close (its drain); none is left
 * once the call has returned, whatever the caller does with the response, so a long-lived context
 * accumulates nothing. (Below it, ctx4j-httpclient5's handlers, which Spring Boot installs on its
 * Apache HttpClient, keep one while a response body is open, and give it back when the body ends or
 * is closed.)
 *
 * <p>Thread safety: stateless and thread-safe; the response it returns is as thread-safe as the
 * factory's (read it in the thread that made the call, as Spring does). Memory consistency effects:
 * those of {@link InterruptScope}.
 *
 * @since 0.1
 */
public final class ContextClientHttpRequestInterceptor implements ClientHttpRequestInterceptor {

  /** Creates the interceptor. */
  public ContextClientHttpRequestInterceptor() {}

  /**
   * Sends the request under the current context; see the class documentation.
   *
   * @param request the request; its headers are changed
   * @param body the body
   * @param execution the rest of the chain
   * @return the response, whose body reads stop when the context ends
   * @throws IOException as the exchange throws it, when the context did not end and its deadline
   *     had not passed
   * @throws ContextException a fresh copy of the context's error if the context ends before the
   *     response is there (or is already done); a {@code DeadlineExceededException} without a cause
   *     if its deadline has passed though it has not ended yet, before the call (nothing is sent)
   *     or before the exchange failed
   */
  @Override
  public ClientHttpResponse intercept(
      HttpRequest request, byte[] body, ClientHttpRequestExecution execution) throws IOException {
    Context ctx = CurrentContext.get();
    // Not throwIfDone(): past its deadline a context may not have been ended by its timer yet (a
    // tick, a loaded timer thread, a custom context that lags), and a request sent then would carry
    // a budget of 0 and could succeed after its deadline.
    ContextException end = CoreInternals.endOf(ctx);
    if (end != null) {
      throw end;
    }
    HttpHeaders headers = request.getHeaders();
    String budget = DeadlineHeader.restate(ctx, headers::remove, headers::set).orElse(null);
    ClientHttpResponse response;
    InterruptScope scope = InterruptScope.open(ctx);
    // For a factory whose request the interrupt does not abort (Jetty's, with
    // ContextJettyHttpClient): its request is tied to this call as it is queued.
    CallAbort call = CallAbort.open(ctx, budget);
    boolean returned = false;
    try {
      response = execution.execute(request, body);
      returned = true;
    } catch (IOException | RuntimeException e) {
      scope.close();
      call.close();
      // A response the client had (Reactor Netty's, as the interrupt made Spring's wait throw)
      // reaches nobody now: its connection is given up, not left held by an unread body.
      call.abandoned();
      // Whoever noticed first: this scope's interrupt, or a factory that follows the context
      // itself (Apache HttpClient with ctx4j-httpclient5's handlers aborts before our interrupt).
      // Past the deadline, though the timer has not ended the context yet, the failure is most
      // likely the deadline's doing too: one cause, one error.
      ContextException ended = CoreInternals.endWith(ctx, e);
      if (ended != null) {
        throw ended;
      }
      throw e;
    } finally {
      scope.close(); // also on an Error: no registration stays, no interrupt comes later
      call.close();
      if (!returned) {
        call.abandoned(); // on an Error; done already on the other paths, and done once
      }
    }
    if (scope.interrupted()) {
      // The context ended just as the response arrived: the caller must not use it.
      giveUp(response, rawBody(response), call);
      throw Errors.copyOf(ctx, null);
    }
    return new Response(response, ctx, call);
  }

  /** The factory's response with a body whose reads stop when the context ends. */
  private static final class Response implements ClientHttpResponse {
    private final ClientHttpResponse delegate;
    private final Context ctx;
    /** The call that had this response: what giving it up must also do ({@link #giveUp}). */
    private final CallAbort call;
    private Body body;

    Response(ClientHttpResponse delegate, Context ctx, CallAbort call) {
      this.delegate = delegate;
      this.ctx = ctx;
      this.call = call;
    }

    @Override
    public HttpStatusCode getStatusCode() throws IOException {
      return delegate.getStatusCode();
    }

    @Override
    public String getStatusText() throws IOException {
      return delegate.getStatusText();
    }

    @Override
    public HttpHeaders getHeaders() {
      return delegate.getHeaders();
    }

    @Override
    public InputStream getBody() throws IOException {
      if (body == null) {
        body = new Body(delegate.getBody(), ctx);
      }
      return body;
    }

    /**
     * Spring's responses drain the rest of the body on close, to reuse the connection. With the
     * context over, that would wait for a body nobody wants, so the stream is closed first, which
     * gives the connection up. With the context live, the drain runs like a read ({@link
     * #stopOnDone}). On a stream that is not closed from another thread ({@link
     * #closableFromAnotherThread}), whose reads may ignore the interrupt, this drains the body
     * itself first, read by read as the caller would, so that the drain stops at the first read
     * after the context ended; Spring's drain, on the raw stream, would go on to the body's end.
     */
    @Override
    public void close() {
      InputStream raw = body != null ? body.raw() : rawBody(delegate);
      if (raw == null) {
        delegate.close();
        return;
      }
      if (ctx.isDone()) {
        giveUp(delegate, raw, call);
        return;
      }
      if (!closableFromAnotherThread(raw)) {
        try {
          drain(body != null ? body : new Body(raw, ctx));
        } catch (ContextException e) {
          giveUp(delegate, raw, call);
          return;
        } catch (IOException | RuntimeException e) {
          // Spring's own drain ignores a failure too: its close, below, gives the body up.
        }
        delegate.close();
        return;
      }
      try {
        stopOnDone(
            ctx,
            raw,
            () -> {
              delegate.close();
              return null;
            });
      } catch (ContextException e) {
        // The context ended before the drain began, or made it fail: either way, give the body up
        // (closing what is already closed again is harmless, and giveUp expects the failure).
        giveUp(delegate, raw, call);
      } catch (RuntimeException e) {
        throw e;
      } catch (Exception e) {
        // Only a checked exception that the factory's close threw sneakily gets here: it goes on
        // unchanged, as it would without this interceptor.
        throw CoreInternals.<RuntimeException>rethrow(e);
      }
    }
  }

  /**
   * Runs {@code io}, which blocks on the body stream {@code raw}, so that the end of {@code ctx}
   * stops it: the thread is interrupted ({@link InterruptScope}) and, where that is safe, the
   * stream is closed from another thread ({@link Closer#call}). Fails at once if {@code ctx} is
   * done, and with a fresh copy of its error if {@code io} fails after it ended. Nothing stays
   * registered once it returns.
   */
  private static <T> T stopOnDone(Context ctx, InputStream raw, Callable<T> io) throws Exception {
    Callable<T> interruptible =
        () -> {
          InterruptScope scope = InterruptScope.open(ctx);
          try {
            return io.call();
          } finally {
            scope.close();
          }
        };
    if (closableFromAnotherThread(raw)) {
      return Closer.call(ctx, raw, interruptible);
    }
    ctx.throwIfDone();
    try {
      return interruptible.call();
    } catch (Exception e) {
      if (ctx.isDone()) {
        throw Errors.copyOf(ctx, e);
      }
      throw e;
    }
  }

  /**
   * Whether closing {@code raw} from another thread is a safe and useful way to stop a read blocked
   * on it. Not for:
   *
   * <ul>
   *   <li>Apache HttpClient's streams ({@code org.apache.hc.}, or ctx4j-httpclient5's wrapper of
   *       them): their {@code close()} reads the rest of the body on the closing thread, racing the
   *       owner's read on a buffer that is not thread-safe, and then hands the connection back to
   *       the pool while it is still being read. ctx4j-httpclient5's handlers, when installed,
   *       abort the exchange itself.
   *   <li>{@code HttpURLConnection}'s streams ({@code sun.net.www.}): their {@code close()} takes
   *       the lock that the read in progress holds, so it returns only after that read does. It
   *       stops nothing, and while the server stays silent it holds the ctx4j callback thread that
   *       runs it.
   * </ul>
   *
   * With those, the context's end interrupts the reading thread, which their socket reads ignore,
   * and the next read fails. The body stream of another of these interceptors (one builder given
   * the interceptor twice: its customizers applied again, or the bean added by hand) is judged by
   * the stream it wraps, which its close would close.
   */
  static boolean closableFromAnotherThread(InputStream raw) {
    InputStream below = raw;
    while (below instanceof Body nested) {
      below = nested.raw();
    }
    String type = below.getClass().getName();
    return !type.startsWith("org.apache.hc.")
        && !type.startsWith("io.ctx4j.httpclient5.")
        && !type.startsWith("sun.net.www.");
  }

  /**
   * Closes the body stream {@code raw} (if not null), then the response, whose drain then ends at
   * once. That drain may also fail on the closed stream (Spring's Reactor response throws an {@code
   * IllegalStateException} for a stream closed before its first read), which only says that the
   * body is gone, as wanted. Spring's Reactor Netty stream needs more, around the close: see
   * {@link #cancelALateSubscription} and {@link #releaseWhatArrivesLater}. Last, {@code call}'s
   * client gives up what it still holds for the response ({@link CallAbort#abandoned}): Reactor
   * Netty's connection, should Spring's stream have lost the subscription the close would cancel
   * (the race {@link #cancelALateSubscription} describes).
   */
  private static void giveUp(ClientHttpResponse response, InputStream raw, CallAbort call) {
    boolean reactor = raw != null && raw.getClass().getName().equals(REACTOR_BODY);
    if (reactor) {
      cancelALateSubscription(raw);
    }
    closeQuietly(raw);
    if (reactor) {
      releaseWhatArrivesLater(raw);
    }
    try {
      response.close();
    } catch (RuntimeException e) {
      // the drain of a stream closed above: nothing is left to give back
    } finally {
      call.abandoned();
    }
  }

  /** The type of Spring's body stream on the Reactor Netty client (Spring Framework 7.0). */
  private static final String REACTOR_BODY = "org.springframework.http.client.SubscriberInputStream";

  /** Accepts any demand and cancel, and does nothing: see {@link #cancelALateSubscription}. */
  private static final Flow.Subscription NO_SUBSCRIPTION =
      new Flow.Subscription() {
        @Override
        public void request(long n) {}

        @Override
        public void cancel() {}
      };

  /*
   * Spring's Reactor Netty body stream (Spring Framework 7.0.8) subscribes to the connection on the
   * connection's event loop, some time after getBody(). Giving a body up gets it and closes it at
   * once, so that subscription usually comes after the close, and the stream, closed before it was
   * subscribed, neither cancels it nor releases the buffers that then arrive: they stay queued in
   * it (Netty's "LEAK: ByteBuf.release() was not called"), and the connection stays open until the
   * body ends or a response timeout closes it (none, unless the HttpClient has one). The
   * response's own drain cannot help: its read into an array fails for want of the subscription
   * before it releases anything. The two methods below, around the close, fix both; only on
   * Spring's stream, whose code they rely on.
   */

  /**
   * Before the close, hands Spring's stream a subscription that does nothing. Not yet subscribed,
   * it takes it as its own (and the close cancels it, at no cost), so the connection's
   * subscription, when it comes, is a second one, which it cancels, as every Reactive Streams
   * subscriber must: Reactor Netty then closes the connection and releases what it holds. Already
   * subscribed, it cancels this one and keeps its own, which the close cancels. The two calls
   * of onSubscribe (ours here, the connection's on its event loop, queued by getBody() before)
   * race on a plain field of Spring's stream, unordered: when the connection's is under way as
   * ours runs, or not yet visible to this thread, one of the two may be lost (Reactive Streams
   * wants the signals serial, which only Spring could ensure). Then the close or the read below
   * still releases the buffers, and the call's abandon ({@link CallAbort#abandoned}, which {@link
   * #giveUp} runs last) disposes of the exchange on its connection, which no cancel reaches.
   */
  private static void cancelALateSubscription(InputStream raw) {
    if (raw instanceof Flow.Subscriber<?> subscriber) {
      try {
        subscriber.onSubscribe(NO_SUBSCRIPTION);
      } catch (RuntimeException e) {
        // giving up anyway
      }
    }
  }

  /**
   * After the close, reads Spring's stream once with a single-byte {@code read()}, which never
   * waits on a closed stream and needs no subscription: with nothing left in hand it returns -1
   * and leaves the stream releasing each buffer as it arrives (a stream closed earlier, for example
   * by a read stopped when the context ended, may not have cleaned up). A stream closed while a
   * reader held part of a buffer returns a byte of it instead; the response's close that follows
   * drains and cleans it up. Not done for other streams: a read of a
   * stream whose close did not take could block.
   */
  private static void releaseWhatArrivesLater(InputStream raw) {
    try {
      raw.read();
    } catch (IOException | RuntimeException e) {
      // giving up anyway
    }
  }

  /** Reads {@code body} to its end, each read stopped by the context's end ({@link Body}). */
  private static void drain(InputStream body) throws IOException {
    byte[] buffer = new byte[8192];
    while (body.read(buffer, 0, buffer.length) >= 0) {
      // discarded, as Spring's drain does
    }
  }

  /** The response's body stream, or null if it has none (some factories throw for an error body). */
  private static InputStream rawBody(ClientHttpResponse response) {
    try {
      return response.getBody();
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private static void closeQuietly(InputStream in) {
    if (in != null) {
      try {
        in.close();
      } catch (IOException | RuntimeException e) {
        // giving up anyway
      }
    }
  }

  /**
   * Each read (and skip) runs under its own {@link #stopOnDone}: nothing stays registered between
   * reads.
   */
  private static final class Body extends FilterInputStream {
    private final Context ctx;

    Body(InputStream in, Context ctx) {
      super(in);
      this.ctx = ctx;
    }

    InputStream raw() {
      return in;
    }

    /**
     * Closes the stream. Spring's Reactor Netty stream (Spring Framework 7.0.8) throws from a close
     * that comes before the connection's late subscription ({@code IllegalStateException:
     * Subscriber must be subscribed to use InputStream}, also without this interceptor), and then
     * neither cancels that subscription nor releases the buffers that reach it; so does the
     * response's close after it. A caller that closes the body right after {@code getBody()} meets
     * that order nearly every time. Spring's stream gets the subscription that does nothing first,
     * as on the give-up path ({@link #cancelALateSubscription}, with the same race): the close then
     * has one to cancel, and the late one is cancelled when it comes.
     */
    @Override
    public void close() throws IOException {
      if (in.getClass().getName().equals(REACTOR_BODY)) {
        cancelALateSubscription(in);
      }
      in.close();
    }

    @Override
    public int read() throws IOException {
      return guarded(in::read);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      return guarded(() -> in.read(b, off, len));
    }

    @Override
    public long skip(long n) throws IOException {
      return guardedLong(() -> in.skip(n));
    }

    private interface Read {
      long read() throws IOException;
    }

    private int guarded(Read read) throws IOException {
      return (int) guardedLong(read);
    }

    private long guardedLong(Read read) throws IOException {
      ctx.throwIfDone();
      try {
        long n = stopOnDone(ctx, in, read::read);
        if (n < 0) {
          // A stream closed because the context ended may report a plain end of stream (Reactor
          // Netty's does): never let a cut-off body pass for a whole one.
          ctx.throwIfDone();
        }
        return n;
      } catch (ContextException e) {
        throw e;
      } catch (IOException | RuntimeException e) {
        // A read that fails once the deadline has passed, though the timer has not ended the
        // context yet (or once the context has ended, without ctx4j's close being the cause) is
        // most likely the end's doing too: one cause, one error, as for the exchange.
        ContextException ended = CoreInternals.endWith(ctx, e);
        if (ended != null) {
          throw ended;
        }
        throw e;
      } catch (Exception e) {
        // A checked exception the stream threw sneakily: unchanged, as without this interceptor.
        throw CoreInternals.<RuntimeException>rethrow(e);
      }
    }
  }
}
