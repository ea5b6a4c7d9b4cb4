package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.Registration;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.testing.DroppingPeer;
import io.ctx4j.testing.ForeignContext;
import io.ctx4j.testing.LaggingClock;
import io.ctx4j.testing.Quietly;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * ContextHttp under unusual use: failures of the exchange itself, a caller's subscriber that breaks
 * the Reactive Streams rules, an interrupted caller. Real JDK client and server on loopback.
 */
@Timeout(120)
class HostileCallTest {
  private static final HttpClient CLIENT =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private static final Duration LONG = Duration.ofSeconds(10);

  private static HttpRequest get(URI uri) {
    return HttpRequest.newBuilder(uri).build();
  }

  /** A loopback port on which nothing listens (any more). */
  private static URI refusingUri() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return URI.create("http://127.0.0.1:" + s.getLocalPort() + "/");
    }
  }

  /**
   * {@code send} is a drop-in for {@code HttpClient.send}: a caller that catches the JDK's
   * exception types (a request timeout, a refused connection) must get them from ContextHttp too.
   */
  @ParameterizedTest
  @ValueSource(strings = {"request timeout", "connection refused"})
  void sendThrowsTheExceptionTypeThatHttpClientSendThrows(String how) throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(5));
    try (LoopbackServer s =
            new LoopbackServer(
                ex -> {
                  Quietly.await(release, LONG); // never answers in time
                  ex.sendResponseHeaders(204, -1);
                });
        AutoCloseable answer = release::countDown) {
      URI uri = how.equals("connection refused") ? refusingUri() : s.uri();
      HttpRequest request = HttpRequest.newBuilder(uri).timeout(Duration.ofMillis(200)).build();
      IOException jdk =
          assertThrows(IOException.class, () -> CLIENT.send(request, BodyHandlers.ofString()));
      IOException ours =
          assertThrows(
              IOException.class, () -> ContextHttp.send(ctx, CLIENT, request, BodyHandlers.ofString()));
      assertEquals(jdk.getClass(), ours.getClass(), how + ": " + ours);
      assertEquals(jdk.getClass(), ours.getCause().getClass(), "the client's own failure as cause");
      assertEquals(0, CoreInternals.registrationCount(ctx), "abort hook left on the context");
    } finally {
      ctx.cancel();
    }
  }

  /**
   * {@code send} is a drop-in for {@code HttpClient.send} also when the caller's own body handler
   * fails: the JDK's {@code send} throws an {@code IOException} caused by what the handler threw
   * (an {@code IllegalArgumentException} or {@code SecurityException} as a new one of that type),
   * so a caller that catches {@code IOException} must not get an unchecked exception from
   * ContextHttp instead. Nor may it take the end of another context that the handler's own work ran
   * under for the call's end, while the call's context goes on. Compared with the running JDK's own
   * {@code send}.
   */
  @ParameterizedTest
  @ValueSource(
      strings = {"IllegalStateException", "UncheckedIOException", "IllegalArgumentException",
        "SecurityException", "TimeoutException", "AssertionError", "another context's end"})
  void sendThrowsWhatHttpClientSendThrowsForAHandlerThatFails(String what) throws Exception {
    CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(5));
    try (LoopbackServer s = new LoopbackServer(ex -> {
          ex.sendResponseHeaders(200, 5);
          try (OutputStream out = ex.getResponseBody()) {
            out.write("hello".getBytes(StandardCharsets.US_ASCII));
          }
        })) {
      HttpRequest request = get(s.uri());
      Throwable jdk = thrownBy(() -> CLIENT.send(request, failingHandler(what)));
      Throwable ours = thrownBy(() -> ContextHttp.send(ctx, CLIENT, request, failingHandler(what)));
      assertEquals(describe(jdk), describe(ours));
      assertEquals(0, CoreInternals.registrationCount(ctx), "abort hook left on the context");
    } finally {
      ctx.cancel();
    }
  }

  /** A body handler that throws a new {@code what}, undeclared if checked, as Kotlin code may. */
  private static HttpResponse.BodyHandler<String> failingHandler(String what) {
    return info -> {
      Throwable t;
      switch (what) {
        case "IllegalStateException": t = new IllegalStateException("handler broken"); break;
        case "UncheckedIOException":
          t = new java.io.UncheckedIOException(new IOException("handler broken")); break;
        case "IllegalArgumentException": t = new IllegalArgumentException("handler broken"); break;
        case "SecurityException": t = new SecurityException("handler broken"); break;
        case "TimeoutException": t = new java.util.concurrent.TimeoutException("handler broken"); break;
        case "another context's end":
          // The handler's own ctx4j work under a context of its own, which has ended: not the
          // call's end, whose context goes on.
          CancelableContext other = Context.withCancel(Context.background());
          other.cancel(new IllegalStateException("the other context's cancel"));
          t = other.err().copy(other.cause());
          break;
        default: t = new AssertionError("handler broken"); break;
      }
      throw HostileCallTest.<RuntimeException>sneaky(t);
    };
  }

  @SuppressWarnings("unchecked")
  private static <E extends Throwable> E sneaky(Throwable t) throws E {
    throw (E) t;
  }

  private interface Send {
    void run() throws Exception;
  }

  private static Throwable thrownBy(Send send) {
    try {
      send.run();
    } catch (Throwable t) {
      return t;
    }
    throw new AssertionError("the call did not fail");
  }

  /** The class and message of a failure, and of its cause. */
  private static String describe(Throwable t) {
    Throwable c = t.getCause();
    return t.getClass().getName() + ": " + t.getMessage()
        + (c == null ? "" : ", caused by " + c.getClass().getName() + ": " + c.getMessage());
  }

  /**
   * A failure of the exchange gives the call's hook back before the caller's future fails: a
   * dependent the caller attached runs before the call's own (CompletableFuture runs the latest
   * first), and a waiting get() is woken before either.
   */
  @ParameterizedTest
  @ValueSource(strings = {"connection closed", "redirect without Location"})
  void aFailedExchangeGivesItsHookBackBeforeTheCallerHearsOfIt(String how) throws Exception {
    CountDownLatch attached = new CountDownLatch(1);
    HttpClient following =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NORMAL)
            .build();
    CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(5));
    try (LoopbackServer s =
        new LoopbackServer(
            ex -> {
              Quietly.await(attached, LONG);
              if (how.equals("connection closed")) {
                throw new IllegalStateException("the JDK server closes the connection unanswered");
              }
              ex.sendResponseHeaders(302, -1);
              ex.close();
            })) {
      CompletableFuture<HttpResponse<String>> call =
          ContextHttp.sendAsync(ctx, following, get(s.uri()), BodyHandlers.ofString());
      CompletableFuture<Integer> hooksWhenTheCallerHears =
          call.handle((response, failure) -> CoreInternals.registrationCount(ctx));
      attached.countDown();
      ExecutionException e =
          assertThrows(ExecutionException.class, () -> call.get(10, TimeUnit.SECONDS));
      assertTrue(e.getCause() instanceof IOException, "failed with " + e.getCause());
      assertEquals(
          0,
          hooksWhenTheCallerHears.get(10, TimeUnit.SECONDS),
          "abort hook still on the context when the caller's dependent ran");
    } finally {
      ctx.cancel();
    }
  }

  /**
   * A caller that completes the future itself (a fallback value, as completeOnTimeout gives) ends
   * the call as a cancel does: the response could reach no one, nor its streamed body be closed,
   * so the hook must go and the exchange be given up.
   */
  @Test
  void aFutureTheCallerCompletesItselfEndsTheExchange() throws Exception {
    CountDownLatch arrived = new CountDownLatch(1);
    CountDownLatch answer = new CountDownLatch(1);
    CountDownLatch clientGone = new CountDownLatch(1);
    CountDownLatch stop = new CountDownLatch(1);
    CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(5));
    try (LoopbackServer s =
            new LoopbackServer(
                ex -> {
                  arrived.countDown();
                  Quietly.await(answer, LONG);
                  streamUntilTheClientLeaves(ex, stop, clientGone);
                });
        AutoCloseable respond = answer::countDown;
        AutoCloseable stopStreaming = stop::countDown) {
      CompletableFuture<HttpResponse<java.io.InputStream>> call =
          ContextHttp.sendAsync(ctx, CLIENT, get(s.uri()), BodyHandlers.ofInputStream());
      assertTrue(arrived.await(10, TimeUnit.SECONDS), "the request never arrived");
      assertTrue(call.complete(null), "the response came before the server was told to answer");
      assertEquals(0, CoreInternals.registrationCount(ctx), "abort hook left on the context");
      answer.countDown();
      assertTrue(
          clientGone.await(10, TimeUnit.SECONDS),
          "the exchange went on after the caller completed its future");
      assertEquals(0, CoreInternals.registrationCount(ctx), "abort hook taken again");
    } finally {
      ctx.cancel();
    }
  }

  /**
   * A subscriber whose onError throws (Reactive Streams forbids it, but it happens) must not keep
   * the exchange alive: when the context ends, the body subscription is cancelled anyway, and the
   * server sees its client go.
   */
  @Test
  void aSubscriberWhoseOnErrorThrowsStillHasItsBodyCancelledWhenTheContextEnds() throws Exception {
    CountDownLatch received = new CountDownLatch(1);
    CountDownLatch clientGone = new CountDownLatch(1);
    CountDownLatch stop = new CountDownLatch(1);
    CancelableContext ctx = Context.withCancel(Context.background());
    try (LoopbackServer s =
            new LoopbackServer(ex -> streamUntilTheClientLeaves(ex, stop, clientGone));
        AutoCloseable stopStreaming = stop::countDown) {
      HttpResponse.BodyHandler<Void> handler = info -> new ThrowingOnError(received);
      CompletableFuture<HttpResponse<Void>> call =
          ContextHttp.sendAsync(ctx, CLIENT, get(s.uri()), handler);
      assertTrue(received.await(10, TimeUnit.SECONDS), "no body arrived");
      ctx.cancel();
      assertThrows(CancellationException.class, () -> call.get(10, TimeUnit.SECONDS));
      assertTrue(
          clientGone.await(10, TimeUnit.SECONDS),
          "the body was never cancelled: the server kept streaming to a caller whose context had ended");
    } finally {
      ctx.cancel();
    }
  }

  /**
   * Answers 200 and streams 64-byte chunks, one every 5 ms, until {@code stop} opens (the test is
   * over) or a write fails; a failed write means the client left, and opens {@code clientGone}.
   */
  private static void streamUntilTheClientLeaves(
      HttpExchange ex, CountDownLatch stop, CountDownLatch clientGone)
      throws IOException {
    ex.sendResponseHeaders(200, 0);
    try (OutputStream out = ex.getResponseBody()) {
      do {
        out.write(new byte[64]);
        out.flush();
      } while (!Quietly.await(stop, Duration.ofMillis(5)));
    } catch (IOException e) {
      clientGone.countDown();
    }
  }

  /** Takes one item; throws from onError. */
  private static final class ThrowingOnError implements HttpResponse.BodySubscriber<Void> {
    private final CompletableFuture<Void> body = new CompletableFuture<>();
    private final CountDownLatch received;

    ThrowingOnError(CountDownLatch received) {
      this.received = received;
    }

    @Override
    public CompletionStage<Void> getBody() {
      return body;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
      s.request(1);
    }

    @Override
    public void onNext(List<ByteBuffer> item) {
      received.countDown();
    }

    @Override
    public void onError(Throwable t) {
      // Throws before it completes its body: the client, which waits for the body, notices nothing.
      throw new IllegalStateException("a subscriber that throws from onError");
    }

    @Override
    public void onComplete() {
      body.complete(null);
    }
  }

  /**
   * As {@code HttpClient.send}: a thread interrupted before the call throws InterruptedException
   * and hands nothing to the client; handing it over and cancelling afterwards may let the request
   * reach the server first.
   */
  @Test
  void anInterruptedCallerHandsNothingToTheClient() throws Exception {
    AtomicInteger tasks = new AtomicInteger();
    ExecutorService pool = Executors.newCachedThreadPool();
    HttpClient counting =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .executor(
                task -> {
                  tasks.incrementAndGet(); // the JDK starts every exchange with a task here
                  pool.execute(task);
                })
            .build();
    CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(5));
    try (LoopbackServer s = new LoopbackServer(ex -> ContextHttpTest.respond(ex, 200, "ok"))) {
      Thread.currentThread().interrupt();
      assertThrows(
          InterruptedException.class,
          () -> ContextHttp.send(ctx, counting, get(s.uri()), BodyHandlers.ofString()));
      assertFalse(Thread.currentThread().isInterrupted(), "the interrupt is consumed, as by send");
      assertEquals(0, tasks.get(), "an exchange was started for an interrupted caller");
      assertEquals(0, CoreInternals.registrationCount(ctx), "abort hook left on the context");
      assertEquals("ok", ContextHttp.send(ctx, counting, get(s.uri()), BodyHandlers.ofString()).body());
    } finally {
      ctx.cancel();
      pool.shutdown();
    }
  }

  // ------------------------------------------- a deadline passed that no timer has ended yet

  /**
   * Answers 200, and "/first" with a 302 to "/target" after moving {@code clock} 2 s on (past the
   * 1 s deadline of the tests below, firing no timer); records what reached it as "path=header".
   */
  private static LoopbackServer redirectingPastTheDeadline(LaggingClock clock, Queue<String> seen) {
    return new LoopbackServer(
        ex -> {
          String path = ex.getRequestURI().getPath();
          seen.add(path + "=" + ex.getRequestHeaders().getFirst(DeadlineHeader.NAME));
          if (path.equals("/first")) {
            clock.pass(Duration.ofSeconds(2));
            ex.getResponseHeaders().set("Location", "/target");
            ContextHttpTest.respond(ex, 302, "");
          } else {
            ContextHttpTest.respond(ex, 200, "ok");
          }
        });
  }

  /** The deadline's error, from before its timer: the context has no cause to give yet. */
  private static void assertDeadlinePassed(Throwable failure) {
    DeadlineExceededException e =
        assertInstanceOf(DeadlineExceededException.class, failure, () -> "failed otherwise: " + failure);
    assertNull(e.getCause());
  }

  /**
   * Between a context's deadline and the moment its timer ends it, err() is still null while
   * remaining() is not positive; a clock whose timers never fire holds a real context there. A call
   * in that state must fail unsent, as one whose context has ended, not go out with a budget of 0.
   */
  @Test
  void aCallWhoseDeadlineHasPassedIsNotSentThoughTheTimerHasNotEndedTheContextYet() throws Exception {
    LaggingClock clock = new LaggingClock();
    Queue<String> seen = new ConcurrentLinkedQueue<>();
    try (LoopbackServer s = redirectingPastTheDeadline(clock, seen);
        CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(1))) {
      clock.pass(Duration.ofSeconds(2));
      assertNull(ctx.err(), "the clock fired the timer");
      assertDeadlinePassed(
          assertThrows(
              ContextException.class,
              () -> ContextHttp.send(ctx, CLIENT, get(s.uri()), BodyHandlers.ofString())));
      CompletableFuture<HttpResponse<String>> async =
          ContextHttp.sendAsync(ctx, CLIENT, get(s.uri()), BodyHandlers.ofString());
      assertDeadlinePassed(async.handle((response, failure) -> failure).get(10, TimeUnit.SECONDS));
      assertEquals(List.of(), List.copyOf(seen), "a call past its deadline was sent");
      assertEquals(0, CoreInternals.registrationCount(ctx), "abort hook left on the context");
    }
  }

  /**
   * The same state reached during a redirect ctx4j follows itself: the first hop was sent in time,
   * the next one must not be.
   */
  @Test
  void aRedirectHopPastTheDeadlineIsNotSentThoughTheTimerHasNotEndedTheContextYet() throws Exception {
    LaggingClock clock = new LaggingClock();
    Queue<String> seen = new ConcurrentLinkedQueue<>();
    HttpClient following =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NORMAL)
            .build();
    try (LoopbackServer s = redirectingPastTheDeadline(clock, seen);
        CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(1))) {
      URI first = s.uri().resolve("/first");
      assertDeadlinePassed(
          assertThrows(
              ContextException.class,
              () -> ContextHttp.send(ctx, following, get(first), BodyHandlers.ofString())));
      assertNull(ctx.err(), "the clock fired the timer");
      assertEquals(List.of("/first=995"), List.copyOf(seen), "the redirect target was sent past the deadline");
      assertEquals(0, CoreInternals.registrationCount(ctx), "abort hook left on the context");
    }
  }
  /**
   * The exchange fails (the peer drops the connection before its answer, or halfway through the
   * body) after the deadline has passed but before the timer has ended the context: the caller gets
   * the deadline's error, as when the timer is on time, not the client's own failure.
   */
  @ParameterizedTest
  @ValueSource(strings = {"", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nhello"})
  void anExchangeThatFailsPastTheDeadlineFailsWithTheDeadlineThoughTheTimerHasNotEndedTheContextYet(
      String answered) throws Exception {
    for (boolean async : new boolean[] {false, true}) {
      LaggingClock clock = new LaggingClock();
      try (CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(1));
          DroppingPeer peer = new DroppingPeer(answered, () -> clock.pass(Duration.ofSeconds(2)))) {
        HttpRequest request = get(URI.create(peer.url("/")));
        Throwable failure =
            async
                ? ContextHttp.sendAsync(ctx, CLIENT, request, BodyHandlers.ofString())
                    .handle((response, f) -> f)
                    .get(10, TimeUnit.SECONDS)
                : assertThrows(
                    Exception.class, () -> ContextHttp.send(ctx, CLIENT, request, BodyHandlers.ofString()));
        assertDeadlinePassed(failure);
        Throwable[] suppressed = failure.getSuppressed();
        assertEquals(
            1,
            suppressed.length,
            () -> (async ? "sendAsync" : "send") + ": the client's own failure is not on it: " + List.of(suppressed));
        assertInstanceOf(IOException.class, suppressed[0]);
        peer.done();
        assertNull(ctx.err(), "the clock fired the timer");
        assertEquals(0, CoreInternals.registrationCount(ctx), "abort hook left on the context");
      }
    }
  }

  // ---------------------------------------------------------------------- contexts that misbehave

  /** A server that answers "ok" and counts the requests that reach it in {@code requests}. */
  private static LoopbackServer counting(AtomicInteger requests) {
    return new LoopbackServer(
        ex -> {
          requests.incrementAndGet();
          ContextHttpTest.respond(ex, 200, "ok");
        });
  }

  /**
   * A custom context whose {@code onDone} returns null instead of a {@link Registration} (breaking
   * its contract) could never abort the call nor be given its registration back: the call is
   * refused at once, with the core's message naming the context's class, before anything is sent.
   */
  @Test
  void aCustomContextWhoseOnDoneReturnsNullIsRefusedBeforeAnythingIsSent() throws Exception {
    AtomicInteger requests = new AtomicInteger();
    Context broken = ForeignContext.returningNullFromOnDone();
    try (LoopbackServer s = counting(requests)) {
      NullPointerException e =
          assertThrows(
              NullPointerException.class,
              () -> ContextHttp.send(broken, CLIENT, get(s.uri()), BodyHandlers.ofString()));
      assertEquals(ForeignContext.nullRegistrationMessage(broken), e.getMessage());
      NullPointerException async =
          assertThrows(
              NullPointerException.class,
              () -> ContextHttp.sendAsync(broken, CLIENT, get(s.uri()), BodyHandlers.ofString()));
      assertEquals(ForeignContext.nullRegistrationMessage(broken), async.getMessage());
      // A call sent after the refused ones: had they gone out, the server would count them first.
      assertEquals("ok", ContextHttp.send(Context.background(), CLIENT, get(s.uri()), BodyHandlers.ofString()).body());
      assertEquals(1, requests.get(), "a refused call was sent");
    }
  }

  /**
   * Guard: a call refused for its context's null registration leaves nothing behind, not even the
   * copy of a client that follows redirects that ctx4j makes for a context with a deadline (on JDK
   * 21+ a copy runs a selector thread).
   */
  @Test
  void aCallRefusedForItsContextsNullRegistrationLeavesNoCopyOfTheClient() {
    HttpClient following =
        HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL).build();
    Context broken =
        new ForeignContext(Instant.now().plus(Duration.ofMinutes(5))) {
          @Override
          public Registration onDone(Runnable callback) {
            return null;
          }
        };
    NullPointerException e =
        assertThrows(
            NullPointerException.class,
            () ->
                ContextHttp.sendAsync(
                    broken, following, get(URI.create("http://127.0.0.1:9/")), BodyHandlers.discarding()));
    assertEquals(ForeignContext.nullRegistrationMessage(broken), e.getMessage());
    assertNull(ContextHttp.copyOf(following), "a copy of the client was made for a refused call");
  }

  /**
   * A custom context whose clock steps back just after its deadline: the call is refused for the
   * deadline (the context's first answer) and {@code send} throws that deadline's error, as
   * documented, whatever the context says when asked again. {@code CompletableFuture.get} throws
   * the future's {@code CancellationException} as is on JDK 17 but wraps it in a new one on JDK 23+,
   * which {@code send} then threw when a second question found no end.
   */
  @Test
  void sendThrowsTheDeadlineItRefusedTheCallForThoughTheContextsClockStepsBack() throws Exception {
    AtomicInteger requests = new AtomicInteger();
    try (LoopbackServer s = counting(requests)) {
      Throwable e =
          assertThrows(
              Throwable.class,
              () ->
                  ContextHttp.send(
                      ForeignContext.steppingBack(), CLIENT, get(s.uri()), BodyHandlers.ofString()));
      assertDeadlinePassed(e);
      assertDeadlinePassed(
          ContextHttp.sendAsync(ForeignContext.steppingBack(), CLIENT, get(s.uri()), BodyHandlers.ofString())
              .handle((response, failure) -> failure)
              .get(10, TimeUnit.SECONDS));
      assertEquals(0, requests.get(), "a call past its deadline was sent");
    }
  }

  /**
   * A custom context whose registration's {@code stop()} throws must not leave the call hanging.
   * ctx4j gives the registration back just before it completes the result, hands the body's end to
   * the caller's subscriber or cancels an exchange; a {@code stop()} that threw there escaped into
   * the client's threads and the rest was never done. The call now ends as it would without it,
   * and where it fails, {@code stop()}'s failure is suppressed on the failure the caller gets (as
   * {@code CoreInternals.stopAfter} does everywhere else).
   */
  @Test
  @Timeout(60)
  void aRegistrationWhoseStopThrowsDoesNotHangTheCall() throws Exception {
    IllegalStateException stopFailure = new IllegalStateException("stop() failed");
    ForeignContext ctx =
        new ForeignContext() {
          @Override
          public Registration onDone(Runnable callback) {
            return () -> {
              throw stopFailure;
            };
          }
        };
    try (LoopbackServer s =
        new LoopbackServer(
            ex -> {
              byte[] b = "ok".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
              ex.sendResponseHeaders(200, b.length);
              try (OutputStream out = ex.getResponseBody()) {
                out.write(b);
              }
            })) {
      CompletableFuture<HttpResponse<String>> call =
          ContextHttp.sendAsync(ctx, CLIENT, get(s.uri()), BodyHandlers.ofString());
      assertEquals("ok", call.get(10, TimeUnit.SECONDS).body(), "an answered call");
    }
    try (DroppingPeer peer = new DroppingPeer("", () -> {})) {
      CompletableFuture<HttpResponse<String>> call =
          ContextHttp.sendAsync(ctx, CLIENT, get(URI.create(peer.url("/"))), BodyHandlers.ofString());
      ExecutionException e =
          assertThrows(ExecutionException.class, () -> call.get(10, TimeUnit.SECONDS));
      assertInstanceOf(IOException.class, e.getCause(), "a failed exchange");
      assertTrue(
          List.of(e.getCause().getSuppressed()).contains(stopFailure),
          "stop()'s failure is not on the exchange's: " + List.of(e.getCause().getSuppressed()));
    }
  }
}
