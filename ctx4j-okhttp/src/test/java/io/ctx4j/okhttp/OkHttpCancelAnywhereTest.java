package io.ctx4j.okhttp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import io.ctx4j.CanceledException;
import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.testing.CancelAnywhere;
import io.ctx4j.testing.CancelAnywhere.Shape;
import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import okhttp3.Call;
import okhttp3.Callback;
import okhttp3.ConnectionPool;
import okhttp3.Dispatcher;
import okhttp3.EventListener;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import javax.net.SocketFactory;
import okio.BufferedSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * "Cancel anywhere": on one client whose pool keeps one connection and whose dispatcher runs one
 * call at a time, calls whose context is cancelled at a random moment (before the call, while the
 * connection is taken, the request written, the head awaited, a late or streaming body read, or
 * after the call is over, under a later call) are interleaved with calls whose context never ends.
 * A cancel must never break another call on the pool: every call whose context never ends gets its
 * body, every cancelled call gets its body or the context's error, and afterwards no registration
 * is left on the long-lived context, no connection is in use, and a further call succeeds.
 *
 * <p>OkHttp's retry on a failed connection is off, so a connection closed under a call by another
 * call's cancel fails that call rather than being retried quietly on a new connection.
 *
 * <p>Seeded: the seed is in every failure message; {@code -Dctx4j.fuzz.seed=N} replays one.
 * {@code -Dctx4j.okhttp.fuzzCalls=N} sets the calls per path (long mode).
 */
@Timeout(300)
class OkHttpCancelAnywhereTest {
  private static final int CALLS = Integer.getInteger("ctx4j.okhttp.fuzzCalls", 500);
  private static final MediaType BYTES = MediaType.get("application/octet-stream");

  private final ScheduledExecutorService cancellers = CancelAnywhere.cancellers();
  private final AtomicInteger connects = new AtomicInteger();
  /** Socket closes made by a canceller thread, each held up a little (a descheduled canceller). */
  private final AtomicInteger heldCloses = new AtomicInteger();
  private Loopback server;
  private OkHttpClient client;
  private CancelableContext longLived;
  private final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();

  @BeforeEach
  void start() {
    server = new Loopback(OkHttpCancelAnywhereTest::answer);
    Dispatcher dispatcher = new Dispatcher();
    dispatcher.setMaxRequests(1);
    dispatcher.setMaxRequestsPerHost(1);
    client =
        ContextOkHttp.install(new OkHttpClient.Builder())
            .connectionPool(new ConnectionPool(1, 5, TimeUnit.MINUTES))
            .dispatcher(dispatcher)
            .retryOnConnectionFailure(false)
            .socketFactory(new HookedSockets(this::heldUpOnACanceller))
            .eventListener(
                new EventListener() {
                  @Override
                  public void connectStart(
                      Call call, java.net.InetSocketAddress a, java.net.Proxy p) {
                    connects.incrementAndGet();
                  }
                })
            .build();
    longLived = Context.withTimeout(Context.background(), Duration.ofMinutes(30));
  }

  /** A path under this prefix is first redirected (307) to the path without it. */
  private static final String HOP = "/hop";

  /**
   * Answers a {@link Shape}'s path, or redirects a path under {@link #HOP} to it with a 307 (the
   * method and any upload kept), the redirect's own body empty for an even {@code k}, else a few
   * bytes: OkHttp reports the end of that body before it sends the next request, at once or when
   * it discards the body.
   */
  private static void answer(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getPath();
    if (!path.startsWith(HOP + "/")) {
      CancelAnywhere.answer(ex, false);
      return;
    }
    String target = path.substring(HOP.length());
    try (ex) {
      ex.getRequestBody().readAllBytes();
      ex.getResponseHeaders().set("Location", target);
      boolean empty = Shape.parse(target)[0] % 2 == 0;
      byte[] moved = "moved".getBytes(StandardCharsets.US_ASCII);
      ex.sendResponseHeaders(307, empty ? -1 : moved.length);
      if (!empty) {
        ex.getResponseBody().write(moved);
      }
    } catch (IOException clientLeft) {
      // a cancelled call's client closed the connection: expected here
    }
  }

  /** What a socket's close does: {@code close} is the socket's own. */
  interface CloseHook {
    void close(Closeable close) throws IOException;
  }

  /** Unconnected sockets, which OkHttp connects itself, whose close goes through a hook. */
  static final class HookedSockets extends SocketFactory {
    private final CloseHook hook;

    HookedSockets(CloseHook hook) {
      this.hook = hook;
    }

    @Override
    public Socket createSocket() {
      return new Socket() {
        @Override
        public void close() throws IOException {
          hook.close(super::close);
        }
      };
    }

    @Override
    public Socket createSocket(String host, int port) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Socket createSocket(String host, int port, InetAddress local, int localPort) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Socket createSocket(InetAddress host, int port) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Socket createSocket(InetAddress a, int port, InetAddress local, int localPort) {
      throw new UnsupportedOperationException();
    }
  }

  /**
   * A socket close a cancel makes (on a canceller thread) is held up 0 to 500 µs: the canceller
   * descheduled inside {@code Call.cancel()}, which a loaded machine does at random, made likelier.
   */
  private void heldUpOnACanceller(Closeable close) throws IOException {
    if (CancelAnywhere.holdUpACanceller()) {
      heldCloses.incrementAndGet();
    }
    close.close();
  }

  @AfterEach
  void stop() throws InterruptedException {
    longLived.cancel();
    cancellers.shutdownNow();
    assertTrue(cancellers.awaitTermination(20, TimeUnit.SECONDS));
    client.dispatcher().executorService().shutdown();
    client.connectionPool().evictAll();
    server.close();
  }

  /** The request of a call of shape {@code s} under {@code ctx}. */
  private Request request(Shape s, Context ctx) {
    return request(s, ctx, false);
  }

  /** The same, first redirected if {@code redirected}. */
  private Request request(Shape s, Context ctx, boolean redirected) {
    Request.Builder b = new Request.Builder().url(server.url((redirected ? HOP : "") + s.path()));
    if (s.upload >= 0) {
      b.post(RequestBody.create(new byte[s.upload], BYTES));
    }
    return ContextOkHttp.withContext(b.build(), ctx);
  }

  /** Checks a call's outcome: its body, or (only if its context ended) the context's error. */
  private void check(Shape s, Context ctx, byte[] got, Throwable failure, Map<String, Integer> tally) {
    if (!CancelAnywhere.failedAfterItsEnd(s, ctx, got, failure, failures, tally)) {
      return;
    }
    if (failure instanceof InterruptedIOException && failure.getCause() instanceof CanceledException) {
      tally.merge("context's error", 1, Integer::sum);
    } else if (failure instanceof IOException
        && "Canceled".equals(failure.getMessage())
        && failure.getCause() == null) {
      // Documented: the context ended after the interceptor returned, before execute() did.
      tally.merge("OkHttp's Canceled", 1, Integer::sum);
    } else {
      failures.add(
          CancelAnywhere.describe(s + ": failed with something else than the context's error", failure));
    }
  }

  private void verdict(String path, Map<String, Integer> tally, List<ScheduledFuture<?>> pending)
      throws Exception {
    CancelAnywhere.awaitAll(pending); // every cancel has run
    // No connection in use: the pool's connections are all idle (bounded wait on that condition).
    ConnectionPool pool = client.connectionPool();
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (pool.connectionCount() != pool.idleConnectionCount() && System.nanoTime() < until) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }
    int inUse = pool.connectionCount() - pool.idleConnectionCount();
    // A final call succeeds, on the pool as the fuzz left it.
    Shape finalCall = new Shape(0, new Random(CancelAnywhere.SEED));
    byte[] last;
    try (Response r = client.newCall(request(finalCall, longLived)).execute()) {
      last = r.body().bytes();
    }
    int left = CoreInternals.registrationCount(longLived);
    String report =
        CancelAnywhere.report(path, CALLS, tally, connects.get(), heldCloses.get());
    System.out.println("okhttp cancel anywhere, " + report);
    assertNull(CancelAnywhere.failed(report, failures));
    assertEquals(0, inUse, "connections still in use 20 s after the fuzz, " + report);
    assertEquals(0, left, "registrations left on the long-lived context, " + report);
    assertEquals(0, pool.connectionCount() - pool.idleConnectionCount(), report);
    assertArrayEquals(CancelAnywhere.body(0, finalCall.n), last, "the final call's body, " + report);
  }

  /**
   * Holds a canceller's socket close until {@code done}, or until {@code caller} waits for the
   * cancel to finish (blocked on the call's cancel, as the fixed code makes it), up to 10 s.
   */
  private static void holdUntil(BooleanSupplier done, Thread caller) {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!done.getAsBoolean()
        && caller.getState() != Thread.State.BLOCKED
        && System.nanoTime() < until) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }
  }

  /**
   * OkHttp's {@code Call.cancel()} reads the call's exchange, then closes that exchange's socket.
   * A canceller descheduled between the two (here: its socket close held up) closed the socket
   * after the call had read its whole body and OkHttp had given the connection back to the pool,
   * under the next call that took it, whose context was fine. ctx4j no longer cancels a call
   * whose response has been received in full, and waits for a cancel in progress before OkHttp
   * hears of that end (and gives the connection back).
   */
  @Test
  void aCancelHeldUpBeforeItClosesTheSocketNeverClosesItUnderTheNextCall() throws Exception {
    CountDownLatch rest = new CountDownLatch(1);
    CountDownLatch nextArrived = new CountDownLatch(1);
    CountDownLatch closed = new CountDownLatch(1);
    CountDownLatch closeEntered = new CountDownLatch(1);
    AtomicBoolean holdNextClose = new AtomicBoolean();
    Thread caller = Thread.currentThread();
    server.close();
    server =
        new Loopback(
            ex -> {
              try {
                if (ex.getRequestURI().getPath().equals("/half")) {
                  ex.sendResponseHeaders(200, 8);
                  OutputStream out = ex.getResponseBody();
                  out.write("half".getBytes(StandardCharsets.US_ASCII));
                  out.flush();
                  rest.await(20, TimeUnit.SECONDS);
                  out.write("done".getBytes(StandardCharsets.US_ASCII));
                  out.close();
                } else {
                  nextArrived.countDown();
                  closed.await(20, TimeUnit.SECONDS); // the held-up close has happened by now
                  Loopback.reply(ex, 200, "next".getBytes(StandardCharsets.US_ASCII));
                }
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              } catch (IOException clientLeft) {
                // the connection was closed under the exchange
              }
            });
    CloseHook holdTheNext =
        close -> {
          if (holdNextClose.compareAndSet(true, false)) {
            closeEntered.countDown();
            // Held until the next call has the connection, or (fixed) until the caller waits for
            // this cancel to finish: a bounded wait on either condition.
            holdUntil(() -> nextArrived.getCount() == 0, caller);
            try {
              close.close();
            } finally {
              closed.countDown();
            }
          } else {
            close.close();
          }
        };
    OkHttpClient held = client.newBuilder().socketFactory(new HookedSockets(holdTheNext)).build();
    CancelableContext child = Context.withCancel(longLived);
    String first;
    CompletableFuture<Void> cancelled;
    try (Response r =
        held.newCall(ContextOkHttp.withContext(
                new Request.Builder().url(server.url("/half")).build(), child))
            .execute()) {
      BufferedSource body = r.body().source();
      assertEquals("half", body.readUtf8(4));
      holdNextClose.set(true);
      cancelled = CompletableFuture.runAsync(child::cancel, cancellers);
      assertTrue(closeEntered.await(20, TimeUnit.SECONDS), "the cancel never closed the socket");
      rest.countDown();
      try {
        first = body.readUtf8(4);
      } catch (IOException e) {
        first = e.getCause() instanceof CanceledException ? "context's error" : e.toString();
      }
    }
    assertTrue(
        first.equals("done") || first.equals("context's error"),
        "the cancelled call's end: " + first);
    String next;
    try (Response r =
        held.newCall(ContextOkHttp.withContext(
                new Request.Builder().url(server.url("/next")).build(), longLived))
            .execute()) {
      next = r.body().string();
    } catch (IOException e) {
      next = "failed: " + e;
    }
    cancelled.get(20, TimeUnit.SECONDS);
    assertEquals("next", next, "the next call, whose context never ended (the first read " + first + ")");
    assertEquals(0, CoreInternals.registrationCount(longLived));
  }

  /**
   * OkHttp's {@code Call.cancel()} marks the call cancelled before it closes the exchange's socket,
   * and {@code execute()} throws its own {@code IOException("Canceled")}, without a cause, for a
   * call marked so when the interceptors return. A context that ended while the response head
   * arrived (its cancel's close held up here, as a descheduled canceller's would be) made the call
   * fail so, rather than with the context's error, though it ended before ctx4j's interceptor had
   * the response: the interceptor now fails such a call with the context's error itself.
   */
  @Test
  void aCallCancelledAsItsHeadArrivesFailsWithTheContextsError() throws Exception {
    CountDownLatch arrived = new CountDownLatch(1);
    CountDownLatch answer = new CountDownLatch(1);
    CountDownLatch closeEntered = new CountDownLatch(1);
    AtomicBoolean holdNextClose = new AtomicBoolean();
    AtomicReference<Thread> caller = new AtomicReference<>();
    CompletableFuture<String> outcome = new CompletableFuture<>();
    server.close();
    server =
        new Loopback(
            ex -> {
              arrived.countDown();
              try {
                answer.await(20, TimeUnit.SECONDS);
                Loopback.reply(ex, 200, "body".getBytes(StandardCharsets.US_ASCII));
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              } catch (IOException clientLeft) {
                // the cancel closed the connection
              }
            });
    CloseHook holdUntilTheCallEnds =
        close -> {
          if (holdNextClose.compareAndSet(true, false)) {
            closeEntered.countDown();
            // Held until the call has ended, or waits for this cancel: a bounded wait on either.
            holdUntil(outcome::isDone, caller.get());
          }
          close.close();
        };
    OkHttpClient held = client.newBuilder().socketFactory(new HookedSockets(holdUntilTheCallEnds)).build();
    CancelableContext child = Context.withCancel(longLived);
    Thread callerThread =
        new Thread(
            () -> {
              try (Response r =
                  held.newCall(ContextOkHttp.withContext(
                          new Request.Builder().url(server.url("/")).build(), child))
                      .execute()) {
                outcome.complete("ok: " + r.body().string());
              } catch (IOException | RuntimeException e) {
                outcome.complete(
                    (e instanceof InterruptedIOException
                            ? "an InterruptedIOException"
                            : e.getClass().getName() + " (" + e.getMessage() + ")")
                        + ", cause "
                        + (e.getCause() == null ? null : e.getCause().getClass().getName()));
              }
            });
    caller.set(callerThread);
    callerThread.start();
    assertTrue(arrived.await(20, TimeUnit.SECONDS), "the request never arrived");
    holdNextClose.set(true);
    CompletableFuture<Void> cancelled = CompletableFuture.runAsync(child::cancel, cancellers);
    assertTrue(closeEntered.await(20, TimeUnit.SECONDS), "the cancel never closed the socket");
    answer.countDown();
    String got = outcome.get(30, TimeUnit.SECONDS);
    cancelled.get(20, TimeUnit.SECONDS);
    callerThread.join(TimeUnit.SECONDS.toMillis(20));
    assertEquals(
        "an InterruptedIOException, cause io.ctx4j.CanceledException",
        got);
    assertEquals(0, CoreInternals.registrationCount(longLived));
  }

  @Test
  void syncCallsCancelledAnywhereNeverBreakAnotherCall() throws Exception {
    Random r = new Random(CancelAnywhere.SEED);
    Map<String, Integer> tally = new ConcurrentHashMap<>();
    List<ScheduledFuture<?>> pending = new ArrayList<>();
    for (int k = 1; k <= CALLS; k++) {
      Shape s = new Shape(k, r);
      Context ctx = CancelAnywhere.contextFor(s, longLived, cancellers, pending);
      byte[] got = null;
      Throwable failure = null;
      try (Response resp = client.newCall(request(s, ctx)).execute()) {
        got = resp.body().bytes();
      } catch (IOException | RuntimeException e) {
        failure = e;
      }
      check(s, ctx, got, failure, tally);
    }
    verdict("execute", tally, pending);
  }

  /**
   * The same with half of the calls redirected once (a 307, the upload sent again): the context
   * may end during either request of a call, or between the two. A call's cancel, once OkHttp has
   * read the redirect's body, waits for OkHttp to start on the next request; a cancel of the first
   * request held up until then must not close the connection under another call.
   */
  @Test
  void redirectedCallsCancelledAnywhereNeverBreakAnotherCall() throws Exception {
    Random r = new Random(CancelAnywhere.SEED + 2);
    Map<String, Integer> tally = new ConcurrentHashMap<>();
    List<ScheduledFuture<?>> pending = new ArrayList<>();
    for (int k = 1; k <= CALLS; k++) {
      Shape s = new Shape(k, r);
      boolean redirected = r.nextBoolean();
      Context ctx = CancelAnywhere.contextFor(s, longLived, cancellers, pending);
      byte[] got = null;
      Throwable failure = null;
      try (Response resp = client.newCall(request(s, ctx, redirected)).execute()) {
        got = resp.body().bytes();
      } catch (IOException | RuntimeException e) {
        failure = e;
      }
      check(s, ctx, got, failure, tally);
      if (redirected) {
        tally.merge("redirected", 1, Integer::sum);
      }
    }
    verdict("redirected", tally, pending);
  }

  @Test
  void enqueuedCallsCancelledAnywhereNeverBreakAnotherCall() throws Exception {
    Random r = new Random(CancelAnywhere.SEED + 1);
    Map<String, Integer> tally = new ConcurrentHashMap<>();
    List<ScheduledFuture<?>> pending = new ArrayList<>();
    int k = 1;
    while (k <= CALLS) {
      // A few calls at a time in the dispatcher's queue, run one after another on the one slot.
      int batch = Math.min(1 + r.nextInt(4), CALLS - k + 1);
      List<CompletableFuture<Void>> done = new ArrayList<>();
      for (int i = 0; i < batch; i++, k++) {
        Shape s = new Shape(k, r);
        Context ctx = CancelAnywhere.contextFor(s, longLived, cancellers, pending);
        CompletableFuture<Void> f = new CompletableFuture<>();
        done.add(f);
        client
            .newCall(request(s, ctx))
            .enqueue(
                new Callback() {
                  @Override
                  public void onFailure(Call call, IOException e) {
                    check(s, ctx, null, e, tally);
                    f.complete(null);
                  }

                  @Override
                  public void onResponse(Call call, Response response) {
                    byte[] got = null;
                    Throwable failure = null;
                    try (response) {
                      got = response.body().bytes();
                    } catch (IOException | RuntimeException e) {
                      failure = e;
                    }
                    check(s, ctx, got, failure, tally);
                    f.complete(null);
                  }
                });
      }
      CompletableFuture.allOf(done.toArray(new CompletableFuture<?>[0])).get(30, TimeUnit.SECONDS);
    }
    verdict("enqueue", tally, pending);
  }
}
