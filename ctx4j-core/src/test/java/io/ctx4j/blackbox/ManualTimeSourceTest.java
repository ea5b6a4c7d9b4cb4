package io.ctx4j.blackbox;

import static io.ctx4j.blackbox.Fixtures.EPOCH;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.Registration;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The test clock itself: order of actions, stopping, re-entrant scheduling. */
class ManualTimeSourceTest {
  private final ManualTimeSource time = Fixtures.manualTime();

  /**
   * An action that throws used to abort the batch: the actions due with it were already taken off
   * the queue, so they never ran and no longer counted as pending. A context whose deadline fell in
   * that batch never expired.
   */
  @Test
  void aThrowingActionDoesNotLoseTheOthersDueWithIt() {
    List<String> ran = new ArrayList<>();
    IllegalStateException first = new IllegalStateException("first");
    IllegalStateException second = new IllegalStateException("second");
    time.schedule(EPOCH.plusSeconds(1), () -> ran.add("a"));
    time.schedule(EPOCH.plusSeconds(1), () -> {
      throw first;
    });
    time.schedule(EPOCH.plusSeconds(1), () -> ran.add("b"));
    CancelableContext ctx =
        Context.withTimeout(Context.withTimeSource(Context.background(), time), Duration.ofSeconds(1));
    time.schedule(EPOCH.plusSeconds(2), () -> {
      throw second;
    });
    time.schedule(EPOCH.plusSeconds(2), () -> ran.add("c"));
    IllegalStateException thrown =
        org.junit.jupiter.api.Assertions.assertThrows(
            IllegalStateException.class, () -> time.advance(Duration.ofSeconds(2)));
    assertEquals(List.of("a", "b", "c"), ran, "every due action runs");
    assertTrue(ctx.isDone(), "the deadline due in the same batch fired");
    assertEquals(0, time.pendingCount());
    org.junit.jupiter.api.Assertions.assertSame(first, thrown, "the first failure reaches the caller");
    assertEquals(List.of(second), List.of(thrown.getSuppressed()), "later ones are suppressed on it");
  }

  @Test
  void actionsRunInDeadlineOrderThenSchedulingOrder() {
    List<String> ran = new ArrayList<>();
    time.schedule(EPOCH.plusSeconds(2), () -> ran.add("b"));
    time.schedule(EPOCH.plusSeconds(1), () -> ran.add("a1"));
    time.schedule(EPOCH.plusSeconds(1), () -> ran.add("a2"));
    time.schedule(EPOCH.plusSeconds(3), () -> ran.add("c"));
    time.advance(Duration.ofSeconds(2));
    assertEquals(List.of("a1", "a2", "b"), ran);
    assertEquals(EPOCH.plusSeconds(2), time.now());
    assertEquals(1, time.pendingCount());
  }

  @Test
  void aPastDeadlineRunsOnTheNextMove() {
    List<String> ran = new ArrayList<>();
    time.schedule(EPOCH.minusSeconds(1), () -> ran.add("late"));
    assertTrue(ran.isEmpty(), "scheduling never runs an action inline");
    time.advance(Duration.ZERO);
    assertEquals(List.of("late"), ran);
  }

  @Test
  void stopWithdrawsOnce() {
    List<String> ran = new ArrayList<>();
    Registration r = time.schedule(EPOCH.plusSeconds(1), () -> ran.add("x"));
    assertTrue(r.stop());
    assertFalse(r.stop());
    assertEquals(0, time.pendingCount());
    time.set(EPOCH.plusSeconds(5));
    assertTrue(ran.isEmpty());
    Registration done = time.schedule(EPOCH, () -> ran.add("y"));
    time.advance(Duration.ZERO);
    assertFalse(done.stop(), "already run");
  }

  @Test
  void anActionMayScheduleAnotherThatIsAlreadyDue() {
    List<Instant> ran = new ArrayList<>();
    time.schedule(
        EPOCH.plusSeconds(1),
        () -> time.schedule(EPOCH.plusSeconds(2), () -> ran.add(time.now())));
    time.advance(Duration.ofSeconds(3));
    assertEquals(List.of(EPOCH.plusSeconds(3)), ran);
  }

  @Test
  void hugeMovesSaturate() {
    time.advance(Duration.ofSeconds(Long.MAX_VALUE));
    assertEquals(Instant.MAX, time.now());
  }
}
