package io.ctx4j.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.testing.Quietly;
import io.grpc.CallOptions;
import io.grpc.Deadline;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

/**
 * Transit time is lost, never added: over real gRPC on loopback (same JVM, same clocks), the
 * handler's deadline is never later than the caller's, so the handler's own deadline passes before
 * the caller's reset can reach it, and a handler that waits past the deadline ends with {@code
 * DEADLINE_EXCEEDED}, never {@code CANCELED}.
 */
class GrpcDeadlineTransitTest {
  /** The allowance of the two deadline-race tests: the margin by which the handler's deadline wins. */
  private static final Duration TRANSIT_ALLOWANCE = Duration.ofMillis(400);

  /** The caller's budget in those tests: more than the allowance, with room for a relay's transit. */
  private static final Duration CALL_BUDGET = Duration.ofMillis(600);


  /**
   * The transit allowance bounds how late a request may arrive; it is generous here because this
   * machine is shared and loaded (a first call that opens the connection took 42 ms to arrive), and
   * gRPC alone adds the whole transit time: without ctx4j's allowance, 40 of 40 handler deadlines
   * were later than the caller's, by 0.7 to 4 ms.
   */
  @Test
  @Timeout(60)
  void theHandlersDeadlineIsNeverLaterThanTheCallers() throws Exception {
    BlockingQueue<Instant> seen = new ArrayBlockingQueue<>(1);
    Duration allowance = Duration.ofMillis(500);
    try (LoopbackGrpc s =
        new LoopbackGrpc(
            Context.background(),
            (req, resp) -> {
              seen.add(GrpcContexts.current().deadline().orElseThrow());
              resp.onNext(req);
              resp.onCompleted();
            },
            GrpcContexts.clientInterceptor(allowance))) {
      List<String> later = new ArrayList<>();
      int calls = 40;
      for (int i = 0; i < calls; i++) {
        try (CancelableContext ctx =
            Context.withTimeout(Context.background(), Duration.ofSeconds(30))) {
          call(s, ctx);
          Instant callers = ctx.deadline().orElseThrow();
          Instant handlers = seen.poll(10, TimeUnit.SECONDS);
          if (handlers.isAfter(callers)) {
            later.add(Duration.between(callers, handlers).toNanos() / 1000 + " us");
          }
          // ...and the budget does arrive: what is lost is the allowance plus the transit.
          assertTrue(
              handlers.isAfter(callers.minus(allowance).minusSeconds(10)),
              "handler's deadline " + Duration.between(handlers, callers) + " early");
        }
      }
      assertEquals(List.of(), later, "handler deadlines later than the caller's, of " + calls);
    }
  }

  /**
   * Every call's handler context is watched from a server interceptor, so that a call whose deadline
   * passes before its handler runs (gRPC then never runs a unary handler) is counted too. The
   * allowance is generous for the same reason as above: with the default 10 ms, a run on this
   * machine under a load of about 6 saw 2 of 30 handler contexts end CANCELED (transit beyond the
   * allowance); without any allowance (the old code) 9 of 30. The margin of the race is the
   * allowance: the handler's deadline passes that long before the caller's reset can arrive. With
   * 150 ms, a run under a load of about 14 (a full build beside another) saw 1 of 30 end CANCELED
   * (2026-12-07); {@link #TRANSIT_ALLOWANCE} is 400 ms, within a {@link #CALL_BUDGET} of 600 ms, so
   * that the time sent stays positive after the transit to a relay.
   */
  @Test
  @Timeout(120)
  void aHandlerWaitingPastTheDeadlineAlwaysEndsWithDeadlineExceeded() throws Exception {
    BlockingQueue<Object> ended = new ArrayBlockingQueue<>(1);
    ServerInterceptor watch = watchEnds(ended);
    try (LoopbackGrpc s =
        new LoopbackGrpc(
            pongOrWaitForTheEnd(), watch, GrpcContexts.clientInterceptor(TRANSIT_ALLOWANCE))) {
      // Warm-up: class loading is not the budget under test.
      assertEquals("pong", call(s, Context.background(), "ping"));
      int calls = 30;
      List<String> wrong =
          notEndedByTheirDeadline(
              calls,
              ended,
              () -> {
                try (CancelableContext ctx =
                    Context.withTimeout(Context.background(), CALL_BUDGET)) {
                  call(s, ctx);
                }
              });
      assertEquals(List.of(), wrong, "handler contexts not ended by their deadline, of " + calls);
    }
  }

  /**
   * In a handler, a call bound to a ctx4j context that is not the handler's (here a long one of its
   * own) still has the handler's gRPC deadline, which gRPC takes from the current gRPC context when
   * it is the earlier; it is sent less the allowance as well. Compared as gRPC deadlines, on one
   * ticker: without the allowance (the old code) the downstream deadline was later than the
   * handler's by the transit time, every time.
   */
  @Test
  @Timeout(60)
  void aCallInAHandlerBoundToAnotherContextHasTheHandlersDeadlineLessTheAllowance() throws Exception {
    BlockingQueue<Deadline> handlerDeadlines = new ArrayBlockingQueue<>(1);
    BlockingQueue<Deadline> downstream = new ArrayBlockingQueue<>(1);
    Duration allowance = Duration.ofMillis(500);
    try (LoopbackGrpc c =
            new LoopbackGrpc(
                Context.background(),
                (req, resp) -> {
                  downstream.add(io.grpc.Context.current().getDeadline());
                  resp.onNext(req);
                  resp.onCompleted();
                },
                GrpcContexts.clientInterceptor(allowance));
        LoopbackGrpc b = new LoopbackGrpc(Context.background(), relayWithinAContextOfItsOwn(c, handlerDeadlines))) {
      List<String> later = new ArrayList<>();
      int calls = 40;
      for (int i = 0; i < calls; i++) {
        ClientCalls.blockingUnaryCall(
            b.channel, LoopbackGrpc.CALL, CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS), "x");
        Deadline handlers = handlerDeadlines.poll(10, TimeUnit.SECONDS);
        Deadline sent = downstream.poll(10, TimeUnit.SECONDS);
        long earlierNanos = handlers.timeRemaining(TimeUnit.NANOSECONDS) - sent.timeRemaining(TimeUnit.NANOSECONDS);
        if (!sent.isBefore(handlers)) {
          later.add("call " + i + ": " + -earlierNanos / 1000 + " us later");
        }
        assertTrue(earlierNanos < allowance.toNanos() + TimeUnit.SECONDS.toNanos(10), earlierNanos + " ns early");
      }
      assertEquals(List.of(), later, "downstream deadlines not earlier than the handler's, of " + calls);
    }
  }

  /**
   * The same call, its downstream handler waiting past the deadline: it ends with {@code
   * DEADLINE_EXCEEDED}, its own deadline passing before the reset sent when the upstream handler's
   * deadline passes can reach it. With a 250 ms budget and a 150 ms allowance, a run under a load
   * of about 14 saw 2 of 30 downstream calls never reach C (the relay's handler began with less
   * than the allowance left, so its call to C had no time to send): the budget is now 600 ms.
   */
  @Test
  @Timeout(120)
  void aDownstreamHandlerOfACallBoundToAnotherContextEndsWithDeadlineExceeded() throws Exception {
    BlockingQueue<Object> ended = new ArrayBlockingQueue<>(1);
    try (LoopbackGrpc c =
            new LoopbackGrpc(
                pongOrWaitForTheEnd(), watchEnds(ended), GrpcContexts.clientInterceptor(TRANSIT_ALLOWANCE));
        LoopbackGrpc b =
            new LoopbackGrpc(Context.background(), relayWithinAContextOfItsOwn(c, new ArrayBlockingQueue<>(1)))) {
      assertEquals("pong", ClientCalls.blockingUnaryCall(
          b.channel, LoopbackGrpc.CALL, CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS), "ping"));
      // The warm-up's downstream context has a deadline too: it ends with its call.
      assertSame(Context.CANCELED, ended.poll(30, TimeUnit.SECONDS));
      int calls = 30;
      List<String> wrong =
          notEndedByTheirDeadline(
              calls,
              ended,
              () ->
                  ClientCalls.blockingUnaryCall(
                      b.channel,
                      LoopbackGrpc.CALL,
                      CallOptions.DEFAULT.withDeadlineAfter(CALL_BUDGET.toMillis(), TimeUnit.MILLISECONDS),
                      "x"));
      assertEquals(List.of(), wrong, "downstream handler contexts not ended by their deadline, of " + calls);
    }
  }

  /**
   * A handler that records its gRPC deadline, and relays its request to {@code next} in a ctx4j
   * context of its own with a long timeout (a request under a server-wide context, say), not the
   * handler's.
   */
  private static ServerCalls.UnaryMethod<String, String> relayWithinAContextOfItsOwn(
      LoopbackGrpc next, BlockingQueue<Deadline> handlers) {
    return (req, resp) -> {
      handlers.offer(io.grpc.Context.current().getDeadline());
      try (CancelableContext own = Context.withTimeout(Context.background(), Duration.ofMinutes(5))) {
        resp.onNext(next.call(own, req));
        resp.onCompleted();
      } catch (StatusRuntimeException e) {
        resp.onError(e);
      }
    };
  }

  /**
   * A handler that answers "ping" at once and otherwise waits for its context to end; bounded, so
   * that a deadline that never reaches the handler fails the test, not the build.
   */
  private static ServerCalls.UnaryMethod<String, String> pongOrWaitForTheEnd() {
    return (req, resp) -> {
      if (req.equals("ping")) {
        resp.onNext("pong");
        resp.onCompleted();
        return;
      }
      Quietly.await(GrpcContexts.current(), Duration.ofSeconds(20));
    };
  }

  /**
   * Makes {@code calls} calls, each of which must fail with {@code DEADLINE_EXCEEDED}, and lists
   * those whose handler context, reported to {@code ended}, did not end with it.
   */
  private static List<String> notEndedByTheirDeadline(
      int calls, BlockingQueue<Object> ended, Executable call) throws InterruptedException {
    List<String> wrong = new ArrayList<>();
    for (int i = 0; i < calls; i++) {
      StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call);
      assertEquals(Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
      Object err = ended.poll(30, TimeUnit.SECONDS);
      if (err != Context.DEADLINE_EXCEEDED) {
        wrong.add("call " + i + ": " + err);
      }
    }
    return wrong;
  }

  /** Reports how the handler context of each call with a deadline ends, its handler run or not. */
  private static ServerInterceptor watchEnds(BlockingQueue<Object> ended) {
    return new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(
          ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        Context ctx = GrpcContexts.current();
        if (ctx.deadline().isPresent()) {
          ctx.onDone(() -> ended.add(ctx.err()));
        }
        return next.startCall(call, headers);
      }
    };
  }

  private static String call(LoopbackGrpc s, Context ctx) {
    return call(s, ctx, "x");
  }

  private static String call(LoopbackGrpc s, Context ctx, String request) {
    return ClientCalls.blockingUnaryCall(
        s.channel, LoopbackGrpc.CALL, GrpcContexts.withContext(CallOptions.DEFAULT, ctx), request);
  }
}
