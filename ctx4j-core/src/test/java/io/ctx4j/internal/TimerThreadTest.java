package io.ctx4j.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Registration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The driver on the real clock: it runs due tasks on the timer thread, sleeps until the wheel's next
 * event and wakes early for an earlier timer. Bounds are generous (the machine may be loaded); the
 * exact timing is {@link TimerWheelTest}'s job.
 */
@Timeout(60)
class TimerThreadTest {
  private static final long HOUR = TimeUnit.HOURS.toNanos(1);

  @Test
  void anEarlierTimerWakesTheThreadSleepingForALaterOne() throws Exception {
    TimerThread timer = TimerThread.get();
    Registration far = timer.schedule(HOUR, () -> {});
    CountDownLatch first = new CountDownLatch(1);
    // Let the thread plan a long sleep, then ask for something sooner.
    CountDownLatch planned = new CountDownLatch(1);
    timer.schedule(0, planned::countDown);
    assertTrue(planned.await(30, TimeUnit.SECONDS));
    long start = System.nanoTime();
    timer.schedule(TimeUnit.MILLISECONDS.toNanos(20), first::countDown);
    assertTrue(first.await(30, TimeUnit.SECONDS), "the sleeping timer thread was not woken");
    assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(20), "fired early");
    assertTrue(far.stop(), "the far timer is still pending");
  }

  @Test
  void tasksRunOnTheTimerThreadAndOnlyThere() throws Exception {
    assertFalse(TimerThread.isTimerThread());
    CompletableFuture<Boolean> onTimer = new CompletableFuture<>();
    TimerThread.get().schedule(1, () -> onTimer.complete(TimerThread.isTimerThread()));
    assertTrue(onTimer.get(30, TimeUnit.SECONDS));
  }

  @Test
  void aStoppedTimerIsNoLongerCounted() {
    TimerThread timer = TimerThread.get();
    Registration r = timer.schedule(HOUR, () -> {});
    int during = timer.pendingCount();
    assertTrue(during >= 1);
    assertTrue(r.stop());
    assertTrue(timer.pendingCount() <= during - 1, "the stopped timer is still linked");
    assertFalse(r.stop(), "a second stop finds nothing");
  }
}
