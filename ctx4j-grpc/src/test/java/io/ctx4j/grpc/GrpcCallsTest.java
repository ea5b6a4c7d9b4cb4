package io.ctx4j.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.testing.Quietly;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptor;
import io.grpc.Contexts;
import io.grpc.EquivalentAddressGroup;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.Status;
import io.grpc.StatusOr;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Real calls over loopback, one behaviour each: who ends a call and what each side's context then
 * says; streaming calls; stubs with deadlines of their own.
 */
@Timeout(120)
class GrpcCallsTest {
  /**
   * For the tests that check that a deadline ends the handler's context with the deadline: an
   * allowance for transit (150 ms) far above loopback's, even loaded. The server's deadline is
   * then earlier than the caller's by at least that less the transit; with the default 10 ms, a
   * request that took longer than that to reach the handler (ci48: the stream test, on a loaded
   * machine) made the server's deadline later than the caller's, whose reset then reached the
   * handler first and ended its context as cancelled.
   */
  private static final ClientInterceptor ROOMY =
      GrpcContexts.clientInterceptor(Duration.ofMillis(150));

  /** The handler's context and how it ended, for one call. */
  private final BlockingQueue<Context> handlerContexts = new ArrayBlockingQueue<>(4);
  private final CountDownLatch entered = new CountDownLatch(1);
  private final BlockingQueue<Long> handlerBudgetMs = new ArrayBlockingQueue<>(4);

  /** Records its context and budget, then waits for the context to end (bounded), then answers. */
  private final ServerCalls.UnaryMethod<String, String> waiting =
      (req, resp) -> {
        Context ctx = GrpcContexts.current();
        handlerBudgetMs.add(
            ctx.deadline().map(d -> Duration.between(Instant.now(), d).toMillis()).orElse(-1L));
        entered.countDown();
        Quietly.await(ctx, Duration.ofSeconds(20));
        handlerContexts.add(ctx);
        try {
          resp.onError(Status.ABORTED.withDescription("gave up").asRuntimeException());
        } catch (RuntimeException alreadyCancelled) {
          // gRPC refuses to answer a call the client has cancelled
        }
      };

  /** Sends one message, then waits for the context to end (bounded). */
  private final ServerCalls.ServerStreamingMethod<String, String> oneThenWait =
      (req, resp) -> {
        Context ctx = GrpcContexts.current();
        resp.onNext("first");
        entered.countDown();
        Quietly.await(ctx, Duration.ofSeconds(20));
        handlerContexts.add(ctx);
        try {
          resp.onCompleted();
        } catch (RuntimeException alreadyCancelled) {
          // cancelled by the client
        }
      };

  @Test
  void aClientCancelEndsTheHandlerContextAndLeavesTheCallersContextLive() throws Exception {
    try (LoopbackGrpc s = new LoopbackGrpc(waiting, oneThenWait);
        CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(1))) {
      Future<String> reply =
          ClientCalls.futureUnaryCall(
              s.channel.newCall(LoopbackGrpc.CALL, GrpcContexts.withContext(CallOptions.DEFAULT, ctx)),
              "x");
      assertTrue(entered.await(10, TimeUnit.SECONDS));
      assertTrue(reply.cancel(true));
      Context handler = handlerContexts.poll(30, TimeUnit.SECONDS);
      assertSame(Context.CANCELED, handler.err());
      assertNull(ctx.err(), "the caller's context was ended by its call");
    }
  }

  @Test
  void aServerErrorEndsTheCallNotTheCallersContext() throws Exception {
    try (LoopbackGrpc s =
            new LoopbackGrpc(
                (req, resp) -> {
                  handlerContexts.add(GrpcContexts.current());
                  resp.onError(Status.ABORTED.withDescription("no").asRuntimeException());
                },
                oneThenWait);
        CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(1))) {
      StatusRuntimeException e = s.callFails(ctx);
      assertEquals(Status.Code.ABORTED, e.getStatus().getCode());
      assertNull(ctx.err());
      Context handler = handlerContexts.poll(10, TimeUnit.SECONDS);
      assertTrue(handler.await(Duration.ofSeconds(10)), "handler context outlived its call");
      assertSame(Context.CANCELED, handler.err());
    }
  }

  @Test
  void cancellingTheContextCancelsAStreamMidwayWithItsCause() throws Exception {
    try (LoopbackGrpc s = new LoopbackGrpc(waiting, oneThenWait)) {
      IllegalStateException why = new IllegalStateException("user pressed stop");
      Status status = cancelMidway(s, why);
      assertEquals(Status.Code.CANCELLED, status.getCode());
      assertSame(why, status.getCause());
      assertSame(Context.CANCELED, handlerContexts.poll(30, TimeUnit.SECONDS).err());
    }
  }

  /** Cancels with {@code why} the context of a stream the handler has answered once; its status. */
  private Status cancelMidway(LoopbackGrpc s, Throwable why) throws InterruptedException {
    CancelableContext ctx = Context.withCancel(Context.background());
    Iterator<String> replies =
        ClientCalls.blockingServerStreamingCall(
            s.channel, LoopbackGrpc.STREAM, GrpcContexts.withContext(CallOptions.DEFAULT, ctx), "x");
    assertEquals("first", replies.next());
    assertTrue(entered.await(10, TimeUnit.SECONDS));
    ctx.cancel(why);
    return assertThrows(StatusRuntimeException.class, replies::hasNext).getStatus();
  }

  /**
   * Causes that gRPC reads as a status of their own: a TimeoutException as DEADLINE_EXCEEDED, a
   * StatusException or StatusRuntimeException anywhere in the cause chain as its status. A context
   * cancelled with one (a sibling call's failure, which a task group cancels the others with)
   * still cancels its calls with CANCELLED.
   */
  static Stream<Throwable> causesGrpcReadsAsAStatus() {
    return Stream.of(
        new TimeoutException("upstream too slow"),
        Status.NOT_FOUND.withDescription("a sibling call failed").asRuntimeException(),
        new IllegalStateException("wrapped", Status.UNAVAILABLE.asException()));
  }

  @ParameterizedTest
  @MethodSource("causesGrpcReadsAsAStatus")
  void aCancelCauseThatGrpcReadsAsAStatusStillCancelsTheCallWithCancelled(Throwable why)
      throws Exception {
    try (LoopbackGrpc s = new LoopbackGrpc(waiting, oneThenWait)) {
      CancelableContext done = Context.withCancel(Context.background());
      done.cancel(why);
      Status atOnce = s.callFails(done).getStatus();
      Status midway = cancelMidway(s, why);
      assertEquals(
          "CANCELLED CANCELLED",
          atOnce.getCode() + " " + midway.getCode(),
          "a call on a context cancelled before it, and one cancelled midway, with " + why);
      for (Status status : List.of(atOnce, midway)) {
        Throwable cause = status.getCause();
        assertTrue(
            cause == why || (cause != null && cause.getCause() == why),
            "the context's cause is not the status's cause, nor its cause: " + cause);
      }
      assertSame(Context.CANCELED, handlerContexts.poll(30, TimeUnit.SECONDS).err());
    }
  }

  @Test
  void aStreamOutlivingItsDeadlineEndsWithTheDeadlineOnBothSides() throws Exception {
    try (LoopbackGrpc s = new LoopbackGrpc(waiting, oneThenWait, ROOMY);
        CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMillis(300))) {
      Iterator<String> replies =
          ClientCalls.blockingServerStreamingCall(
              s.channel, LoopbackGrpc.STREAM, GrpcContexts.withContext(CallOptions.DEFAULT, ctx), "x");
      assertEquals("first", replies.next());
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, replies::hasNext);
      assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
      assertSame(Context.DEADLINE_EXCEEDED, handlerContexts.poll(30, TimeUnit.SECONDS).err());
    }
  }

  /**
   * Calls through a stub bound to {@code ctx} with its own deadline {@code stubDeadline}, asserts
   * that the call and the handler's context end with the deadline exceeded, and returns the budget
   * the handler saw, in milliseconds.
   */
  private long stubCallExceedsItsDeadline(LoopbackGrpc s, Context ctx, Duration stubDeadline)
      throws InterruptedException {
    Stub stub =
        GrpcContexts.bind(new Stub(s.channel).withDeadlineAfter(stubDeadline.toMillis(), TimeUnit.MILLISECONDS), ctx);
    StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> stub.call("x"));
    assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
    long budget = handlerBudgetMs.poll(10, TimeUnit.SECONDS);
    assertSame(Context.DEADLINE_EXCEEDED, handlerContexts.poll(30, TimeUnit.SECONDS).err());
    return budget;
  }

  @Test
  void aStubsSmallerDeadlineGovernsTheCallButNotTheContext() throws Exception {
    try (LoopbackGrpc s = new LoopbackGrpc(waiting, oneThenWait, ROOMY);
        CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(1))) {
      long budget = stubCallExceedsItsDeadline(s, ctx, Duration.ofMillis(300));
      assertTrue(budget >= 0 && budget <= 300, "handler budget " + budget + " ms");
      assertNull(ctx.err(), "the stub's deadline ended the context");
    }
  }

  @Test
  void aStubsOwnDeadlineReachesTheServerNeverLater() throws Exception {
    BlockingQueue<io.grpc.Deadline> seen = new ArrayBlockingQueue<>(1);
    try (LoopbackGrpc s =
            new LoopbackGrpc(
                (req, resp) -> {
                  seen.add(io.grpc.Context.current().getDeadline());
                  resp.onNext(req);
                  resp.onCompleted();
                },
                oneThenWait,
                // The property under test is that the allowance comes off the stub's own deadline
                // too. Any transit under the allowance must pass, and 1 s is one no loaded machine
                // reaches; with no allowance the server's deadline is always later (by the transit).
                GrpcContexts.clientInterceptor(Duration.ofSeconds(1)));
        CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(5))) {
      Stub stub = GrpcContexts.bind(new Stub(s.channel), ctx);
      stub.withDeadlineAfter(1, TimeUnit.MINUTES).call("warm-up");
      seen.clear();
      int later = 0;
      for (int i = 0; i < 20; i++) {
        Stub timed = stub.withDeadlineAfter(1, TimeUnit.MINUTES);
        timed.call("x");
        if (seen.poll(10, TimeUnit.SECONDS).compareTo(timed.getCallOptions().getDeadline()) > 0) {
          later++;
        }
      }
      assertEquals(0, later, "server deadlines later than the stub's, of 20");
    }
  }

  @Test
  void aStubsLargerDeadlineGivesWayToTheContexts() throws Exception {
    try (LoopbackGrpc s = new LoopbackGrpc(waiting, oneThenWait, ROOMY);
        CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMillis(300))) {
      long budget = stubCallExceedsItsDeadline(s, ctx, Duration.ofMinutes(10));
      assertTrue(budget >= 0 && budget < 300, "handler budget " + budget + " ms");
      assertTrue(ctx.await(Duration.ofSeconds(10)));
    }
  }

  @Test
  void aCallPastItsDeadlineFailsAtOnceAndSendsNothing() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    try (LoopbackGrpc s =
        new LoopbackGrpc(
            (req, resp) -> {
              calls.incrementAndGet();
              resp.onNext(req);
              resp.onCompleted();
            },
            oneThenWait)) {
      GrpcConversionsTest.HeldClock clock =
          new GrpcConversionsTest.HeldClock(Instant.parse("2040-01-01T00:00:00Z"));
      IllegalStateException why = new IllegalStateException("spent");
      CancelableContext ctx =
          Context.withDeadlineCause(
              Context.withTimeSource(Context.background(), clock), clock.now().plusSeconds(1), why);
      clock.now = clock.now().plusSeconds(2); // past the deadline; its timer has not fired
      StatusRuntimeException e = s.callFails(ctx);
      assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
      clock.fireAll();
      assertSame(why, e.getStatus().getCause().getCause());
      // Nothing was sent: the next call is the server's first.
      assertEquals("y", s.call("y"));
      assertEquals(1, calls.get());
    }
  }

  @Test
  void aCallWithLessTimeThanTheTransitAllowanceFailsAtOnce() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    try (LoopbackGrpc s =
        new LoopbackGrpc(
            Context.background(),
            (req, resp) -> {
              calls.incrementAndGet();
              resp.onNext(req);
              resp.onCompleted();
            },
            GrpcContexts.clientInterceptor(Duration.ofMinutes(1)));
        CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofSeconds(30))) {
      StatusRuntimeException e = s.callFails(ctx);
      assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
      assertFalse(ctx.isDone());
      assertEquals(0, calls.get());
    }
  }

  /**
   * The bridge registers on the context only when the call starts; a context that ended in between,
   * by a cancel (also under a stub deadline, which the bridge follows through a child made at start)
   * or by its deadline, still fails the call at once, with the status it ended with, and the handler
   * never runs.
   */
  @Test
  void aCallWhoseContextEndsBetweenNewCallAndStartFailsAtOnce() throws Exception {
    try (LoopbackGrpc s = new LoopbackGrpc(waiting, oneThenWait)) {
      CancelableContext cancelled = Context.withCancel(Context.background());
      io.grpc.ClientCall<String, String> plain =
          s.channel.newCall(LoopbackGrpc.CALL, GrpcContexts.withContext(CallOptions.DEFAULT, cancelled));
      io.grpc.ClientCall<String, String> underStubDeadline =
          s.channel.newCall(
              LoopbackGrpc.CALL,
              GrpcContexts.withContext(
                  CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.MINUTES), cancelled));
      CancelableContext timed = Context.withTimeout(Context.background(), Duration.ofMillis(50));
      io.grpc.ClientCall<String, String> pastDeadline =
          s.channel.newCall(LoopbackGrpc.CALL, GrpcContexts.withContext(CallOptions.DEFAULT, timed));
      cancelled.cancel();
      timed.await();
      assertEquals(Status.Code.CANCELLED, startFails(plain));
      assertEquals(Status.Code.CANCELLED, startFails(underStubDeadline));
      assertEquals(Status.Code.DEADLINE_EXCEEDED, startFails(pastDeadline));
      assertEquals(1, entered.getCount(), "a handler ran");
    }
  }

  /**
   * gRPC lets a call be started on another thread than the one that made it (a {@code ClientCall}
   * is not thread-safe: the caller orders its methods, here through the executor's hand-off): the
   * call follows its ctx4j context all the same, as gRPC's own call follows the gRPC context
   * current when it was made, not one current where it starts (here a cancelled one). The context's
   * cancel, or its deadline, ends the call, the bridge registers where the call starts and leaves
   * nothing on the context once the call has closed.
   */
  @ParameterizedTest
  @ValueSource(strings = {"cancelled", "deadline"})
  void aCallMadeOnOneThreadAndStartedOnAnotherFollowsItsContext(String row) throws Exception {
    ExecutorService starter = Executors.newSingleThreadExecutor();
    io.grpc.Context.CancellableContext elsewhere = io.grpc.Context.ROOT.withCancellation();
    elsewhere.cancel(new IllegalStateException("the starting thread's own gRPC context"));
    try (LoopbackGrpc s = new LoopbackGrpc(waiting, oneThenWait);
        CancelableContext ctx =
            row.equals("deadline")
                ? Context.withTimeout(Context.background(), Duration.ofSeconds(1))
                : Context.withCancel(Context.background())) {
      io.grpc.ClientCall<String, String> call =
          s.channel.newCall(LoopbackGrpc.CALL, GrpcContexts.withContext(CallOptions.DEFAULT, ctx));
      Future<String> reply =
          starter
              .submit(
                  () -> {
                    io.grpc.Context previous = elsewhere.attach();
                    try {
                      return ClientCalls.futureUnaryCall(call, "x");
                    } finally {
                      elsewhere.detach(previous);
                    }
                  })
              .get(10, TimeUnit.SECONDS);
      assertTrue(entered.await(10, TimeUnit.SECONDS), row + ": the handler never ran");
      IllegalStateException why = new IllegalStateException("stopped by the test");
      if (row.equals("cancelled")) {
        ctx.cancel(why);
      }
      ExecutionException e = assertThrows(ExecutionException.class, () -> reply.get(20, TimeUnit.SECONDS));
      Status status = Status.fromThrowable(e.getCause());
      if (row.equals("cancelled")) {
        assertEquals(Status.Code.CANCELLED, status.getCode(), row);
        assertSame(why, status.getCause(), row);
      } else {
        assertEquals(Status.Code.DEADLINE_EXCEEDED, status.getCode(), row);
        // The server's deadline, earlier by the transit allowance, may have ended the call first.
        assertTrue(ctx.await(Duration.ofSeconds(10)), row + ": the context outlived its deadline");
        assertSame(Context.DEADLINE_EXCEEDED, ctx.err(), row);
        long budget = handlerBudgetMs.poll(10, TimeUnit.SECONDS);
        assertTrue(budget >= 0 && budget < 1000, row + ": the handler's budget " + budget + " ms");
      }
      assertTrue(handlerContexts.poll(30, TimeUnit.SECONDS).isDone(), row + ": the handler's context lives on");
      assertEquals(0, CoreInternals.registrationCount(ctx), row + ": registrations left on the context");
    } finally {
      starter.shutdown();
      assertTrue(starter.awaitTermination(10, TimeUnit.SECONDS));
    }
  }

  /**
   * A context on a test clock, held still: gRPC gets the time left on that clock (as {@code
   * grpc-timeout} through the client interceptor; as the deadline of {@code fromCtx4j}'s context),
   * and counts it in real time from then, as the server does. So the held clock does not hold the
   * call: it ends {@code DEADLINE_EXCEEDED} once that much real time has passed,
   * while the context still reads live; the converted gRPC context's deadline has then (all but)
   * passed, yet it is not cancelled (no timer of its own) until the clock is advanced past the
   * deadline and the context ends.
   */
  @ParameterizedTest
  @ValueSource(strings = {"clientInterceptor", "fromCtx4j"})
  void aContextOnAHeldTestClockGivesGrpcItsTimeLeftCountedInRealTime(String row) throws Exception {
    ManualTimeSource clock = ManualTimeSource.startingAt(Instant.parse("2040-01-01T00:00:00Z"));
    try (LoopbackGrpc s = new LoopbackGrpc(waiting, oneThenWait);
        CancelableContext ctx =
            Context.withTimeout(
                Context.withTimeSource(Context.background(), clock), Duration.ofSeconds(1))) {
      io.grpc.Context.CancellableContext grpc = GrpcContexts.fromCtx4j(ctx, io.grpc.Context.ROOT);
      try {
        StatusRuntimeException e =
            row.equals("clientInterceptor")
                ? s.callFails(ctx)
                : assertThrows(StatusRuntimeException.class, () -> grpc.call(() -> s.call("x")));
        assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode(), row);
        long budget = handlerBudgetMs.poll(10, TimeUnit.SECONDS);
        assertTrue(budget >= 0 && budget < 1000, row + ": the server's budget " + budget + " ms");
        assertNull(ctx.err(), row + ": the context on its held clock ended");
        // Counted in real time: all but passed (the interceptor's budget is shorter by 10 ms).
        long grpcLeft = grpc.getDeadline().timeRemaining(TimeUnit.MILLISECONDS);
        assertTrue(grpcLeft < 100, row + ": gRPC's deadline is " + grpcLeft + " ms away");
        assertFalse(grpc.isCancelled(), row + ": the gRPC context expired by itself");
        CountDownLatch cancelled = new CountDownLatch(1);
        grpc.addListener(c -> cancelled.countDown(), Runnable::run);
        clock.advance(Duration.ofSeconds(1));
        assertTrue(cancelled.await(10, TimeUnit.SECONDS), row + ": the gRPC context outlived the context");
        assertSame(Context.DEADLINE_EXCEEDED, ctx.err(), row);
        assertEquals(Status.Code.DEADLINE_EXCEEDED, Contexts.statusFromCancelled(grpc).getCode(), row);
      } finally {
        grpc.cancel(null);
      }
    }
  }

  /**
   * A call made while its channel waits for its first name resolution (the channel's first call, or
   * the first after it went idle) is held by gRPC in a delayed call, which follows neither the
   * bridge's lack of a timer nor its cancellation: it fails by a timer of gRPC's own at the deadline
   * sent, the transit allowance (here 200 ms) before the context ends, and a cancel of the context
   * reaches it only once the name is resolved, as it would a gRPC call in a cancelled gRPC context.
   * Either way nothing is left on the context. The call runs on a direct executor, so that a cancel
   * reaching it would have closed it before {@code cancel} returned.
   */
  @ParameterizedTest
  @ValueSource(strings = {"deadline", "cancelled"})
  void aCallWaitingForTheChannelsNameResolutionIsHeldByGrpc(String row) throws Exception {
    try (LoopbackGrpc s = new LoopbackGrpc(waiting, oneThenWait);
        CancelableContext ctx =
            row.equals("deadline")
                ? Context.withTimeout(Context.background(), Duration.ofMillis(400))
                : Context.withCancel(Context.background())) {
      HeldResolution held = new HeldResolution(s.server.getPort());
      ManagedChannel channel = held.channel(GrpcContexts.clientInterceptor(Duration.ofMillis(200)));
      try {
        CompletableFuture<Status> closed = new CompletableFuture<>();
        AtomicReference<ContextException> errAtClose = new AtomicReference<>();
        io.grpc.ClientCall<String, String> call =
            channel.newCall(
                LoopbackGrpc.CALL,
                GrpcContexts.withContext(CallOptions.DEFAULT.withExecutor(Runnable::run), ctx));
        call.start(
            new io.grpc.ClientCall.Listener<>() {
              @Override
              public void onClose(Status status, Metadata trailers) {
                errAtClose.set(ctx.err());
                closed.complete(status);
              }
            },
            new Metadata());
        call.request(1);
        call.sendMessage("x");
        call.halfClose();
        assertTrue(held.asked.await(10, TimeUnit.SECONDS), row + ": the name was never looked up");
        if (row.equals("deadline")) {
          assertEquals(Status.Code.DEADLINE_EXCEEDED, closed.get(10, TimeUnit.SECONDS).getCode());
          assertNull(errAtClose.get(), "the context ended before gRPC's own timer failed the call");
          assertTrue(ctx.await(Duration.ofSeconds(10)), "the context outlived its deadline");
        } else {
          IllegalStateException why = new IllegalStateException("stopped by the test");
          ctx.cancel(why);
          assertFalse(closed.isDone(), "the cancel reached a call waiting for its name");
          held.resolve();
          Status status = closed.get(10, TimeUnit.SECONDS);
          assertEquals(Status.Code.CANCELLED, status.getCode());
          assertSame(why, status.getCause());
        }
        assertEquals(1, entered.getCount(), row + ": a handler ran");
        assertEquals(0, CoreInternals.registrationCount(ctx), row + ": registrations left on the context");
      } finally {
        channel.shutdownNow();
        assertTrue(channel.awaitTermination(10, TimeUnit.SECONDS));
      }
    }
  }

  /**
   * A name resolver for {@code held:///}, as a slow DNS would be: it resolves to the loopback
   * server only when told to.
   */
  private static final class HeldResolution extends NameResolverProvider {
    final CountDownLatch asked = new CountDownLatch(1);
    private final InetSocketAddress server;
    private final CompletableFuture<Runnable> resolver = new CompletableFuture<>();

    HeldResolution(int port) {
      this.server = new InetSocketAddress("127.0.0.1", port);
    }

    @SuppressWarnings("deprecation") // the builder's nameResolverFactory: this channel's own resolver
    ManagedChannel channel(io.grpc.ClientInterceptor interceptor) {
      return NettyChannelBuilder.forTarget("held:///server")
          .nameResolverFactory(this)
          .usePlaintext()
          .intercept(interceptor)
          .build();
    }

    void resolve() throws Exception {
      resolver.get(10, TimeUnit.SECONDS).run();
    }

    @Override
    protected boolean isAvailable() {
      return true;
    }

    @Override
    protected int priority() {
      return 5;
    }

    @Override
    public String getDefaultScheme() {
      return "held";
    }

    @Override
    public NameResolver newNameResolver(URI target, NameResolver.Args args) {
      return new NameResolver() {
        @Override
        public String getServiceAuthority() {
          return "held";
        }

        @Override
        public void start(Listener2 listener) {
          resolver.complete(
              () ->
                  args.getSynchronizationContext()
                      .execute(
                          () ->
                              listener.onResult(
                                  ResolutionResult.newBuilder()
                                      .setAddressesOrError(
                                          StatusOr.fromValue(List.of(new EquivalentAddressGroup(server))))
                                      .build())));
          asked.countDown();
        }

        @Override
        public void shutdown() {}
      };
    }
  }

  private static Status.Code startFails(io.grpc.ClientCall<String, String> call) {
    ExecutionException e =
        assertThrows(
            ExecutionException.class,
            () -> ClientCalls.futureUnaryCall(call, "x").get(10, TimeUnit.SECONDS));
    return Status.fromThrowable(e.getCause()).getCode();
  }

  /** A hand-made stub, as protoc would generate, with one unary method. */
  static final class Stub extends AbstractStub<Stub> {
    Stub(Channel channel) {
      super(channel);
    }

    private Stub(Channel channel, CallOptions options) {
      super(channel, options);
    }

    @Override
    protected Stub build(Channel channel, CallOptions options) {
      return new Stub(channel, options);
    }

    String call(String request) {
      return ClientCalls.blockingUnaryCall(getChannel(), LoopbackGrpc.CALL, getCallOptions(), request);
    }
  }
}
