package io.ctx4j.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.Registration;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.testing.AnotherContextsEnd;
import io.ctx4j.testing.ForeignContext;
import io.ctx4j.testing.DroppingPeer;
import io.ctx4j.testing.IoEnds;
import io.ctx4j.testing.LaggingClock;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.ref.Reference;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.Call;
import okhttp3.Connection;
import okhttp3.Dispatcher;
import okhttp3.EventListener;
import okhttp3.Interceptor;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Contexts in unusual states, and contexts implemented outside ctx4j, against a loopback server. */
@Timeout(60)
class OkHttpHostileUseTest {
  private static final byte[] HELLO = "hello".getBytes(StandardCharsets.US_ASCII);

  private final OkHttpClient client = ContextOkHttp.install(new OkHttpClient.Builder()).build();

  @AfterEach
  void stop() {
    client.dispatcher().executorService().shutdown();
    client.connectionPool().evictAll();
  }

  private static Request at(String url, Context ctx) {
    return ContextOkHttp.withContext(new Request.Builder().url(url).build(), ctx);
  }

  /** The call failed with the deadline's error, before its timer: no cause known yet. */
  private static void assertDeadlinePassed(IOException e) {
    assertInstanceOf(InterruptedIOException.class, e);
    DeadlineExceededException err = assertInstanceOf(DeadlineExceededException.class, e.getCause(), () -> "failed otherwise: " + e);
    assertNull(err.getCause());
    IoEnds.assertMadeOnce(e); // not mapped again by the application interceptor
  }

  /**
   * A custom context whose clock steps back just after its deadline: the call is refused, unsent,
   * for the deadline the context reported first, whatever it says when asked again.
   */
  @Test
  void aCallIsRefusedForTheDeadlineItsContextReportedFirstThoughItsClockStepsBack() throws Exception {
    try (Loopback server = new Loopback(ex -> Loopback.reply(ex, 200, HELLO))) {
      assertDeadlinePassed(
          assertThrows(
              IOException.class,
              () -> client.newCall(at(server.url("/"), ForeignContext.steppingBack())).execute().close()));
      assertEquals(0, server.requests.get(), "a call past its deadline was sent: " + server.seen);
    }
  }

  @Test
  void aCallWhoseDeadlineHasPassedIsNotSentThoughTheTimerHasNotEndedTheContextYet() throws Exception {
    LaggingClock clock = new LaggingClock();
    try (Loopback server = new Loopback(ex -> Loopback.reply(ex, 200, HELLO));
        CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(1))) {
      clock.pass(Duration.ofSeconds(2));
      assertNull(ctx.err(), "the clock fired the timer");
      IOException e = assertThrows(IOException.class, () -> client.newCall(at(server.url("/"), ctx)).execute().close());
      assertDeadlinePassed(e);
      CompletableFuture<String> async = new CompletableFuture<>();
      client.newCall(at(server.url("/async"), ctx)).enqueue(Loopback.bodyInto(async));
      ExecutionException ee = assertThrows(ExecutionException.class, () -> async.get(20, TimeUnit.SECONDS));
      assertDeadlinePassed(assertInstanceOf(IOException.class, ee.getCause()));
      assertEquals(0, server.requests.get(), "a call past its deadline was sent: " + server.seen);
      assertEquals(0, CoreInternals.registrationCount(ctx));
    }
  }

  @Test
  void aRedirectHopPastTheDeadlineIsNotSentThoughTheTimerHasNotEndedTheContextYet() throws Exception {
    LaggingClock clock = new LaggingClock();
    try (Loopback server =
            new Loopback(
                ex -> {
                  if (ex.getRequestURI().getPath().equals("/first")) {
                    clock.pass(Duration.ofSeconds(2)); // past the 1 s deadline, no timer fired
                    ex.getResponseHeaders().set("Location", "/target");
                    Loopback.reply(ex, 302, new byte[0]);
                  } else {
                    Loopback.reply(ex, 200, HELLO);
                  }
                });
        CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(1))) {
      IOException e = assertThrows(IOException.class, () -> client.newCall(at(server.url("/first"), ctx)).execute().close());
      assertDeadlinePassed(e);
      assertNull(ctx.err(), "the clock fired the timer");
      assertEquals("/first=995", server.seen.take());
      assertEquals(1, server.requests.get(), "the redirect target was sent past the deadline: " + server.seen);
      assertEquals(0, CoreInternals.registrationCount(ctx));
    }
  }

  /**
   * The exchange fails (the peer drops the connection before its answer, or halfway through the
   * body) after the deadline has passed but before the timer has ended the context: the caller gets
   * the deadline's error, as when the timer is on time, with the exchange's own failure suppressed.
   */
  @ParameterizedTest
  @ValueSource(strings = {"", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nhello"})
  void anExchangeThatFailsPastTheDeadlineFailsWithTheDeadlineThoughTheTimerHasNotEndedTheContextYet(
      String answered) throws Exception {
    LaggingClock clock = new LaggingClock();
    OkHttpClient once = client.newBuilder().retryOnConnectionFailure(false).build();
    try (CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(1));
        DroppingPeer peer = new DroppingPeer(answered, () -> clock.pass(Duration.ofSeconds(2)))) {
      IOException e =
          assertThrows(
              IOException.class,
              () -> {
                try (Response r = once.newCall(at(peer.url("/"), ctx)).execute()) {
                  r.body().string();
                }
              });
      assertNull(ctx.err(), "the clock fired the timer");
      assertDeadlinePassed(e);
      assertEquals(1, e.getSuppressed().length, () -> "the exchange's own failure is not on it: " + e);
      peer.done();
      assertEquals(0, CoreInternals.registrationCount(ctx));
    }
  }

  /**
   * A user interceptor, below ctx4j's, fails with another context's end of the shape of ctx4j's,
   * after this call's context has ended: the caller gets this context's end, not the other one's.
   */
  @ParameterizedTest
  @EnumSource(AnotherContextsEnd.Source.class)
  void anInterceptorsEndOfAnotherContextIsNotTakenForThisCallsEnd(AnotherContextsEnd.Source source)
      throws Exception {
    try (Loopback server = new Loopback(ex -> Loopback.reply(ex, 200, HELLO));
        AnotherContextsEnd user = new AnotherContextsEnd(source)) {
      OkHttpClient nesting =
          client
              .newBuilder() // below ctx4j's call interceptor, installed first
              .addInterceptor(
                  chain -> {
                    chain.proceed(chain.request()).close();
                    throw user.endTheCallAndFail(
                        other -> client.newCall(at(server.url("/nested"), other)).execute().close());
                  })
              .build();
      user.assertTheCallersEnd(
          assertThrows(
              IOException.class,
              () -> nesting.newCall(at(server.url("/"), user.callContext())).execute().close()));
      assertEquals(1, server.requests.get(), () -> "sent: " + server.seen);
      assertEquals(0, CoreInternals.registrationCount(user.callContext()));
    }
  }

  @Test
  void aCustomContextWhoseOnDoneReturnsNullFailsTheCallEarlySayingSo() throws Exception {
    Context broken = ForeignContext.returningNullFromOnDone();
    try (Loopback server = new Loopback(ex -> Loopback.reply(ex, 200, HELLO))) {
      NullPointerException e =
          assertThrows(
              NullPointerException.class,
              () -> {
                try (Response r = client.newCall(at(server.url("/"), broken)).execute()) {
                  r.body().string();
                }
              });
      assertEquals(ForeignContext.nullRegistrationMessage(broken), e.getMessage());
      assertEquals(0, server.requests.get(), "the call was sent");
    }
  }

  /**
   * The same context under {@code enqueue()}: the interceptor's NullPointerException is thrown on
   * the dispatcher thread, where OkHttp hands the callback an {@code IOException("canceled due to
   * ...")} with it as cause (and rethrows it to that thread's uncaught-exception handler, which
   * prints it). Nothing is sent either way.
   */
  @Test
  void anEnqueuedCallUnderACustomContextWhoseOnDoneReturnsNullFailsItsCallbackUnsent() throws Exception {
    Context broken = ForeignContext.returningNullFromOnDone();
    try (Loopback server = new Loopback(ex -> Loopback.reply(ex, 200, HELLO))) {
      CompletableFuture<String> body = new CompletableFuture<>();
      client.newCall(at(server.url("/"), broken)).enqueue(Loopback.bodyInto(body));
      ExecutionException e = assertThrows(ExecutionException.class, () -> body.get(20, TimeUnit.SECONDS));
      IOException failure = assertInstanceOf(IOException.class, e.getCause());
      NullPointerException refused =
          assertInstanceOf(NullPointerException.class, failure.getCause(), () -> "failed otherwise: " + failure);
      assertEquals(ForeignContext.nullRegistrationMessage(broken), refused.getMessage());
      assertEquals(0, server.requests.get(), "the call was sent");
    }
  }

  /**
   * An interceptor added in the other kind of slot is refused on the first call, before anything
   * is sent, with an IOException that names the mistake and the fix: the network
   * interceptor as an application interceptor would leave every redirect hop and retry the first
   * hop's stale budget; the application interceptor as a network interceptor would run only once a
   * connection is open (a call under an ended context opens one; a context that ends while
   * connecting is not acted on) and once per hop. Its cause is an IllegalStateException saying
   * the same. {@code execute()} throws it and an enqueued call's callback gets it, once: OkHttp
   * neither retries it nor hands anything to the dispatcher thread's uncaught-exception handler
   * (which it does with any exception of an interceptor that is not an IOException). The call
   * leaves no registration on its context and no connection in use.
   */
  @ParameterizedTest
  @ValueSource(
      strings = {
        "both with addInterceptor, execute",
        "both with addInterceptor, enqueue",
        "both with addNetworkInterceptor, execute",
        "both with addNetworkInterceptor, enqueue"
      })
  void anInterceptorInTheWrongKindOfSlotIsRefusedOnTheFirstCallSayingWhereItGoes(String row) throws Exception {
    boolean application = row.contains("addInterceptor,");
    // The dispatcher's threads report what reaches their uncaught-exception handler: OkHttp hands an
    // interceptor's unchecked exception there, as well as to the callback (as a cancel).
    List<Throwable> uncaught = new CopyOnWriteArrayList<>();
    List<Thread> workers = new CopyOnWriteArrayList<>();
    ThreadPoolExecutor pool =
        new ThreadPoolExecutor(
            0,
            Integer.MAX_VALUE,
            60,
            TimeUnit.SECONDS,
            new SynchronousQueue<>(),
            r -> {
              Thread t = new Thread(r, "misplaced-dispatcher");
              t.setDaemon(true);
              t.setUncaughtExceptionHandler((thread, e) -> uncaught.add(e));
              workers.add(t);
              return t;
            });
    // Counts the runs of the chain in the slot, to show that OkHttp does not retry the refusal.
    AtomicInteger runs = new AtomicInteger();
    Interceptor counting =
        chain -> {
          runs.incrementAndGet();
          return chain.proceed(chain.request());
        };
    OkHttpClient.Builder b = new OkHttpClient.Builder().dispatcher(new Dispatcher(pool));
    OkHttpClient misplaced =
        (application
                ? b.addInterceptor(counting)
                    .addInterceptor(ContextOkHttp.interceptor())
                    .addInterceptor(ContextOkHttp.networkInterceptor())
                : b.addNetworkInterceptor(counting)
                    .addNetworkInterceptor(ContextOkHttp.interceptor())
                    .addNetworkInterceptor(ContextOkHttp.networkInterceptor()))
            .build();
    try (Loopback server = new Loopback(ex -> Loopback.reply(ex, 200, HELLO));
        CancelableContext ctx = Context.withCancel(Context.background())) {
      IOException failure;
      if (row.endsWith("execute")) {
        failure =
            assertThrows(
                IOException.class,
                () -> {
                  try (Response r = misplaced.newCall(at(server.url("/"), ctx)).execute()) {
                    r.body().string();
                  }
                },
                row);
      } else {
        CompletableFuture<String> body = new CompletableFuture<>();
        misplaced.newCall(at(server.url("/"), ctx)).enqueue(Loopback.bodyInto(body));
        ExecutionException e = assertThrows(ExecutionException.class, () -> body.get(20, TimeUnit.SECONDS), row);
        failure = assertInstanceOf(IOException.class, e.getCause(), row);
      }
      IllegalStateException refused =
          assertInstanceOf(IllegalStateException.class, failure.getCause(), () -> row + ": failed otherwise: " + failure);
      String message = refused.getMessage();
      String wrong = application ? "ContextOkHttp.networkInterceptor()" : "ContextOkHttp.interceptor()";
      String right = application ? "addNetworkInterceptor" : "addInterceptor";
      String slot = application ? "an application interceptor" : "a network interceptor";
      for (String part : List.of(wrong, slot, right, "ContextOkHttp.install")) {
        assertTrue(message.contains(part), () -> row + ": the message names no '" + part + "': " + message);
        assertTrue(
            failure.getMessage().contains(part),
            () -> row + ": the caller's IOException names no '" + part + "': " + failure.getMessage());
      }
      assertEquals(1, runs.get(), row + ": the chain in the slot ran again (OkHttp retried the refusal)");
      assertEquals(0, server.requests.get(), row + ": the call was sent");
      assertEquals(0, CoreInternals.registrationCount(ctx), row + ": registrations left");
      assertEquals(
          misplaced.connectionPool().connectionCount(),
          misplaced.connectionPool().idleConnectionCount(),
          row + ": a connection is still in use");
    } finally {
      pool.shutdown();
      misplaced.connectionPool().evictAll();
    }
    // A worker hands an exception to its handler after the pool has counted it out and before the
    // thread ends: so wait for the threads themselves.
    assertTrue(pool.awaitTermination(20, TimeUnit.SECONDS), row + ": the dispatcher did not stop");
    for (Thread t : workers) {
      t.join(TimeUnit.SECONDS.toMillis(20));
      assertFalse(t.isAlive(), row + ": a dispatcher thread is still running");
    }
    assertEquals(List.of(), uncaught, row + ": also reported to the dispatcher thread's uncaught-exception handler");
  }

  /**
   * OkHttp tells a call's listeners one after the other and stops at the first that throws: the
   * client's own listener comes before the one ctx4j adds to the call, so a client listener that
   * throws from {@code callEnd} (or from {@code connectionReleased}, just before) keeps ctx4j from
   * hearing that the call is over. Closing the response must give the registration back all the
   * same, while the caller still holds the response.
   */
  @ParameterizedTest
  @ValueSource(strings = {"callEnd", "connectionReleased"})
  void aClientListenerThrowingAtTheEndOfTheCallLeavesNoRegistrationOnceTheResponseIsClosed(String where)
      throws Exception {
    IllegalStateException failure = new IllegalStateException("a listener that fails in " + where);
    OkHttpClient throwing =
        client
            .newBuilder()
            .eventListener(
                new EventListener() {
                  @Override
                  public void connectionReleased(Call call, Connection connection) {
                    if (where.equals("connectionReleased")) {
                      throw failure;
                    }
                  }

                  @Override
                  public void callEnd(Call call) {
                    if (where.equals("callEnd")) {
                      throw failure;
                    }
                  }
                })
            .build();
    try (Loopback server = new Loopback(ex -> Loopback.reply(ex, 200, HELLO));
        CancelableContext longLived = Context.withTimeout(Context.background(), Duration.ofMinutes(30))) {
      List<Response> kept = new ArrayList<>();
      for (String how : new String[] {"read", "closed unread"}) {
        Response r = throwing.newCall(at(server.url("/" + how.replace(' ', '-')), longLived)).execute();
        kept.add(r);
        assertSame(failure, assertThrows(IllegalStateException.class, how.equals("read") ? r.body()::string : r::close), how);
        r.close(); // as try-with-resources would
        assertEquals(0, CoreInternals.registrationCount(longLived), "the closed response kept its registration: " + how);
      }
      Reference.reachabilityFence(kept);
    }
  }

  // ---------------------------------------------------- a foreign context whose stop() throws

  /**
   * The exchange succeeds, and the read that ends the body ends the call, whose registration ctx4j
   * then gives back: the foreign context's {@code stop()} throws, and the caller gets that, once;
   * the response's connection goes back to the pool.
   */
  @Test
  void aStopThatThrowsAfterTheResponseReachesTheCallerOnceAndFreesTheConnection() throws Exception {
    KeepingContext foreign = new KeepingContext();
    try (Loopback server = new Loopback(ex -> Loopback.reply(ex, 200, HELLO))) {
      Response r = client.newCall(at(server.url("/"), foreign)).execute();
      IllegalStateException e = assertThrows(IllegalStateException.class, r.body()::string);
      assertSame(foreign.stopFailures.get(0), e);
      r.close(); // as try-with-resources would: the registration is given back already
      assertNothingLeftBehind(client, server, foreign);
    }
  }

  /**
   * Guard (passes on the code before it was written; pins the README): a response without a body
   * (204) ends the call before {@code execute()} returns, so the foreign context's {@code stop()}
   * failure comes from {@code execute()}, and the connection goes back to the pool.
   */
  @Test
  void aStopThatThrowsAfterABodilessResponseReachesTheCallerFromExecute() throws Exception {
    KeepingContext foreign = new KeepingContext();
    try (Loopback server =
        new Loopback(
            ex -> {
              boolean next = "/next".equals(ex.getRequestURI().getPath());
              Loopback.reply(ex, next ? 200 : 204, next ? HELLO : new byte[0]);
            })) {
      Call call = client.newCall(at(server.url("/"), foreign));
      IllegalStateException e = assertThrows(IllegalStateException.class, call::execute);
      assertSame(foreign.stopFailures.get(0), e);
      assertNothingLeftBehind(client, server, foreign);
    }
  }

  /**
   * The call fails (the peer drops the connection before its answer, or halfway through the body),
   * and then the foreign context's {@code stop()} throws: the call's own failure goes on, with
   * {@code stop()}'s suppressed on it, and the call keeps no connection.
   */
  @ParameterizedTest
  @ValueSource(strings = {"", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nhello"})
  void aStopThatThrowsAfterAFailedCallLetsTheFailureGoOnAndFreesTheConnection(String answered)
      throws Exception {
    KeepingContext foreign = new KeepingContext();
    OkHttpClient once = client.newBuilder().retryOnConnectionFailure(false).build();
    try (DroppingPeer peer = new DroppingPeer(answered, () -> {});
        Loopback server = new Loopback(ex -> Loopback.reply(ex, 200, HELLO))) {
      IOException e =
          assertThrows(
              IOException.class,
              () -> {
                try (Response r = once.newCall(at(peer.url("/"), foreign)).execute()) {
                  r.body().string();
                }
              });
      assertTrue(
          List.of(e.getSuppressed()).containsAll(foreign.stopFailures),
          () -> "stop()'s failure is not on the call's: " + e);
      peer.done();
      assertNothingLeftBehind(once, server, foreign);
    }
  }

  /**
   * The call left nothing: ctx4j tried to give its registration back once (not once per end of the
   * call it hears of), no connection of {@code used} is still in use, the next call on it goes
   * through, and the end of the context, which kept the call's cancel, changes none of that.
   */
  private static void assertNothingLeftBehind(OkHttpClient used, Loopback server, KeepingContext foreign)
      throws Exception {
    assertEquals(1, foreign.stopFailures.size(), "stop() calls");
    assertEquals(
        used.connectionPool().connectionCount(),
        used.connectionPool().idleConnectionCount(),
        "a connection is still in use");
    foreign.end();
    try (Response r = used.newCall(at(server.url("/next"), Context.background())).execute()) {
      assertEquals("hello", r.body().string());
    }
    assertEquals(1, foreign.stopFailures.size(), "stop() calls");
  }

  /**
   * A foreign context that never ends by itself and keeps every callback it is given; the
   * registrations it hands out cannot be withdrawn: their {@code stop()} throws a new {@code
   * IllegalStateException} each time, kept in {@link #stopFailures}. {@link #end()} runs the kept
   * callbacks, as the context would when it ends.
   */
  private static final class KeepingContext extends ForeignContext {
    private final List<Runnable> kept = new CopyOnWriteArrayList<>();
    /** What each stop() threw, in order; one element per call of stop(). */
    final List<IllegalStateException> stopFailures = new CopyOnWriteArrayList<>();

    @Override
    public Registration onDone(Runnable callback) {
      kept.add(callback);
      return () -> {
        IllegalStateException failure = new IllegalStateException("stop failed");
        stopFailures.add(failure);
        throw failure;
      };
    }

    void end() {
      kept.forEach(Runnable::run);
    }
  }
}
