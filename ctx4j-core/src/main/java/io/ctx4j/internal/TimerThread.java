package io.ctx4j.internal;

import io.ctx4j.Registration;
import java.util.concurrent.locks.LockSupport;

/**
 * The process-wide timer behind deadlines on the system clock: one {@link TimerWheel} with a tick
 * of {@link #TICK_NANOS}, driven by one lazily started daemon thread, {@code ctx4j-timer}, which
 * owns the clock ({@link System#nanoTime()}).
 *
 * <p>The thread advances the wheel to now, running due tasks inline (they cancel a context; whatever
 * may block, such as user callbacks, is handed off by the canceller when {@link #isTimerThread()}),
 * then parks until the wheel's next event, or indefinitely when it is empty. A timer scheduled
 * earlier than that wakes it. The sleep/insert race is closed Dekker-style with volatile accesses:
 * the thread publishes {@code wakeTick} and then re-reads the wheel's occupancy bits; an inserter
 * marks its slot's bit (or finds it marked) and then reads {@code wakeTick}; one of the two always
 * sees the other. Inserters trust {@code wakeTick}, so the thread always wakes by the tick it
 * published, even when the timer it planned for has been stopped since (a stop never wakes it):
 * its sleep is computed from that tick, never from a second look at the wheel.
 */
public final class TimerThread {
  /** One millisecond: the resolution of deadlines driven by the system clock. */
  public static final long TICK_NANOS = 1_000_000L;

  private static final TimerThread INSTANCE = new TimerThread();

  private final TimerWheel wheel =
      new TimerWheel(
          System.nanoTime(),
          TICK_NANOS,
          TimerWheel.lanesFor(Runtime.getRuntime().availableProcessors()));

  /**
   * The tick the thread will wake at: {@code Long.MAX_VALUE} while it sleeps with no end (and before
   * it starts), 0 while it is awake and will look at the wheel again before sleeping.
   */
  private volatile long wakeTick = Long.MAX_VALUE;

  private volatile Thread thread;

  private TimerThread() {}

  /**
   * Returns the process-wide timer.
   *
   * @return the shared instance
   */
  public static TimerThread get() {
    return INSTANCE;
  }

  /**
   * Tells whether the calling thread is the timer thread, which must not block in user code.
   *
   * @return true on the timer thread
   */
  public static boolean isTimerThread() {
    return Thread.currentThread() == INSTANCE.thread;
  }

  /**
   * Arranges for {@code task} to run on the timer thread no sooner than {@code delayNanos} from now,
   * normally within a tick after. The task must be short and must not block. Thread-safe.
   *
   * @param delayNanos the delay; zero or less means at the next tick
   * @param task what to run; a throw goes to the timer thread's uncaught-exception handler
   * @return a registration whose {@code stop()} unlinks the timer at once if it has not fired
   * @throws NullPointerException if {@code task} is null
   */
  public Registration schedule(long delayNanos, Runnable task) {
    TimerWheel.Timer t = wheel.schedule(System.nanoTime(), delayNanos, task);
    if (t.tick < wakeTick) {
      wake();
    }
    return t;
  }

  /**
   * Counts the timers still pending; for leak checks in tests and diagnostics. O(allocated buckets
   * + pending timers).
   *
   * @return timers neither fired nor stopped
   */
  public int pendingCount() {
    return wheel.pendingCount();
  }

  private void wake() {
    Thread t = thread;
    if (t == null) {
      synchronized (this) {
        t = thread;
        if (t == null) {
          // It lives as long as the JVM: nothing of the thread that happened to start it (a
          // request's inheritable thread-locals, a webapp's context class loader) may stay with it.
          t = new Thread(null, this::loop, "ctx4j-timer", 0, false);
          t.setDaemon(true);
          t.setContextClassLoader(TimerThread.class.getClassLoader());
          thread = t;
          t.start();
          return;
        }
      }
    }
    LockSupport.unpark(t);
  }

  private void loop() {
    for (; ; ) {
      long now = System.nanoTime();
      wheel.advance(now);
      long next = wheel.nextTick();
      wakeTick = next;
      // Re-read after publishing: an insert that did not see our wakeTick is visible now.
      if (wheel.nextTick() < next) {
        continue;
      }
      if (next == Long.MAX_VALUE) {
        LockSupport.park(this);
      } else {
        // Sleep until the tick published, never for a fresh look at the wheel: a timer stopped
        // since then may have left it empty (a sleep with no end) or with a later event, and
        // inserts due between wakeTick and that event would count on us to wake at wakeTick.
        long sleep = wheel.delayTo(next) - (System.nanoTime() - now);
        if (sleep > 0) {
          LockSupport.parkNanos(this, sleep);
        }
      }
      wakeTick = 0; // awake: inserters need not unpark us until we publish a new plan
    }
  }
}
