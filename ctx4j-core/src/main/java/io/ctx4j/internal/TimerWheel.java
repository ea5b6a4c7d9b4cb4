package io.ctx4j.internal;

import io.ctx4j.Registration;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Objects;

/**
 * A hierarchical timing wheel with no thread and no clock: callers pass the time in. {@link
 * TimerThread} drives the process-wide one; tests drive their own over any clock values.
 *
 * <p>Implementation notes.
 *
 * <p><b>Time.</b> A time {@code now} is a {@link System#nanoTime()}-like value: only differences
 * mean anything, and values may wrap past {@code Long.MAX_VALUE}. The wheel measures everything
 * as a tick count since the {@code origin} it was made with, {@code (now - origin) / tickNanos},
 * which stays right across the wrap for 292 years. A timer's tick is rounded up and the wheel's
 * tick rounded down, so a timer never fires before {@code now - origin} reaches its due offset.
 *
 * <p><b>Levels.</b> A tick is read as eleven base-64 digits (66 bits cover the 63 of a
 * non-negative long). Level {@code L} has 64 slots, one per value of digit {@code L}. A timer due at
 * tick {@code t} while the wheel stands at {@code current < t} lives at the level of the highest
 * digit in which {@code t} and {@code current} differ, in the slot of {@code t}'s digit there.
 * Everything above that digit is shared with {@code current}, so a slot never mixes timers of
 * different turns, and the timer must move (cascade) exactly when {@code current} enters the block
 * that slot stands for: it then goes to a lower level, or fires if due. A timer is touched once per
 * level it crosses, at most eleven times, usually two to four.
 *
 * <p><b>Occupancy.</b> Each level keeps a 64-bit word with a bit per non-empty slot, changed only by
 * the thread holding that slot's bucket monitor. The next event is the lowest non-empty slot above
 * {@code current}'s digit at the lowest such level ({@link #nextDelay()}); advancing jumps straight
 * to it. Neither scans empty buckets: an idle or lightly loaded wheel costs a few word reads per
 * step.
 *
 * <p><b>Lanes.</b> Buckets are split into lanes (at most {@value #MAX_LANES}) chosen by the
 * scheduling thread, so threads that create timeouts with the same deadline at the same moment, the
 * usual case, do not contend on one monitor. A lane allocates a level (64 buckets, about 2 KiB) the
 * first time a timer lands there, so memory is bounded by {@value #MAX_LANES} lanes x 11 levels
 * whatever the CPU count, and the first deadline costs one level of one lane.
 *
 * <p><b>Concurrency.</b> {@link #schedule} and {@link Timer#stop()} are safe from any thread and
 * O(1): each touches one bucket under its monitor. {@link #advance} and {@link #nextDelay()} are
 * called by one thread at a time (the driver). The one race that needs care is an insert placed
 * relative to a {@code current} that the advancing thread is moving past: the insert could land in
 * a slot the advance has already decided to skip. It is closed Dekker-style with volatile accesses:
 * the inserter links, marks the slot's bit, then re-reads {@code current} and, if it moved, unlinks
 * (still under the monitor, so no advance can have taken it) and tries again; the advancer
 * publishes the new {@code current} first and only then reads the bits of every slot it passed over.
 * One of the two always sees the other. Cascading holds the old bucket's monitor and then the new
 * one's while the timer moves, so a concurrent stop finds it in one or the other; only the advancing
 * thread ever holds two monitors, so there is no lock-order cycle.
 *
 * <p><b>Exactly once.</b> A timer leaves its bucket once, under the monitor: either the advance
 * unlinks it to fire it, or {@link Timer#stop()} unlinks it and returns {@code true}. Tasks run
 * after all monitors are released, on the thread calling {@link #advance}; a task that throws is
 * reported to that thread's uncaught-exception handler and the others still run.
 */
public final class TimerWheel {
  /** The most lanes a wheel has, whatever the CPU count: bounds its memory. */
  public static final int MAX_LANES = 8;

  private static final int SLOT_BITS = 6;
  private static final int SLOTS = 1 << SLOT_BITS;
  private static final int LEVELS = 11;

  private static final VarHandle CURRENT;
  private static final VarHandle LEVEL_ARRAY = MethodHandles.arrayElementVarHandle(Level[].class);

  static {
    try {
      CURRENT = MethodHandles.lookup().findVarHandle(TimerWheel.class, "current", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final long origin;
  private final long tickNanos;
  private final Lane[] lanes;

  /**
   * The last tick processed. Written only by the advancing thread (volatile: the publication that
   * the insert race above turns on); read by inserters. Never above {@code Long.MAX_VALUE - 1}, so
   * {@code current + 1} is a valid tick.
   */
  @SuppressWarnings("unused") // accessed through CURRENT
  private volatile long current;

  /** The offset of the last {@link #advance} time from the origin; advancing thread only. */
  private long advancedTo;

  /**
   * Makes an empty wheel standing at tick 0 of {@code origin}.
   *
   * @param origin the time of tick 0, any long (clocks may wrap)
   * @param tickNanos the resolution; timers fire at most about one tick late
   * @param lanes how many lanes to spread concurrent inserts over; rounded up to a power of two and
   *     capped at {@value #MAX_LANES}
   * @throws IllegalArgumentException if {@code tickNanos} or {@code lanes} is not positive
   */
  public TimerWheel(long origin, long tickNanos, int lanes) {
    if (tickNanos <= 0) {
      throw new IllegalArgumentException("tickNanos must be positive: " + tickNanos);
    }
    if (lanes <= 0) {
      throw new IllegalArgumentException("lanes must be positive: " + lanes);
    }
    this.origin = origin;
    this.tickNanos = tickNanos;
    int n = lanes >= MAX_LANES ? MAX_LANES : lanes == 1 ? 1 : Integer.highestOneBit(lanes - 1) << 1;
    this.lanes = new Lane[n];
    for (int i = 0; i < this.lanes.length; i++) {
      this.lanes[i] = new Lane();
    }
  }

  /**
   * The lane count for a machine: about two per CPU so that concurrent schedulers rarely share a
   * monitor, capped at {@value #MAX_LANES}.
   *
   * @param cpus available processors
   * @return a power of two between 2 and {@value #MAX_LANES}
   */
  public static int lanesFor(int cpus) {
    return Math.min(MAX_LANES, Integer.highestOneBit(Math.max(1, cpus * 2 - 1)) << 1);
  }

  // ------------------------------------------------------------------------------------ schedule

  /**
   * Adds {@code task}, due {@code delayNanos} after {@code now}. A delay of zero or less, or a due
   * time the wheel has already passed, makes it due at the next tick. A delay too large to represent
   * saturates (the timer then never fires in practice). Thread-safe; O(1).
   *
   * <p>Memory consistency: actions before this call happen-before the task runs.
   *
   * @param now the current time on the wheel's clock
   * @param delayNanos how long after {@code now} the task is due
   * @param task what {@link #advance} runs once the timer is due
   * @return the timer; {@link Timer#stop()} withdraws it
   * @throws NullPointerException if {@code task} is null
   */
  public Timer schedule(long now, long delayNanos, Runnable task) {
    Objects.requireNonNull(task, "task");
    long due = dueTick(now, delayNanos);
    Timer timer = new Timer(task);
    Lane lane = lanes[laneIndex()];
    for (; ; ) {
      long c = (long) CURRENT.getVolatile(this);
      long tick = Math.max(due, c + 1);
      assert tick > c && c < Long.MAX_VALUE : "a timer must lie ahead of the wheel";
      int level = levelOf(tick, c);
      Bucket b = lane.level(level).buckets[slotOf(tick, level)];
      synchronized (b) {
        timer.tick = tick;
        b.link(timer);
        // Re-read after marking the slot (see the class notes): if the advance moved meanwhile it
        // may have skipped this slot, and the timer is still here for us to take back.
        if ((long) CURRENT.getVolatile(this) == c) {
          return timer;
        }
        b.unlink(timer);
      }
    }
  }

  /**
   * Withdraws {@code timer} if it has not fired; the same as {@link Timer#stop()}.
   *
   * @param timer a timer of this wheel
   * @return true if this call withdrew it (its task will never run), false if it had already fired
   *     or been withdrawn
   */
  public boolean cancel(Timer timer) {
    return timer.stop();
  }

  private long dueTick(long now, long delayNanos) {
    long elapsed = Math.max(0, now - origin);
    long delay = Math.max(0, delayNanos);
    long offset = delay > Long.MAX_VALUE - elapsed ? Long.MAX_VALUE : elapsed + delay;
    long ticks = offset / tickNanos;
    return offset % tickNanos == 0 ? ticks : ticks + 1; // round up: never fire early
  }

  private int laneIndex() {
    @SuppressWarnings("deprecation") // getId(): threadId() is not in Java 17
    long id = Thread.currentThread().getId();
    return (int) id & (lanes.length - 1);
  }

  /** The level a timer due at {@code tick} belongs to while the wheel stands at {@code c < tick}. */
  private static int levelOf(long tick, long c) {
    return (63 - Long.numberOfLeadingZeros(tick ^ c)) / SLOT_BITS;
  }

  private static int slotOf(long tick, int level) {
    return (int) (tick >>> (level * SLOT_BITS)) & (SLOTS - 1);
  }

  /** The first tick of the level-{@code level} block (64^level ticks) that {@code tick} is in. */
  private static long blockStart(long tick, int level) {
    int shift = level * SLOT_BITS;
    return shift >= 64 ? 0 : (tick >>> shift) << shift;
  }

  // ------------------------------------------------------------------------------------- advance

  /**
   * Moves the wheel to {@code now} and runs, on this thread, the task of every timer due by then, in
   * order of due tick. Call from one thread at a time, and not from a task.
   *
   * <p>Memory consistency: actions in a thread before it schedules a timer happen-before its task
   * runs; a task that runs is one whose {@link Timer#stop()} has returned or will return false.
   *
   * @param now the current time on the wheel's clock; a time before an earlier call's does nothing
   * @return the number of tasks run
   */
  public int advance(long now) {
    long elapsed = Math.max(0, now - origin);
    if (elapsed > advancedTo) {
      advancedTo = elapsed;
    }
    long target = Math.min(elapsed / tickNanos, Long.MAX_VALUE - 1);
    long c = (long) CURRENT.getVolatile(this);
    int fired = 0;
    ArrayList<Timer> due = new ArrayList<>();
    while (c < target) {
      long n = Math.min(nextTick(c), target);
      // Publish first, then read the bits of the slots passed over (see the class notes).
      CURRENT.setVolatile(this, n);
      for (int level = 0; level < LEVELS; level++) {
        long passed = passedSlots(c, n, level);
        if (passed == 0) {
          break; // digit `level` did not move, so no higher one did either
        }
        for (Lane lane : lanes) {
          Level lv = lane.levelOrNull(level);
          if (lv == null) {
            continue;
          }
          for (long bits = lv.occupied & passed; bits != 0; bits &= bits - 1) {
            lane.expire(lv.buckets[Long.numberOfTrailingZeros(bits)], n, due);
          }
        }
      }
      c = n;
      fired += run(due);
    }
    return fired;
  }

  /**
   * The slots of level {@code level} whose blocks the wheel entered going from {@code from} to
   * {@code to}: the ones to fire or cascade.
   */
  static long passedSlots(long from, long to, int level) {
    int shift = level * SLOT_BITS;
    long a = from >>> shift;
    long b = to >>> shift;
    long blocks = b - a;
    if (blocks == 0) {
      return 0;
    }
    if (blocks >= SLOTS) {
      return -1L;
    }
    return Long.rotateLeft((1L << blocks) - 1, (int) (a + 1) & (SLOTS - 1));
  }

  private static int run(ArrayList<Timer> due) {
    int n = due.size();
    for (int i = 0; i < n; i++) {
      Timer t = due.get(i);
      Runnable task = t.task;
      t.task = null;
      try {
        task.run();
      } catch (Throwable x) {
        Callbacks.report(x);
      }
    }
    due.clear();
    return n;
  }

  // ---------------------------------------------------------------------------------- next event

  /**
   * Returns how long after the last {@link #advance} time the wheel next has work: a timer to fire
   * or a cascade to do, never later than the earliest pending timer's due time. Call from the
   * advancing thread.
   *
   * @return nanoseconds from the last advance time (0 if overdue), or {@code Long.MAX_VALUE} if no
   *     timer is pending
   */
  public long nextDelay() {
    return delayTo(nextTick());
  }

  /**
   * Returns how long after the last {@link #advance} time the wheel reaches {@code tick}. A driver
   * that planned its sleep from {@link #nextTick()} sleeps this long for that tick, not for a second
   * look at the wheel, which a withdrawn timer may have emptied meanwhile. Advancing thread only.
   *
   * @param tick a tick, as {@link #nextTick()} returns them
   * @return nanoseconds (0 if passed), or {@code Long.MAX_VALUE} for {@code Long.MAX_VALUE}
   */
  long delayTo(long tick) {
    if (tick == Long.MAX_VALUE) {
      return Long.MAX_VALUE;
    }
    long at = tick > Long.MAX_VALUE / tickNanos ? Long.MAX_VALUE : tick * tickNanos;
    return Math.max(0, at - advancedTo);
  }

  /** The tick of the next event after the current one, or {@code Long.MAX_VALUE} if none. */
  long nextTick() {
    return nextTick((long) CURRENT.getVolatile(this));
  }

  /**
   * The earliest tick after {@code c} at which a slot must be fired or cascaded. Levels are visited
   * bottom up: every timer at level {@code L} is due before the next block of level {@code L + 1}
   * begins, so the first level with a slot above {@code c}'s digit holds the next event.
   */
  private long nextTick(long c) {
    for (int level = 0; level < LEVELS; level++) {
      long bits = 0;
      for (Lane lane : lanes) {
        Level lv = lane.levelOrNull(level);
        if (lv != null) {
          bits |= lv.occupied;
        }
      }
      if (bits == 0) {
        continue;
      }
      int shift = level * SLOT_BITS;
      int digit = (int) (c >>> shift) & (SLOTS - 1);
      long later = bits & (-2L << digit); // slots after the digit; none when the digit is 63
      if (later != 0) {
        return blockStart(c, level + 1) | ((long) Long.numberOfTrailingZeros(later) << shift);
      }
    }
    return Long.MAX_VALUE;
  }

  /**
   * Counts the timers pending; O(allocated buckets + timers), for tests and diagnostics.
   *
   * @return timers scheduled and neither fired (taken for firing) nor withdrawn
   */
  public int pendingCount() {
    int n = 0;
    for (Lane lane : lanes) {
      for (int level = 0; level < LEVELS; level++) {
        Level lv = lane.levelOrNull(level);
        if (lv == null) {
          continue;
        }
        for (Bucket b : lv.buckets) {
          synchronized (b) {
            for (Timer t = b.head; t != null; t = t.next) {
              n++;
            }
          }
        }
      }
    }
    return n;
  }

  // ------------------------------------------------------------------------------------ structure

  /** One lane's levels, each allocated when a timer first lands on it. */
  private static final class Lane {
    private final Level[] levels = new Level[LEVELS];

    Level levelOrNull(int level) {
      return (Level) LEVEL_ARRAY.getAcquire(levels, level);
    }

    Level level(int level) {
      Level lv = levelOrNull(level);
      if (lv == null) {
        Level fresh = new Level(level);
        Level won = (Level) LEVEL_ARRAY.compareAndExchangeRelease(levels, level, null, fresh);
        lv = won == null ? fresh : won;
      }
      return lv;
    }

    /**
     * Fires or cascades the timers of {@code b}, a slot the wheel has just entered at tick {@code
     * now}: due ones go to {@code due}, the others to their slot relative to {@code now}, always at
     * a lower level (holding {@code b}'s monitor, then the new bucket's, so a stop finds the timer in
     * one of the two).
     */
    void expire(Bucket b, long now, ArrayList<Timer> due) {
      synchronized (b) {
        for (Timer t = b.head; t != null; ) {
          Timer next = t.next;
          if (t.tick <= now) {
            b.unlink(t);
            due.add(t);
          } else {
            int level = levelOf(t.tick, now);
            assert level <= b.level.index : "a cascade never moves a timer up";
            Bucket to = level(level).buckets[slotOf(t.tick, level)];
            if (to != b) {
              synchronized (to) {
                b.detach(t);
                to.link(t);
              }
            }
          }
          t = next;
        }
      }
    }
  }

  /** The 64 buckets of one level of one lane and their occupancy bits. */
  private static final class Level {
    private static final VarHandle OCCUPIED;

    static {
      try {
        OCCUPIED = MethodHandles.lookup().findVarHandle(Level.class, "occupied", long.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    final int index;
    final Bucket[] buckets = new Bucket[SLOTS];

    /** Bit {@code s} is set while bucket {@code s} is non-empty; changed under that bucket's monitor. */
    volatile long occupied;

    Level(int index) {
      this.index = index;
      for (int s = 0; s < SLOTS; s++) {
        buckets[s] = new Bucket(this, 1L << s);
      }
    }

    void mark(long bit) {
      OCCUPIED.getAndBitwiseOr(this, bit);
    }

    void clear(long bit) {
      OCCUPIED.getAndBitwiseAnd(this, ~bit);
    }
  }

  /** A slot: a doubly linked list of timers guarded by the bucket's monitor. */
  private static final class Bucket {
    final Level level;
    final long bit;
    Timer head;

    Bucket(Level level, long bit) {
      this.level = level;
      this.bit = bit;
    }

    /** Caller holds this bucket's monitor. */
    void link(Timer t) {
      Timer h = head;
      t.prev = null;
      t.next = h;
      if (h == null) {
        // A volatile write before the inserter re-reads `current` (see the class notes); when the
        // bit is already set, the slot is already visible to the advance.
        level.mark(bit);
      } else {
        h.prev = t;
      }
      head = t;
      t.bucket = this;
    }

    /** Caller holds this bucket's monitor; the timer keeps its bucket field (it is moving). */
    void detach(Timer t) {
      Timer p = t.prev;
      Timer n = t.next;
      if (p == null) {
        head = n;
        if (n == null) {
          level.clear(bit);
        }
      } else {
        p.next = n;
      }
      if (n != null) {
        n.prev = p;
      }
      t.prev = null;
      t.next = null;
    }

    /** Caller holds this bucket's monitor. */
    void unlink(Timer t) {
      detach(t);
      t.bucket = null;
    }
  }

  /**
   * A scheduled task. {@link #stop()} withdraws it if it has not been taken for firing.
   *
   * <p>Thread-safe. Exactly one of these happens to a timer: a {@code stop()} returns true and the
   * task never runs, or the advance takes it and the task runs once; a {@code stop()} that returns
   * false found it fired (running or done) or already withdrawn.
   */
  public static final class Timer implements Registration {
    /** The due tick; set under the bucket monitor before the timer is first visible to others. */
    long tick;
    /** Cleared by whoever unlinked the timer for good (the firing advance or the stop). */
    Runnable task;
    /** The bucket holding the timer; null once it is taken for firing or withdrawn. */
    volatile Bucket bucket;
    Timer prev;
    Timer next;

    Timer(Runnable task) {
      this.task = task;
    }

    /**
     * Withdraws the timer if it is still pending, releasing its task at once.
     *
     * @return true if this call withdrew it, false if it had fired or was withdrawn already
     */
    @Override
    public boolean stop() {
      for (; ; ) {
        Bucket b = bucket;
        if (b == null) {
          return false;
        }
        synchronized (b) {
          if (bucket != b) {
            continue; // cascaded meanwhile: look again
          }
          b.unlink(this);
        }
        task = null;
        return true;
      }
    }
  }
}
