package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.testing.CancelAnywhere;
import io.ctx4j.testing.CancelAnywhere.Shape;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandler;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse.BodySubscriber;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * "Cancel anywhere" for the JDK's {@code HttpClient} through {@link ContextHttp}: on one client
 * (HTTP/1.1, calls one after another, so its pool hands the one idle connection from call to
 * call), calls whose context is cancelled at a random moment (before the call, while the request
 * is handed to ctx4j's send thread, its body uploaded, the head awaited, a late or streaming body
 * read, or after the call is over, under a later call) are interleaved with calls whose context
 * never ends, against a real JDK {@code HttpServer} on loopback. A cancel must never break another
 * call: every call whose context never ends gets its whole body, and every cancelled call gets its
 * body or what the README promises for the context's end:
 *
 * <ul>
 *   <li>{@code send}: the context's error itself, a {@link CanceledException};
 *   <li>a body read through {@code BodyHandlers.ofInputStream()} after {@code send} returned: an
 *       {@link IOException} (the JDK's stream's, caused by the context's {@code CanceledException});
 *   <li>{@code sendAsync}: its future failed with a {@code CanceledException}.
 * </ul>
 *
 * <p>And: no call leaves its thread interrupted; afterwards no registration is left on the
 * long-lived context, no ctx4j send thread is still inside the client's {@code send}, and a
 * further call succeeds. An abort that a cancel makes (on a canceller thread) is held up 0 to 500
 * µs in the caller's subscriber's {@code onError}, which ctx4j calls before it cancels the body
 * subscription: a canceller descheduled inside the abort, as a loaded machine does at random.
 *
 * <p>Each path's calls run on a thread of their own, waited for with a bound: a call that never
 * returns fails the test with the seed, the call and its thread's stack. Seeded: the seed is in
 * every failure message; {@code -Dctx4j.fuzz.seed=N} replays one. {@code
 * -Dctx4j.http.fuzzCalls=N} sets the calls per path (long mode). The JDK's {@code HttpServer}
 * speaks HTTP/1.1 only, so there is no h2c here. The module's test JVMs set {@code
 * sun.net.httpserver.nodelay=true} (its POM), so the server's small writes go at once: about three
 * times the calls a second of the JDK's default.
 *
 * <p>The check of the send threads found a leak: a context that ended while ctx4j handed the
 * request over, the response head coming before ctx4j held the client's future, left the send
 * thread in the client's {@code send} for ever (1 to 12 in 20,000 calls a path before the fix;
 * positioned in {@code HandOverAbortJdk21Test}).
 */
@Timeout(3600) // a long run's; each path's calls are bounded below, by their number
class JdkHttpCancelAnywhereTest {
  /** Calls per path: small, ctx4j-http is on CI's longest chain of modules. */
  private static final int CALLS = Integer.getInteger("ctx4j.http.fuzzCalls", 100);

  private static final String SENDER = "ctx4j-http-send-";

  private final ScheduledExecutorService cancellers = CancelAnywhere.cancellers();
  private final ExecutorService caller =
      Executors.newSingleThreadExecutor(r -> new Thread(r, "cancel-anywhere-caller"));
  /** The connections that carried a request, by the client's address. */
  private final Set<String> connections = ConcurrentHashMap.newKeySet();
  /** Aborts made on a canceller thread, each held up a little in the subscriber's onError. */
  private final AtomicInteger heldAborts = new AtomicInteger();
  /** Every ctx4j send thread seen reading a request (on JDK 21+ a new virtual thread each). */
  private final Set<Thread> senders = ConcurrentHashMap.newKeySet();
  private final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
  private final HttpClient client =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private LoopbackServer server;
  private CancelableContext longLived;
  /** The call in progress, for a hang's report. */
  private volatile Shape current;
  /** The thread making the calls, for a hang's report. */
  private volatile Thread callerThread;

  @BeforeEach
  void start() {
    server = new LoopbackServer(this::answer);
    longLived = Context.withTimeout(Context.background(), Duration.ofMinutes(30));
  }

  @AfterEach
  void stop() throws InterruptedException {
    longLived.cancel();
    caller.shutdownNow();
    cancellers.shutdownNow();
    assertTrue(cancellers.awaitTermination(20, TimeUnit.SECONDS));
    assertTrue(caller.awaitTermination(20, TimeUnit.SECONDS), "the caller thread never ended");
    server.close();
  }

  /** Notes the connection, then {@link CancelAnywhere#answer}: odd requests' bodies chunked. */
  private void answer(HttpExchange ex) throws IOException {
    connections.add(String.valueOf(ex.getRemoteAddress()));
    CancelAnywhere.answer(ex, true);
  }

  /** The request of shape {@code s}: a GET, or a POST of its upload; it notes its send thread. */
  private HttpRequest request(Shape s) {
    HttpRequest.Builder b = HttpRequest.newBuilder(server.uri().resolve(s.path()));
    if (s.upload >= 0) {
      b.POST(HttpRequest.BodyPublishers.ofByteArray(new byte[s.upload]));
    }
    return new NotingSender(b.build());
  }

  /**
   * Delegates to a real request; notes the ctx4j send thread that reads its headers (ctx4j copies
   * the request there to add the deadline header, so the client never sees this one).
   */
  private final class NotingSender extends ForwardingRequest {
    NotingSender(HttpRequest real) {
      super(real);
    }

    @Override
    public HttpHeaders headers() {
      Thread t = Thread.currentThread();
      if (t.getName().startsWith(SENDER)) {
        senders.add(t);
      }
      return real.headers();
    }
  }

  /**
   * {@code handler}, whose subscriber holds an {@code onError} that comes on a canceller thread up
   * 0 to 500 µs: ctx4j's abort delivers the context's error there before it cancels the body
   * subscription, so this widens the window between the two.
   */
  private <T> BodyHandler<T> heldUp(BodyHandler<T> handler) {
    return info -> {
      BodySubscriber<T> d = handler.apply(info);
      return new BodySubscriber<T>() {
        @Override
        public CompletionStage<T> getBody() {
          return d.getBody();
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
          d.onSubscribe(s);
        }

        @Override
        public void onNext(List<ByteBuffer> item) {
          d.onNext(item);
        }

        @Override
        public void onError(Throwable t) {
          if (CancelAnywhere.holdUpACanceller()) {
            heldAborts.incrementAndGet();
          }
          d.onError(t);
        }

        @Override
        public void onComplete() {
          d.onComplete();
        }
      };
    };
  }

  /** One way of making a call and reading its body. */
  private interface Way {
    byte[] call(Context ctx, HttpRequest request) throws Exception;
  }

  /** What a failed call ended with, by the way it failed; null if not the context's end. */
  private interface Promise {
    String ended(Throwable failure);
  }

  /** send's promise: the context's error itself. */
  private static String contextsError(Throwable failure) {
    return failure instanceof CanceledException ? "CanceledException" : null;
  }

  /** A streamed body's promise: an IOException caused by the context's error; or as send's. */
  private static String streamsError(Throwable failure) {
    if (failure instanceof IOException && failure.getCause() instanceof CanceledException) {
      return "IOException from the body";
    }
    return contextsError(failure);
  }

  /** Checks a call's outcome: its body, or (only if its context ended) the promised error. */
  private void check(
      Shape s, Context ctx, byte[] got, Throwable failure, Promise promise, Map<String, Integer> tally) {
    if (!CancelAnywhere.failedAfterItsEnd(s, ctx, got, failure, failures, tally)) {
      return;
    }
    String ended = promise.ended(failure);
    if (ended == null) {
      failures.add(
          CancelAnywhere.describe(
              s + ": failed with something else than the context's error", failure));
    } else {
      tally.merge(ended, 1, Integer::sum);
    }
  }

  /** The stacks of {@code threads} (the first three), for a failure's message. */
  private static String stacks(List<Thread> threads) {
    StringBuilder b = new StringBuilder();
    for (Thread t : threads.subList(0, Math.min(3, threads.size()))) {
      b.append("\n").append(t.getName()).append(':');
      for (StackTraceElement f : t.getStackTrace()) {
        b.append("\n\tat ").append(f);
      }
    }
    return b.toString();
  }

  /** Whether {@code t} is inside the client's send for ctx4j. */
  private static boolean busy(Thread t) {
    if (!t.isAlive()) {
      return false;
    }
    for (StackTraceElement e : t.getStackTrace()) {
      if (e.getClassName().startsWith(ContextHttp.class.getName() + "$SentOnOwnThread")) {
        return true;
      }
    }
    return false;
  }

  private void fuzz(String path, long seed, Way way, Promise promise) throws Exception {
    Map<String, Integer> tally = new ConcurrentHashMap<>();
    List<ScheduledFuture<?>> pending = new ArrayList<>();
    long began = System.nanoTime();
    CompletableFuture<Void> calls =
        CompletableFuture.runAsync(
            () -> {
              callerThread = Thread.currentThread();
              Random r = new Random(seed);
              for (int k = 1; k <= CALLS; k++) {
                Shape s = new Shape(k, r);
                current = s;
                Context ctx = CancelAnywhere.contextFor(s, longLived, cancellers, pending);
                byte[] got = null;
                Throwable failure = null;
                try {
                  got = way.call(ctx, request(s));
                } catch (Exception e) {
                  failure = e;
                }
                check(s, ctx, got, failure, promise, tally);
              }
            },
            caller);
    long bound = 60 + CALLS / 20; // seconds: 20 ms a call, and a minute to spare
    try {
      calls.get(bound, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      StringBuilder stack = new StringBuilder();
      Thread t = callerThread;
      for (StackTraceElement f : t == null ? new StackTraceElement[0] : t.getStackTrace()) {
        stack.append("\n\tat ").append(f);
      }
      throw new AssertionError(
          path + ": " + current + " had not returned " + bound + " s after the first call, seed "
              + CancelAnywhere.SEED + " (replay: -Dctx4j.fuzz.seed=" + CancelAnywhere.SEED
              + "); the caller:" + stack);
    }
    CancelAnywhere.awaitAll(pending); // every cancel has run
    // No send thread still inside the client's send (a bounded wait on that condition).
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    List<Thread> stillBusy = new ArrayList<>(senders);
    while (!stillBusy.isEmpty() && System.nanoTime() < until) {
      stillBusy.removeIf(t -> !busy(t));
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }
    Shape finalCall = new Shape(0, new Random(seed));
    byte[] last = caller.submit(() -> way.call(longLived, request(finalCall))).get(30, TimeUnit.SECONDS);
    int left = CoreInternals.registrationCount(longLived);
    String report =
        CancelAnywhere.report(path, CALLS, tally, connections.size(), heldAborts.get())
            .replace("socket closes by a cancel held up", "aborts held up in onError")
            + ", " + senders.size() + " send threads, "
            + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began) + " ms";
    System.out.println("jdk http cancel anywhere, " + report);
    assertNull(CancelAnywhere.failed(report, failures));
    assertEquals(
        List.of(),
        stillBusy,
        "send threads still in the client's send 20 s after the fuzz, " + report + stacks(stillBusy));
    assertEquals(0, left, "registrations left on the long-lived context, " + report);
    assertArrayEquals(CancelAnywhere.body(0, finalCall.n), last, "the final call's body, " + report);
  }

  @Test
  void sendWithTheBodyReadWholeCancelledAnywhereNeverBreaksAnotherCall() throws Exception {
    fuzz(
        "send, ofByteArray",
        CancelAnywhere.SEED,
        (ctx, request) ->
            ContextHttp.send(ctx, client, request, heldUp(BodyHandlers.ofByteArray())).body(),
        JdkHttpCancelAnywhereTest::contextsError);
  }

  @Test
  void sendWithAStreamReadThenClosedCancelledAnywhereNeverBreaksAnotherCall() throws Exception {
    fuzz(
        "send, ofInputStream read then closed",
        CancelAnywhere.SEED + 1,
        (ctx, request) -> {
          try (InputStream in =
              ContextHttp.send(ctx, client, request, heldUp(BodyHandlers.ofInputStream())).body()) {
            return in.readAllBytes();
          }
        },
        JdkHttpCancelAnywhereTest::streamsError);
  }

  @Test
  void sendAsyncCancelledAnywhereNeverBreaksAnotherCall() throws Exception {
    fuzz(
        "sendAsync, ofByteArray",
        CancelAnywhere.SEED + 2,
        (ctx, request) -> {
          CompletableFuture<HttpResponse<byte[]>> f =
              ContextHttp.sendAsync(ctx, client, request, heldUp(BodyHandlers.ofByteArray()));
          try {
            return f.get(30, TimeUnit.SECONDS).body();
          } catch (ExecutionException | CancellationException e) {
            // The future's own failure, not get's wrapping of it (JDK 23+ wraps a
            // CancellationException, which the context's error is, in a new one).
            Throwable failure = f.handle((response, t) -> t).join();
            throw failure instanceof Exception ? (Exception) failure : new Exception(failure);
          }
        },
        JdkHttpCancelAnywhereTest::contextsError);
  }
}
