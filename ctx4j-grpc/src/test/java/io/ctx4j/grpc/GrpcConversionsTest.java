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
import io.ctx4j.Key;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.Registration;
import io.ctx4j.TimeSource;
import io.grpc.Contexts;
import io.grpc.Deadline;
import io.grpc.Status;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.FutureTask;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Conversions between the two libraries: deadlines on the context's own clock and never later than
 * the source's, one timer per deadline, causes kept both ways, round trips.
 */
@Timeout(60)
class GrpcConversionsTest {
  private static final Instant IN_2040 = Instant.parse("2040-01-01T00:00:00Z");

  private final HeldTimers grpcTimers = new HeldTimers();

  @AfterEach
  void stopTimers() {
    grpcTimers.shutdownNow();
  }

  // ------------------------------------------------------------ never later than the source (7)

  @Test
  void theGrpcDeadlineIsNeverLaterThanTheCtx4jDeadline() {
    // If gD <= D, then gD - t2 < D - t1 for any t1 < t2: read the ctx4j side first.
    List<String> later = new ArrayList<>();
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(5))) {
      for (int i = 0; i < 10_000; i++) {
        Deadline viaFrom = GrpcContexts.fromCtx4j(ctx, io.grpc.Context.ROOT).getDeadline();
        Deadline viaOf = GrpcContexts.deadlineOf(ctx).orElseThrow();
        Deadline viaTo = GrpcContexts.toDeadline(ctx.deadline().orElseThrow());
        long ctx4jLeft = ctx.remaining().orElseThrow().toNanos();
        for (Deadline d : new Deadline[] {viaFrom, viaOf, viaTo}) {
          long grpcLeft = d.timeRemaining(TimeUnit.NANOSECONDS);
          if (grpcLeft > ctx4jLeft && later.size() < 5) {
            later.add("call " + i + ": " + (grpcLeft - ctx4jLeft) + " ns later");
          }
        }
      }
    }
    assertEquals(List.of(), later);
  }

  @Test
  void theCtx4jDeadlineIsNeverLaterThanTheGrpcDeadline() {
    List<String> later = new ArrayList<>();
    for (int i = 0; i < 10_000; i++) {
      Deadline d = Deadline.after(5, TimeUnit.MINUTES);
      try (CancelableContext ctx = GrpcContexts.toCtx4j(io.grpc.Context.ROOT.withDeadline(d, grpcTimers))) {
        Instant viaTo = ctx.deadline().orElseThrow();
        Instant viaInstant = GrpcContexts.toInstant(d);
        long grpcLeft = d.timeRemaining(TimeUnit.NANOSECONDS);
        Instant now = Instant.now();
        for (Instant at : new Instant[] {viaTo, viaInstant}) {
          long ctx4jLeft = Duration.between(now, at).toNanos();
          if (ctx4jLeft > grpcLeft && later.size() < 5) {
            later.add("call " + i + ": " + (ctx4jLeft - grpcLeft) + " ns later");
          }
        }
      }
    }
    assertEquals(List.of(), later);
  }

  // --------------------------------------------------------------- the context's own clock (13)

  @Test
  void aDeadlineOnAManualClockConvertsAsTheTimeLeftOnThatClock() {
    ManualTimeSource clock = ManualTimeSource.startingAt(IN_2040);
    Context parent = Context.withTimeSource(Context.background(), clock);
    try (CancelableContext ctx = Context.withTimeout(parent, Duration.ofMillis(300))) {
      for (Deadline d :
          new Deadline[] {
            GrpcContexts.deadlineOf(ctx).orElseThrow(),
            GrpcContexts.fromCtx4j(ctx, io.grpc.Context.ROOT).getDeadline(),
            GrpcContexts.toDeadline(ctx.deadline().orElseThrow(), clock)
          }) {
        long ms = d.timeRemaining(TimeUnit.MILLISECONDS);
        assertTrue(ms > 0 && ms < 300, "remaining " + ms + " ms");
      }
    }
  }

  @Test
  void aGrpcDeadlineUnderAManualClockParentIsTheBudgetOnThatClock() {
    ManualTimeSource clock = ManualTimeSource.startingAt(IN_2040);
    Context parent = Context.withTimeSource(Context.background(), clock);
    io.grpc.Context.CancellableContext grpc =
        io.grpc.Context.ROOT.withDeadlineAfter(5, TimeUnit.SECONDS, grpcTimers);
    try (CancelableContext ctx = GrpcContexts.toCtx4j(grpc, parent)) {
      assertNull(ctx.err(), "expired at birth");
      Duration left = ctx.remaining().orElseThrow();
      assertTrue(left.compareTo(Duration.ofSeconds(4)) > 0 && left.compareTo(Duration.ofSeconds(5)) <= 0, "left " + left);
      assertSame(clock, Context.timeSourceOf(ctx));
      Instant at = GrpcContexts.toInstant(grpc.getDeadline(), clock);
      assertTrue(!at.isAfter(IN_2040.plusSeconds(5)) && at.isAfter(IN_2040.plusSeconds(4)), "at " + at);
      // A test clock drives the deadline too.
      clock.advance(Duration.ofSeconds(5));
      assertSame(Context.DEADLINE_EXCEEDED, ctx.err());
    } finally {
      grpc.cancel(null);
    }
  }

  // --------------------------------------------------------------------- one timer, no slack (15)

  @Test
  void gRpcsTimerIsTheOnlyTimerOfAFollowedDeadline() throws Exception {
    io.grpc.Context.CancellableContext grpc =
        io.grpc.Context.ROOT.withDeadlineAfter(30, TimeUnit.MILLISECONDS, grpcTimers);
    try (CancelableContext ctx = GrpcContexts.toCtx4j(grpc)) {
      Instant deadline = ctx.deadline().orElseThrow();
      // Let the deadline pass by a wide margin with gRPC's timer held back.
      try (CancelableContext later =
          Context.withDeadline(Context.background(), deadline.plusMillis(200))) {
        later.await();
      }
      assertTrue(ctx.remaining().orElseThrow().isNegative());
      assertNull(ctx.err(), "a second timer ended the context before gRPC's fired");
      grpcTimers.runAll();
      assertSame(Context.DEADLINE_EXCEEDED, ctx.err());
      assertSame(Context.DEADLINE_EXCEEDED, ctx.cause());
    }
  }

  @Test
  void aGrpcTimeoutEndsTheContextAtOnceWithoutSlack() {
    io.grpc.Context.CancellableContext grpc =
        io.grpc.Context.ROOT.withDeadlineAfter(30, TimeUnit.MILLISECONDS, grpcTimers);
    try (CancelableContext ctx = GrpcContexts.toCtx4j(grpc)) {
      grpc.cancel(new TimeoutException("context timed out"));
      assertSame(Context.DEADLINE_EXCEEDED, ctx.err());
    }
  }

  @Test
  void aCancellationAfterTheGrpcDeadlinePassedIsTheDeadline() throws Exception {
    io.grpc.Context.CancellableContext grpc =
        io.grpc.Context.ROOT.withDeadlineAfter(20, TimeUnit.MILLISECONDS, grpcTimers);
    try (CancelableContext ctx = GrpcContexts.toCtx4j(grpc)) {
      try (CancelableContext later =
          Context.withDeadline(Context.background(), ctx.deadline().orElseThrow().plusMillis(50))) {
        later.await();
      }
      assertTrue(grpc.getDeadline().isExpired());
      // As a caller's reset arriving after this side's own deadline.
      grpc.cancel(Status.CANCELLED.asRuntimeException());
      assertSame(Context.DEADLINE_EXCEEDED, ctx.err());
    }
  }

  @Test
  void aCancellationBeforeTheDeadlineIsACancellation() {
    io.grpc.Context.CancellableContext grpc =
        io.grpc.Context.ROOT.withDeadlineAfter(10, TimeUnit.MINUTES, grpcTimers);
    try (CancelableContext ctx = GrpcContexts.toCtx4j(grpc)) {
      IllegalStateException why = new IllegalStateException("client went away");
      grpc.cancel(why);
      assertSame(Context.CANCELED, ctx.err());
      assertSame(why, ctx.cause());
    }
  }

  // ------------------------------------------------------------------ causes of expired ones (14)

  @Test
  void aContextBornPastItsDeadlineGivesTheCtx4jCause() {
    IllegalStateException why = new IllegalStateException("budget spent upstream");
    CancelableContext ctx =
        Context.withDeadlineCause(Context.background(), Instant.now().minusSeconds(1), why);
    io.grpc.Context.CancellableContext grpc = GrpcContexts.fromCtx4j(ctx, io.grpc.Context.ROOT);
    assertTrue(grpc.isCancelled());
    Throwable cause = grpc.cancellationCause();
    assertInstanceOf(TimeoutException.class, cause);
    assertSame(why, cause.getCause());
    assertEquals(Status.Code.DEADLINE_EXCEEDED, Contexts.statusFromCancelled(grpc).getCode());
  }

  @Test
  void aLiveContextPastItsDeadlineGivesTheCtx4jCauseOnceItsTimerFires() {
    HeldClock clock = new HeldClock(IN_2040);
    IllegalStateException why = new IllegalStateException("budget spent");
    CancelableContext ctx =
        Context.withDeadlineCause(
            Context.withTimeSource(Context.background(), clock), IN_2040.plusSeconds(1), why);
    clock.now = IN_2040.plusSeconds(2); // past the deadline; the timer has not fired
    assertNull(ctx.err());
    io.grpc.Context.CancellableContext grpc = GrpcContexts.fromCtx4j(ctx, io.grpc.Context.ROOT);
    assertTrue(grpc.isCancelled(), "a call on it would still be sent");
    Throwable cause = grpc.cancellationCause();
    assertInstanceOf(TimeoutException.class, cause);
    assertEquals(Status.Code.DEADLINE_EXCEEDED, Contexts.statusFromCancelled(grpc).getCode());
    clock.fireAll();
    assertSame(Context.DEADLINE_EXCEEDED, ctx.err());
    assertSame(why, cause.getCause());
  }

  /**
   * gRPC checks a deadline again when it makes a context with it, and cancels one whose deadline
   * has passed with a cause of its own: a deadline that passes between fromCtx4j's check and
   * gRPC's lost the ctx4j cause (on the old code about 1 conversion in 40 of this sweep, some
   * hundreds in all). The deadlines swept, a few microseconds on a held clock (the context stays
   * live until the test fires it), straddle the moment of the conversion: both outcomes are seen.
   */
  @Test
  void aDeadlinePassingWhileItIsConvertedStillGivesTheCtx4jCause() {
    IllegalStateException why = new IllegalStateException("budget spent");
    List<String> lost = new ArrayList<>();
    int bornCancelled = 0;
    int live = 0;
    for (int round = 0; round < 10; round++) {
      for (int nanos = 0; nanos < 4_000; nanos += 2) {
        HeldClock clock = new HeldClock(IN_2040);
        Instant deadline = IN_2040.plusNanos(nanos);
        CancelableContext ctx =
            Context.withDeadlineCause(Context.withTimeSource(Context.background(), clock), deadline, why);
        io.grpc.Context.CancellableContext grpc = GrpcContexts.fromCtx4j(ctx, io.grpc.Context.ROOT);
        if (!grpc.isCancelled()) {
          live++;
          grpc.close();
          continue;
        }
        bornCancelled++;
        clock.now = deadline;
        clock.fireAll();
        Throwable cause = grpc.cancellationCause();
        CancelableContext back = GrpcContexts.toCtx4j(grpc);
        if (!(cause instanceof TimeoutException) || cause.getCause() != why || back.cause() != why) {
          lost.add(nanos + " ns left: " + cause + " caused by " + cause.getCause()
              + ", round trip " + back.err() + " " + back.cause());
        }
      }
    }
    assertTrue(bornCancelled > 0 && live > 0, bornCancelled + " born cancelled, " + live + " live");
    assertEquals(
        List.of(), lost.subList(0, Math.min(3, lost.size())), lost.size() + " of " + bornCancelled);
  }

  @Test
  void aLiveContextsDeadlineCauseReachesGrpcWhenItFires() throws Exception {
    IllegalStateException why = new IllegalStateException("slow");
    try (CancelableContext ctx =
        Context.withTimeoutCause(Context.background(), Duration.ofMillis(20), why)) {
      io.grpc.Context.CancellableContext grpc = GrpcContexts.fromCtx4j(ctx, io.grpc.Context.ROOT);
      CountDownLatch cancelled = new CountDownLatch(1);
      grpc.addListener(c -> cancelled.countDown(), Runnable::run);
      assertTrue(cancelled.await(10, TimeUnit.SECONDS));
      assertTrue(ctx.isDone(), "gRPC ended before the ctx4j context");
      assertSame(why, grpc.cancellationCause().getCause());
    }
  }

  // ------------------------------------------------------------------------------ round trips

  @Test
  void roundTripKeepsTheCancelCause() {
    CancelableContext ctx = Context.withCancel(Context.background());
    CancelableContext back = GrpcContexts.toCtx4j(GrpcContexts.fromCtx4j(ctx, io.grpc.Context.ROOT));
    IllegalStateException why = new IllegalStateException("stop");
    ctx.cancel(why);
    assertSame(Context.CANCELED, back.err());
    assertSame(why, back.cause());
  }

  /**
   * A cancel cause that gRPC reads as a status of its own (GrpcCallsTest.causesGrpcReadsAsAStatus)
   * crosses to gRPC as a cancellation, not as that status, and comes back as itself.
   */
  @ParameterizedTest
  @MethodSource("io.ctx4j.grpc.GrpcCallsTest#causesGrpcReadsAsAStatus")
  void roundTripKeepsACancelCauseThatGrpcReadsAsAStatus(Throwable why) {
    CancelableContext ctx = Context.withCancel(Context.background());
    io.grpc.Context.CancellableContext grpc = GrpcContexts.fromCtx4j(ctx, io.grpc.Context.ROOT);
    CancelableContext back = GrpcContexts.toCtx4j(grpc);
    ctx.cancel(why);
    assertEquals(
        "CANCELLED " + Context.CANCELED + " " + why,
        Contexts.statusFromCancelled(grpc).getCode() + " " + back.err() + " " + back.cause());
  }

  /**
   * A cancel cause whose chain loops: gRPC's Status.fromThrowable walks a cause chain to its end,
   * so it would never return; the cause is wrapped, and gRPC stops at the wrapper. Asked on a
   * daemon thread of its own, so that the loop of the old code fails the test rather than hang it.
   */
  @Test
  void aCancelCauseWhoseChainLoopsStillGivesCancelled() throws Exception {
    RuntimeException first = new RuntimeException("first");
    RuntimeException second = new RuntimeException("second", first);
    first.initCause(second);
    CancelableContext ctx = Context.withCancel(Context.background());
    io.grpc.Context.CancellableContext grpc = GrpcContexts.fromCtx4j(ctx, io.grpc.Context.ROOT);
    CancelableContext back = GrpcContexts.toCtx4j(grpc);
    ctx.cancel(first);
    FutureTask<Status> status = new FutureTask<>(() -> Contexts.statusFromCancelled(grpc));
    Thread asker = new Thread(status, "statusFromCancelled");
    asker.setDaemon(true);
    asker.start();
    Status.Code code;
    try {
      code = status.get(10, TimeUnit.SECONDS).getCode();
    } catch (TimeoutException e) {
      throw new AssertionError("Contexts.statusFromCancelled still walking the cause chain after 10 s");
    }
    assertEquals(Status.Code.CANCELLED, code);
    assertSame(first, back.cause());
  }

  @Test
  void roundTripKeepsTheDeadlineNeverLaterAndItsCause() throws Exception {
    IllegalStateException why = new IllegalStateException("too slow");
    CancelableContext ctx =
        Context.withTimeoutCause(Context.background(), Duration.ofMillis(50), why);
    io.grpc.Context.CancellableContext grpc = GrpcContexts.fromCtx4j(ctx, io.grpc.Context.ROOT);
    CancelableContext back = GrpcContexts.toCtx4j(grpc);
    Instant original = ctx.deadline().orElseThrow();
    Instant returned = back.deadline().orElseThrow();
    assertFalse(returned.isAfter(original), returned + " after " + original);
    assertTrue(Duration.between(returned, original).toMillis() < 1000, "lost " + Duration.between(returned, original));
    assertTrue(back.await(Duration.ofSeconds(10)));
    assertTrue(ctx.isDone(), "the copy ended before the original");
    assertSame(Context.DEADLINE_EXCEEDED, back.err());
    assertSame(why, back.cause());
  }

  @Test
  void roundTripOfABornExpiredContextIsTheDeadlineWithItsCause() {
    IllegalStateException why = new IllegalStateException("spent");
    CancelableContext ctx =
        Context.withDeadlineCause(Context.background(), Instant.now().minusMillis(1), why);
    CancelableContext back = GrpcContexts.toCtx4j(GrpcContexts.fromCtx4j(ctx, io.grpc.Context.ROOT));
    assertSame(Context.DEADLINE_EXCEEDED, back.err());
    assertSame(why, back.cause());
  }

  @Test
  void roundTripFromGrpcKeepsTheGrpcCause() {
    io.grpc.Context.CancellableContext grpc = io.grpc.Context.ROOT.withCancellation();
    try (CancelableContext ctx = GrpcContexts.toCtx4j(grpc)) {
      io.grpc.Context.CancellableContext back = GrpcContexts.fromCtx4j(ctx, io.grpc.Context.ROOT);
      IllegalStateException why = new IllegalStateException("gone");
      grpc.cancel(why);
      assertSame(why, back.cancellationCause());
    }
  }

  @Test
  void valuesStayOnTheirOwnSide() {
    Key<String> ctx4jKey = Key.named("user");
    io.grpc.Context.Key<String> grpcKey = io.grpc.Context.key("trace");
    Context ctx4jParent = Context.withValue(Context.background(), ctx4jKey, "ann");
    io.grpc.Context grpcParent = io.grpc.Context.ROOT.withValue(grpcKey, "t-1");
    try (CancelableContext ctx = GrpcContexts.toCtx4j(grpcParent, ctx4jParent)) {
      assertEquals("ann", ctx.value(ctx4jKey));
      io.grpc.Context.CancellableContext grpc = GrpcContexts.fromCtx4j(ctx, grpcParent);
      assertEquals("t-1", grpcKey.get(grpc));
      grpc.close();
    }
  }

  @Test
  void fromCtx4jFollowsItsGrpcParentsCancellationAndDeadline() {
    io.grpc.Context.CancellableContext parent =
        io.grpc.Context.ROOT.withDeadlineAfter(1, TimeUnit.SECONDS, grpcTimers);
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(1))) {
      io.grpc.Context.CancellableContext grpc = GrpcContexts.fromCtx4j(ctx, parent);
      assertSame(parent.getDeadline(), grpc.getDeadline(), "the earlier deadline is the parent's");
      grpcTimers.runAll();
      assertTrue(grpc.isCancelled());
      assertInstanceOf(TimeoutException.class, grpc.cancellationCause());
      assertFalse(ctx.isDone());
    }
  }

  @Test
  void aTransitAllowanceIsValidated() {
    assertEquals(
        "transitAllowance",
        assertThrows(NullPointerException.class, () -> GrpcContexts.clientInterceptor(null)).getMessage());
    assertThrows(
        IllegalArgumentException.class, () -> GrpcContexts.clientInterceptor(Duration.ofMillis(-1)));
    assertEquals(
        "clock",
        assertThrows(NullPointerException.class, () -> GrpcContexts.toInstant(Deadline.after(1, TimeUnit.SECONDS), null))
            .getMessage());
  }

  // ------------------------------------------------------------------------------ test clocks

  /** Takes the held tasks under {@code lock} and runs them after releasing it. */
  private static void runOutsideTheLock(Object lock, List<Runnable> held) {
    List<Runnable> due;
    synchronized (lock) {
      due = new ArrayList<>(held);
      held.clear();
    }
    due.forEach(Runnable::run);
  }

  /** gRPC's deadline timers, held until the test runs them. */
  static final class HeldTimers extends ScheduledThreadPoolExecutor {
    private final List<Runnable> held = new ArrayList<>();

    HeldTimers() {
      super(1);
    }

    @Override
    public synchronized ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
      held.add(command);
      return super.schedule(() -> {}, 1, TimeUnit.DAYS);
    }

    void runAll() {
      runOutsideTheLock(this, held);
    }
  }

  /** A clock set by hand whose timers fire only when told: a deadline can pass unfired. */
  static final class HeldClock implements TimeSource {
    volatile Instant now;
    private final List<Runnable> held = new ArrayList<>();

    HeldClock(Instant start) {
      now = start;
    }

    @Override
    public Instant now() {
      return now;
    }

    @Override
    public synchronized Registration schedule(Instant deadline, Runnable action) {
      held.add(action);
      return () -> {
        synchronized (this) {
          return held.remove(action);
        }
      };
    }

    void fireAll() {
      runOutsideTheLock(this, held);
    }
  }
}
