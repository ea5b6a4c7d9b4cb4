package io.ctx4j.blackbox;

import static io.ctx4j.blackbox.Fixtures.BOUND;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.ManualTimeSource;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Go's TestCause table and TestCauseRace: the first cancellation's cause wins and never changes. */
class CauseTest {
  private static final Duration FOREVER = Duration.ofSeconds(1_000_000);
  private static final Throwable PARENT_CAUSE = new Exception("parentCause");
  private static final Throwable CHILD_CAUSE = new Exception("childCause");
  private static final Throwable TOO_SLOW = new Exception("tooSlow");
  private static final Throwable FINISHED_EARLY = new Exception("finishedEarly");

  private static final ContextException CANCELED = Context.CANCELED;
  private static final ContextException DEADLINE = Context.DEADLINE_EXCEEDED;

  private static Arguments row(String name, Supplier<Context> ctx, ContextException err, Throwable cause) {
    return arguments(name, ctx, err, cause);
  }

  /** A context made by {@code make}, then cancelled with {@code cause} (null: a plain cancel). */
  private static Supplier<Context> cancelled(Supplier<CancelableContext> make, Throwable cause) {
    return () -> {
      CancelableContext c = make.get();
      c.cancel(cause);
      return c;
    };
  }

  /**
   * Parent P and child C = withCancelCause(P), cancelled in the given order with the given causes;
   * a null cause is Go's plain {@code cancel()} (or {@code WithCancel}), which ctx4j does not tell
   * apart from {@code cancel(nil)}.
   */
  private static Supplier<Context> pair(boolean parentFirst, Throwable parentCause, Throwable childCause) {
    return () -> {
      CancelableContext p = Context.withCancelCause(Context.background());
      CancelableContext c = Context.withCancelCause(p);
      if (parentFirst) {
        p.cancel(parentCause);
        c.cancel(childCause);
      } else {
        c.cancel(childCause);
        p.cancel(parentCause);
      }
      return c;
    };
  }

  private static Supplier<CancelableContext> timeout(Duration d, Throwable cause) {
    return () -> Context.withTimeoutCause(Context.background(), d, cause);
  }

  private static Supplier<Context> stacked(Duration d) {
    return () -> {
      CancelableContext p = Context.withCancelCause(Context.background());
      CancelableContext c = Context.withTimeoutCause(p, d, TOO_SLOW);
      p.cancel(FINISHED_EARLY);
      return c;
    };
  }

  private static Supplier<Context> withoutCancel(Supplier<Context> parent) {
    return () -> Context.withoutCancel(parent.get());
  }

  static Stream<Arguments> goCauseTable() {
    Supplier<CancelableContext> cancelCause = () -> Context.withCancelCause(Context.background());
    return Stream.of(
        row("Background", Context::background, null, null),
        row("TODO", Context::todo, null, null),
        row("WithCancel", cancelled(() -> Context.withCancel(Context.background()), null), CANCELED, CANCELED),
        row("WithCancelCause", cancelled(cancelCause, PARENT_CAUSE), CANCELED, PARENT_CAUSE),
        row("WithCancelCause nil", cancelled(cancelCause, null), CANCELED, CANCELED),
        row("parent cause before child", pair(true, PARENT_CAUSE, CHILD_CAUSE), CANCELED, PARENT_CAUSE),
        row("parent cause after child", pair(false, PARENT_CAUSE, CHILD_CAUSE), CANCELED, CHILD_CAUSE),
        row("parent cause before nil", pair(true, PARENT_CAUSE, null), CANCELED, PARENT_CAUSE),
        row("parent cause after nil", pair(false, PARENT_CAUSE, null), CANCELED, CANCELED),
        row("child cause after nil", pair(true, null, CHILD_CAUSE), CANCELED, CANCELED),
        row("child cause before nil", pair(false, null, CHILD_CAUSE), CANCELED, CHILD_CAUSE),
        row("WithTimeout", cancelled(timeout(Duration.ZERO, null), null), DEADLINE, DEADLINE),
        row("WithTimeout canceled", cancelled(timeout(FOREVER, null), null), CANCELED, CANCELED),
        row("WithTimeoutCause", cancelled(timeout(Duration.ZERO, TOO_SLOW), null), DEADLINE, TOO_SLOW),
        row("WithTimeoutCause canceled", cancelled(timeout(FOREVER, TOO_SLOW), null), CANCELED, CANCELED),
        row("WithTimeoutCause stacked", stacked(Duration.ZERO), DEADLINE, TOO_SLOW),
        row("WithTimeoutCause stacked canceled", stacked(FOREVER), CANCELED, FINISHED_EARLY),
        row("WithoutCancel", withoutCancel(Context::background), null, null),
        row("WithoutCancel canceled", withoutCancel(cancelled(cancelCause, FINISHED_EARLY)), null, null),
        row(
            "WithoutCancel timeout",
            withoutCancel(cancelled(timeout(Duration.ZERO, TOO_SLOW), null)),
            null,
            null),
        row(
            "custom context canceled",
            () -> {
              Fixtures.CustomContext c = new Fixtures.CustomContext();
              c.finish(Context.CANCELED, null);
              return c;
            },
            CANCELED,
            CANCELED),
        row(
            "WithCancelCause over a custom context that times out",
            () -> {
              Fixtures.CustomContext p = new Fixtures.CustomContext();
              CancelableContext c = Context.withCancelCause(p);
              p.finish(Context.DEADLINE_EXCEEDED, TOO_SLOW);
              return c;
            },
            DEADLINE,
            TOO_SLOW));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("goCauseTable")
  void goCauseTable(String name, Supplier<Context> make, ContextException err, Throwable cause) {
    Context ctx = make.get();
    assertSame(err, ctx.err(), "err");
    assertSame(cause, ctx.cause(), "cause");
    assertSame(cause, Context.cause(ctx), "Context.cause");
    assertSame(err != null, ctx.isDone(), "isDone");
  }

  /** TestCauseRace: polling cause() alone, without isDone(), must see the complete cause. */
  @Test
  void causeIsSafelyPublished() throws Exception {
    for (int i = 0; i < 100; i++) {
      CancelableContext ctx = Context.withCancelCause(Context.background());
      Throwable cause = new Exception("cause " + i);
      CountDownLatch started = new CountDownLatch(1);
      Thread t =
          new Thread(
              () -> {
                started.countDown();
                ctx.cancel(cause);
              });
      t.start();
      started.await();
      long deadline = System.nanoTime() + BOUND.toNanos();
      Throwable seen;
      while ((seen = Context.cause(ctx)) == null) {
        assertTrue(System.nanoTime() < deadline, "cause never appeared");
        Thread.onSpinWait();
      }
      assertSame(cause, seen);
      t.join();
    }
  }

  @Test
  void theFirstCancellationWinsAndTheCauseNeverChanges() {
    CancelableContext parent = Context.withCancelCause(Context.background());
    CancelableContext child = Context.withCancelCause(parent);
    assertTrue(child.cancel(CHILD_CAUSE));
    assertFalse(child.cancel(PARENT_CAUSE));
    assertTrue(parent.cancel(PARENT_CAUSE));
    assertFalse(parent.cancel(CHILD_CAUSE));
    assertSame(CHILD_CAUSE, child.cause());
    assertSame(PARENT_CAUSE, parent.cause());
    for (int i = 0; i < 3; i++) {
      assertSame(CHILD_CAUSE, child.cause());
      assertSame(Context.CANCELED, child.err());
    }
  }

  @Test
  void aDeadlineCauseIsUsedOnlyWhenTheDeadlineFires() {
    ManualTimeSource time = Fixtures.manualTime();
    Context root = Context.withTimeSource(Context.background(), time);
    CancelableContext byHand = Context.withTimeoutCause(root, Duration.ofSeconds(1), TOO_SLOW);
    CancelableContext byClock = Context.withTimeoutCause(root, Duration.ofSeconds(1), TOO_SLOW);
    byHand.cancel();
    time.advance(Duration.ofSeconds(1));
    assertSame(Context.CANCELED, byHand.cause());
    assertSame(Context.DEADLINE_EXCEEDED, byClock.err());
    assertSame(TOO_SLOW, byClock.cause());
    assertNotNull(byClock.toString());
  }

  /**
   * Go's #73258: a custom context whose {@code err()} is its own (here, a deadline it keeps itself)
   * and whose {@code cause()} forwards to a wrapped context that is still live reports a null cause
   * while done. Go's {@code Cause} then falls back to {@code Err()}; so do {@code Context.cause} and
   * every ctx4j context over it, whose cause must never be null once done.
   */
  @Test
  void theCauseFallsBackToErrWhenACustomContextReportsNoneWhileDone() {
    CancelableContext inner = Context.withCancel(Context.background());
    Context custom =
        new Fixtures.Wrapper(inner) {
          @Override
          public ContextException err() {
            return DEADLINE; // its own deadline passed; inner.cause() is still null
          }
        };
    assertSame(DEADLINE, Context.cause(custom), "Context.cause of the custom context");
    Context value = Context.withValue(custom, io.ctx4j.Key.named("k"), "v");
    Context clock = Context.withTimeSource(custom, Fixtures.manualTime());
    for (Context c : new Context[] {value, clock}) {
      assertSame(DEADLINE, c.err(), c::toString);
      assertSame(DEADLINE, c.cause(), () -> "cause() of " + c);
      assertSame(DEADLINE, Context.cause(c), () -> "Context.cause of " + c);
    }
    assertSame(DEADLINE, Context.withCancel(custom).cause());
    inner.cancel();
  }

  @Test
  void aCauseThatIsASentinelIsTheSentinel() {
    CancelableContext c = Context.withCancelCause(Context.background());
    c.cancel(Context.CANCELED);
    assertSame(Context.CANCELED, c.cause());
  }
}
