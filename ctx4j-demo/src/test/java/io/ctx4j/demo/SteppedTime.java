package io.ctx4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.ManualTimeSource;
import io.ctx4j.Registration;
import io.ctx4j.TimeSource;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * A manual time source that also lets a test wait until code under test has scheduled its timers,
 * so that time is moved only once every sleep, operation and deadline of a step is in place.
 */
final class SteppedTime implements TimeSource {
  private final ManualTimeSource manual =
      ManualTimeSource.startingAt(Instant.parse("2030-01-01T00:00:00Z"));
  private final Semaphore scheduled = new Semaphore(0);
  final DemoTime time = DemoTime.of(this);

  @Override
  public Instant now() {
    return manual.now();
  }

  @Override
  public Registration schedule(Instant deadline, Runnable action) {
    Registration r = manual.schedule(deadline, action);
    scheduled.release();
    return r;
  }

  /** Waits until {@code n} more timers have been scheduled since the last call. */
  void awaitScheduled(int n) throws InterruptedException {
    assertTrue(
        scheduled.tryAcquire(n, Lines.PATIENCE_SECONDS, TimeUnit.SECONDS),
        "expected " + n + " timers to be scheduled; " + manual.pendingCount() + " pending");
  }

  /** Moves time by {@code by} and checks that no timer was due in that span. */
  void advanceFiringNothing(Duration by) {
    int before = manual.pendingCount();
    manual.advance(by);
    assertEquals(before, manual.pendingCount(), "a timer fired before its time, within " + by);
  }

  /** Moves time by {@code by}, running whatever becomes due on this thread. */
  void advance(Duration by) {
    manual.advance(by);
  }

  int pendingCount() {
    return manual.pendingCount();
  }
}
