package io.ctx4j.http;

import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.HttpExchange;
import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.TimeSource;
import io.ctx4j.concurrent.InterruptScope;
import io.ctx4j.internal.CoreInternals;
import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executor;

/**
 * A filter for the JDK's {@link com.sun.net.httpserver.HttpServer} that gives every exchange a
 * ctx4j context: a child of a server-wide root context, with the deadline the client sent in the
 * {@link DeadlineHeader#NAME} header, cancelled when the exchange ends.
 *
 * <pre>{@code
 * CancelableContext serverRoot = Context.withCancel(Context.background());
 * HttpContext hc = server.createContext("/quote", exchange -> {
 *   Context ctx = ContextFilter.current();          // or ContextFilter.contextOf(exchange)
 *   String price = prices.lookup(ctx, ...);          // gives up when the caller's time is over
 *   ...
 * });
 * hc.getFilters().add(ContextFilter.create(serverRoot));
 * // at shutdown: serverRoot.cancel() ends every request in flight, then server.stop(...)
 * }</pre>
 *
 * <h2>The request context</h2>
 *
 * For each exchange the filter derives, from the root: {@code withDeadline(root, arrival + header
 * value)} if the header is present, else {@code withCancel(root)}. The arrival is the first thing
 * the filter reads, by the root's time source, before it looks at the headers: the earliest moment
 * the JDK server lets a filter know of a request (add this filter first, so that no other filter's
 * time is added to the budget), or, with an executor wrapped by {@link #timingArrivals}, the moment
 * the server handed the request to that executor. If the header appears more than once, or holds a comma-separated
 * list, the smallest value wins (see {@link DeadlineHeader}). A malformed value, anywhere among
 * them, is answered with {@code 400 Bad Request} and the handler is not called: a caller that tried
 * to set a deadline must learn that it did not work, rather than have its request run unbounded.
 * That answer waits at most 200 ms for a client: there is no request context nor handler to release
 * the thread, so the close of the response body, where the JDK server drains a request body that
 * the client announced, is interrupted if it has not returned by then, which closes the connection
 * rather than wait for the rest. A body sent at once is drained (up to {@code
 * sun.net.httpserver.drainAmount}) and the connection kept, so that no reset of a connection closed
 * with the body unread loses the answer. Except for a {@code HEAD} request announcing a body: the
 * JDK sends a {@code HEAD} answer only through {@code sendResponseHeaders}, which drains the body
 * before returning, so one that stalls its body holds the thread until it sends or leaves (as the
 * JDK server's own read of a request head does for a client that stalls it; the ways around it
 * lose the answer and leave the exchange uncounted by the server, see the README). The context is
 * available to the handler as {@link #contextOf(HttpExchange)}, each exchange its own, and, in the
 * thread that runs the handler, as {@link #current()}. (It is also the exchange attribute {@value
 * #ATTRIBUTE}, but the JDK server shares attributes among the exchanges of one {@code
 * HttpContext}: do not read it.)
 *
 * <h2>When the context ends</h2>
 *
 * <ul>
 *   <li>when its deadline passes (the client's remaining time, or the root's deadline);
 *   <li>when the root is cancelled, for example at server shutdown;
 *   <li>as soon as the handler returns or throws: the request is over, and whatever it started must
 *       stop (its cause is then plain {@link Context#CANCELED});
 *   <li>when reading the request body (a read, a skip, or its close, which reads the unread rest)
 *       or writing the response body through the exchange fails with an {@link IOException}, which
 *       is how a client that went away shows itself; the cause is that exception. The close of the
 *       response body and of the exchange read the rest of the request body too, but the JDK server
 *       swallows a failure there (it closes the connection), so that one ends nothing.
 * </ul>
 *
 * <p>What cannot be detected: the JDK server gives a handler no notice when the client closes the
 * connection, and does not expose the socket. A handler that is waiting, not reading or writing (a
 * handler blocked on a downstream call, say), learns of a vanished client only from its deadline.
 * This is why callers should always send one; {@link ContextHttp} does whenever its context has a
 * deadline. A disconnect is noticed at the first body write that fails, which is usually the
 * second write after the client closed (the first one only provokes the reset).
 *
 * <p>What the context's end does not do: stop the handler's I/O on the exchange. A read of the
 * request body, a write of the response the client does not take, and the close of the request
 * body, of the response body or of the exchange (the JDK server drains the unread rest of the
 * request body there, up to {@code sun.net.httpserver.drainAmount}) block for as long as the client
 * stalls, past the deadline and the root's cancel, until the client sends or leaves or {@code
 * HttpServer.stop} closes the connection. To release the handler at the context's end, interrupt its
 * thread then (for example with {@code InterruptScope.open(ctx)} of ctx4j-concurrent around the
 * I/O): the server's streams run on an interruptible channel, so the blocked call fails with {@link
 * java.nio.channels.ClosedByInterruptException} (a close returns) and the connection is closed.
 * The server counts an exchange as finished only when the close of its response body completes, so
 * one the interrupt ends before that (a read before the answer, a failed write, {@code
 * exchange.close()}, which drains before it closes the response body) keeps {@code
 * HttpServer.stop(delay)} waiting its whole delay on JDK 21+; once answered, close the response body
 * before the exchange.
 *
 * <p>A filter instance is immutable and thread-safe and may be shared by any number of {@code
 * HttpContext}s. The request context is created before the handler runs and in the same thread, so
 * it is fully visible to the handler.
 *
 * @since 0.1
 */
public final class ContextFilter extends Filter {

  /**
   * The exchange attribute under which the request context is stored. Read it through {@link
   * #contextOf}: the JDK server keeps an exchange's attributes in its {@code HttpContext}'s map,
   * shared by every exchange of that context, so {@code exchange.getAttribute(ATTRIBUTE)} gives the
   * context of whichever request this filter saw last there, another one's when two run at once.
   */
  public static final String ATTRIBUTE = "io.ctx4j.context";

  private static final ThreadLocal<Context> CURRENT = new ThreadLocal<>();

  private final Context root;

  private ContextFilter(Context root) {
    this.root = root;
  }

  /**
   * Returns a filter whose request contexts are children of {@link Context#background()}.
   *
   * @return a new filter
   */
  public static ContextFilter create() {
    return new ContextFilter(Context.background());
  }

  /**
   * Returns a filter whose request contexts are children of {@code root}: cancelling the root ends
   * every request in flight, a deadline on the root caps every request, and the root's values are
   * visible to every handler.
   *
   * @param root the server's root context
   * @return a new filter
   * @throws NullPointerException if {@code root} is null
   */
  public static ContextFilter create(Context root) {
    return new ContextFilter(Objects.requireNonNull(root, "root"));
  }

  /**
   * Wraps the executor given to {@link com.sun.net.httpserver.HttpServer#setExecutor} so that
   * request budgets count from the moment the server hands a request to it, rather than from the
   * moment this filter runs. The JDK server hands over each exchange as soon as its connection
   * becomes readable, and the executor's thread then reads the request head and runs the filters;
   * the hand-off to a pool thread and the parsing (0.25 to 2.8 ms measured on a loaded machine)
   * would otherwise be added to the budget. Only for roots on {@link TimeSource#system()}: with
   * another time source, such as a {@code ManualTimeSource} in tests, the filter's own reading is
   * used, since elapsed real time means nothing on it.
   *
   * <pre>{@code
   * server.setExecutor(ContextFilter.timingArrivals(Executors.newCachedThreadPool()));
   * }</pre>
   *
   * <p>The returned executor is thread-safe if {@code executor} is; it adds one {@code nanoTime}
   * read and one thread-local set per task.
   *
   * @param executor the server's executor
   * @return an executor that runs each task on {@code executor}, noting when it was handed over
   * @throws NullPointerException if {@code executor} is null
   */
  public static Executor timingArrivals(Executor executor) {
    Objects.requireNonNull(executor, "executor");
    return task -> {
      Objects.requireNonNull(task, "task");
      long handedOver = System.nanoTime();
      executor.execute(
          () -> {
            HANDED_OVER.set(handedOver);
            try {
              task.run();
            } finally {
              HANDED_OVER.remove();
            }
          });
    };
  }

  /** System.nanoTime() at which timingArrivals handed the running exchange to its executor. */
  private static final ThreadLocal<Long> HANDED_OVER = new ThreadLocal<>();

  /** Now, or the moment the exchange was handed over if timingArrivals knows it. */
  private static Instant arrival(TimeSource source) {
    Instant now = source.now();
    Long handedOver = HANDED_OVER.get();
    if (handedOver == null || source != TimeSource.system()) {
      return now;
    }
    long waited = System.nanoTime() - handedOver;
    return waited > 0 ? now.minusNanos(waited) : now;
  }

  /**
   * Returns the context of the exchange whose handler is running in the calling thread.
   *
   * @return the request context
   * @throws IllegalStateException if the calling thread is not running a handler behind this filter
   *     (for example a thread the handler started; pass it the context explicitly)
   */
  public static Context current() {
    Context ctx = CURRENT.get();
    if (ctx == null) {
      throw new IllegalStateException(
          "no request context: ContextFilter.current() called outside a handler behind a"
              + " ContextFilter, or from another thread");
    }
    return ctx;
  }

  /**
   * Returns the request context this filter made for {@code exchange}, from any thread, also after
   * the handler has returned (it has ended then). Each exchange gets its own, however many run at
   * once on one {@code HttpContext}, and a filter in front of this one finds it on the exchange it
   * passed on as well. The context is kept on the exchange itself, by the request and response body
   * streams this filter gives it ({@link HttpExchange#setStreams}): it goes with the exchange, and
   * finding it takes no lock and keeps nothing. This reads {@code getRequestBody()} and {@code
   * getResponseBody()}, which have no side effect on the JDK server's exchanges; another thread sees
   * the streams the filter set if it got the exchange as any object is handed over safely (through
   * an executor, a concurrent queue, a future), since the exchange has no locks of its own. If
   * neither is the filter's (a filter behind this one replaced both, or wrapped the exchange in an
   * exchange whose streams are its own), the {@link #ATTRIBUTE} attribute is read instead, which
   * the JDK server shares among the exchanges of one {@code HttpContext}: pass the handler's
   * exchange unwrapped, or use {@link #current()}.
   *
   * @param exchange the exchange
   * @return the request context
   * @throws NullPointerException if {@code exchange} is null
   * @throws IllegalStateException if the exchange did not pass through a {@code ContextFilter}
   */
  public static Context contextOf(HttpExchange exchange) {
    Objects.requireNonNull(exchange, "exchange");
    // The exchange's own streams, which the filter replaced with watched ones holding the context:
    // the context lives exactly as long as the exchange, with no map and no lock shared by the
    // server's requests. The JDK's getters only return the stream set last, once it is set.
    InputStream in = exchange.getRequestBody();
    if (in instanceof WatchedInput) {
      return ((WatchedInput) in).ctx;
    }
    OutputStream out = exchange.getResponseBody();
    if (out instanceof WatchedOutput) {
      return ((WatchedOutput) out).ctx;
    }
    Object ctx = exchange.getAttribute(ATTRIBUTE);
    if (!(ctx instanceof Context)) {
      throw new IllegalStateException("exchange has no request context: no ContextFilter in front");
    }
    return (Context) ctx;
  }

  /**
   * Builds the request context, runs the rest of the chain with it, and cancels it when the chain
   * returns or throws; answers {@code 400} to a malformed {@link DeadlineHeader#NAME} header.
   *
   * @param exchange the exchange
   * @param chain the rest of the chain
   * @throws IOException as thrown by the chain
   */
  @Override
  public void doFilter(HttpExchange exchange, Chain chain) throws IOException {
    // The budget counts from here, before anything else: the earliest the server lets a filter know
    // that a request has arrived. Every microsecond read later would be added to the budget.
    Instant arrival = arrival(Context.timeSourceOf(root));
    Objects.requireNonNull(exchange, "exchange");
    Objects.requireNonNull(chain, "chain");
    List<String> lines = exchange.getRequestHeaders().get(DeadlineHeader.NAME);
    Optional<Duration> timeout = Optional.empty();
    if (lines != null) {
      try {
        timeout = DeadlineHeader.parseAll(lines);
      } catch (IllegalArgumentException e) {
        reject(exchange, e.getMessage());
        return;
      }
    }
    CancelableContext ctx =
        timeout.isEmpty()
            ? Context.withCancel(root)
            : Context.withDeadline(root, deadline(arrival, timeout.get()));
    Context previous = CURRENT.get();
    try {
      exchange.setAttribute(ATTRIBUTE, ctx);
      exchange.setStreams(
          new WatchedInput(exchange.getRequestBody(), ctx),
          new WatchedOutput(exchange.getResponseBody(), ctx));
      CURRENT.set(ctx);
      chain.doFilter(exchange);
    } finally {
      if (previous == null) {
        CURRENT.remove();
      } else {
        CURRENT.set(previous);
      }
      ctx.cancel();
    }
  }

  /**
   * Returns a description of this filter.
   *
   * @return a short description
   */
  @Override
  public String description() {
    return "ctx4j request context from the " + DeadlineHeader.NAME + " header";
  }

  /** arrival + timeout; a time source near the end of time saturates rather than overflows. */
  private static Instant deadline(Instant arrival, Duration timeout) {
    return CoreInternals.saturatedPlus(arrival, timeout);
  }

  private static void reject(HttpExchange exchange, String message) throws IOException {
    byte[] body = (message + "\n").getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
    if ("HEAD".equals(exchange.getRequestMethod())) {
      // No body: the server ends the exchange in this call, after draining the request body, which
      // only a HEAD that announces a body it does not send can make wait (see the class Javadoc).
      exchange.sendResponseHeaders(400, -1);
      return;
    }
    exchange.sendResponseHeaders(400, body.length);
    OutputStream out = exchange.getResponseBody();
    out.write(body);
    out.flush(); // the answer is on its way: the close below may close the connection
    closeWithoutWaiting(out);
  }

  /**
   * How long the close of a 400's response body may wait for the rest of a request body the client
   * announced: enough for one that sends it at once, and all a client that stalls it can hold the
   * thread.
   */
  static final Duration REJECT_DRAIN_GRACE = Duration.ofMillis(200);

  /**
   * Closes the response body of a 400 without waiting long for the client. The JDK server drains
   * the unread request body there (up to {@code sun.net.httpserver.drainAmount}), blocking for as
   * long as a client that announced a body does not send it; with no request context and no
   * handler, nothing else could release the thread. So the close runs in an {@link InterruptScope}
   * of a {@link #REJECT_DRAIN_GRACE} timeout: the blocked read then fails at once on the server's
   * interruptible channel, which closes the connection (the server swallows the failure and ends
   * the exchange as usual). Not at once: a read with the thread already interrupted fails even when
   * the body is there, on the socket, and a connection closed with bytes unread is reset, which can
   * lose the 400 the client has not read yet; so an interrupt status the thread had is set aside
   * for the close and put back after it.
   */
  private static void closeWithoutWaiting(OutputStream out) throws IOException {
    boolean interrupted = Thread.interrupted();
    try (CancelableContext grace = Context.withTimeout(Context.background(), REJECT_DRAIN_GRACE);
        InterruptScope whileClosing = InterruptScope.open(grace)) {
      out.close();
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** One read, skip or write on the exchange's original streams. */
  @FunctionalInterface
  private interface Io {
    long run() throws IOException;
  }

  /** Runs {@code io}; if it fails, the client is taken to be gone and {@code ctx} is cancelled. */
  private static long watch(CancelableContext ctx, Io io) throws IOException {
    try {
      return io.run();
    } catch (IOException e) {
      ctx.cancel(e);
      throw e;
    }
  }

  /** Cancels the request context, with the failure as cause, when reading the request fails. */
  private static final class WatchedInput extends FilterInputStream {
    private final CancelableContext ctx;

    WatchedInput(InputStream in, CancelableContext ctx) {
      super(in);
      this.ctx = ctx;
    }

    @Override
    public int read() throws IOException {
      return (int) watch(ctx, in::read);
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      return (int) watch(ctx, () -> in.read(b, off, len));
    }

    @Override
    public long skip(long n) throws IOException {
      return watch(ctx, () -> in.skip(n)); // it reads the body too
    }

    @Override
    public void close() throws IOException {
      watch(ctx, () -> { in.close(); return 0; }); // the JDK drains the unread body: a read too
    }
  }

  /** Cancels the request context, with the failure as cause, when writing the response fails. */
  private static final class WatchedOutput extends FilterOutputStream {
    private final CancelableContext ctx;

    WatchedOutput(OutputStream out, CancelableContext ctx) {
      super(out);
      this.ctx = ctx;
    }

    @Override
    public void write(int b) throws IOException {
      watch(ctx, () -> { out.write(b); return 0; });
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      // Overridden because FilterOutputStream would write byte by byte.
      watch(ctx, () -> { out.write(b, off, len); return 0; });
    }

    @Override
    public void flush() throws IOException {
      watch(ctx, () -> { out.flush(); return 0; });
    }

    @Override
    public void close() throws IOException {
      watch(ctx, () -> { out.close(); return 0; });
    }
  }
}
