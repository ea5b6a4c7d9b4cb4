package io.ctx4j.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.Registration;
import io.ctx4j.blackbox.Fixtures;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The internal accessor the other modules use instead of classes in package {@code io.ctx4j}: it
 * installs its package side on first use, once, and answers what the removed copies answered.
 * Only public API and the accessor are used here (no package-private access), as from another
 * module.
 */
@Timeout(60)
class CoreInternalsTest {

  @Test
  void thePackageSideIsInstalledOnFirstUseAndOnlyOnce() {
    CoreInternals.PackageAccess access = CoreInternals.packageAccess();
    assertSame(access, CoreInternals.packageAccess());
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> CoreInternals.install(access));
    assertTrue(e.getMessage().contains("installed already"), e.getMessage());
    assertSame(access, CoreInternals.packageAccess(), "a second install changes nothing");
  }

  @Test
  void errorCopyIsNullUntilDoneThenAFreshCopyWithTheCauseEachTime() {
    CancelableContext ctx = Context.withCancelCause(Context.background());
    assertNull(CoreInternals.errorCopy(ctx));
    RuntimeException why = new RuntimeException("why");
    ctx.cancel(why);
    ContextException a = CoreInternals.errorCopy(ctx);
    ContextException b = CoreInternals.errorCopy(ctx);
    assertInstanceOf(CanceledException.class, a);
    assertNotSame(a, b);
    assertNotSame(Context.CANCELED, a, "never the shared sentinel");
    assertSame(Context.CANCELED, a.sentinel());
    assertSame(why, a.getCause());
    a.addSuppressed(new RuntimeException("only on a"));
    assertEquals(0, b.getSuppressed().length, "copies share nothing");
  }

  @Test
  void errorCopyOfAnExpiredDeadlineIsADeadlineError() {
    ContextException e =
        CoreInternals.errorCopy(Context.withTimeout(Context.background(), Duration.ofNanos(-1)));
    assertInstanceOf(DeadlineExceededException.class, e);
    assertTrue(e.isTimeout());
  }

  /**
   * endOf: a deadline that has passed ends the work though no timer has ended the context yet (a
   * clock whose timers never fire holds it there), and once the context has ended its own error
   * counts, cause and all.
   */
  @Test
  void endOfCountsAPassedDeadlineBeforeTheTimerAndThenTheContextsError() {
    AtomicReference<Instant> now = new AtomicReference<>(Instant.parse("2040-01-01T00:00:00Z"));
    Context lagging =
        Context.withTimeSource(Context.background(), Fixtures.timeSource(now::get, (at, action) -> () -> true));
    CancelableContext ctx = Context.withTimeoutCause(lagging, Duration.ofSeconds(1), new RuntimeException("slow"));
    assertNull(CoreInternals.endOf(ctx), "a second left");
    assertNull(CoreInternals.endOf(Context.background()), "no deadline");
    now.set(now.get().plusSeconds(1));
    assertNull(ctx.err(), "the timer fired");
    ContextException a = CoreInternals.endOf(ctx);
    assertInstanceOf(DeadlineExceededException.class, a);
    assertNull(a.getCause(), "no cause before the context has ended");
    assertNotSame(a, CoreInternals.endOf(ctx));
    assertNotSame(Context.DEADLINE_EXCEEDED, a, "never the shared sentinel");
    RuntimeException why = new RuntimeException("why");
    ctx.cancel(why);
    ContextException ended = CoreInternals.endOf(ctx);
    assertInstanceOf(CanceledException.class, ended, "the context's own error once it has ended");
    assertSame(why, ended.getCause());
  }

  /** An exception with value equality, as a Kotlin data class or a hand-written equals gives. */
  private static final class ValueException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final boolean equalsThrows;

    ValueException(String message, boolean equalsThrows) {
      super(message);
      this.equalsThrows = equalsThrows;
    }

    @Override
    public boolean equals(Object o) {
      if (equalsThrows) {
        throw new IllegalStateException("equals refused");
      }
      return o instanceof ValueException && getMessage().equals(((ValueException) o).getMessage());
    }

    @Override
    public int hashCode() {
      return getMessage().hashCode();
    }
  }

  /**
   * "Already there" is the same exception, not an equal one: stopAfter must neither drop a second
   * failure that equals one already suppressed, nor let a stop() failure's own equals() escape in
   * place of the failure the caller is owed.
   */
  @Test
  void stopAfterTellsSuppressedFailuresApartByIdentity() {
    for (boolean equalsThrows : new boolean[] {false, true}) {
      IllegalStateException failure = new IllegalStateException("the work failed");
      ValueException earlier = new ValueException("stop failed", false);
      failure.addSuppressed(earlier);
      ValueException stopFailure = new ValueException("stop failed", equalsThrows);
      Registration throwing =
          () -> {
            throw stopFailure;
          };
      CoreInternals.stopAfter(failure, throwing);
      assertArrayEquals(new Throwable[] {earlier, stopFailure}, failure.getSuppressed());
      CoreInternals.stopAfter(failure, throwing); // the same one again is already there
      assertEquals(2, failure.getSuppressed().length);
    }
  }

  @Test
  void timeArithmeticSaturatesInsteadOfThrowing() {
    assertEquals(Long.MAX_VALUE, CoreInternals.saturatedNanos(Duration.ofSeconds(Long.MAX_VALUE)));
    assertEquals(Long.MIN_VALUE, CoreInternals.saturatedNanos(Duration.ofSeconds(Long.MIN_VALUE)));
    assertEquals(1_500, CoreInternals.saturatedNanos(Duration.ofNanos(1_500)));
    assertEquals(Long.MAX_VALUE, CoreInternals.saturatedNanos(Instant.MIN, Instant.MAX));
    assertEquals(Long.MIN_VALUE, CoreInternals.saturatedNanos(Instant.MAX, Instant.MIN));
    assertEquals(Instant.MAX, CoreInternals.saturatedPlus(Instant.MAX, Duration.ofDays(1)));
    assertEquals(Instant.MIN, CoreInternals.saturatedPlus(Instant.MIN, Duration.ofDays(-1)));
    Instant t = Instant.parse("2026-12-01T00:00:00Z");
    assertEquals(t.plusSeconds(3), CoreInternals.saturatedPlus(t, Duration.ofSeconds(3)));
  }

  @Test
  void reportUncaughtGoesToTheThreadsHandlerAndSurvivesAThrowingOne() throws Exception {
    AtomicReference<Throwable> seen = new AtomicReference<>();
    RuntimeException boom = new RuntimeException("boom");
    Thread t =
        new Thread(
            () -> {
              CoreInternals.reportUncaught(boom);
              Thread.currentThread()
                  .setUncaughtExceptionHandler(
                      (th, e) -> {
                        throw new IllegalStateException("handler fails");
                      });
              CoreInternals.reportUncaught(new RuntimeException("lost, quietly"));
            });
    t.setUncaughtExceptionHandler((th, e) -> seen.set(e));
    t.start();
    t.join();
    assertSame(boom, seen.get());
  }

  @Test
  void countsLiveRegistrationsAndPendingTimers() {
    CancelableContext parent = Context.withCancel(Context.background());
    assertEquals(0, CoreInternals.registrationCount(parent));
    Registration r = parent.onDone(() -> {});
    CancelableContext child = Context.withCancel(parent);
    CoreInternals.register(child);
    assertEquals(2, CoreInternals.registrationCount(parent));
    assertTrue(CoreInternals.nodeCount(parent) >= 2);
    r.stop();
    child.cancel();
    assertEquals(0, CoreInternals.registrationCount(parent));

    int pending = CoreInternals.pendingTimers();
    CancelableContext timed = Context.withTimeout(Context.background(), Duration.ofHours(1));
    assertEquals(pending + 1, CoreInternals.pendingTimers());
    timed.cancel();
    assertEquals(pending, CoreInternals.pendingTimers());
    assertTrue(CoreInternals.maxUnregisteredWalk() > 0);
  }

  @Test
  void rejectsContextsThatAreNotCancelableCoreContexts() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> CoreInternals.registrationCount(Context.background()));
    assertTrue(e.getMessage().contains("not a cancelable ctx4j context"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> CoreInternals.nodeCount(null));
    assertThrows(IllegalArgumentException.class, () -> CoreInternals.register(Context.background()));
  }
}
