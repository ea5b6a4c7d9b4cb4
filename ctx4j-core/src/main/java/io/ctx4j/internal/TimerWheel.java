package io.ctx4j.internal;

import io.ctx4j.Registration;
import java.util.ArrayList;
import java.util.concurrent.locks.LockSupport;

/**
 * The process-wide timer behind deadlines: a two-level hashed timing wheel served by one lazily
 * started daemon thread.
 *
 * <p>Implementation notes. Time is cut into ticks of {@link #TICK_NANOS} and pages of {@code SIZE}
 * ticks (about 4 s). The near level has a slot per tick of the current window; the far level has a
 * slot per page. A slot is a bucket: a doubly linked list guarded by the bucket's monitor, so
 * scheduling and stopping are O(1) and touch one bucket only, and a stopped entry is unlinked at
 * once: nothing stays pending after an early cancel. Each level is split into lanes (about two per
 * core) chosen by the scheduling thread, so threads creating timeouts with the same deadline at the
 * same moment, the usual case, do not contend on one monitor; a lane's buckets are allocated
 * together, so lanes do not share cache lines either.
 *
 * <p>An entry whose page has not been <em>cascaded</em> yet goes to the far level; the timer
 * thread, on reaching the first tick of page P, publishes {@code cascadedPage = P} and then moves
 * page P's entries (under the far bucket's monitor, then the near one's) to the near level. An
 * inserter re-checks {@code cascadedPage} under the far bucket's monitor, so no entry is stranded.
 * Far-future entries (an hour away, say) are thus touched once when scheduled, once when moved and
 * once when fired, instead of once per turn of a single wheel. Entries more than {@code SIZE} pages
 * away share a far slot with nearer ones and are skipped by the move until their own page comes.
 *
 * <p>The thread processes ticks in order and fires the entries whose tick has come, never before
 * their due time and normally within one tick after it. It sleeps until the next non-empty near slot
 * or the next page start, whichever is first, or indefinitely when the wheel is empty. The
 * sleep/insert race is closed Dekker-style with volatile accesses: the thread publishes {@code
 * wakeTick} and then re-reads the bucket heads; an inserter links its entry and then reads {@code
 * wakeTick}; one of the two always sees the other.
 *
 * <p>Tasks run on the timer thread one after another; a task that throws is reported to the
 * thread's uncaught-exception handler and the wheel goes on.
 */
public final class TimerWheel {
  /** One millisecond: the resolution of deadlines driven by the system clock. */
  public static final long TICK_NANOS = 1_000_000L;

  private static final int BITS = 12;
  private static final int SIZE = 1 << BITS;
  private static final int MASK = SIZE - 1;
  private static final int LANES = lanes();

  private static final TimerWheel INSTANCE = new TimerWheel();

  private final Bucket[] near = new Bucket[SIZE * LANES];
  private final Bucket[] far = new Bucket[SIZE * LANES];
  private final long origin = System.nanoTime();
  /** The tick the thread will wake up at next; {@code Long.MAX_VALUE} while it sleeps with no end. */
  private volatile long wakeTick = Long.MAX_VALUE;

  private volatile Thread thread;
  /** Last tick processed; written by the timer thread only, read by schedulers. */
  private volatile long processedTick;
  /** The last page moved to the near level; entries of pages up to it go near. Thread-written. */
  private volatile long cascadedPage;

  private TimerWheel() {
    // Lane-major: a lane's buckets are allocated, and so laid out, together.
    for (int i = 0; i < near.length; i++) {
      near[i] = new Bucket();
    }
    for (int i = 0; i < far.length; i++) {
      far[i] = new Bucket();
    }
    long now = currentTick();
    processedTick = now;
    cascadedPage = now >>> BITS;
  }

  private static int lanes() {
    int cpus = Runtime.getRuntime().availableProcessors();
    int n = Integer.highestOneBit(Math.max(1, cpus * 2 - 1)) << 1;
    return Math.min(64, n);
  }

  private static int lane() {
    @SuppressWarnings("deprecation") // getId(): threadId() is not in Java 17
    long id = Thread.currentThread().getId();
    return (int) (id & (LANES - 1));
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
    int base = lane() * SIZE;
    long tick;
    for (; ; ) {
      // A tick the thread has already swept would wait a whole turn; the next one is due anyway.
      tick = Math.max(wanted, processedTick + 1);
      long page = tick >>> BITS;
      if (page > cascadedPage) {
        Bucket b = far[base + ((int) page & MASK)];
        synchronized (b) {
          if (page <= cascadedPage) {
            continue; // moved meanwhile: the near level takes it
          }
          e.tick = tick;
          b.link(e);
        }
        break;
      }
      Bucket b = near[base + ((int) tick & MASK)];
      synchronized (b) {
        if (tick <= processedTick) {
          continue;
        }
        e.tick = tick;
        b.link(e);
      }
      break;
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
    for (Bucket[] level : new Bucket[][] {near, far}) {
      for (Bucket b : level) {
        synchronized (b) {
          for (Entry e = b.head; e != null; e = e.next) {
            n++;
          }
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
        if ((t & MASK) == 0) {
          cascade(t >>> BITS);
        }
        processedTick = t;
        int slot = (int) t & MASK;
        for (int lane = 0; lane < LANES; lane++) {
          Bucket b = near[lane * SIZE + slot];
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
      long next = plan(processedTick);
      wakeTick = next;
      // Re-read after publishing wakeTick: an insert we missed above now sees the new wakeTick.
      if (plan(processedTick) < next) {
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

  /** Moves page {@code page}'s far entries to the near level, before its first tick is processed. */
  private void cascade(long page) {
    cascadedPage = page; // from now on, inserters of this page go near
    int slot = (int) page & MASK;
    for (int lane = 0; lane < LANES; lane++) {
      Bucket fb = far[lane * SIZE + slot];
      if (fb.head == null) {
        continue;
      }
      synchronized (fb) {
        for (Entry e = fb.head; e != null; ) {
          Entry next = e.next;
          if ((e.tick >>> BITS) == page) {
            Bucket nb = near[lane * SIZE + ((int) e.tick & MASK)];
            // Both monitors held (always far, then near): a concurrent stop() finds the entry in
            // one bucket or the other, never in neither.
            synchronized (nb) {
              fb.detach(e);
              nb.link(e);
            }
          }
          e = next;
        }
      }
    }
  }

  /** When to wake next: the next non-empty near tick or the next page start, or never if empty. */
  private long plan(long from) {
    long pageStart = ((from >>> BITS) + 1) << BITS;
    for (long t = from + 1; t < pageStart; t++) {
      int slot = (int) t & MASK;
      for (int lane = 0; lane < LANES; lane++) {
        if (near[lane * SIZE + slot].head != null) {
          return t;
        }
      }
    }
    // Nothing near before the page start: wake there if anything at all is pending.
    for (Bucket[] level : new Bucket[][] {near, far}) {
      for (Bucket b : level) {
        if (b.head != null) {
          return pageStart;
        }
      }
    }
    return Long.MAX_VALUE;
  }

  private static final class Bucket {
    volatile Entry head;

    /** Caller holds this bucket's monitor. */
    void link(Entry e) {
      e.prev = null;
      Entry h = head;
      e.next = h;
      if (h != null) {
        h.prev = e;
      }
      e.bucket = this;
      head = e;
    }

    /** Caller holds this bucket's monitor; the entry keeps its bucket field (it is moving). */
    void detach(Entry e) {
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
    }

    /** Caller holds this bucket's monitor. */
    void unlink(Entry e) {
      detach(e);
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
      for (; ; ) {
        Bucket b = bucket;
        if (b == null) {
          return false;
        }
        synchronized (b) {
          if (bucket != b) {
            continue; // moved from the far level to the near one: look again
          }
          b.unlink(this);
        }
        task = null;
        return true;
      }
    }
  }
}
