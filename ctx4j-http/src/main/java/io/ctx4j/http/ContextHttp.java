package io.ctx4j.http;

import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Registration;
import io.ctx4j.http.internal.ClientFailures;
import io.ctx4j.internal.CoreInternals;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.ProtocolException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.WeakHashMap;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSession;

/**
 * Sends {@link HttpClient} requests under a ctx4j {@link Context}: the request carries the context's
 * remaining time in the {@link DeadlineHeader#NAME} header, the exchange is aborted as soon as the
 * context ends, and a request whose context has already ended, or whose deadline has passed, is
 * never sent.
 *
 * <pre>{@code
 * try (CancelableContext ctx = Context.withTimeout(parent, Duration.ofMillis(300))) {
 *   HttpResponse<String> r = ContextHttp.send(ctx, client, request, BodyHandlers.ofString());
 * } catch (DeadlineExceededException e) {
 *   // the 300 ms ran out first; the server was told and the connection has been given up
 * }
 * }</pre>
 *
 * <h2>What "aborted" means</h2>
 *
 * When the context ends before the response is complete, two things happen at once, in the
 * thread that ended the context: the caller's {@code send} returns (or the future of {@code
 * sendAsync} fails) with a fresh copy of the context's error; and the exchange is abandoned: if no
 * response has arrived, the client's own future is cancelled with {@code cancel(true)} (for {@code
 * send} through the JDK's own client, the ctx4j thread waiting in the client's {@code send} is
 * interrupted, upon which the JDK cancels that future); if one has,
 * its body's {@link Flow.Subscription} is cancelled and the body subscriber receives the context's
 * error, so a thread reading a streamed body ({@code BodyHandlers.ofInputStream()}) is released
 * too. (The client's future is not cancelled once a response is there: on JDK 17, doing so just as
 * the body ended closed a connection the client had already pooled for the next exchange.)
 *
 * <p>The first point is guaranteed on every JDK. The second is a request to the HTTP client;
 * whether and when the TCP connection is actually closed is up to the JDK. Measured against a bare
 * loopback socket server (see {@code ConnectionAbortTest} and the module README): on JDK 17 and 25,
 * HTTP/1.1 and the default HTTP/2 preference (a cleartext upgrade attempt), before and after the
 * response headers, the connection was closed 8 to 105 ms after the context ended in every run on a
 * lightly loaded machine; on a heavily loaded one, a few runs left it open for seconds when only the
 * future was cancelled (JDK 17 with the body streaming, JDK 25 with the HTTP/2 upgrade pending).
 * Cancelling the body subscription as well closes a streaming HTTP/1.1 exchange on both JDKs. Rely
 * on the deadline header in any case: it ends the server's work whatever the client does.
 *
 * <p>All methods are thread-safe. Actions of the thread that ends the context happen-before the
 * caller observes the context's error.
 *
 * @since 0.1
 */
public final class ContextHttp {

  private ContextHttp() {}

  /**
   * Sends {@code request} with {@code client} and waits for the response, or for {@code ctx} to end,
   * whichever comes first. If the context has a deadline, the request is sent with the {@link
   * DeadlineHeader#NAME} header set to the time left (replacing any such header already there);
   * otherwise any such header is removed, so that a stale value is never forwarded. The value is
   * computed just before the request is handed to the client, less {@link
   * DeadlineHeader#TRANSIT_ALLOWANCE}.
   *
   * <p>Redirects: if the context has a deadline and the client follows redirects, ctx4j follows
   * them itself, by the JDK's rules (301, 302, 303, 307, 308; 303, and 301/302 after a POST, become
   * a GET without body; {@code NORMAL} never goes from https to http; at most {@code
   * jdk.httpclient.redirects.retrylimit} hops, 5 by default, read as the JDK reads it: the system
   * property, or else that key in {@code $JAVA_HOME/conf/net.properties}; earlier responses in
   * {@code previousResponse()}; a hop to another origin carries no {@code Authorization}, {@code
   * Cookie}, {@code Origin} or {@code Referer} of the caller's, as recent JDK updates do, whatever
   * the JDK's update level), so that every hop carries the time left when it is sent rather than
   * the first hop's value. The hops go through a copy of the client with {@code Redirect.NEVER},
   * made once per client from its getters (a local address or priority set on its builder is not
   * copied). A client that is not the JDK's own implementation is not copied and follows redirects
   * itself, re-sending the first hop's header. So does a client with an {@code Authenticator} when
   * it answers a {@code 401} or {@code 407} by sending the request again, inside the JDK: that
   * request carries the first one's value, stale by the round trip (send credentials up front where
   * the budget matters). Likewise the JDK's own retry of a {@code GET} or {@code HEAD} whose
   * connection the server closed before any byte of the answer: it goes out again, on a new
   * connection, with the first attempt's value, stale by the time the server held that attempt.
   *
   * <p>A {@code Location} that the JDK cannot follow as it is fails the call the same way on every
   * JDK, where the JDK's own {@code send} differs (see the README for its answers on JDK 17 and
   * 25): one that is not a URI, or none on a 3xx the JDK follows, with an {@code
   * IOException("Invalid redirection: ...")} (caused by the {@code URISyntaxException}); one of
   * another scheme than http and https ({@code Redirect.ALWAYS}), which the JDK follows as plain
   * HTTP when it has a host and which no {@code HttpRequest} can carry, or an http or https one
   * without a host, with the {@code IllegalArgumentException} of {@code HttpRequest.Builder.uri}.
   *
   * <p>On JDK 21+, where a client can be closed ({@code close}, {@code shutdown}, {@code
   * shutdownNow}), the copy takes no request the client would refuse: before each request ctx4j
   * sends through the copy, the client is asked whether it still takes new requests, and if not the
   * call fails unsent with the {@code IOException} the client gives a new request ({@code "closed"}
   * on JDK 21 to 25), as {@code client.send} would; the copy is then shut down (orderly). A hop
   * already sent through the copy when the client is closed runs to its end, as an exchange the
   * client had taken before an orderly {@code shutdown()} does, even after {@code shutdownNow()};
   * end the context to abort it. A copy whose client is closed during a call is shut down when the
   * call ends; one whose client is closed between calls, at the next call with that client, or
   * when ctx4j next makes a copy once it holds twice as many as after it last looked for closed
   * clients (at least 16), so a client per call, closed after it, leaves a bounded number running.
   *
   * <p>A deadline that has passed counts as an end even before ctx4j's timer has ended the context
   * (a loaded timer thread, a custom context that lags): the call, or the next redirect hop ctx4j
   * follows, fails unsent with a {@code DeadlineExceededException} that has no cause (the context
   * has none yet) rather than go out with a budget of 0; an exchange that fails once the deadline
   * has passed fails with that error too. A deadline {@link DeadlineHeader#TRANSIT_ALLOWANCE} or
   * less away is not an end: the call goes out with a budget of 0 (the receiver's request context
   * is over as the request arrives), and fails only if its own deadline passes first.
   *
   * <p>Threads: through the JDK's own client, each request (the first, and each redirect hop ctx4j
   * follows) goes out by the client's blocking {@code send} on a thread of ctx4j's ({@code
   * ctx4j-http-send-N}, one per request in flight: a new virtual thread each on JDK 21+, a pooled
   * daemon platform thread, kept 5 s idle for the next, on 17 to 20), which hands the response
   * straight to this call; ending the context interrupts that thread, never the caller's.
   * So the call needs no worker of the common {@code ForkJoinPool}, through which the JDK completes
   * the futures of its {@code sendAsync} (on JDK 25 even at parallelism 1). A client of another
   * class is called through its {@code sendAsync}.
   *
   * <p>The call holds one registration on {@code ctx} until the exchange can no longer be aborted:
   * the response body has ended, was cancelled or closed by the caller, or the call failed. A
   * streamed body that is neither read to its end nor closed keeps it until the context ends. A
   * custom context whose {@code Registration.stop()} throws does not change how the call ends: a
   * failed call's exception carries that failure {@linkplain Throwable#addSuppressed suppressed},
   * and otherwise it is dropped.
   *
   * @param ctx the context that bounds the call
   * @param client the client
   * @param request the request
   * @param handler how to receive the body
   * @param <T> the body type
   * @return the response
   * @throws ContextException a fresh {@code CanceledException} or {@code DeadlineExceededException}
   *     with the context's cause, if the context is done before the response is complete (or
   *     already is, in which case nothing is sent); a {@code DeadlineExceededException} without a
   *     cause if the deadline has passed before a request is sent, which is then not sent, or
   *     before the exchange failed (the client's failure suppressed on it)
   * @throws IOException if the exchange fails before the deadline, or the client has been shut down (JDK 21+); as
   *     {@code HttpClient.send} throws it: a new exception of the failure's JDK type ({@code
   *     HttpTimeoutException}, {@code HttpConnectTimeoutException}, {@code ConnectException},
   *     {@code SSLHandshakeException}, {@code SSLException}, {@code ProtocolException}, else {@code
   *     IOException}), the failure as cause; also, as {@code HttpClient.send} does, a new {@code
   *     IOException} caused by any other failure that ends the call after it was handed to the
   *     client (the caller's body handler or subscriber throws, say; even a {@code
   *     ContextException}, of another context that the handler's own work ran under: only this
   *     call's context's end is thrown as such)
   * @throws IllegalArgumentException or {@code SecurityException}: a new one caused by such a
   *     failure of that type, as {@code HttpClient.send} throws it; also for a redirect ctx4j
   *     follows to a {@code Location} of another scheme than http and https, or without a host
   * @throws InterruptedException if the calling thread is interrupted while waiting, and then the
   *     exchange is aborted; or already was at the call, and then nothing is sent (as {@code
   *     HttpClient.send})
   * @throws NullPointerException if an argument is null, or if {@code ctx} is a custom context
   *     whose {@code onDone} returns null instead of a {@code Registration} (the message names its
   *     class): nothing is sent then, and nothing stays registered
   */
  public static <T> HttpResponse<T> send(
      Context ctx, HttpClient client, HttpRequest request, HttpResponse.BodyHandler<T> handler)
      throws IOException, InterruptedException {
    if (Thread.interrupted()) { // as HttpClient.send: nothing reaches the client, or the server
      throw new InterruptedException();
    }
    Call<T> started = call(ctx, client, request, handler, true);
    CompletableFuture<HttpResponse<T>> call = started.result;
    try {
      return call.get();
    } catch (InterruptedException e) {
      call.cancel(true);
      throw e;
    } catch (CancellationException e) {
      // The future failed with the context's error, which is a CancellationException: JDK 17's
      // CompletableFuture.get throws it as is, newer JDKs (23+) wrap it in a new one. Either way,
      // throw a new copy whose stack trace shows this caller rather than the thread that ended the
      // context, or that refused the call because its deadline had passed. A copy of the future's
      // own error, not of what the context says now: a custom context asked again may no longer
      // report the end (a clock set back), and the wrapper would then reach the caller.
      // Only the call's own end: a ContextException that the caller's body handler or subscriber
      // threw (its own ctx4j work under another context, which has ended) is a failure like any
      // other, as HttpClient.send reports it, and this call's context goes on.
      Throwable failed = call.handle((response, failure) -> failure).join();
      if (started.isOwnEnd(failed)) {
        ContextException end = ((ContextException) failed).copy(failed.getCause());
        // The client's own failure, suppressed on the error when the exchange failed once the
        // deadline had passed: the caller is owed it on this copy too.
        for (Throwable s : failed.getSuppressed()) {
          end.addSuppressed(s);
        }
        throw end;
      }
      throw sendFailure(failed);
    } catch (ExecutionException e) {
      Throwable failed = e.getCause();
      if (failed == started.firstHopThrew) {
        // As the client threw it for a request it cannot send (as sendAsync and send throw it),
        // before anything went out: thrown as it is, as when ctx4j handed the request over here.
        throw CoreInternals.<RuntimeException>rethrow(failed);
      }
      throw sendFailure(failed);
    }
  }

  /**
   * The exchange's failure as {@code HttpClient.send} throws it: a new exception, with this
   * caller's stack, of the JDK type a caller may catch ({@code HttpTimeoutException}, {@code
   * ConnectException}...), the failure as its cause. What is not an {@code IOException} (the
   * caller's body handler or subscriber threw, say) comes as a new {@code IOException} too, but for
   * an {@code IllegalArgumentException} or {@code SecurityException}, which come as a new one of
   * their own type: a caller that catches {@code IOException} around {@code HttpClient.send} must
   * not get an unchecked exception here instead. Returns the {@code IOException} for the caller to
   * throw, and throws the two unchecked ones itself.
   */
  private static IOException sendFailure(Throwable failure) {
    String msg = failure.getMessage();
    if (failure instanceof IllegalArgumentException) {
      throw new IllegalArgumentException(msg, failure);
    }
    if (failure instanceof SecurityException) {
      throw new SecurityException(msg, failure);
    }
    if (!(failure instanceof IOException)) {
      return new IOException(msg, failure);
    }
    IOException e;
    if (failure instanceof HttpConnectTimeoutException) {
      e = new HttpConnectTimeoutException(msg);
    } else if (failure instanceof HttpTimeoutException) {
      e = new HttpTimeoutException(msg);
    } else if (failure instanceof ConnectException) {
      e = new ConnectException(msg);
    } else if (failure instanceof SSLHandshakeException) {
      e = new SSLHandshakeException(msg);
    } else if (failure instanceof SSLException) {
      e = new SSLException(msg);
    } else if (failure instanceof ProtocolException) {
      e = new ProtocolException(msg);
    } else {
      e = new IOException(msg);
    }
    e.initCause(failure);
    return e;
  }

  /**
   * Sends {@code request} asynchronously under {@code ctx}; see {@link #send} for the header and
   * redirects. The returned future completes with the response, or exceptionally with the
   * exchange's failure, or with a fresh copy of the context's error (cause attached) if the context
   * ends first, or with a {@code DeadlineExceededException} without a cause if the deadline has
   * passed before a request (the first, or a redirect hop) is sent. Cancelling the returned future
   * aborts the exchange as well, and so does completing it first in another way ({@code complete},
   * {@code completeOnTimeout}): the response could then reach no one, nor its body be closed.
   *
   * <p>The context's error is a {@link CancellationException}, which {@code CompletableFuture.get}
   * and {@code join} treat specially: JDK 17 throws it as is, newer JDKs throw a new {@code
   * CancellationException} whose cause is the context's error. Test the context itself ({@code
   * ctx.err()}), or use {@link #send}, which always throws the context's error.
   *
   * @param ctx the context that bounds the call
   * @param client the client
   * @param request the request
   * @param handler how to receive the body
   * @param <T> the body type
   * @return a new future; it is already failed if {@code ctx} is done or its deadline has passed,
   *     and then nothing is sent
   * @throws NullPointerException if an argument is null, or if {@code ctx} is a custom context
   *     whose {@code onDone} returns null instead of a {@code Registration} (the message names its
   *     class): nothing is sent then, and nothing stays registered
   * @throws IllegalArgumentException as {@link HttpClient#sendAsync} throws it for a request it
   *     cannot send (an unsupported URI scheme, say)
   */
  public static <T> CompletableFuture<HttpResponse<T>> sendAsync(
      Context ctx, HttpClient client, HttpRequest request, HttpResponse.BodyHandler<T> handler) {
    return call(ctx, client, request, handler, false).result;
  }

  /**
   * A new call: started, or failed unsent if the context has ended. {@code blocking} for {@link
   * #send}, whose hops through the JDK's own client need no thread of the common pool ({@link
   * SentOnOwnThread}).
   */
  private static <T> Call<T> call(
      Context ctx,
      HttpClient client,
      HttpRequest request,
      HttpResponse.BodyHandler<T> handler,
      boolean blocking) {
    Objects.requireNonNull(ctx, "ctx");
    Objects.requireNonNull(client, "client");
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(handler, "handler");
    Call<T> call = new Call<>(ctx, handler, blocking);
    ContextException end = CoreInternals.endOf(ctx);
    if (end != null) {
      call.failWithEnd(end);
    } else {
      call.start(client, request);
    }
    return call;
  }

  /**
   * Returns a copy of {@code request} whose {@link DeadlineHeader#NAME} header states {@code ctx}'s
   * remaining time as {@link DeadlineHeader#valueFor} computes it now (less the transit allowance),
   * or, if the context has no deadline, a copy without that header. For clients that send requests
   * some other way than {@link #send}: call it right before sending, once per attempt, since the
   * time until the request leaves is added to the receiver's budget. A client that re-sends the
   * request itself (redirects, retries) re-sends this value, stale by then.
   *
   * @param ctx the context
   * @param request the request
   * @return a new request; the original is not modified
   * @throws NullPointerException if an argument is null
   */
  public static HttpRequest withDeadlineHeader(Context ctx, HttpRequest request) {
    Objects.requireNonNull(ctx, "ctx");
    Objects.requireNonNull(request, "request");
    var value = DeadlineHeader.valueFor(ctx);
    HttpRequest.Builder b =
        HttpRequest.newBuilder(request, (name, v) -> !name.equalsIgnoreCase(DeadlineHeader.NAME));
    value.ifPresent(v -> b.setHeader(DeadlineHeader.NAME, v));
    return b.build();
  }

  /**
   * Returns the exception with which a call of an HTTP client library that reports failures as
   * {@link IOException} (OkHttp, Apache HttpClient) fails because {@code ctx} has ended, or because
   * its deadline has passed before ctx4j's timer ended it (the cause then has no cause): an {@link
   * InterruptedIOException} whose {@linkplain Throwable#getCause() cause} is a fresh copy of the
   * context's error ({@code CanceledException} or {@code DeadlineExceededException}, itself carrying
   * the context's cause), the way Go's {@code http.Client} returns a {@code url.Error} wrapping
   * {@code context.Canceled}. An {@code InterruptedIOException}, because both libraries' retry logic
   * treats it as final: a call whose context has ended is not retried. Used by ctx4j-okhttp and
   * ctx4j-httpclient5.
   *
   * <p>Its class is a subclass of {@code InterruptedIOException} that is not API (test with {@code
   * instanceof}, not {@code getClass()}): it tells those integrations that it is {@code ctx}'s end,
   * made already, and not another context's end of the same shape. Serialized, it is a plain
   * {@code InterruptedIOException}.
   *
   * @param ctx a context that is done, or whose deadline has passed
   * @param failure what the client library threw when the exchange was aborted, added as a
   *     suppressed exception; or {@code null}
   * @return a new exception; its message is the context error's
   * @throws NullPointerException if {@code ctx} is null
   * @throws IllegalStateException if {@code ctx} is not done and its deadline has not passed
   * @since 0.1
   */
  public static InterruptedIOException ioErrorOf(Context ctx, Throwable failure) {
    Objects.requireNonNull(ctx, "ctx");
    ContextException err = CoreInternals.endOf(ctx);
    if (err == null) {
      throw new IllegalStateException("context has not ended and its deadline has not passed: " + ctx);
    }
    return ClientFailures.ioError(ctx, err, failure);
  }

  /** Returns a fresh copy of a done context's error with its cause, as {@code throwIfDone} makes. */
  static ContextException errorOf(Context ctx) {
    ContextException e = CoreInternals.errorCopy(ctx);
    if (e == null) {
      throw new IllegalStateException("context is not done: " + ctx);
    }
    return e;
  }

  private static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  // ------------------------------------------------------------------------------------ redirects

  /** The key of the JDK client's redirect limit, a system property or a line of net.properties. */
  private static final String REDIRECT_LIMIT = "jdk.httpclient.redirects.retrylimit";

  /**
   * The redirect limit, read as the JDK's own redirect filter reads it ({@code
   * sun.net.NetProperties.getInteger}): the system property {@value #REDIRECT_LIMIT}, or else the
   * same key in {@code $JAVA_HOME/conf/net.properties}, read with {@code Integer.decode}; 5 if
   * neither is set or the value cannot be read. Read once, at the first redirect ctx4j looks at,
   * as the JDK reads it once; in a holder so that a client that never follows redirects never
   * reads the file.
   */
  private static final class RedirectLimit {
    static final int MAX = Math.max(1, read());

    private RedirectLimit() {}

    private static int read() {
      String value = System.getProperty(REDIRECT_LIMIT, netProperty(REDIRECT_LIMIT));
      if (value != null) {
        try {
          return Integer.decode(value);
        } catch (NumberFormatException e) {
          // as the JDK: the default
        }
      }
      return 5;
    }

    /** {@code key} in the running JDK's conf/net.properties; null without file, access or key. */
    private static String netProperty(String key) {
      try {
        Path file = Path.of(System.getProperty("java.home"), "conf", "net.properties");
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(file)) {
          p.load(in);
        }
        return p.getProperty(key);
      } catch (IOException | RuntimeException e) { // as the JDK, which then has no defaults either
        return null;
      }
    }
  }

  /**
   * Clients built like the caller's, but with {@code Redirect.NEVER}, so that ctx4j can follow the
   * redirects itself and state each hop's own budget. Keyed weakly: an entry goes with the
   * caller's client. On JDK 21+ an entry also goes, and its copy is shut down, once the caller's
   * client is seen refusing new requests ({@link #retire}, {@link #retireClosed}).
   */
  private static final Map<HttpClient, HttpClient> NOT_FOLLOWING =
      Collections.synchronizedMap(new WeakHashMap<>());

  /** The smallest cache at which a new copy first retires the copies of closed clients. */
  private static final int SWEEP_MIN = 16;

  /**
   * The size of {@link #NOT_FOLLOWING} at which the next copy made first retires the copies of
   * clients closed since ({@link #retireClosed}); twice what the last sweep left. Guarded by {@code
   * NOT_FOLLOWING}.
   */
  private static int sweepAt = SWEEP_MIN;

  /** Whether {@code client} is of the JDK's own implementation, whose behaviour ctx4j knows. */
  private static boolean isJdkClient(HttpClient client) {
    return client.getClass().getModule() == HttpClient.class.getModule();
  }

  /**
   * The client that sends each hop: the caller's, unless that one would follow redirects with a
   * stale budget (it follows them and the context has a deadline), in which case a copy of it that
   * does not follow them. Only clients of the JDK's own implementation are copied: a client of
   * another class (an instrumenting wrapper, say) may do more than its getters tell, so it keeps
   * following redirects itself. A client that refuses new requests (JDK 21+: it has been shut down)
   * gets no copy: it refuses the request itself, as it would without ctx4j.
   */
  private static HttpClient hopClient(Context ctx, HttpClient client) {
    if (client.followRedirects() == HttpClient.Redirect.NEVER
        || ctx.deadline().isEmpty()
        || !isJdkClient(client)) {
      return client;
    }
    HttpClient copy = NOT_FOLLOWING.get(client);
    if (copy != null) {
      return copy;
    }
    if (ClientState.refusal(client) != null) {
      return client; // a copy would start a selector thread only to refuse the request
    }
    HttpClient.Builder b =
        HttpClient.newBuilder()
            .followRedirects(HttpClient.Redirect.NEVER)
            .version(client.version())
            .sslContext(client.sslContext())
            .sslParameters(client.sslParameters());
    client.connectTimeout().ifPresent(b::connectTimeout);
    client.proxy().ifPresent(b::proxy);
    client.authenticator().ifPresent(b::authenticator);
    client.cookieHandler().ifPresent(b::cookieHandler);
    client.executor().ifPresent(b::executor);
    HttpClient built = b.build();
    HttpClient raced = NOT_FOLLOWING.putIfAbsent(client, built);
    if (raced != null) {
      // Another first call built one too: ours is never used, and on JDK 21+ its selector thread
      // would otherwise run until a GC collected it.
      ClientState.shutdown(built);
      return raced;
    }
    retireClosed();
    return built;
  }

  /**
   * Once the cache has doubled since the last sweep, drops and shuts down the copies of clients that
   * refuse new requests (JDK 21+: closed). A client closed after its last call through ctx4j (a
   * try-with-resources around a call, a client per task) is never seen by a later call, and its
   * copy would keep a selector thread, the pooled connections and their file descriptors until GCs
   * collected the client and then the copy: 10,000 such clients ran a JDK 25 process out of file
   * descriptors. The doubling keeps it amortised O(1) probes per copy made; on JDK 17 no client
   * refuses, and a sweep only counts the entries.
   */
  private static void retireClosed() {
    List<HttpClient> closed = new ArrayList<>();
    synchronized (NOT_FOLLOWING) { // iterating a synchronized map; the probes never block
      if (NOT_FOLLOWING.size() < sweepAt) {
        return;
      }
      for (Iterator<Map.Entry<HttpClient, HttpClient>> it = NOT_FOLLOWING.entrySet().iterator();
          it.hasNext(); ) {
        Map.Entry<HttpClient, HttpClient> e = it.next();
        if (ClientState.refusal(e.getKey()) != null) {
          closed.add(e.getValue());
          it.remove();
        }
      }
      sweepAt = Math.max(SWEEP_MIN, 2 * NOT_FOLLOWING.size());
    }
    for (HttpClient copy : closed) { // outside the lock: only the sweep removed these entries
      ClientState.shutdown(copy);
    }
  }

  /**
   * Drops {@code copy}, the copy of {@code client}, from the cache and shuts it down, once {@code
   * client} refuses new requests: otherwise the copy's selector thread would live as long as the
   * caller holds the closed client. Only the thread that removes the entry shuts the copy down.
   */
  private static void retire(HttpClient client, HttpClient copy) {
    if (NOT_FOLLOWING.remove(client, copy)) {
      ClientState.shutdown(copy);
    }
  }

  /** For tests: the copy ctx4j sends {@code client}'s hops through, or {@code null} if none. */
  static HttpClient copyOf(HttpClient client) {
    return NOT_FOLLOWING.get(client);
  }

  /**
   * The request headers a redirect to another origin (scheme or authority) does not carry on, as
   * the JDK's {@code Utils.DISALLOWED_REDIRECT_HEADERS_SET}: the caller's credentials and the
   * headers that name the first origin. Case-insensitive, as header names are.
   */
  private static final Set<String> CROSS_ORIGIN_DROPPED = crossOriginDropped();

  private static Set<String> crossOriginDropped() {
    Set<String> names = new TreeSet<>(String.CASE_INSENSITIVE_ORDER);
    Collections.addAll(names, "Authorization", "Cookie", "Origin", "Referer", "Host");
    return Collections.unmodifiableSet(names);
  }

  /** Whether the JDK would follow a response with this status (RedirectFilter.isRedirecting). */
  private static boolean isRedirect(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
  }

  // ------------------------------------------------------------------------------------- the call

  /**
   * One call of {@link #sendAsync}: one or more hops (the first request and the redirects ctx4j
   * follows), one registration on the context for all of them, one result.
   *
   * <p>The registration is taken before the first hop is sent and released exactly when the call
   * can no longer be aborted usefully: when the final response's body ends (completes, fails, or is
   * cancelled by the caller), when the result fails for any reason (the exchange failed, the context
   * ended, the caller cancelled the future), when the caller completes the result itself (the
   * exchange is then aborted too), or when the caller's handler or subscriber throws.
   * {@link Registration#stop()} is idempotent, so these may overlap. Where the call itself fails
   * the result (the exchange failed, a redirect could not be followed), it releases first, so that
   * a caller who sees the failure finds no hook left.
   *
   * <p>Abort versus hop switch: {@link #current} is written before a hop is sent, and after it is
   * sent the result is checked again; an abort reads {@code current} after completing the result.
   * Whichever order the two threads take, the hop in flight is aborted.
   */
  private static final class Call<T> {
    final Context ctx;
    // Set by start() once the registration is taken, before the first hop is handed to the client
    // (which publishes them to its threads) and before the result's own callback is attached.
    volatile HttpClient callerClient;
    volatile HttpClient client; // sends each hop: callerClient or its copy
    volatile HttpClient.Redirect follow; // what ctx4j follows itself: NEVER if the client does it
    final HttpResponse.BodyHandler<T> handler;
    /** A call of {@link #send}: its hops through the JDK's client go by {@link SentOnOwnThread}. */
    final boolean blocking;
    /**
     * What the JDK's client threw, on a thread of ctx4j's, for the first request, before an
     * exchange existed (a request it cannot send): {@link #send} throws it as it is, as it did when
     * that request was handed over on the caller's thread.
     */
    volatile Throwable firstHopThrew;
    final CompletableFuture<HttpResponse<T>> result = new CompletableFuture<>();
    private volatile Registration registration;
    private volatile Hop<T> current;
    /** Set just before ctx4j completes the result with the response; otherwise the caller did. */
    private volatile boolean delivered;
    /**
     * The ends of {@link #ctx} this call tried to complete the result with ({@link #failWithEnd}),
     * one of which the result holds if it failed by the context: they, and not a ContextException
     * of another context that the caller's handler threw, are the call's own end. Compared by
     * identity (Throwable does not override equals); at most one per way the call can end.
     */
    private final List<Throwable> ownEnds = new CopyOnWriteArrayList<>();

    Call(Context ctx, HttpResponse.BodyHandler<T> handler, boolean blocking) {
      this.ctx = ctx;
      this.handler = handler;
      this.blocking = blocking;
    }

    void start(HttpClient callerClient, HttpRequest request) {
      // First: a custom Context whose onDone returns null (it could never abort the call, nor be
      // given its registration back) is refused before anything is done for the call, the copy
      // of a client that follows redirects included.
      registration = CoreInternals.register(ctx, this::contextEnded);
      this.callerClient = callerClient;
      try {
        client = hopClient(ctx, callerClient);
      } catch (Throwable e) { // even a checked one, thrown undeclared by a caller's client
        releaseAfter(e);
        throw e;
      }
      follow = client == callerClient ? HttpClient.Redirect.NEVER : callerClient.followRedirects();
      result.whenComplete(
          (response, failure) -> {
            Throwable why = failure != null ? failure : delivered ? null : completedByCaller();
            if (why != null) {
              release();
              Hop<T> hop = current;
              if (hop != null) {
                hop.abort(why);
              }
            }
            // A client closed while this call was in flight: no later call may come to see it.
            if (client != callerClient && ClientState.refusal(callerClient) != null) {
              retire(callerClient, client);
            }
          });
      if (result.isDone()) {
        return; // the context ended meanwhile
      }
      try {
        sendHop(request, null, 0);
      } catch (Throwable e) { // even a checked one, thrown undeclared by the caller's objects
        // Thrown by the client before anything was sent (a bad request): the caller gets it as
        // send/sendAsync always threw it; nothing may stay registered.
        releaseAfter(e);
        result.completeExceptionally(e);
        throw e;
      }
    }

    /** Fails the result with {@code end}, an end of this call's context, noted as its own. */
    void failWithEnd(ContextException end) {
      ownEnds.add(end); // before: a caller woken by the result must find it
      result.completeExceptionally(end);
    }

    /** Whether {@code failure}, the result's, is this call's context's end (not a handler's). */
    boolean isOwnEnd(Throwable failure) {
      return failure instanceof ContextException && ownEnds.contains(failure);
    }

    private void contextEnded() {
      ContextException err = errorOf(ctx);
      failWithEnd(err);
      // Also when the result is already complete: a streamed body may still be flowing.
      Hop<T> hop = current;
      if (hop != null) {
        hop.abort(err);
      }
    }

    /**
     * Why the call is over before its response went to the caller: the result's failure, or the
     * caller's own completion of the result; null if the result is not done or has the response.
     */
    private Throwable failure() {
      if (!result.isDone()) {
        return null;
      }
      if (result.isCompletedExceptionally()) {
        return result.handle((r, f) -> f).join();
      }
      return delivered ? null : completedByCaller();
    }

    /**
     * The abort's cause when the caller completed the future itself (complete, completeOnTimeout):
     * the response could then reach no one, nor its body be closed, so the exchange is given up.
     */
    private static CancellationException completedByCaller() {
      return new CancellationException("the caller completed the future of ContextHttp.sendAsync");
    }

    /**
     * Gives the registration back; never throws. A custom context's {@code stop()} that throws
     * (and so may leave its hook registered, its own affair) must not stop what comes after a
     * release: completing the result, handing the body's end to the caller's subscriber, cancelling
     * the exchange. Escaping into the client's threads it left the call hanging. Its failure is
     * dropped here, where no failure of the call is at hand; see {@link #releaseAfter}.
     */
    void release() {
      Registration r = registration;
      if (r != null) {
        try {
          r.stop();
        } catch (Throwable ignored) { // a custom context's: see above
        }
      }
    }

    /**
     * Gives the registration back once the call failed with {@code failure}; never throws. A
     * {@code stop()} that throws too is suppressed on {@code failure}, which the caller gets
     * ({@link CoreInternals#stopAfter}).
     */
    void releaseAfter(Throwable failure) {
      Registration r = registration;
      if (r != null) {
        CoreInternals.stopAfter(failure, r);
      }
    }

    private void sendHop(HttpRequest request, HttpResponse<T> previous, int redirects) {
      // Checked for every hop: a deadline that passed during the previous one has not necessarily
      // ended the context yet, and this hop would go out with a budget of 0.
      ContextException end = CoreInternals.endOf(ctx);
      if (end != null) {
        releaseAfter(end);
        failWithEnd(end);
        return;
      }
      // The copy takes any request; the caller's client, once shut down (JDK 21+), takes none, and
      // its copy must not send in its place. The client's own failure, as its send would give it.
      IOException refused = client == callerClient ? null : ClientState.refusal(callerClient);
      if (refused != null) {
        retire(callerClient, client);
        releaseAfter(refused);
        result.completeExceptionally(refused);
        return;
      }
      Hop<T> hop = new Hop<>(this, request, previous, redirects);
      current = hop;
      CompletableFuture<HttpResponse<T>> exchange;
      if (blocking && isJdkClient(client)) {
        exchange = SentOnOwnThread.start(this, hop, client); // the header is added there
      } else {
        // As late as possible: the time between this clock read and the request's arrival is
        // added to the receiver's budget (less DeadlineHeader.TRANSIT_ALLOWANCE).
        HttpRequest withHeader = withDeadlineHeader(ctx, request);
        exchange = client.sendAsync(withHeader, hop.handler);
      }
      hop.exchange = exchange;
      Throwable failed = failure();
      if (failed != null) {
        hop.abort(failed);
      }
      exchange.whenComplete((response, failure) -> hopEnded(hop, response, failure));
    }

    private void hopEnded(Hop<T> hop, HttpResponse<T> response, Throwable failure) {
      if (failure != null && failure == hop.threwUnsent) {
        // Thrown by the client before an exchange existed, as sendAsync throws it on the caller's
        // thread: the call fails with it, as it did when sendHop threw it (see start).
        releaseAfter(failure);
        result.completeExceptionally(failure);
        return;
      }
      if (failure != null) {
        // Past the deadline, though the timer has not ended the context yet, the failure is most
        // likely the deadline's doing: the caller gets the deadline's error, as from an ended
        // context (which completed the result already), the client's failure suppressed on it.
        Throwable cause = unwrap(failure);
        ContextException end = CoreInternals.endWith(ctx, cause);
        Throwable thrown = end != null ? end : cause;
        releaseAfter(thrown); // before the caller wakes: a get() and dependents run before us
        if (end != null) {
          failWithEnd(end);
        } else {
          result.completeExceptionally(thrown);
        }
        return;
      }
      HttpResponse<T> seen =
          hop.previous == null ? response : new Redirected<>(response, hop.previous);
      AbortableHandler<T> h = hop.handler;
      if (h.redirectFailure != null) {
        releaseAfter(h.redirectFailure);
        result.completeExceptionally(h.redirectFailure);
        return;
      }
      if (h.redirectTo == null) {
        delivered = true;
        if (!result.complete(seen) && !result.isCompletedExceptionally()) {
          release(); // the caller completed the future first: no one will ever get this response
          hop.abort(completedByCaller());
        }
        return;
      }
      if (result.isDone()) {
        return;
      }
      HttpRequest next;
      try {
        next = redirected(hop.request, response.statusCode(), h.redirectTo);
      } catch (Throwable e) { // any: escaping here it is lost and the call never ends
        releaseAfter(e); // before the caller wakes, not after, in the result's own callback
        result.completeExceptionally(e);
        return;
      }
      try {
        sendHop(next, seen, hop.redirects + 1);
      } catch (Throwable e) { // any: escaping here it is lost and the call never ends
        releaseAfter(e);
        result.completeExceptionally(e);
      }
    }

    /** The target of a redirect ctx4j follows, as the JDK would, or null to hand it to the caller. */
    URI followedTarget(HttpRequest request, int redirects, HttpResponse.ResponseInfo info)
        throws IOException {
      if (follow == HttpClient.Redirect.NEVER || !isRedirect(info.statusCode())) {
        return null;
      }
      String location = info.headers().firstValue("Location").orElse(null);
      if (location == null) {
        throw new IOException("Invalid redirection: " + info.statusCode() + " without Location");
      }
      URI target;
      try {
        target = request.uri().resolve(new URI(location));
      } catch (URISyntaxException | IllegalArgumentException e) {
        throw new IOException("Invalid redirection: Location " + location, e);
      }
      String from = request.uri().getScheme();
      String to = target.getScheme();
      boolean allowed =
          follow == HttpClient.Redirect.ALWAYS
              || (to != null && (to.equalsIgnoreCase(from) || to.equalsIgnoreCase("https")));
      return allowed && redirects + 1 < RedirectLimit.MAX ? target : null;
    }

    /**
     * The next hop's request: 303 and a POST's 301/302 become GET without body, as in the JDK; a hop
     * to another origin leaves the caller's credentials and the headers that name the first origin
     * behind ({@link #CROSS_ORIGIN_DROPPED}), as the JDK's own redirects do in its recent updates
     * (JDK 25; not yet JDK 17.0.15, which forwards them): whatever the JDK's update level, a
     * redirect ctx4j follows must not hand a token meant for one server to another.
     */
    private static HttpRequest redirected(HttpRequest request, int status, URI target) {
      String method = request.method();
      boolean toGet = status == 303 || ((status == 301 || status == 302) && method.equals("POST"));
      boolean sameOrigin =
          target.getScheme().equalsIgnoreCase(request.uri().getScheme())
              && Objects.equals(target.getRawAuthority(), request.uri().getRawAuthority());
      HttpRequest.Builder b =
          HttpRequest.newBuilder(
                  request, (name, value) -> sameOrigin || !CROSS_ORIGIN_DROPPED.contains(name))
              .uri(target);
      if (toGet) {
        b.GET();
      }
      return b.build();
    }
  }

  /** One request of a call and its response. */
  private static final class Hop<T> {
    final HttpRequest request;
    final HttpResponse<T> previous;
    final int redirects;
    final AbortableHandler<T> handler;
    volatile CompletableFuture<HttpResponse<T>> exchange;
    /** What the client threw before an exchange existed ({@link SentOnOwnThread}); else null. */
    volatile Throwable threwUnsent;

    Hop(Call<T> call, HttpRequest request, HttpResponse<T> previous, int redirects) {
      this.request = request;
      this.previous = previous;
      this.redirects = redirects;
      this.handler = new AbortableHandler<>(call, this);
    }

    void abort(Throwable why) {
      // The client's future is cancelled only if no response had arrived at the first abort (the
      // response that came since is one apply() cancelled). After that the body subscription is
      // the way to abort: JDK 17 cancelling a future whose body has just ended closes the
      // connection it already put back in its pool, under the next exchange ('fixed
      // content-length: 2048, bytes received: 0', stack through MultiExchange.cancel).
      boolean noResponseYet = handler.abort(why);
      CompletableFuture<HttpResponse<T>> e = exchange;
      if (noResponseYet && e != null) {
        e.cancel(true);
      }
    }
  }

  /**
   * One hop of {@link #send} through the JDK's own client: the client's blocking {@code send}, run
   * on a daemon thread of ctx4j's that completes this future itself, so that the caller's wait
   * needs no thread of the common {@code ForkJoinPool}. {@code cancel} aborts the hop by
   * interrupting that thread while it is inside {@code send}.
   *
   * <p>Why not the client's {@code sendAsync}: the JDK's client (17 to 25, {@code
   * HttpClientImpl.sendAsync}) completes every future that method returns through {@code
   * res.whenCompleteAsync(noop, ASYNC_POOL)}, {@code CompletableFuture}'s default executor, which
   * is the common pool on JDK 25 even at parallelism 1 (JDK 17 starts a thread per task there):
   * with its workers busy elsewhere, a loopback call had no answer for 10 s. The response object
   * exists only inside that future (the body handler sees a {@code ResponseInfo}, without the TLS
   * session or the JDK's redirect chain), so ctx4j cannot complete its own wait earlier from a
   * thread of the client. The client's blocking {@code send} returns its internal future's copy,
   * without that hop, and since JDK 16 an interrupt of the thread waiting in it cancels the
   * exchange as {@code cancel(true)} on the async future does.
   *
   * <p>Why not on the caller's thread: aborting it would mean interrupting the caller, and an
   * interrupt of the caller's own (a shutdown interrupting its threads as it cancels their
   * contexts) arriving between ctx4j's and the end of {@code send} could not be told from it:
   * clearing ctx4j's would lose the caller's, keeping it would leak ctx4j's. On a thread of
   * ctx4j's, nothing else interrupts: {@code cancel} interrupts only while {@link #sender} is set,
   * under {@link #lock}, and the thread clears the flag once it has unset it, before it completes
   * the future and runs the call's next steps. The price is a thread per hop in flight ({@link
   * SendThreads}: pooled platform threads on JDK 17 to 20, a virtual thread each on 21+), besides
   * the caller's, which waits.
   *
   * <p>The future holds the exchange's failure as the client's future held it (what {@code send}
   * wrapped, see {@link #exchangeFailure}), so that {@link #sendFailure} gives the caller what it
   * gave before; what the client threw before an exchange existed is kept as it is and noted on the
   * hop ({@link Hop#threwUnsent}).
   */
  private static final class SentOnOwnThread<T> extends CompletableFuture<HttpResponse<T>> {
    private final Object lock = new Object();
    /** The thread while it is inside the client's {@code send}, else null. Guarded by lock. */
    private Thread sender;

    /** Starts the hop on a thread of {@link SendThreads#SENDERS}. */
    static <T> SentOnOwnThread<T> start(Call<T> call, Hop<T> hop, HttpClient client) {
      SentOnOwnThread<T> f = new SentOnOwnThread<>();
      SendThreads.SENDERS.execute(() -> f.run(call, hop, client));
      return f;
    }

    private void run(Call<T> call, Hop<T> hop, HttpClient client) {
      HttpRequest request;
      try {
        // Here, as late as possible: the time between this clock read and the request's arrival
        // (the hand-over to this thread included) is added to the receiver's budget.
        request = withDeadlineHeader(call.ctx, hop.request);
      } catch (Throwable e) { // the caller's request or context: as sendHop would have thrown it
        threwUnsent(call, hop, e);
        return;
      }
      synchronized (lock) {
        if (isDone()) {
          return; // aborted before this thread ran: nothing is sent
        }
        sender = Thread.currentThread();
      }
      HttpResponse<T> response = null;
      Throwable thrown = null;
      try {
        response = client.send(request, hop.handler);
      } catch (Throwable e) { // even a checked one, thrown undeclared by the caller's objects
        thrown = e;
      } finally {
        synchronized (lock) {
          sender = null;
        }
        // Cancel's, if it came after send returned: neither the call's next steps on this thread
        // nor the pool's next task sees it.
        Thread.interrupted();
      }
      if (thrown == null) {
        complete(response);
      } else if (thrown instanceof InterruptedException) {
        // Only cancel interrupts this thread, after it has cancelled this future: nothing to do.
        completeExceptionally(thrown);
      } else {
        Throwable failure = exchangeFailure(thrown);
        if (failure == null) {
          threwUnsent(call, hop, thrown);
        } else {
          completeExceptionally(failure);
        }
      }
    }

    /** Fails the hop with what was thrown before an exchange existed, noted as such. */
    private void threwUnsent(Call<T> call, Hop<T> hop, Throwable thrown) {
      hop.threwUnsent = thrown; // before the future completes: hopEnded reads it
      if (hop.previous == null) {
        call.firstHopThrew = thrown;
      }
      completeExceptionally(thrown);
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      boolean cancelled = super.cancel(mayInterruptIfRunning);
      synchronized (lock) {
        if (sender != null) {
          sender.interrupt(); // the JDK's send then cancels the exchange
        }
      }
      return cancelled;
    }

    /**
     * The exchange's failure inside what the JDK's blocking {@code send} threw, or null if it
     * threw before an exchange existed (a request the client cannot send: {@code sendAsync}'s own
     * throw, passed on as it is). {@code HttpClientImpl.send} (JDK 17 to 25) throws the failure of
     * its future as a new exception of one of these classes with the failure's message and the
     * failure as cause, but an {@code HttpTimeoutException}, new and without cause.
     */
    static Throwable exchangeFailure(Throwable thrown) {
      Class<?> type = thrown.getClass();
      Throwable cause = thrown.getCause();
      if (type == HttpTimeoutException.class && cause == null) {
        return thrown;
      }
      boolean wrapper =
          type == IOException.class
              || type == IllegalArgumentException.class
              || type == SecurityException.class
              || type == HttpConnectTimeoutException.class
              || type == ConnectException.class
              || type == SSLHandshakeException.class
              || type == SSLException.class
              || type == ProtocolException.class;
      return wrapper && cause != null && Objects.equals(thrown.getMessage(), cause.getMessage())
          ? cause
          : null;
    }
  }

  /** A response reached through redirects ctx4j followed, with the chain the JDK would report. */
  private static final class Redirected<T> implements HttpResponse<T> {
    private final HttpResponse<T> response;
    private final HttpResponse<T> previous;

    Redirected(HttpResponse<T> response, HttpResponse<T> previous) {
      this.response = response;
      this.previous = previous;
    }

    @Override
    public int statusCode() {
      return response.statusCode();
    }

    @Override
    public HttpRequest request() {
      return response.request();
    }

    @Override
    public Optional<HttpResponse<T>> previousResponse() {
      return Optional.of(previous);
    }

    @Override
    public HttpHeaders headers() {
      return response.headers();
    }

    @Override
    public T body() {
      return response.body();
    }

    @Override
    public Optional<SSLSession> sslSession() {
      return response.sslSession();
    }

    @Override
    public URI uri() {
      return response.uri();
    }

    @Override
    public HttpClient.Version version() {
      return response.version();
    }

    @Override
    public String toString() {
      return response.toString();
    }
  }

  // ------------------------------------------------------------------------------ the body handler

  /**
   * Wraps the caller's body handler for one hop, so that the body can be abandoned when the call is
   * aborted, and so that every way the body ends releases the call's registration.
   *
   * <p>The client delivers body signals serially, but an abort comes from any thread, and may come
   * from inside the caller's own {@code onNext} (a subscriber that cancels the context). The
   * caller's subscriber is never called under a lock, never concurrently, and never re-entered by
   * an abort:
   *
   * <ol>
   *   <li>{@code depth} counts the client's signals in progress ({@code owner} is their thread; the
   *       client may nest them, request() inside onSubscribe delivering onNext, as Reactive Streams
   *       allows). The lock only guards these fields; no call leaves the class under it.
   *   <li>An abort while a signal is in progress, or before {@code onSubscribe}, is parked in {@code
   *       pending}; the signal that brings {@code depth} back to 0 delivers it after returning.
   *   <li>A terminal signal from the client on the signalling thread is delivered at once (as the
   *       client would without ctx4j); from another thread while one is in progress, it is parked.
   *   <li>{@code terminated} is set, under the lock, by whoever delivers the one terminal signal;
   *       nothing is delivered after it, and a caller that cancelled its subscription gets nothing.
   * </ol>
   */
  private static final class AbortableHandler<T> implements HttpResponse.BodyHandler<T> {
    private final Call<T> call;
    private final Hop<T> hop;
    private final Object lock = new Object();
    // Guarded by lock:
    private HttpResponse.BodySubscriber<T> downstream;
    private Flow.Subscription upstream;
    private boolean subscribed; // onSubscribe has been called on downstream
    private int depth;
    private Thread owner;
    private Object pending; // a parked terminal signal: a Throwable, or COMPLETE
    private Throwable aborted;
    /** The first abort came before the response headers: the client's future must be cancelled. */
    private boolean abortedBeforeResponse;
    private boolean terminated;
    private boolean cancelledByCaller;
    private boolean upstreamEnded; // the client sent onComplete or onError
    private boolean responded; // apply() has been called: the response headers are here
    private DroppedBody<T> dropped; // a redirect's body read to be dropped, once subscribed
    // Written by apply() before the client completes the hop's future; read after.
    volatile URI redirectTo;
    volatile IOException redirectFailure;

    private static final Object COMPLETE = new Object();

    AbortableHandler(Call<T> call, Hop<T> hop) {
      this.call = call;
      this.hop = hop;
    }

    @Override
    public HttpResponse.BodySubscriber<T> apply(HttpResponse.ResponseInfo info) {
      boolean abortedBefore;
      synchronized (lock) {
        responded = true;
        abortedBefore = aborted != null;
      }
      if (abortedBefore) {
        // The abort cancelled the client's future; make sure this body never ends normally, so
        // that its connection is closed rather than pooled.
        return new CancelledBody<>(false);
      }
      try {
        URI target = call.followedTarget(hop.request, hop.redirects, info);
        if (target != null) {
          redirectTo = target;
          return ignoredBody(info);
        }
      } catch (IOException e) {
        redirectFailure = e;
        return ignoredBody(info);
      }
      HttpResponse.BodySubscriber<T> d;
      try {
        d = call.handler.apply(info);
      } catch (Throwable e) { // even a checked one, thrown undeclared
        call.releaseAfter(e);
        throw e;
      }
      synchronized (lock) {
        downstream = d;
      }
      CompletionStage<T> body = d.getBody();
      if (body != null) {
        body.whenComplete(
            (value, failure) -> {
              if (failure != null) {
                call.release();
              }
            });
      }
      return new Subscriber<>(this, d);
    }

    /**
     * The body of a redirect ctx4j follows (or cannot follow), dropped as the JDK drops it
     * ({@code Http1Response.ignoreBody}): read only when its {@code Content-Length} says at most
     * {@value #MAX_IGNORED} bytes, so that the connection can be pooled; otherwise cancelled at once,
     * which closes the connection, and the hop is over without it. Reading it whole instead held the
     * next hop back for as long as the server took to send it: a 3xx whose body is chunked and
     * slow, or large, was followed only when the body ended, or failed with the deadline. The body
     * that is read is the hop's, which an abort cancels ({@link DroppedBody}).
     */
    private HttpResponse.BodySubscriber<T> ignoredBody(HttpResponse.ResponseInfo info) {
      long length = info.headers().firstValueAsLong("Content-Length").orElse(-1);
      if (length >= 0 && length <= MAX_IGNORED) {
        return new DroppedBody<>(this);
      }
      return new CancelledBody<>(true);
    }

    /**
     * The subscription of a redirect's body read to be dropped: an abort from now on cancels it
     * (and fails the body), as it cancels a body the caller reads; one that came before is
     * delivered here. Otherwise the whole body is requested.
     */
    void dropping(DroppedBody<T> body, Flow.Subscription s) {
      Throwable abortedBefore;
      synchronized (lock) {
        upstream = s;
        dropped = body;
        abortedBefore = aborted;
      }
      if (abortedBefore != null) {
        s.cancel();
        body.fail(abortedBefore);
      } else {
        s.request(Long.MAX_VALUE);
      }
    }

    /** The dropped body ended: from now on an abort leaves the connection to the client's pool. */
    void droppedEnded() {
      synchronized (lock) {
        upstreamEnded = true;
      }
    }

    /** The JDK's {@code Http1Response.MAX_IGNORE}: the largest redirect body it reads to drop. */
    private static final int MAX_IGNORED = 1024;

    /**
     * Aborts the body; returns whether no response had arrived at the first abort, in which case
     * the caller cancels the client's future (any response arriving from then on is cancelled by
     * {@link #apply} before its body can end and its connection go back to the pool, and such a
     * body ends only if the client says so after that cancel, which it does not always do: the
     * future's cancel ends the exchange). A later abort gives the first one's answer, even once a
     * response has come: the first may have found no future to cancel yet ({@link Call#sendHop}
     * aborts again once the future is there), and the response that came since then is one
     * {@link #apply} cancelled. Answering "a response is here" left that future, and the ctx4j
     * thread waiting in the client's {@code send} for it, waiting for ever.
     */
    boolean abort(Throwable why) {
      Flow.Subscription s;
      DroppedBody<T> drop;
      boolean deliver = false;
      boolean noResponse;
      synchronized (lock) {
        if (aborted != null) {
          return abortedBeforeResponse;
        }
        aborted = why;
        noResponse = !responded;
        abortedBeforeResponse = noResponse;
        // Not once the client has ended the body: a cancel after the end is not always a no-op in
        // the JDK, which may then close a connection it has already put back in its pool.
        s = upstreamEnded ? null : upstream;
        drop = upstreamEnded ? null : dropped;
        if (!terminated && pending == null && !cancelledByCaller) {
          if (subscribed && depth == 0) {
            terminated = true;
            deliver = true;
          } else {
            pending = why;
          }
        }
      }
      call.release();
      try {
        if (deliver) {
          downstream.onError(why);
        }
      } finally { // even if onError throws, as Reactive Streams forbids: the body must stop
        if (s != null) {
          s.cancel();
        }
        if (drop != null) {
          drop.fail(why); // the client sends a cancelled body nothing more: the hop ends here
        }
      }
      return noResponse;
    }

    /** Enters a signal from the client; false if nothing may be delivered any more. */
    boolean enter() {
      synchronized (lock) {
        if (terminated || pending != null) {
          return false;
        }
        if (depth++ == 0) {
          owner = Thread.currentThread();
        }
        return true;
      }
    }

    /** Leaves a signal; delivers a terminal signal parked meanwhile. */
    void exit() {
      Object deliver = null;
      synchronized (lock) {
        if (--depth == 0) {
          owner = null;
          if (pending != null && !terminated) {
            terminated = true;
            deliver = pending;
          }
        }
      }
      if (deliver != null) {
        deliverTerminal(deliver);
      }
    }

    /** A terminal signal from the client: delivered now, or parked behind a signal in progress. */
    void terminal(Object signal) {
      call.release(); // first, so that a caller who saw the end finds no hook left
      boolean deliver = false;
      synchronized (lock) {
        upstreamEnded = true;
        if (terminated || pending != null || cancelledByCaller) {
          return;
        }
        if (depth > 0 && owner != Thread.currentThread()) {
          pending = signal;
        } else {
          terminated = true;
          deliver = true;
        }
      }
      if (deliver) {
        deliverTerminal(signal);
      }
    }

    private void deliverTerminal(Object signal) {
      if (signal == COMPLETE) {
        downstream.onComplete();
      } else {
        downstream.onError((Throwable) signal);
      }
    }

    void subscribe(Flow.Subscription s) {
      boolean cancelNow;
      synchronized (lock) {
        upstream = s;
        subscribed = true;
        if (depth++ == 0) {
          owner = Thread.currentThread();
        }
      }
      try {
        downstream.onSubscribe(new CallerSubscription(this, s));
      } catch (Throwable e) { // even a checked one, thrown undeclared
        call.releaseAfter(e);
        throw e;
      } finally {
        exit();
      }
      synchronized (lock) {
        cancelNow = aborted != null && !upstreamEnded;
      }
      if (cancelNow) {
        s.cancel(); // an abort that came before the subscription could not cancel it
      }
    }

    void callerCancelled(Flow.Subscription s) {
      synchronized (lock) {
        cancelledByCaller = true;
      }
      call.release();
      s.cancel();
    }
  }

  /**
   * A body taken only to be cancelled at once, which closes its connection rather than pool it.
   * Its value ({@code null}) is there at once if {@code ends}; else only when the client ends the
   * body after the cancel, if it does (the exchange's future ends by its own cancel then).
   */
  private static final class CancelledBody<T> implements HttpResponse.BodySubscriber<T> {
    private final CompletableFuture<T> body = new CompletableFuture<>();

    CancelledBody(boolean ends) {
      if (ends) {
        body.complete(null);
      }
    }

    @Override
    public CompletionStage<T> getBody() {
      return body;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
      s.cancel();
    }

    @Override
    public void onNext(List<ByteBuffer> item) {}

    @Override
    public void onError(Throwable t) {
      body.completeExceptionally(t);
    }

    @Override
    public void onComplete() {
      body.complete(null);
    }
  }

  /**
   * The body of a redirect ctx4j follows, read only to be dropped (at most {@code MAX_IGNORED}
   * bytes, so that the connection can go back to the pool). Its subscription is the hop's: a
   * context that ends while the server holds the body back cancels it, which closes the connection
   * at once, rather than leaving it open until the server finishes the body.
   */
  private static final class DroppedBody<T> implements HttpResponse.BodySubscriber<T> {
    private final AbortableHandler<T> handler;
    private final CompletableFuture<T> body = new CompletableFuture<>();

    DroppedBody(AbortableHandler<T> handler) {
      this.handler = handler;
    }

    void fail(Throwable why) {
      body.completeExceptionally(why);
    }

    @Override
    public CompletionStage<T> getBody() {
      return body;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
      handler.dropping(this, s);
    }

    @Override
    public void onNext(List<ByteBuffer> item) {}

    @Override
    public void onError(Throwable t) {
      handler.droppedEnded();
      body.completeExceptionally(t);
    }

    @Override
    public void onComplete() {
      handler.droppedEnded();
      body.complete(null);
    }
  }

  /** The caller's view of the body subscription: cancelling it ends the call's registration. */
  private static final class CallerSubscription implements Flow.Subscription {
    private final AbortableHandler<?> handler;
    private final Flow.Subscription upstream;

    CallerSubscription(AbortableHandler<?> handler, Flow.Subscription upstream) {
      this.handler = handler;
      this.upstream = upstream;
    }

    @Override
    public void request(long n) {
      upstream.request(n);
    }

    @Override
    public void cancel() {
      handler.callerCancelled(upstream);
    }
  }

  /** The subscriber the client sees for a final hop. */
  private static final class Subscriber<T> implements HttpResponse.BodySubscriber<T> {
    private final AbortableHandler<T> handler;
    private final HttpResponse.BodySubscriber<T> downstream;

    Subscriber(AbortableHandler<T> handler, HttpResponse.BodySubscriber<T> downstream) {
      this.handler = handler;
      this.downstream = downstream;
    }

    @Override
    public CompletionStage<T> getBody() {
      return downstream.getBody();
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
      handler.subscribe(s);
    }

    @Override
    public void onNext(List<ByteBuffer> item) {
      if (!handler.enter()) {
        return;
      }
      try {
        downstream.onNext(item);
      } catch (Throwable e) { // even a checked one, thrown undeclared
        handler.call.releaseAfter(e);
        throw e;
      } finally {
        handler.exit();
      }
    }

    @Override
    public void onError(Throwable t) {
      handler.terminal(t);
    }

    @Override
    public void onComplete() {
      handler.terminal(AbortableHandler.COMPLETE);
    }
  }
}
