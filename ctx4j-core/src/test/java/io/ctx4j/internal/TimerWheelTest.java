package io.ctx4j.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.blackbox.Fixtures;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The pure wheel, driven by hand: time goes in as plain longs, so every test runs in microseconds
 * over any clock value, including clocks about to wrap past {@code Long.MAX_VALUE} as {@link
 * System#nanoTime()} may. Most tests use a one-nanosecond tick so that "due" is exact.
 */
@Timeout(120)
class TimerWheelTest {
  /** Clock origins: zero, negative, and a few nanoseconds before the long wraps. */
  private static final long[] ORIGINS = {0, -1, Long.MIN_VALUE, Long.MAX_VALUE - 3, Long.MAX_VALUE};

  /** Delays that straddle the first four level boundaries (64^1..64^4 ticks) and a far one. */
  private static final long[] DELAYS = {
    1, 2, 62, 63, 64, 65, 127, 128, 4_095, 4_096, 4_097, 262_143, 262_144, 262_145, 16_777_215,
    16_777_216, 16_777_217, 3_600_000_000_000L
  };

  /** Records the wheel-relative time at which each task ran. */
  private static final class Log {
    final List<String> fired = new ArrayList<>();
    long now;

    Runnable task(String name) {
      return () -> fired.add(name + "@" + now);
    }

    int advance(TimerWheel w, long origin, long at) {
      now = at;
      return w.advance(origin + at);
    }
  }

  @ParameterizedTest
  @ValueSource(longs = {0, -1, Long.MIN_VALUE, Long.MAX_VALUE - 3, Long.MAX_VALUE})
  void eachTimerFiresAtItsDueTickWhenSteppedThroughTheLevelBoundaries(long origin) {
    for (long delay : DELAYS) {
      if (delay > 20_000_000) {
        continue; // stepping tick by tick to an hour is what the next test avoids
      }
      TimerWheel w = new TimerWheel(origin, 1, 1);
      Log log = new Log();
      w.schedule(origin, delay, log.task("t"));
      // Step one tick at a time around the due tick, jump elsewhere (cascades happen on the way).
      log.advance(w, origin, delay - 2);
      assertEquals(List.of(), log.fired, "early at " + delay);
      log.advance(w, origin, delay - 1);
      assertEquals(List.of(), log.fired, "early at " + delay);
      log.advance(w, origin, delay);
      assertEquals(List.of("t@" + delay), log.fired, "delay " + delay);
      assertEquals(0, w.pendingCount());
    }
  }

  @Test
  void drivenByNextDelayEveryTimerFiresExactlyOnTimeWithFewWakeUps() {
    for (long origin : ORIGINS) {
      TimerWheel w = new TimerWheel(origin, 1, 1);
      Log log = new Log();
      for (long delay : DELAYS) {
        w.schedule(origin, delay, log.task(Long.toString(delay)));
      }
      int wakeUps = 0;
      long at = 0;
      for (long d = w.nextDelay(); d != Long.MAX_VALUE; d = w.nextDelay()) {
        assertTrue(d > 0, "a due timer was left behind at " + at);
        at += d;
        log.advance(w, origin, at);
        wakeUps++;
      }
      List<String> expected = new ArrayList<>();
      for (long delay : DELAYS) {
        expected.add(delay + "@" + delay);
      }
      assertEquals(expected, log.fired, "origin " + origin);
      // At most one wake-up per level a timer crosses (11 levels), not one per tick or bucket.
      assertTrue(wakeUps <= DELAYS.length * 4, "wake-ups: " + wakeUps);
    }
  }

  @Test
  void aTimerAnHourAwayAtMillisecondTicksNeedsAHandfulOfWakeUps() {
    long ms = 1_000_000;
    TimerWheel w = new TimerWheel(Long.MAX_VALUE - 5 * ms, ms, 2);
    long origin = Long.MAX_VALUE - 5 * ms;
    AtomicLong firedAt = new AtomicLong(-1);
    AtomicLong now = new AtomicLong(origin);
    long hour = 3_600_000L * ms;
    w.schedule(origin + 123, hour, () -> firedAt.set(now.get() - origin));
    int wakeUps = 0;
    for (long d = w.nextDelay(); d != Long.MAX_VALUE; d = w.nextDelay()) {
      now.addAndGet(d); // wraps past Long.MAX_VALUE on the first step
      w.advance(now.get());
      wakeUps++;
    }
    // Due at 123 ns + 1 h: rounded up to the next millisecond tick, never earlier.
    assertEquals(hour + ms, firedAt.get());
    assertTrue(wakeUps <= 5, "wake-ups: " + wakeUps);
  }

  @Test
  void matchesASortedListUnderRandomSchedulesCancelsAndJumps() {
    SplittableRandom rnd = new SplittableRandom(42);
    for (long origin : ORIGINS) {
      TimerWheel w = new TimerWheel(origin, 1, 4);
      long[] due = new long[2_000];
      TimerWheel.Timer[] timers = new TimerWheel.Timer[due.length];
      long[] firedAt = new long[due.length];
      boolean[] cancelled = new boolean[due.length];
      AtomicLong now = new AtomicLong();
      int next = 0;
      while (next < due.length || w.nextDelay() != Long.MAX_VALUE) {
        int burst = Math.min(due.length - next, rnd.nextInt(50));
        for (int k = 0; k < burst; k++, next++) {
          int i = next;
          int scale = rnd.nextInt(4); // up to 2^24 ticks: four levels
          long delay = rnd.nextLong(1, 1L << (6 * scale + 6)) - (rnd.nextInt(20) == 0 ? 100 : 0);
          due[i] = now.get() + Math.max(0, delay);
          firedAt[i] = -1;
          timers[i] = w.schedule(origin + now.get(), delay, () -> firedAt[i] = now.get());
        }
        for (int k = 0; k < 5 && next > 0; k++) {
          int i = rnd.nextInt(next);
          boolean stopped = timers[i].stop();
          assertEquals(firedAt[i] == -1 && !cancelled[i], stopped, "stop of a pending timer");
          cancelled[i] |= stopped;
        }
        long step = rnd.nextInt(4) == 0 ? rnd.nextLong(1, 1L << 18) : rnd.nextLong(1, 100);
        now.addAndGet(step);
        w.advance(origin + now.get());
        for (int i = 0; i < next; i++) {
          if (cancelled[i]) {
            assertEquals(-1, firedAt[i], "a cancelled timer fired");
          } else if (due[i] <= now.get()) {
            assertTrue(firedAt[i] >= 0, "due and not fired: " + i);
          }
          if (firedAt[i] >= 0) {
            assertTrue(firedAt[i] >= due[i], "fired early: " + i);
          }
        }
      }
      for (int i = 0; i < due.length; i++) {
        assertTrue(cancelled[i] ^ firedAt[i] >= 0, "exactly one of fired and cancelled: " + i);
      }
      assertEquals(0, w.pendingCount());
    }
  }

  @Test
  void aTimerCancelledBetweenCascadesNeverFires() {
    TimerWheel w = new TimerWheel(0, 1, 1);
    Log log = new Log();
    TimerWheel.Timer far = w.schedule(0, 64 * 64 + 70, log.task("far")); // level 2 at tick 0
    log.advance(w, 0, 64 * 64); // cascaded to level 1
    log.advance(w, 0, 64 * 64 + 64); // cascaded to level 0
    assertEquals(1, w.pendingCount());
    assertTrue(far.stop());
    assertFalse(far.stop(), "a second stop finds nothing");
    assertEquals(0, w.pendingCount());
    assertEquals(Long.MAX_VALUE, w.nextDelay());
    log.advance(w, 0, 1_000_000);
    assertEquals(List.of(), log.fired);
  }

  @Test
  void aTaskThatCancelsATimerCascadingInTheSameAdvanceWins() {
    TimerWheel w = new TimerWheel(0, 1, 1);
    Log log = new Log();
    // Both at level 1, slot 1: entering tick 64 fires `first` and moves `second` down a level.
    AtomicReference<TimerWheel.Timer> second = new AtomicReference<>();
    AtomicBoolean stopped = new AtomicBoolean();
    w.schedule(0, 64, () -> stopped.set(second.get().stop()));
    second.set(w.schedule(0, 66, log.task("second")));
    log.advance(w, 0, 64);
    assertTrue(stopped.get(), "the cascaded timer was still pending");
    log.advance(w, 0, 10_000);
    assertEquals(List.of(), log.fired);
    assertEquals(0, w.pendingCount());
  }

  @Test
  void manyTimersOnOneTickFromManyThreadsAllFireOnce() throws Exception {
    TimerWheel w = new TimerWheel(Long.MAX_VALUE, 1, 8);
    int threads = 4;
    int each = 5_000;
    AtomicInteger runs = new AtomicInteger();
    CountDownLatch start = new CountDownLatch(1);
    List<Thread> all = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      all.add(
          Fixtures.startAfter(
              start,
              () -> {
                for (int i = 0; i < each; i++) {
                  w.schedule(Long.MAX_VALUE, 500, runs::incrementAndGet);
                }
              }));
    }
    start.countDown();
    for (Thread th : all) {
      th.join();
    }
    assertEquals(threads * each, w.pendingCount());
    assertEquals(448, w.nextDelay(), "the cascade from level 1 comes first");
    assertEquals(0, w.advance(Long.MAX_VALUE + 499));
    assertEquals(1, w.nextDelay());
    assertEquals(threads * each, w.advance(Long.MAX_VALUE + 500));
    assertEquals(threads * each, runs.get());
    assertEquals(0, w.pendingCount());
  }

  @Test
  void aTimerScheduledInThePastFiresAtTheNextTickNotTheCurrentOne() {
    TimerWheel w = new TimerWheel(0, 10, 1);
    Log log = new Log();
    log.advance(w, 0, 1_000); // tick 100
    w.schedule(500, 10, log.task("past")); // due at 510, long gone
    w.schedule(1_000, -5, log.task("negative"));
    w.schedule(1_000, 0, log.task("zero"));
    assertEquals(10, w.nextDelay(), "the next tick");
    assertEquals(0, log.advance(w, 0, 1_009), "still tick 100");
    assertEquals(3, log.advance(w, 0, 1_010));
    assertEquals(
        java.util.Set.of("past@1010", "negative@1010", "zero@1010"), java.util.Set.copyOf(log.fired));
  }

  @Test
  void roundsUpToTheTickSoNothingFiresEarly() {
    TimerWheel w = new TimerWheel(7, 100, 1);
    Log log = new Log();
    w.schedule(7 + 30, 101, log.task("t")); // due at offset 131: tick 2 (offset 200)
    assertEquals(200, w.nextDelay());
    assertEquals(0, log.advance(w, 7, 199));
    assertEquals(1, log.advance(w, 7, 200));
  }

  @Test
  void stopAfterFireReturnsFalseAndTheTaskRanOnce() {
    TimerWheel w = new TimerWheel(0, 1, 1);
    AtomicInteger runs = new AtomicInteger();
    TimerWheel.Timer t = w.schedule(0, 3, runs::incrementAndGet);
    w.advance(3);
    assertFalse(t.stop());
    assertFalse(w.cancel(t));
    w.advance(1_000_000);
    assertEquals(1, runs.get());
  }

  @Test
  void nextDelayIsTheTimeToTheNextSlotFromTheLastAdvance() {
    TimerWheel w = new TimerWheel(-10, 1, 1);
    assertEquals(Long.MAX_VALUE, w.nextDelay(), "empty");
    w.schedule(-10, 100, () -> {}); // tick 100: level 1, cascades at 64
    assertEquals(64, w.nextDelay());
    w.advance(-10 + 50);
    assertEquals(14, w.nextDelay());
    w.advance(-10 + 64);
    assertEquals(36, w.nextDelay(), "cascaded: now the timer's own tick");
    w.schedule(-10 + 64, 5, () -> {});
    assertEquals(5, w.nextDelay(), "an earlier timer moves it forward");
    w.advance(-10 + 75);
    assertEquals(25, w.nextDelay());
    w.advance(-10 + 100);
    assertEquals(Long.MAX_VALUE, w.nextDelay());
  }

  @Test
  void aPlannedTickKeepsItsDelayWhenItsTimerIsWithdrawn() {
    TimerWheel w = new TimerWheel(0, 10, 1);
    w.advance(25);
    TimerWheel.Timer t = w.schedule(25, 40, () -> {}); // due at 65 ns: tick 7
    long planned = w.nextTick();
    assertEquals(7, planned);
    assertTrue(t.stop());
    assertEquals(Long.MAX_VALUE, w.nextDelay(), "a second look finds the wheel empty");
    assertEquals(45, w.delayTo(planned), "the driver still sleeps only until the tick it planned");
    assertEquals(0, w.delayTo(2), "a passed tick is due now");
    assertEquals(Long.MAX_VALUE, w.delayTo(Long.MAX_VALUE));
  }

  @Test
  void hugeDelaysSaturateAndNeverFire() {
    TimerWheel w = new TimerWheel(Long.MAX_VALUE, 1, 1);
    AtomicInteger runs = new AtomicInteger();
    TimerWheel.Timer t = w.schedule(Long.MAX_VALUE + 100, Long.MAX_VALUE, runs::incrementAndGet);
    assertTrue(w.nextDelay() > Long.MAX_VALUE / 2);
    w.advance(Long.MAX_VALUE + Long.MAX_VALUE); // the farthest time the wheel can represent
    assertEquals(0, runs.get());
    assertEquals(1, w.pendingCount());
    assertTrue(t.stop());
  }

  @Test
  void aTaskThatThrowsIsReportedAndTheOthersStillRun() {
    TimerWheel w = new TimerWheel(0, 1, 1);
    AtomicInteger runs = new AtomicInteger();
    IllegalStateException boom = new IllegalStateException("boom");
    w.schedule(0, 1, runs::incrementAndGet);
    w.schedule(0, 1, () -> {
      throw boom;
    });
    w.schedule(0, 1, runs::incrementAndGet);
    AtomicReference<Throwable> reported = new AtomicReference<>();
    Thread me = Thread.currentThread();
    Thread.UncaughtExceptionHandler old = me.getUncaughtExceptionHandler();
    me.setUncaughtExceptionHandler((th, x) -> reported.set(x));
    try {
      assertEquals(3, w.advance(1));
    } finally {
      me.setUncaughtExceptionHandler(old);
    }
    assertEquals(2, runs.get());
    assertSame(boom, reported.get());
  }

  @Test
  void badArgumentsAreRejectedEarly() {
    assertThrows(IllegalArgumentException.class, () -> new TimerWheel(0, 0, 1));
    assertThrows(IllegalArgumentException.class, () -> new TimerWheel(0, 1, 0));
    TimerWheel w = new TimerWheel(0, 1, 1);
    NullPointerException npe = assertThrows(NullPointerException.class, () -> w.schedule(0, 1, null));
    assertTrue(npe.getMessage().contains("task"), npe::getMessage);
  }

  /**
   * The first deadline of a JVM allocates one level of one lane, whatever the CPU count: the old
   * wheel allocated 2 x 4,096 buckets per lane, two lanes per CPU (about 11 MiB at 64 CPUs).
   */
  @ParameterizedTest
  @ValueSource(ints = {2, 64})
  void theFirstTimerAllocatesLittleWhateverTheCpuCount(int cpus) {
    com.sun.management.ThreadMXBean mx =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long id = Thread.currentThread().getId();
    Runnable nothing = () -> {};
    long bytes = Long.MAX_VALUE;
    for (int round = 0; round < 3; round++) { // the first rounds also pay for class loading
      long before = mx.getThreadAllocatedBytes(id);
      new TimerWheel(0, 1_000_000, TimerWheel.lanesFor(cpus)).schedule(0, 3_600_000_000_000L, nothing);
      bytes = Math.min(bytes, mx.getThreadAllocatedBytes(id) - before);
    }
    assertTrue(bytes < 8 * 1024, "first timer at " + cpus + " CPUs allocated " + bytes + " bytes");
    assertTrue(TimerWheel.lanesFor(cpus) <= TimerWheel.MAX_LANES);
  }

  /**
   * Many threads schedule and stop while one thread advances over real time: every timer either
   * fires once or is stopped once, never both and never neither.
   */
  @Test
  void concurrentSchedulesAndStopsAgainstAdvancesFireOrCancelEachTimerExactlyOnce()
      throws Exception {
    TimerWheel w = new TimerWheel(Long.MAX_VALUE - 1_000, 1, 4);
    AtomicLong clock = new AtomicLong(Long.MAX_VALUE - 1_000);
    int threads = 3;
    int each = 20_000;
    AtomicInteger[][] runs = new AtomicInteger[threads][each];
    boolean[][] stopped = new boolean[threads][each];
    CountDownLatch done = new CountDownLatch(threads);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    for (int t = 0; t < threads; t++) {
      int me = t;
      new Thread(
              () -> {
                try {
                  SplittableRandom rnd = new SplittableRandom(me);
                  for (int i = 0; i < each; i++) {
                    AtomicInteger r = runs[me][i] = new AtomicInteger();
                    TimerWheel.Timer timer =
                        w.schedule(clock.get(), rnd.nextLong(0, 5_000), r::incrementAndGet);
                    if (rnd.nextBoolean()) {
                      stopped[me][i] = timer.stop();
                    }
                  }
                } catch (Throwable x) {
                  failure.set(x);
                } finally {
                  done.countDown();
                }
              })
          .start();
    }
    while (done.getCount() > 0) {
      w.advance(clock.addAndGet(7));
    }
    done.await();
    for (long d = w.nextDelay(); d != Long.MAX_VALUE; d = w.nextDelay()) {
      w.advance(clock.addAndGet(Math.max(1, d)));
    }
    assertEquals(null, failure.get());
    for (int t = 0; t < threads; t++) {
      for (int i = 0; i < each; i++) {
        int r = runs[t][i].get();
        assertTrue(r == 0 || r == 1, "ran twice");
        assertTrue(stopped[t][i] ^ r == 1, "fired xor stopped, timer " + t + "/" + i);
      }
    }
    assertEquals(0, w.pendingCount());
  }
}
