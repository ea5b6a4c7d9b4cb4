package io.ctx4j.internal;

import io.ctx4j.Registration;
import java.util.ArrayList;
import java.util.concurrent.locks.LockSupport;

/**
 * The process-wide timer behind deadlines: a hashed timing wheel served by one lazily started daemon
 * thread.
 *
 * <p>Implementation notes. Time is cut into ticks of {@link #TICK_NANOS}; an entry due at tick
 * {@code t} lives in bucket {@code t & MASK}, a doubly linked list guarded by the bucket's monitor.
 * Scheduling and stopping are O(1) and touch one bucket only, so timeouts created and cancelled
 * early (the common case) never contend on a shared heap the way {@code ScheduledThreadPoolExecutor}
 * does, and a stopped entry is unlinked at once: nothing stays pending after an early cancel.
 *
 * <p>The thread processes ticks in order and fires the entries whose tick has come, never before
 * their due time and normally within one tick after it. When idle it sleeps until the next non-empty
 * bucket (or indefinitely when the wheel is empty); entries more than one turn away simply stay in
 * their bucket until their turn. The sleep/insert race is closed Dekker-style with volatile accesses:
 * the thread publishes {@code wakeTick} and then re-reads the bucket heads, an inserter links its
 * entry and then reads {@code wakeTick}; one of the two always sees the other.
 *
 * <p>Tasks run on the timer thread one after another; a task that throws is reported to the
 * thread's uncaught-exception handler and the wheel goes on.
 */
public final class TimerWheel {
  /** One millisecond: the resolution of deadlines driven by the system clock. */
  public static final long TICK_NANOS = 1_000_000L;

  private static final int SIZE = 4096;
  private static final int MASK = SIZE - 1;

  private static final TimerWheel INSTANCE = new TimerWheel();

  private final Bucket[] buckets = new Bucket[SIZE];
  private final long origin = System.nanoTime();
  /** The tick the thread will wake up at next; {@code Long.MAX_VALUE} while it sleeps with no end. */
  private volatile long wakeTick = Long.MAX_VALUE;

  private volatile Thread thread;
  /** Last tick processed; written by the timer thread only, read by schedulers. */
  private volatile long processedTick;

  private TimerWheel() {
    for (int i = 0; i < SIZE; i++) {
      buckets[i] = new Bucket();
    }
    processedTick = currentTick();
  }

  /** Returns the shared wheel. */
  public static TimerWheel get() {
    return INSTANCE;
  }

  /** Tells whether the calling thread is the timer thread, which must not block in user code. */
  public static boolean isTimerThread() {
    return Thread.currentThread() == INSTANCE.thread;
  }

  private long currentTick() {
    return (System.nanoTime() - origin) / TICK_NANOS;
  }

  /**
   * Arranges for {@code task} to run on the timer thread no sooner than {@code delayNanos} from now.
   *
   * @return a registration whose {@code stop()} unlinks the entry at once if it has not fired
   */
  public Registration schedule(long delayNanos, Runnable task) {
    // Measure from the wheel's origin with a saturating add: nanoTime values may be negative, so
    // an absolute due time could overflow where the offset does not.
    long elapsed = System.nanoTime() - origin;
    long delay = Math.max(0, delayNanos);
    long offset = delay > Long.MAX_VALUE - elapsed ? Long.MAX_VALUE : elapsed + delay;
    // Round up: the entry must never fire before it is due.
    long wanted = offset / TICK_NANOS + (offset % TICK_NANOS == 0 ? 0 : 1);
    Entry e = new Entry(task);
    long tick;
    for (; ; ) {
      // A tick the thread has already swept would wait a whole turn; the next one is due anyway.
      tick = Math.max(wanted, processedTick + 1);
      Bucket b = buckets[(int) tick & MASK];
      synchronized (b) {
        if (tick <= processedTick) {
          continue;
        }
        e.tick = tick;
        e.bucket = b;
        Entry h = b.head;
        e.next = h;
        if (h != null) {
          h.prev = e;
        }
        b.head = e;
        break;
      }
    }
    if (tick < wakeTick) {
      wake();
    }
    return e;
  }

  private void wake() {
    Thread t = thread;
    if (t == null) {
      synchronized (this) {
        t = thread;
        if (t == null) {
          t = new Thread(this::loop, "ctx4j-timer");
          t.setDaemon(true);
          thread = t;
          t.start();
          return;
        }
      }
    }
    LockSupport.unpark(t);
  }

  /** Counts the entries still pending; O(wheel size), for tests and diagnostics. */
  public int pendingCount() {
    int n = 0;
    for (Bucket b : buckets) {
      synchronized (b) {
        for (Entry e = b.head; e != null; e = e.next) {
          n++;
        }
      }
    }
    return n;
  }

  private void loop() {
    ArrayList<Entry> due = new ArrayList<>();
    for (; ; ) {
      long now = currentTick();
      while (processedTick < now) {
        long t = processedTick + 1;
        processedTick = t;
        Bucket b = buckets[(int) t & MASK];
        if (b.head == null) {
          continue;
        }
        synchronized (b) {
          for (Entry e = b.head; e != null; ) {
            Entry next = e.next;
            if (e.tick <= t) {
              b.unlink(e);
              due.add(e);
            }
            e = next;
          }
        }
        for (int i = 0; i < due.size(); i++) {
          Entry e = due.get(i);
          Runnable task = e.task;
          e.task = null;
          if (task != null) {
            try {
              task.run();
            } catch (Throwable x) {
              Callbacks.report(x);
            }
          }
        }
        due.clear();
      }
      long next = nextNonEmpty(processedTick);
      wakeTick = next;
      // Re-read after publishing wakeTick: an insert we missed above now sees the new wakeTick.
      long again = nextNonEmpty(processedTick);
      if (again < next) {
        continue;
      }
      if (next == Long.MAX_VALUE) {
        LockSupport.park(this);
      } else {
        long sleep = origin + next * TICK_NANOS - System.nanoTime();
        if (sleep > 0) {
          LockSupport.parkNanos(this, sleep);
        }
      }
      wakeTick = 0; // awake: inserters need not unpark us until we publish a new plan
    }
  }

  /** The first tick after {@code from} whose bucket holds anything, or {@code Long.MAX_VALUE}. */
  private long nextNonEmpty(long from) {
    for (int i = 1; i <= SIZE; i++) {
      if (buckets[(int) (from + i) & MASK].head != null) {
        return from + i;
      }
    }
    return Long.MAX_VALUE;
  }

  private static final class Bucket {
    volatile Entry head;

    /** Caller holds this bucket's monitor. */
    void unlink(Entry e) {
      Entry p = e.prev;
      Entry n = e.next;
      if (p == null) {
        head = n;
      } else {
        p.next = n;
      }
      if (n != null) {
        n.prev = p;
      }
      e.prev = null;
      e.next = null;
      e.bucket = null;
    }
  }

  private static final class Entry implements Registration {
    long tick;
    volatile Runnable task;
    volatile Bucket bucket;
    Entry prev;
    Entry next;

    Entry(Runnable task) {
      this.task = task;
    }

    @Override
    public boolean stop() {
      Bucket b = bucket;
      if (b == null) {
        return false;
      }
      synchronized (b) {
        if (bucket != b) {
          return false;
        }
        b.unlink(this);
      }
      task = null;
      return true;
    }
  }
}
