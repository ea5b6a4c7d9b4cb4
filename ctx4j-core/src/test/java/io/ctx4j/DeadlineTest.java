package io.ctx4j;

import static io.ctx4j.blackbox.Fixtures.BOUND;
import static io.ctx4j.blackbox.Fixtures.EPOCH;
import static io.ctx4j.blackbox.Fixtures.FOREVER;
import static io.ctx4j.blackbox.Fixtures.awaitDone;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.blackbox.Fixtures;
import io.ctx4j.internal.TimerThread;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * withDeadline and withTimeout. Most tests drive a {@link ManualTimeSource}, so they are exact and
 * never sleep; a few run on the system clock with generous bounds.
 */
class DeadlineTest {
  private static final Throwable TOO_SLOW = new Exception("tooSlow");

  private final ManualTimeSource time = Fixtures.manualTime();
  private final Context root = Context.withTimeSource(Context.background(), time);

  @Test
  void theDeadlineFiresExactlyWhenDue() {
    CancelableContext c = Context.withTimeout(root, Duration.ofSeconds(3));
    assertEquals(Optional.of(EPOCH.plusSeconds(3)), c.deadline());
    assertEquals(1, time.pendingCount());
    time.advance(Duration.ofMillis(2999));
    assertFalse(c.isDone());
    time.advance(Duration.ofMillis(1));
    assertSame(Context.DEADLINE_EXCEEDED, c.err());
    assertSame(Context.DEADLINE_EXCEEDED, c.cause());
    assertEquals(0, time.pendingCount());
    assertFalse(c.cancel(), "cancelling after expiry changes nothing");
    assertSame(Context.DEADLINE_EXCEEDED, c.err());
  }

  @Test
  void expiryReachesDescendantsAndReleasesTheirTimers() {
    CancelableContext parent = Context.withDeadline(root, EPOCH.plusSeconds(10));
    Context value = Context.withValue(parent, Key.named("k"), "v");
    CancelableContext sameDeadline = Context.withDeadline(value, EPOCH.plusSeconds(10));
    CancelableContext child = Context.withCancel(value);
    assertEquals(2, time.pendingCount());
    time.set(EPOCH.plusSeconds(10));
    for (Context c : List.of(parent, value, sameDeadline, child)) {
      assertSame(Context.DEADLINE_EXCEEDED, c.err(), c::toString);
    }
    assertEquals(0, time.pendingCount());
  }

  @Test
  void theEffectiveDeadlineIsTheEarlierOfParentsAndOwn() {
    CancelableContext parent = Context.withDeadline(root, EPOCH.plusSeconds(10));
    CancelableContext earlier = Context.withDeadline(parent, EPOCH.plusSeconds(5));
    CancelableContext later = Context.withDeadline(parent, EPOCH.plusSeconds(20));
    CancelableContext laterTimeout = Context.withTimeout(parent, Duration.ofSeconds(20));
    Context value = Context.withValue(later, Key.named("k"), 1);
    assertEquals(Optional.of(EPOCH.plusSeconds(5)), earlier.deadline());
    assertEquals(Optional.of(EPOCH.plusSeconds(10)), later.deadline());
    assertEquals(Optional.of(EPOCH.plusSeconds(10)), laterTimeout.deadline());
    assertEquals(Optional.of(EPOCH.plusSeconds(10)), value.deadline());
    assertEquals(2, time.pendingCount(), "Go's shortcut: a later deadline under an earlier one makes no timer");
    time.advance(Duration.ofSeconds(5));
    assertTrue(earlier.isDone());
    assertFalse(later.isDone());
    time.advance(Duration.ofSeconds(5));
    assertSame(Context.DEADLINE_EXCEEDED, later.err());
    assertSame(Context.DEADLINE_EXCEEDED, laterTimeout.err());
  }

  @Test
  void theShortcutBehavesAsWithCancelAndDropsTheCause() {
    Throwable parentCause = new Exception("parent too slow");
    CancelableContext parent = Context.withDeadlineCause(root, EPOCH.plusSeconds(10), parentCause);
    CancelableContext child = Context.withDeadlineCause(parent, EPOCH.plusSeconds(20), TOO_SLOW);
    assertTrue(child.toString().endsWith(".WithCancel"), child::toString);
    time.advance(Duration.ofSeconds(10));
    assertSame(Context.DEADLINE_EXCEEDED, child.err());
    assertSame(parentCause, child.cause(), "the child's own cause is dropped, as in Go");
  }

  @Test
  void equalDeadlinesDoNotTakeTheShortcut() {
    CancelableContext parent = Context.withDeadline(root, EPOCH.plusSeconds(10));
    CancelableContext child = Context.withDeadlineCause(parent, EPOCH.plusSeconds(10), TOO_SLOW);
    assertTrue(child.toString().endsWith("])"), child::toString);
    assertEquals(2, time.pendingCount());
    parent.cancel();
    assertEquals(0, time.pendingCount());
    assertSame(Context.CANCELED, child.err());
  }

  @Test
  void aPastDeadlineOrZeroTimeoutIsBornDone() {
    List<CancelableContext> born =
        List.of(
            Context.withDeadline(root, EPOCH.minusMillis(1)),
            Context.withDeadline(root, EPOCH),
            Context.withTimeout(root, Duration.ZERO),
            Context.withDeadline(Context.background(), Instant.now().minusSeconds(1)),
            Context.withTimeout(Context.background(), Duration.ZERO));
    for (CancelableContext c : born) {
      assertTrue(c.isDone(), c::toString);
      assertSame(Context.DEADLINE_EXCEEDED, c.err());
      assertSame(Context.DEADLINE_EXCEEDED, c.cause());
      assertFalse(c.cancel());
    }
    CancelableContext withCause = Context.withDeadlineCause(root, EPOCH, TOO_SLOW);
    assertSame(Context.DEADLINE_EXCEEDED, withCause.err());
    assertSame(TOO_SLOW, withCause.cause());
    assertEquals(0, time.pendingCount());
  }

  @Test
  void aPastDeadlineUnderACancelledParentTakesTheParentsError() {
    CancelableContext parent = Context.withCancelCause(root);
    Throwable why = new Exception("why");
    parent.cancel(why);
    CancelableContext c = Context.withTimeoutCause(parent, Duration.ZERO, TOO_SLOW);
    assertSame(Context.CANCELED, c.err());
    assertSame(why, c.cause());
  }

  @Test
  void cancellingEarlyReleasesTheManualTimer() {
    List<CancelableContext> all = new ArrayList<>();
    for (int i = 1; i <= 100; i++) {
      all.add(Context.withTimeout(root, Duration.ofSeconds(i)));
    }
    assertEquals(100, time.pendingCount());
    all.forEach(CancelableContext::cancel);
    assertEquals(0, time.pendingCount());
    CancelableContext parent = Context.withCancel(root);
    Context.withTimeout(parent, Duration.ofSeconds(1));
    assertEquals(1, time.pendingCount());
    parent.cancel();
    assertEquals(0, time.pendingCount(), "a parent's cancellation releases its descendants' timers");
  }

  @Test
  void cancellingEarlyReleasesTheSystemTimer() {
    TimerThread wheel = TimerThread.get();
    int before = wheel.pendingCount();
    List<CancelableContext> all = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      all.add(Context.withTimeout(Context.background(), FOREVER));
    }
    assertTrue(wheel.pendingCount() >= 100, "the wheel should hold the new timers");
    all.forEach(CancelableContext::cancel);
    assertTrue(
        wheel.pendingCount() <= before,
        "timers left behind: " + wheel.pendingCount() + " > " + before);
  }

  /**
   * A parent cancelled while children are being made must not leave a child's timer behind: the
   * timer is started after attaching, and whichever of start and cancel comes second stops it.
   */
  @Test
  void noTimerOutlivesAChildCancelledWhileBeingMade() throws Exception {
    TimerThread wheel = TimerThread.get();
    int wheelBefore = wheel.pendingCount();
    for (int round = 0; round < 200; round++) {
      CancelableContext parent = Context.withCancel(root);
      CancelableContext systemParent = Context.withCancel(Context.background());
      CountDownLatch go = new CountDownLatch(1);
      Thread canceller =
          Fixtures.startAfter(
              go,
              () -> {
                parent.cancel();
                systemParent.cancel();
              });
      List<CancelableContext> children = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        if (i == 5) {
          go.countDown();
        }
        children.add(Context.withTimeout(parent, FOREVER));
        children.add(Context.withTimeout(systemParent, FOREVER));
      }
      canceller.join();
      for (CancelableContext c : children) {
        assertSame(Context.CANCELED, c.err());
      }
      assertEquals(0, time.pendingCount(), "round " + round);
    }
    assertTrue(wheel.pendingCount() <= wheelBefore, "system timers left behind: " + wheel.pendingCount());
  }

  @Test
  void deadlineReportsTheDeadline() {
    Instant d = EPOCH.plusSeconds(42);
    try (CancelableContext c = Context.withDeadline(root, d)) {
      assertEquals(Optional.of(d), c.deadline());
      assertEquals(Optional.of(d), Context.withValue(c, Key.named("k"), "v").deadline());
      assertEquals(Optional.of(d), Context.withCancel(c).deadline());
      assertEquals(Optional.of(d), new Fixtures.Wrapper(c).deadline());
      assertEquals(Optional.of(d), Context.withCancel(new Fixtures.Wrapper(c)).deadline());
    }
  }

  @Test
  void aTimeSourceGovernsEveryDeadlineBelowIt() {
    CancelableContext c = Context.withCancel(root);
    Context v = Context.withValue(c, Key.named("k"), "v");
    CancelableContext t = Context.withTimeout(v, Duration.ofMinutes(1));
    assertEquals(Optional.of(EPOCH.plusSeconds(60)), t.deadline());
    time.advance(Duration.ofMinutes(1));
    assertTrue(t.isDone());
    assertFalse(c.isDone());
  }

  @Test
  void expiryRunsCallbacksAndWakesWaitersOnTheAdvancingThread() throws Exception {
    CancelableContext c = Context.withTimeout(root, Duration.ofSeconds(1));
    AtomicReference<Thread> ranOn = new AtomicReference<>();
    c.onDone(() -> ranOn.set(Thread.currentThread()));
    CountDownLatch waiting = new CountDownLatch(1);
    Thread waiter =
        new Thread(
            () -> {
              waiting.countDown();
              try {
                c.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    waiter.start();
    waiting.await();
    time.advance(Duration.ofSeconds(1));
    assertSame(Thread.currentThread(), ranOn.get());
    waiter.join(BOUND.toMillis());
    assertFalse(waiter.isAlive());
  }

  // ------------------------------------------------------------------ the system clock

  /** TestTimeout (a): a short timeout fires, not before it is due, well within the bound. */
  @Test
  void aShortTimeoutFiresOnTheSystemClock() throws Exception {
    long start = System.nanoTime();
    CancelableContext c = Context.withTimeout(Context.background(), Duration.ofMillis(50));
    assertTrue(c.toString().startsWith("context.Background.WithDeadline("), c::toString);
    awaitDone(c);
    long elapsed = System.nanoTime() - start;
    assertSame(Context.DEADLINE_EXCEEDED, c.err());
    assertTrue(elapsed >= TimeUnit.MILLISECONDS.toNanos(50), "fired early, after " + elapsed + " ns");
    assertTrue(Instant.now().compareTo(c.deadline().orElseThrow()) >= 0, "fired before its deadline");
  }

  /** TestDeadline (b)-(e) and TestTimeout (b)-(c): through custom wrappers, past and present deadlines. */
  @Test
  void deadlinesFireThroughCustomWrappersOnTheSystemClock() throws Exception {
    Instant soon = Instant.now().plusMillis(20);
    CancelableContext plain = Context.withDeadline(Context.background(), soon);
    Context wrapped = new Fixtures.Wrapper(Context.withDeadline(Context.background(), soon));
    CancelableContext inner = Context.withTimeout(Context.background(), Duration.ofMillis(20));
    CancelableContext inherits = Context.withDeadline(new Fixtures.Wrapper(inner), Instant.now().plus(FOREVER));
    CancelableContext past = Context.withDeadline(Context.background(), Instant.now().minusMillis(1));
    CancelableContext now = Context.withDeadline(Context.background(), Instant.now());
    for (Context c : List.of(plain, wrapped, inherits, past, now)) {
      awaitDone(c);
      assertSame(Context.DEADLINE_EXCEEDED, c.err(), c::toString);
    }
    assertEquals(inner.deadline(), inherits.deadline());
  }

  /** TestCanceledTimeout. */
  @Test
  void cancellingATimeoutUnderACustomParentIsSynchronous() {
    try (CancelableContext c = Context.withTimeout(Context.background(), Duration.ofSeconds(1))) {
      CancelableContext c2 = Context.withTimeout(new Fixtures.Wrapper(c), FOREVER);
      assertNotEquals(Optional.empty(), c2.deadline());
      c2.cancel();
      assertTrue(c2.isDone());
      assertSame(Context.CANCELED, c2.err());
      assertFalse(c.isDone());
    }
  }

  @Test
  void callbacksOfASystemDeadlineDoNotRunOnTheTimerThread() throws Exception {
    CancelableContext c = Context.withTimeout(Context.background(), Duration.ofMillis(5));
    AtomicReference<Thread> ranOn = new AtomicReference<>();
    CountDownLatch ran = new CountDownLatch(1);
    c.onDone(
        () -> {
          ranOn.set(Thread.currentThread());
          ran.countDown();
        });
    assertTrue(ran.await(BOUND.toMillis(), TimeUnit.MILLISECONDS));
    assertNotEquals("ctx4j-timer", ranOn.get().getName(), "a slow callback would stall every deadline");
  }

  @Test
  void timeSourceOfFindsTheNearestSourceThroughEveryLayer() {
    ManualTimeSource manual = ManualTimeSource.startingAt(java.time.Instant.parse("2030-01-01T00:00:00Z"));
    Context root = Context.withTimeSource(Context.background(), manual);
    Context deep = Context.withValue(Context.withCancel(root), Key.named("k"), "v");
    org.junit.jupiter.api.Assertions.assertSame(manual, Context.timeSourceOf(deep));
    org.junit.jupiter.api.Assertions.assertSame(
        TimeSource.system(), Context.timeSourceOf(Context.withCancel(Context.background())));
    org.junit.jupiter.api.Assertions.assertThrows(
        NullPointerException.class, () -> Context.timeSourceOf(null));
  }
}
