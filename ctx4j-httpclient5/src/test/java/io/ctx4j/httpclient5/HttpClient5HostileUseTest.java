package io.ctx4j.httpclient5;

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
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.testing.AnotherContextsEnd;
import io.ctx4j.testing.DroppingPeer;
import io.ctx4j.testing.ForeignContext;
import io.ctx4j.testing.InFlight;
import io.ctx4j.testing.IoEnds;
import io.ctx4j.testing.LaggingClock;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.config.RequestConfig;
import org.apache.hc.client5.http.impl.ChainElement;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.CloseableHttpResponse;
import org.apache.hc.client5.http.impl.classic.HttpClientBuilder;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManager;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.client5.http.protocol.HttpClientContext;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.io.entity.ByteArrayEntity;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Unusual and hostile use: a context implemented outside ctx4j whose registrations cannot be
 * withdrawn, a context whose deadline has passed but whose timer has not ended it yet, and a pool
 * with no connection to spare. The client has one pooled connection in all, so a connection that
 * a call keeps makes the next request wait for it, up to its 10 s lease timeout.
 */
@Timeout(120)
class HttpClient5HostileUseTest {
  private final AtomicReference<Throwable> failNextResponse = new AtomicReference<>();
  private final PoolingHttpClientConnectionManager pool = poolOfOne();
  private final CloseableHttpClient client = failingClient(pool, failNextResponse);
  private final ClassicServer server =
      new ClassicServer(
          (request, response, context) ->
              response.setEntity(
                  new ByteArrayEntity(ContextHttpClient5Test.HELLO, ContentType.TEXT_PLAIN)));
  private final ExecutorService callers = Executors.newCachedThreadPool();

  @AfterEach
  void stop() throws Exception {
    callers.shutdownNow();
    assertTrue(callers.awaitTermination(20, TimeUnit.SECONDS));
    client.close();
    server.close();
  }

  private String get(HttpClientContext http) throws IOException {
    return client.execute(new HttpGet(server.url("/")), http, r -> EntityUtils.toString(r.getEntity()));
  }

  // ---------------------------------------------------- a foreign context whose stop() throws

  /**
   * The exchange succeeds, and then the foreign context's {@code stop()} throws: the call throws
   * that, and the response it can no longer return must not keep its connection.
   */
  @Test
  void aStopThatThrowsAfterTheResponseGoesOnAndFreesTheConnection() throws Exception {
    IllegalStateException broken = new IllegalStateException("stop failed");
    KeepingContext foreign = new KeepingContext(broken);
    HttpClientContext plain = HttpClientContext.create(); // runs under the current context
    assertSame(
        broken,
        assertThrows(IllegalStateException.class, () -> CurrentContext.call(foreign, () -> get(plain))));
    assertNothingLeftBehind(foreign, plain);
  }

  /**
   * The exchange fails (a checked exception thrown sneakily by an interceptor, which HttpClient
   * itself does not discard the connection for), and then the foreign context's {@code stop()}
   * throws: the exchange's failure goes on, with {@code stop()}'s suppressed on it.
   */
  @Test
  void aStopThatThrowsAfterAFailureLetsTheFailureGoOnAndFreesTheConnection() throws Exception {
    IllegalStateException broken = new IllegalStateException("stop failed");
    TimeoutException failure = new TimeoutException("a user interceptor gave up");
    failNextResponse.set(failure);
    KeepingContext foreign = new KeepingContext(broken);
    HttpClientContext plain = HttpClientContext.create();
    TimeoutException thrown =
        assertThrows(TimeoutException.class, () -> CurrentContext.call(foreign, () -> get(plain)));
    assertSame(failure, thrown);
    assertTrue(List.of(thrown.getSuppressed()).contains(broken), "stop()'s failure is not reported on it");
    assertNothingLeftBehind(foreign, plain);
  }

  /**
   * A user exec handler, below ctx4j's call handler, fails with another context's end of the shape
   * of ctx4j's, after this request's context has ended: the caller gets this context's end, not the
   * other one's.
   */
  @ParameterizedTest
  @EnumSource(AnotherContextsEnd.Source.class)
  void aHandlersEndOfAnotherContextIsNotTakenForThisRequestsEnd(AnotherContextsEnd.Source source)
      throws Exception {
    try (AnotherContextsEnd user = new AnotherContextsEnd(source);
        CloseableHttpClient nesting =
            ContextHttpClient5.install(HttpClients.custom())
                .addExecInterceptorAfter(
                    ContextHttpClient5.CALL_HANDLER,
                    "nesting",
                    (request, scope, chain) -> {
                      try (ClassicHttpResponse r = chain.proceed(request, scope)) {
                        EntityUtils.consume(r.getEntity());
                      }
                      throw user.endTheCallAndFail(other -> get(ContextHttpClient5.clientContext(other)));
                    })
                .build()) {
      HttpClientContext http = ContextHttpClient5.clientContext(user.callContext());
      user.assertTheCallersEnd(
          assertThrows(
              IOException.class,
              () -> nesting.execute(new HttpGet(server.url("/")), http, r -> EntityUtils.toString(r.getEntity()))));
      assertEquals(1, server.requests.get(), () -> "sent: " + server.seen);
      assertEquals(0, CoreInternals.registrationCount(user.callContext()), "a registration left on the context");
    }
  }

  /**
   * A custom context whose {@code onDone} returns null breaks its contract: the call fails before
   * anything is sent, with the core's message (as ctx4j-okhttp's does), not with a bare
   * NullPointerException after the exchange, whose response is then lost.
   */
  @Test
  void aCustomContextWhoseOnDoneReturnsNullFailsTheCallEarlySayingSo() throws Exception {
    Context broken = ForeignContext.returningNullFromOnDone();
    HttpClientContext http = ContextHttpClient5.clientContext(broken);
    NullPointerException e = assertThrows(NullPointerException.class, () -> get(http));
    assertEquals(ForeignContext.nullRegistrationMessage(broken), e.getMessage());
    assertEquals(0, server.requests.get(), "the call was sent");
    assertEquals(
        "hello",
        get(ContextHttpClient5.clientContext(Context.background())),
        "the connection of the failed call must be free");
  }

  /**
   * The call handler added where the hop handler goes (below {@code ConnectExec}, which has leased
   * and connected the connection by then) cannot work there: its fork of the runtime has no
   * connection, and HttpClient failed every request with its own {@code IllegalStateException:
   * Endpoint not acquired / already released}, which names neither ctx4j nor the fix. It is
   * refused, before anything is sent and before it registers on its context, saying where it goes;
   * a copy below one that {@code install} put first still only passes the request on.
   */
  @ParameterizedTest
  @ValueSource(strings = {"last", "after CONNECT"})
  void aCallHandlerBelowTheConnectionsLeaseIsRefusedSayingWhereItGoes(String where) throws Exception {
    // Shared: closing this client leaves the pool to the others.
    HttpClientBuilder builder = HttpClients.custom().setConnectionManager(pool).setConnectionManagerShared(true);
    if (where.equals("last")) {
      builder.addExecInterceptorLast("mine", ContextHttpClient5.callHandler());
    } else {
      builder.addExecInterceptorAfter(ChainElement.CONNECT.name(), "mine", ContextHttpClient5.callHandler());
    }
    builder.addExecInterceptorLast(ContextHttpClient5.HOP_HANDLER, ContextHttpClient5.hopHandler());
    try (CloseableHttpClient misplaced = builder.build();
        CancelableContext ctx = Context.withCancel(Context.background())) {
      IllegalStateException e =
          assertThrows(
              IllegalStateException.class,
              () -> misplaced.execute(new HttpGet(server.url("/")), ContextHttpClient5.clientContext(ctx),
                  r -> EntityUtils.toString(r.getEntity())),
              where);
      assertTrue(
          e.getMessage().contains("ContextHttpClient5.callHandler()")
              && e.getMessage().contains("addExecInterceptorFirst"),
          where + ": " + e.getMessage());
      assertEquals(0, server.requests.get(), where + ": the request was sent");
      assertEquals(0, CoreInternals.registrationCount(ctx), where + ": a registration left on the context");
      assertEquals(0, pool.getTotalStats().getLeased(), where + ": a connection left leased");
      assertFalse(Thread.interrupted(), where + ": the caller left interrupted");
    }
    HttpClientBuilder twice =
        ContextHttpClient5.install(HttpClients.custom().setConnectionManager(pool).setConnectionManagerShared(true));
    try (CloseableHttpClient both =
        twice.addExecInterceptorLast("mine", ContextHttpClient5.callHandler()).build()) {
      assertEquals(
          "hello",
          both.execute(new HttpGet(server.url("/")), ContextHttpClient5.clientContext(Context.background()),
              r -> EntityUtils.toString(r.getEntity())),
          where + ": a copy below install's must pass the request on");
    }
  }

  /**
   * The call handler added just above {@code ConnectExec} ({@code addExecInterceptorBefore
   * "CONNECT"}), below {@code ProtocolExec}: a request that needs no authentication goes through,
   * but at a 401 {@code ProtocolExec} asks its own runtime whether the connection is reusable, gets
   * no (the connection is on the handler's fork), drops the 401 unread and sends the next round.
   * That connection stayed leased for good, with the round's registration: on a pool of one the
   * next round waited out the lease timeout. The handler now finds its previous round of the
   * exchange still holding its connection, discards it, releases the registration and refuses,
   * saying where it goes.
   */
  @Test
  void aCallHandlerBelowTheAuthenticationHandlerIsRefusedAtItsRoundLeavingNothingLeased() throws Exception {
    try (ClassicServer guarded =
            new ClassicServer(
                (request, response, context) -> {
                  if (request.getFirstHeader("Authorization") == null) {
                    response.setCode(401);
                    response.setHeader("WWW-Authenticate", "Basic realm=\"ctx4j\"");
                  }
                  response.setEntity(new ByteArrayEntity(ContextHttpClient5Test.HELLO, ContentType.TEXT_PLAIN));
                });
        CloseableHttpClient misplaced =
            HttpClients.custom()
                .setConnectionManager(pool)
                .setConnectionManagerShared(true)
                .setDefaultCredentialsProvider(ContextHttpClient5Test.userAndSecret())
                .setDefaultRequestConfig(
                    RequestConfig.custom()
                        .setConnectionRequestTimeout(org.apache.hc.core5.util.Timeout.ofMilliseconds(500))
                        .build())
                .addExecInterceptorBefore(ChainElement.CONNECT.name(), "mine", ContextHttpClient5.callHandler())
                .addExecInterceptorLast(ContextHttpClient5.HOP_HANDLER, ContextHttpClient5.hopHandler())
                .build();
        CancelableContext ctx = Context.withCancel(Context.background())) {
      IllegalStateException e =
          assertThrows(
              IllegalStateException.class,
              () -> misplaced.execute(new HttpGet(guarded.url("/")), ContextHttpClient5.clientContext(ctx),
                  r -> EntityUtils.toString(r.getEntity())));
      assertTrue(
          e.getMessage().contains("ContextHttpClient5.callHandler()")
              && e.getMessage().contains("addExecInterceptorFirst"),
          e.getMessage());
      assertEquals(1, guarded.requests.get(), "the request that needs no authentication goes out");
      assertEquals(0, pool.getTotalStats().getLeased(), "the 401's connection left leased");
      assertEquals(0, CoreInternals.registrationCount(ctx), "the 401's registration left on the context");
      assertFalse(Thread.interrupted(), "the caller left interrupted");
    }
  }

  /**
   * The failed call left nothing: its context is gone from the caller's {@code HttpClientContext},
   * the pool's one connection is free, and the end of the context, which kept the callbacks,
   * interrupts nobody.
   */
  private void assertNothingLeftBehind(KeepingContext foreign, HttpClientContext plain) throws Exception {
    assertNull(
        plain.getAttribute(ContextHttpClient5.CONTEXT_ATTRIBUTE),
        "the failed call left its context on the HttpClientContext");
    assertEquals(
        "hello",
        get(ContextHttpClient5.clientContext(Context.background())),
        "the connection of the failed call must be free");
    foreign.end();
    assertFalse(Thread.interrupted(), "the end of the context interrupted the caller after the call");
    assertEquals("hello", get(plain));
  }

  /**
   * A foreign context that never ends by itself and keeps every callback it is given; the
   * registrations it hands out cannot be withdrawn: their {@code stop()} throws {@code stopFailure}.
   * {@link #end()} runs the kept callbacks, as the context would when it ends.
   */
  private static final class KeepingContext extends ForeignContext {
    private final Throwable stopFailure;
    private final List<Runnable> kept = new CopyOnWriteArrayList<>();

    KeepingContext(Throwable stopFailure) {
      this.stopFailure = stopFailure;
    }

    @Override
    public Registration onDone(Runnable callback) {
      kept.add(callback);
      return () -> {
        throw HttpClient5HostileUseTest.<RuntimeException>sneaky(stopFailure);
      };
    }

    void end() {
      kept.forEach(Runnable::run);
    }
  }

  /**
   * A ctx4j client whose connections are {@code pool}'s (a lease waits up to 10 s) and whose
   * response interceptor throws, once, what {@code failNext} holds, if anything: as thrown, a
   * checked exception included (thrown sneakily, as Kotlin code or a sneaky-throw helper can).
   */
  static CloseableHttpClient failingClient(
      PoolingHttpClientConnectionManager pool, AtomicReference<Throwable> failNext) {
    return ContextHttpClient5.install(HttpClients.custom())
        .setConnectionManager(pool)
        .setDefaultRequestConfig(
            RequestConfig.custom()
                .setConnectionRequestTimeout(org.apache.hc.core5.util.Timeout.ofSeconds(10))
                .build())
        .addResponseInterceptorLast(
            (response, entity, context) -> {
              Throwable failure = failNext.getAndSet(null);
              if (failure != null) {
                throw HttpClient5HostileUseTest.<RuntimeException>sneaky(failure);
              }
            })
        .build();
  }

  /** A pool of one connection in all. */
  static PoolingHttpClientConnectionManager poolOfOne() {
    return PoolingHttpClientConnectionManagerBuilder.create().setMaxConnTotal(1).setMaxConnPerRoute(1).build();
  }

  @SuppressWarnings("unchecked")
  private static <E extends Throwable> E sneaky(Throwable t) throws E {
    throw (E) t;
  }

  // ------------------------------------------------------------------------- a full pool

  /**
   * Starts a request under {@code ctx} on another thread and returns it once it waits for the
   * pool's connection, which the caller holds: the pool has a lease pending.
   */
  private CompletableFuture<String> waitingForThePool(Context ctx) {
    CompletableFuture<String> waiting =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return get(ContextHttpClient5.clientContext(ctx));
              } catch (IOException e) {
                throw new CompletionException(e);
              }
            },
            callers);
    long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (pool.getTotalStats().getPending() == 0) {
      assertTrue(System.nanoTime() < giveUp, "the second request never waited for the connection");
      assertFalse(waiting.isDone(), () -> "the second request ended without waiting: " + waiting);
      Thread.yield();
    }
    return waiting;
  }

  /**
   * Guard (passes on the code before it was written; pins the README's "while waiting for a pooled
   * connection"): the pool's one connection is held by an open response, a second request waits
   * for it, and its context ends: the wait ends at once with the context's error, long before the
   * lease timeout.
   */
  @Test
  void aContextEndingWhileTheRequestWaitsForAPooledConnectionEndsTheWait() throws Exception {
    try (CloseableHttpResponse held =
            client.execute(new HttpGet(server.url("/")), ContextHttpClient5.clientContext(Context.background()));
        CancelableContext ctx = Context.withCancelCause(Context.background())) {
      CompletableFuture<String> waiting = waitingForThePool(ctx);
      CountDownLatch leaseWaits = new CountDownLatch(1);
      leaseWaits.countDown();
      InFlight.cancelFailsTheRequest(
          leaseWaits, ctx, new IllegalStateException("gave up"), waiting, InterruptedIOException.class);
      assertEquals(200, held.getCode());
    }
    assertEquals(
        "hello",
        get(ContextHttpClient5.clientContext(Context.background())),
        "the connection given back must go to a new request, not to the cancelled lease");
  }

  /**
   * Guard (passes on the code before it was written; pins the README's "after the connection has
   * been leased"): the pool's one connection is held by an open response while a second request
   * waits for it and a clock whose timers never fire passes 3 s of 10, or 2 s of 1. The hop handler
   * runs below {@code ConnectExec}, which leases the connection, so the request states the time
   * left after the wait, and one whose deadline passed during it is not sent.
   */
  @ParameterizedTest
  @ValueSource(strings = {"waited 3 s", "waited past the deadline"})
  void aRequestThatWaitedForAPooledConnectionStatesTheTimeLeftAfterTheWait(String what) throws Exception {
    boolean past = what.endsWith("deadline");
    LaggingClock clock = new LaggingClock();
    CompletableFuture<String> waiting;
    try (CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(past ? 1 : 10))) {
      try (CloseableHttpResponse held =
          client.execute(new HttpGet(server.url("/held")), ContextHttpClient5.clientContext(Context.background()))) {
        waiting = waitingForThePool(ctx);
        clock.pass(Duration.ofSeconds(past ? 2 : 3));
        assertEquals(200, held.getCode());
      } // gives the connection up: the waiting lease gets one
      if (past) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> waiting.get(30, TimeUnit.SECONDS));
        assertDeadlinePassed(assertInstanceOf(InterruptedIOException.class, e.getCause()));
        assertNull(ctx.err(), "the clock fired the timer");
        assertEquals(List.of("/held=-"), List.copyOf(server.seen), "the budgets the server saw");
      } else {
        assertEquals("hello", waiting.get(30, TimeUnit.SECONDS));
        // The clock moves only by pass(): the budget is exact.
        assertEquals(List.of("/held=-", "/=6995"), List.copyOf(server.seen), "the budgets the server saw");
      }
      assertEquals(0, CoreInternals.registrationCount(ctx), "a registration left on the context");
    }
    assertEquals("hello", get(ContextHttpClient5.clientContext(Context.background())), "a later call");
  }

  // ------------------------------------------- a deadline passed that no timer has ended yet

  /** The request failed with the deadline's error, before its timer: no cause known yet. */
  private static void assertDeadlinePassed(InterruptedIOException e) {
    DeadlineExceededException err =
        assertInstanceOf(DeadlineExceededException.class, e.getCause(), () -> "failed otherwise: " + e);
    assertNull(err.getCause());
    IoEnds.assertMadeOnce(e); // not mapped again by the call handler, the hop's suppressed
  }

  /**
   * A custom context whose clock steps back just after its deadline: the request is refused, unsent,
   * for the deadline the context reported first, whatever it says when asked again.
   */
  @Test
  void aRequestIsRefusedForTheDeadlineItsContextReportedFirstThoughItsClockStepsBack() throws Exception {
    assertDeadlinePassed(
        assertThrows(
            InterruptedIOException.class,
            () -> get(ContextHttpClient5.clientContext(ForeignContext.steppingBack()))));
    assertEquals(0, server.requests.get(), "a request past its deadline was sent: " + server.seen);
  }

  /**
   * Between a context's deadline and the moment its timer ends it, err() is still null while
   * remaining() is not positive; a clock whose timers never fire holds a real context there. A
   * request in that state must fail unsent, as one whose context has ended, not go out with a
   * budget of 0.
   */
  @Test
  void aRequestWhoseDeadlineHasPassedIsNotSentThoughTheTimerHasNotEndedTheContextYet() throws Exception {
    LaggingClock clock = new LaggingClock();
    try (CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(1))) {
      clock.pass(Duration.ofSeconds(2));
      assertNull(ctx.err(), "the clock fired the timer");
      assertDeadlinePassed(
          assertThrows(InterruptedIOException.class, () -> get(ContextHttpClient5.clientContext(ctx))));
      assertDeadlinePassed(
          assertThrows(
              InterruptedIOException.class,
              () -> CurrentContext.call(ctx, () -> get(HttpClientContext.create()))));
      assertEquals(0, server.requests.get(), "a request past its deadline was sent: " + server.seen);
      assertEquals(0, CoreInternals.registrationCount(ctx), "a registration left on the context");
    }
  }

  /**
   * The exchange fails (the peer drops the connection before its answer, or halfway through the
   * body) after the deadline has passed but before the timer has ended the context: the caller gets
   * the deadline's error, as when the timer is on time, not the transport's own failure; and the
   * pool's one connection is free again. With automatic retries on, a connection dropped before
   * the answer is retried, and the retry is refused for its deadline (that row passed before too);
   * without them, and for a body cut short, the transport's failure reached the caller.
   */
  @ParameterizedTest
  @CsvSource({
    "'', true",
    "'', false",
    "'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nhello', true"
  })
  void anExchangeThatFailsPastTheDeadlineFailsWithTheDeadlineThoughTheTimerHasNotEndedTheContextYet(
      String answered, boolean retries) throws Exception {
    LaggingClock clock = new LaggingClock();
    HttpClientBuilder builder =
        ContextHttpClient5.install(HttpClients.custom())
            .setConnectionManager(pool)
            .setConnectionManagerShared(true); // the pool stays for the check at the end
    if (!retries) {
      builder.disableAutomaticRetries();
    }
    try (CloseableHttpClient used = builder.build();
        CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(1));
        DroppingPeer peer =
            new DroppingPeer(answered, () -> clock.pass(Duration.ofSeconds(2)))) {
      InterruptedIOException e =
          assertThrows(
              InterruptedIOException.class,
              () ->
                  used.execute(
                      new HttpGet(peer.url("/")),
                      ContextHttpClient5.clientContext(ctx),
                      r -> EntityUtils.toString(r.getEntity())));
      assertNull(ctx.err(), "the clock fired the timer");
      assertDeadlinePassed(e);
      peer.done();
      assertEquals(0, CoreInternals.registrationCount(ctx), "a registration left on the context");
    }
    assertEquals(
        "hello",
        get(ContextHttpClient5.clientContext(Context.background())),
        "the failed exchange's connection must be free");
  }

  /**
   * The same state reached below the call handler: a redirect hop or a retry after the first
   * request was sent in time must not be sent, and its leased connection (the pool's only one) must
   * be free again.
   */
  @ParameterizedTest
  @ValueSource(strings = {"redirect", "retry"})
  void aHopPastTheDeadlineIsNotSentThoughTheTimerHasNotEndedTheContextYet(String hop) throws Exception {
    LaggingClock clock = new LaggingClock();
    try (ClassicServer hops =
            new ClassicServer(
                (request, response, context) -> {
                  if (request.getPath().equals("/first")) {
                    clock.pass(Duration.ofSeconds(2)); // past the 1 s deadline, no timer fired
                    if (hop.equals("redirect")) {
                      response.setCode(302);
                      response.setHeader("Location", "/target");
                    } else {
                      response.setCode(503); // the default strategy retries it once
                      response.setHeader("Retry-After", "0");
                    }
                  } else {
                    response.setEntity(new ByteArrayEntity(ContextHttpClient5Test.HELLO, ContentType.TEXT_PLAIN));
                  }
                });
        CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(1))) {
      assertDeadlinePassed(
          assertThrows(
              InterruptedIOException.class,
              () ->
                  client.execute(
                      new HttpGet(hops.url("/first")),
                      ContextHttpClient5.clientContext(ctx),
                      r -> EntityUtils.toString(r.getEntity()))));
      assertNull(ctx.err(), "the clock fired the timer");
      assertEquals("/first=995", hops.seen.take());
      assertEquals(1, hops.requests.get(), "the " + hop + " was sent past the deadline: " + hops.seen);
      assertEquals(0, CoreInternals.registrationCount(ctx), "a registration left on the context");
    }
    assertEquals(
        "hello",
        get(ContextHttpClient5.clientContext(Context.background())),
        "the connection leased for the refused " + hop + " must be free");
  }
}
