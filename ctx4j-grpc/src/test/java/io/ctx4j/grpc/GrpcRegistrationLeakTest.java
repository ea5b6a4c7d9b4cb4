package io.ctx4j.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.stub.ClientCalls;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Completed calls and closed conversions leave no registration behind on long-lived contexts of
 * either library. The core's count comes through its internal accessor (CoreInternals); gRPC's
 * package-private listenerCount() is read by reflection, to keep the tests out of gRPC's package.
 * Both are exact structural counts.
 */
@Timeout(300)
class GrpcRegistrationLeakTest {
  private static final int CALLS = 50;
  private static final int CONVERSIONS = 100_000;

  /** The number of listeners on {@code grpc}'s cancellable ancestor, as grpc-java counts them. */
  static int listenerCount(io.grpc.Context grpc) {
    try {
      Method m = io.grpc.Context.class.getDeclaredMethod("listenerCount");
      m.setAccessible(true);
      return (Integer) m.invoke(grpc);
    } catch (ReflectiveOperationException e) {
      throw new AssertionError("grpc-java's Context.listenerCount() is gone", e);
    }
  }

  @Test
  void ctx4jBoundCallsInAHandlerLeaveAsManyGrpcListenersAsPlainCalls() throws Exception {
    int calls = 1_000;
    BlockingQueue<String> counts = new ArrayBlockingQueue<>(1);
    try (LoopbackAccess.Server downstream =
            LoopbackAccess.start(
                Context.background(),
                (req, resp) -> {
                  resp.onNext(req);
                  resp.onCompleted();
                });
        LoopbackAccess.Server handler =
            LoopbackAccess.start(
                Context.background(),
                (req, resp) -> {
                  io.grpc.Context here = io.grpc.Context.current();
                  int before = listenerCount(here);
                  for (int i = 0; i < calls; i++) {
                    ClientCalls.blockingUnaryCall(downstream.channel(), LoopbackAccess.CALL, CallOptions.DEFAULT, "p");
                  }
                  int afterPlain = listenerCount(here);
                  Context ctx = GrpcContexts.current();
                  for (int i = 0; i < calls; i++) {
                    ClientCalls.blockingUnaryCall(
                        downstream.channel(),
                        LoopbackAccess.CALL,
                        GrpcContexts.withContext(CallOptions.DEFAULT, ctx),
                        "c");
                  }
                  int afterCtx4j = listenerCount(here);
                  counts.add(before + " " + afterPlain + " " + afterCtx4j);
                  resp.onNext("done");
                  resp.onCompleted();
                })) {
      assertEquals(
          "done",
          ClientCalls.blockingUnaryCall(handler.channel(), LoopbackAccess.CALL, CallOptions.DEFAULT, "go"));
      String[] c = counts.poll(10, TimeUnit.SECONDS).split(" ");
      assertEquals(c[0], c[1], "plain calls left listeners (before, after plain calls)");
      assertEquals(c[1], c[2], "ctx4j-bound calls left listeners on the handler's gRPC context");
    }
  }

  @Test
  void closedFromCtx4jConversionsLeaveNothingOnLongLivedContexts() {
    CancelableContext ctx = Context.withCancel(Context.background());
    io.grpc.Context.CancellableContext grpc = io.grpc.Context.ROOT.withCancellation();
    io.grpc.Context grpcChild = grpc.withValue(io.grpc.Context.key("k"), "v");
    CancelableContext timed = Context.withTimeout(Context.background(), Duration.ofMinutes(5));
    try {
      for (int i = 0; i < CONVERSIONS; i++) {
        GrpcContexts.fromCtx4j(ctx, grpc).close();
        GrpcContexts.fromCtx4j(timed, grpcChild).close();
      }
      assertEquals(0, listenerCount(grpc), "gRPC listeners left on the long-lived gRPC context");
      assertEquals(0, CoreInternals.registrationCount(ctx), "registrations left on the long-lived ctx4j context");
      assertEquals(0, CoreInternals.registrationCount(timed), "registrations left on the long-lived ctx4j context");
    } finally {
      grpc.cancel(null);
      ctx.cancel();
      timed.cancel();
    }
  }

  /**
   * Runs {@code conversions} on a long-lived ctx4j parent and a long-lived gRPC context, then
   * asserts that neither holds a registration or listener any more.
   */
  private static void leaveNothingOnLongLivedParents(
      BiConsumer<CancelableContext, io.grpc.Context.CancellableContext> conversions) {
    CancelableContext parent = Context.withCancel(Context.background());
    io.grpc.Context.CancellableContext grpc = io.grpc.Context.ROOT.withCancellation();
    try {
      conversions.accept(parent, grpc);
      assertEquals(0, listenerCount(grpc), "gRPC listeners left on the long-lived gRPC context");
      assertEquals(0, CoreInternals.registrationCount(parent), "registrations left on the long-lived ctx4j parent");
    } finally {
      grpc.cancel(null);
      parent.cancel();
    }
  }

  @Test
  void closedToCtx4jConversionsLeaveNothingOnLongLivedContexts() {
    leaveNothingOnLongLivedParents(
        (parent, grpc) -> {
          io.grpc.Context grpcChild = grpc.withValue(io.grpc.Context.key("k"), "v");
          for (int i = 0; i < CONVERSIONS; i++) {
            GrpcContexts.toCtx4j(grpc, parent).close();
            GrpcContexts.toCtx4j(grpcChild, parent).close();
          }
        });
  }

  @Test
  void conversionsEndedFromTheOtherSideLeaveNothingEither() {
    leaveNothingOnLongLivedParents(
        (parent, grpc) -> {
          for (int i = 0; i < 10_000; i++) {
            CancelableContext c = Context.withCancel(parent);
            io.grpc.Context.CancellableContext g = GrpcContexts.fromCtx4j(c, grpc);
            c.cancel(); // ends g
            // Top-level: grpc-java 1.85.1 never withdraws what a cancellable child that was listened
            // to adds to its own parent (a plain gRPC call in such a child leaves the same).
            io.grpc.Context.CancellableContext h = io.grpc.Context.ROOT.withCancellation();
            CancelableContext d = GrpcContexts.toCtx4j(h, parent);
            h.cancel(null); // ends d
            assertTrue(g.isCancelled() && d.isDone());
          }
        });
  }

  /**
   * A call that an interceptor above ours never starts (a circuit breaker, a local cache) needs no
   * cleanup in gRPC, which registers nothing before start; ours registers nothing before it either.
   * Both kinds of bridge: on the context's deadline, and on a stub deadline that is earlier.
   */
  @Test
  void callsNeverStartedLeaveNothingOnALongLivedContext() throws Exception {
    CancelableContext plain = Context.withCancel(Context.background());
    CancelableContext timed = Context.withTimeout(Context.background(), Duration.ofMinutes(10));
    try (LoopbackGrpc s =
        new LoopbackGrpc(
            (req, resp) -> {
              resp.onNext(req);
              resp.onCompleted();
            })) {
      CallOptions onPlain = GrpcContexts.withContext(CallOptions.DEFAULT, plain);
      for (int i = 0; i < CONVERSIONS; i++) {
        s.channel.newCall(LoopbackGrpc.CALL, onPlain);
        s.channel.newCall(
            LoopbackGrpc.CALL,
            GrpcContexts.withContext(CallOptions.DEFAULT.withDeadlineAfter(5, TimeUnit.MINUTES), timed));
      }
      assertEquals(0, CoreInternals.registrationCount(plain), "registrations left by unstarted calls");
      assertEquals(0, CoreInternals.registrationCount(timed), "registrations left by unstarted calls");
      assertEquals("x", s.call(plain, "x"));
      assertEquals("y", s.call(timed, "y"));
      assertEquals(0, CoreInternals.registrationCount(plain), "registrations left by a completed call");
      assertEquals(0, CoreInternals.registrationCount(timed), "registrations left by a completed call");
    } finally {
      plain.cancel();
      timed.cancel();
    }
  }

  @Test
  void completedCallsReleaseTheirRegistrationsOnBothSides() throws Exception {
    CancelableContext serverRoot = Context.withCancel(Context.background());
    CancelableContext clientParent =
        Context.withTimeout(Context.background(), Duration.ofMinutes(5));
    CountDownLatch handlerContextsEnded = new CountDownLatch(CALLS);
    try (LoopbackAccess.Server s =
        LoopbackAccess.start(
            serverRoot,
            (req, resp) -> {
              GrpcContexts.current().onDone(handlerContextsEnded::countDown);
              resp.onNext(req);
              resp.onCompleted();
            })) {
      ManagedChannel channel = s.channel();
      for (int i = 0; i < CALLS; i++) {
        assertEquals(
            "x" + i,
            ClientCalls.blockingUnaryCall(
                channel, LoopbackAccess.CALL, GrpcContexts.withContext(CallOptions.DEFAULT, clientParent), "x" + i));
      }
      assertEquals(0, CoreInternals.registrationCount(clientParent), "client-side bridges left registered");
      assertTrue(handlerContextsEnded.await(10, TimeUnit.SECONDS), "handler contexts outlived calls");
      assertEquals(0, CoreInternals.registrationCount(serverRoot), "handler contexts left on the server root");
    } finally {
      clientParent.cancel();
      serverRoot.cancel();
    }
  }

  @Test
  void racingEndsFromBothSidesRunCallbacksOnceAndLeaveNothing() throws Exception {
    CancelableContext parent = Context.withCancel(Context.background());
    io.grpc.Context.CancellableContext grpc = io.grpc.Context.ROOT.withCancellation();
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      for (int i = 0; i < 2_000; i++) {
        // toCtx4j: its owner closes it while gRPC cancels it.
        io.grpc.Context.CancellableContext call = io.grpc.Context.ROOT.withCancellation();
        CancelableContext handler = GrpcContexts.toCtx4j(call, parent);
        AtomicInteger runs = new AtomicInteger();
        handler.onDone(runs::incrementAndGet);
        IllegalStateException why = new IllegalStateException("gone");
        race(pool, handler::close, () -> call.cancel(why));
        assertEquals(1, runs.get());
        Throwable cause = handler.cause();
        assertTrue(cause == why || cause == Context.CANCELED, "cause " + cause);
        // fromCtx4j: its ctx4j context ends while its owner closes it.
        CancelableContext c = Context.withCancel(parent);
        io.grpc.Context.CancellableContext g = GrpcContexts.fromCtx4j(c, grpc);
        race(pool, c::cancel, g::close);
        assertTrue(g.isCancelled());
      }
      assertEquals(0, listenerCount(grpc), "gRPC listeners left on the long-lived gRPC context");
      assertEquals(0, CoreInternals.registrationCount(parent), "registrations left on the long-lived ctx4j parent");
    } finally {
      pool.shutdownNow();
      grpc.cancel(null);
      parent.cancel();
    }
  }

  private static void race(ExecutorService pool, Runnable a, Runnable b) throws Exception {
    CyclicBarrier start = new CyclicBarrier(2);
    Future<?> fa = pool.submit(() -> { await(start); a.run(); });
    Future<?> fb = pool.submit(() -> { await(start); b.run(); });
    fa.get(10, TimeUnit.SECONDS);
    fb.get(10, TimeUnit.SECONDS);
  }

  private static void await(CyclicBarrier barrier) {
    try {
      barrier.await(10, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }
}
