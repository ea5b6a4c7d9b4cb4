package io.ctx4j.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.testing.Quietly;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Three gRPC services on loopback, A calls B calls C, each under the ctx4j interceptors. */
class GrpcChainTest {
  private static final long NO_DEADLINE = Long.MIN_VALUE;
  // Each hop's deadline must come before the previous hop's, or the previous hop ends first and C
  // ends "canceled". That holds while a hop's transit stays under the allowance; the default 10 ms
  // was exceeded on a loaded CI machine, 50 ms keeps a wide margin inside A's 300 ms.
  private static final io.grpc.ClientInterceptor TRANSIT =
      GrpcContexts.clientInterceptor(Duration.ofMillis(50));

  private final ConcurrentHashMap<String, Long> remainingMs = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Object> ended = new ConcurrentHashMap<>();
  private final CountDownLatch allReturned = new CountDownLatch(3);
  private final CountDownLatch cEntered = new CountDownLatch(1);

  static String call(ManagedChannel channel, Context ctx, String request) {
    return ClientCalls.blockingUnaryCall(
        channel, LoopbackGrpc.CALL, GrpcContexts.withContext(CallOptions.DEFAULT, ctx), request);
  }

  /** A hop: records its budget, calls the next hop (C waits for its context), records how it ended. */
  private ServerCalls.UnaryMethod<String, String> hop(String name, AtomicReference<ManagedChannel> next) {
    return (request, response) -> {
      if (request.equals("ping")) {
        response.onNext("pong");
        response.onCompleted();
        return;
      }
      Context ctx = GrpcContexts.current();
      try {
        remainingMs.put(name, ctx.deadline().map(d -> Duration.between(java.time.Instant.now(), d).toMillis()).orElse(NO_DEADLINE));
        if (next.get() == null) {
          cEntered.countDown();
          ctx.await();
        } else {
          call(next.get(), ctx, request);
        }
      } catch (StatusRuntimeException | InterruptedException expected) {
        // the downstream call was cancelled with us
      } finally {
        // The next hop's budget is rounded down, so its failure can come back a few milliseconds
        // before this hop's own deadline; give that deadline a bounded moment to fire.
        Quietly.await(ctx, Duration.ofSeconds(5));
        ended.put(name, ctx.err() == null ? "live" : ctx.err());
        allReturned.countDown();
        try {
          response.onError(Status.ABORTED.withDescription(name + " gave up").asRuntimeException());
        } catch (RuntimeException alreadyCancelled) {
          // gRPC refuses to answer a call the client has cancelled
        }
      }
    };
  }

  private void runChain(ChainBody body) throws Exception {
    AtomicReference<ManagedChannel> none = new AtomicReference<>();
    AtomicReference<ManagedChannel> toC = new AtomicReference<>();
    AtomicReference<ManagedChannel> toB = new AtomicReference<>();
    try (LoopbackGrpc c = new LoopbackGrpc(Context.background(), hop("C", none), TRANSIT);
        LoopbackGrpc b = new LoopbackGrpc(Context.background(), hop("B", toC), TRANSIT);
        LoopbackGrpc a = new LoopbackGrpc(Context.background(), hop("A", toB), TRANSIT)) {
      toC.set(c.channel);
      toB.set(b.channel);
      for (LoopbackGrpc s : new LoopbackGrpc[] {a, b, c}) {
        // Warm up: class loading and connection set-up are not the budget under test.
        assertEquals("pong", call(s.channel, Context.background(), "ping"));
      }
      body.run(a.channel);
      assertTrue(allReturned.await(10, TimeUnit.SECONDS), "a hop kept running: " + ended);
    }
  }

  interface ChainBody {
    void run(ManagedChannel toA) throws Exception;
  }

  @Test
  void deadlineOfA_reachesC_smallerAndEndsEveryHop() throws Exception {
    runChain(
        toA -> {
          long t0 = System.nanoTime();
          try (CancelableContext ctx =
              Context.withTimeout(Context.background(), Duration.ofMillis(300))) {
            StatusRuntimeException e =
                assertThrows(StatusRuntimeException.class, () -> call(toA, ctx, "go"));
            assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
          }
          long took = (System.nanoTime() - t0) / 1_000_000;
          // A's deadline, 50 ms earlier than the caller's, ends the call (less a millisecond of
          // rounding).
          assertTrue(took >= 300 - 50 - 2 && took < 3000, "caller returned after " + took + " ms");
        });
    long atA = remainingMs.get("A");
    long atB = remainingMs.get("B");
    long atC = remainingMs.get("C");
    // C's budget is normally well above zero; on an overloaded machine it may arrive spent, which is
    // still the deadline reaching C (C then ends at once, checked below).
    assertTrue(
        atA < 300 && atB <= atA && atC <= atB && atC != NO_DEADLINE, "A " + atA + ", B " + atB + ", C " + atC);
    for (String hop : new String[] {"A", "B", "C"}) {
      assertSame(Context.DEADLINE_EXCEEDED, ended.get(hop), hop + " ended with " + ended.get(hop));
    }
  }

  @Test
  void cancellingTheCaller_reachesC_andEndsEveryHop() throws Exception {
    runChain(
        toA -> {
          CancelableContext ctx = Context.withCancel(Context.background());
          Future<String> reply =
              ClientCalls.futureUnaryCall(
                  toA.newCall(LoopbackGrpc.CALL, GrpcContexts.withContext(CallOptions.DEFAULT, ctx)), "go");
          assertTrue(cEntered.await(10, TimeUnit.SECONDS), "the request never reached C");
          ctx.cancel(new IllegalStateException("user pressed stop"));
          ExecutionException e = assertThrows(ExecutionException.class, () -> reply.get(5, TimeUnit.SECONDS));
          assertEquals(Status.Code.CANCELLED, Status.fromThrowable(e.getCause()).getCode());
        });
    assertEquals(NO_DEADLINE, remainingMs.get("C"), "no deadline was set, none must appear");
    for (String hop : new String[] {"A", "B", "C"}) {
      assertSame(Context.CANCELED, ended.get(hop), hop + " ended with " + ended.get(hop));
    }
  }
}
