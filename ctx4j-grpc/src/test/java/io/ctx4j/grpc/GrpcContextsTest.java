package io.ctx4j.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.grpc.CallOptions;
import io.grpc.Contexts;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class GrpcContextsTest {
  private static final ScheduledExecutorService SCHEDULER = Executors.newSingleThreadScheduledExecutor();

  @AfterAll
  static void stopScheduler() {
    SCHEDULER.shutdownNow();
  }

  private static void assertNear(Instant expected, Instant actual) {
    long gapMs = Math.abs(Duration.between(expected, actual).toMillis());
    assertTrue(gapMs < 100, "off by " + gapMs + " ms");
  }

  @Test
  void deadlinesConvertBothWays() {
    Instant in5s = Instant.now().plusSeconds(5);
    assertNear(in5s, GrpcContexts.toInstant(GrpcContexts.toDeadline(in5s)));
    Deadline d = Deadline.after(3, TimeUnit.SECONDS);
    long back = GrpcContexts.toDeadline(GrpcContexts.toInstant(d)).timeRemaining(TimeUnit.MILLISECONDS);
    assertTrue(Math.abs(back - d.timeRemaining(TimeUnit.MILLISECONDS)) < 100, "remaining " + back);
    assertTrue(GrpcContexts.toDeadline(Instant.MAX).timeRemaining(TimeUnit.DAYS) > 365);
    assertTrue(GrpcContexts.toDeadline(Instant.MIN).isExpired());
  }

  @Test
  void toCtx4jFollowsGrpcCancellationWithItsCause() {
    io.grpc.Context.CancellableContext grpc = io.grpc.Context.ROOT.withCancellation();
    CancelableContext ctx = GrpcContexts.toCtx4j(grpc);
    assertFalse(ctx.isDone());
    assertTrue(ctx.deadline().isEmpty());
    IllegalStateException why = new IllegalStateException("client went away");
    grpc.cancel(why);
    assertSame(Context.CANCELED, ctx.err());
    assertSame(why, ctx.cause());
  }

  @Test
  void toCtx4jTakesTheGrpcDeadlineAndExpiresWithIt() throws Exception {
    io.grpc.Context.CancellableContext grpc =
        io.grpc.Context.ROOT.withDeadlineAfter(100, TimeUnit.MILLISECONDS, SCHEDULER);
    try (CancelableContext ctx = GrpcContexts.toCtx4j(grpc)) {
      assertNear(GrpcContexts.toInstant(grpc.getDeadline()), ctx.deadline().orElseThrow());
      assertTrue(ctx.await(Duration.ofSeconds(10)));
      assertSame(Context.DEADLINE_EXCEEDED, ctx.err());
    }
  }

  @Test
  void toCtx4jCancelledByItsOwnerLeavesTheGrpcContextAlone() {
    io.grpc.Context.CancellableContext grpc = io.grpc.Context.ROOT.withCancellation();
    GrpcContexts.toCtx4j(grpc).cancel();
    assertFalse(grpc.isCancelled());
    grpc.cancel(null);
  }

  @Test
  void toCtx4jOfACancelledGrpcContextIsBornDone() {
    io.grpc.Context.CancellableContext grpc = io.grpc.Context.ROOT.withCancellation();
    grpc.cancel(null);
    assertSame(Context.CANCELED, GrpcContexts.toCtx4j(grpc).err());
  }

  @Test
  void fromCtx4jFollowsCancellationWithItsCause() {
    CancelableContext ctx = Context.withCancel(Context.background());
    io.grpc.Context.CancellableContext grpc = GrpcContexts.fromCtx4j(ctx, io.grpc.Context.ROOT);
    assertNull(grpc.getDeadline());
    IllegalStateException why = new IllegalStateException("stop");
    ctx.cancel(why);
    assertTrue(grpc.isCancelled());
    assertSame(why, grpc.cancellationCause());
    assertEquals(Status.Code.CANCELLED, Contexts.statusFromCancelled(grpc).getCode());
  }

  @Test
  void fromCtx4jReportsTheDeadlineAndExpiresOnlyWithTheCtx4jContext() throws Exception {
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMillis(100))) {
      io.grpc.Context.CancellableContext grpc = GrpcContexts.fromCtx4j(ctx);
      assertNear(ctx.deadline().orElseThrow(), GrpcContexts.toInstant(grpc.getDeadline()));
      CountDownLatch cancelled = new CountDownLatch(1);
      AtomicReference<Boolean> ctx4jDoneFirst = new AtomicReference<>();
      grpc.addListener(
          c -> {
            ctx4jDoneFirst.set(ctx.isDone());
            cancelled.countDown();
          },
          Runnable::run);
      assertTrue(cancelled.await(10, TimeUnit.SECONDS));
      assertTrue(ctx4jDoneFirst.get(), "gRPC expired before the ctx4j context");
      assertInstanceOf(TimeoutException.class, grpc.cancellationCause());
      assertEquals(Status.Code.DEADLINE_EXCEEDED, Contexts.statusFromCancelled(grpc).getCode());
    }
  }

  @Test
  void fromCtx4jOfADoneContextIsBornCancelled() {
    CancelableContext ctx = Context.withCancel(Context.background());
    ctx.cancel();
    assertTrue(GrpcContexts.fromCtx4j(ctx).isCancelled());
  }

  @Test
  void closingTheGrpcSideLeavesTheCtx4jContextAlone() {
    try (CancelableContext ctx = Context.withCancel(Context.background())) {
      GrpcContexts.fromCtx4j(ctx).close();
      assertFalse(ctx.isDone());
    }
  }

  @Test
  void callOnADoneContextSendsNothing_andCallWithoutContextIsUntouched() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    AtomicReference<Boolean> hadDeadline = new AtomicReference<>();
    try (LoopbackGrpc s =
        new LoopbackGrpc(
            (req, resp) -> {
              calls.incrementAndGet();
              hadDeadline.set(GrpcContexts.current().deadline().isPresent());
              resp.onNext(req);
              resp.onCompleted();
            })) {
      CancelableContext done = Context.withCancel(Context.background());
      done.cancel();
      StatusRuntimeException e = s.callFails(done);
      assertEquals(Status.Code.CANCELLED, e.getStatus().getCode());
      assertEquals("y", s.call("y"));
      assertEquals(1, calls.get());
      assertFalse(hadDeadline.get());
    }
  }

  @Test
  void handlerContextEndsWhenTheCallCompletes() throws Exception {
    CountDownLatch ended = new CountDownLatch(1);
    AtomicReference<Context> seen = new AtomicReference<>();
    try (LoopbackGrpc s =
        new LoopbackGrpc(
            (req, resp) -> {
              Context ctx = GrpcContexts.current();
              seen.set(ctx);
              ctx.onDone(ended::countDown);
              resp.onNext(String.valueOf(ctx.isDone()));
              resp.onCompleted();
            })) {
      try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofSeconds(30))) {
        assertEquals("false", s.call(ctx, "x"));
      }
      assertTrue(ended.await(10, TimeUnit.SECONDS), "handler context outlived its call");
      assertTrue(seen.get().isDone());
    }
  }

  @Test
  void currentOutsideAHandlerIsAnError() {
    assertThrows(IllegalStateException.class, GrpcContexts::current);
  }

  @Test
  void nullArgumentsAreNamed() {
    assertEquals("grpcContext", assertThrows(NullPointerException.class, () -> GrpcContexts.toCtx4j(null)).getMessage());
    assertEquals("parent", assertThrows(NullPointerException.class, () -> GrpcContexts.toCtx4j(io.grpc.Context.ROOT, null)).getMessage());
    assertEquals("ctx", assertThrows(NullPointerException.class, () -> GrpcContexts.fromCtx4j(null)).getMessage());
    assertEquals("instant", assertThrows(NullPointerException.class, () -> GrpcContexts.toDeadline(null)).getMessage());
    assertEquals("deadline", assertThrows(NullPointerException.class, () -> GrpcContexts.toInstant(null)).getMessage());
    assertEquals("ctx", assertThrows(NullPointerException.class, () -> GrpcContexts.withContext(CallOptions.DEFAULT, null)).getMessage());
    assertEquals("root", assertThrows(NullPointerException.class, () -> GrpcContexts.serverInterceptor(null)).getMessage());
  }
}
