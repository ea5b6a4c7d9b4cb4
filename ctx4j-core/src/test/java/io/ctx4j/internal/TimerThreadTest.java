package io.ctx4j.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Registration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
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

  /**
   * The thread plans its sleep from the next event it saw; a timer withdrawn between that look and
   * the sleep must not leave it asleep past the tick it published as its wake-up, which later
   * timers rely on to not unpark it. On the old code (the sleep taken from a second look at the
   * wheel, then empty) the thread slept for good within a second or two on two cores, and every
   * deadline of the JVM after that was lost.
   */
  @Test
  void aTimerStoppedWhileTheThreadPlansItsSleepLosesNoLaterTimer() throws Exception {
    TimerThread timer = TimerThread.get();
    AtomicBoolean done = new AtomicBoolean();
    // Keeps the thread re-planning around short timers that are withdrawn at random moments.
    Thread churn =
        new Thread(
            () -> {
              ThreadLocalRandom r = ThreadLocalRandom.current();
              while (!done.get()) {
                Registration reg = timer.schedule(1_000_000L + r.nextInt(2_000_000), () -> {});
                long until = System.nanoTime() + r.nextInt(20_000);
                while (System.nanoTime() < until) {
                  Thread.onSpinWait();
                }
                reg.stop();
              }
            },
            "timer-churn");
    churn.start();
    try {
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
      for (int probe = 0; System.nanoTime() < end; probe++) {
        CountDownLatch fired = new CountDownLatch(1);
        timer.schedule(TimeUnit.MILLISECONDS.toNanos(2), fired::countDown);
        assertTrue(
            fired.await(20, TimeUnit.SECONDS),
            "a 2 ms timer did not fire in 20 s (probe " + probe + "): the timer thread sleeps");
      }
    } finally {
      done.set(true);
      churn.join();
    }
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
