package io.ctx4j.internal;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The threads that run {@code afterFunc} functions on JDK 17, which has no virtual threads: a pool
 * that stays small while functions finish and still cannot deadlock when they wait for each other.
 *
 * <p>Implementation notes. Go starts a goroutine per function; a platform thread per function (the
 * old cached pool) made 2,000 threads for 2,000 blocked functions. A fixed pool would instead
 * deadlock as soon as all its threads wait for functions still queued behind them (a barrier, a
 * hand-off between two functions). So: up to {@code bound} threads run functions; a function that
 * finds them all busy is queued; and while functions are queued a check on the timer wheel runs
 * every {@code stall}: if no function has <em>finished</em> since the last check (the threads are
 * all blocked, or all slow), it adds one thread, beyond the bound. Thread creation is thus bounded
 * by {@code bound} while functions make progress, and by one thread per {@code stall} while they
 * make none, which is what it takes for a set of functions that wait for each other to all run.
 * Every thread retires after {@code keepAlive} without work, so the extra ones go away.
 *
 * <p>State (threads, busy, the queue, the finished count) is guarded by one monitor, held only to
 * move a function between the queue and a thread, never while a function runs. A thread clears its
 * interrupt status before each function, so one function's leftover interrupt never reaches the
 * next. A function that throws is reported to the thread's uncaught-exception handler and the
 * thread goes on.
 */
public final class CallbackPool implements Executor {
  private final String prefix;
  private final int bound;
  private final long stallNanos;
  private final long keepAliveNanos;
  private final AtomicInteger names = new AtomicInteger();

  private final Object lock = new Object();
  /** Functions waiting for a thread. Guarded by {@link #lock}. */
  private final ArrayDeque<Runnable> queue = new ArrayDeque<>();
  /** Live threads, busy or idle. Guarded by {@link #lock}. */
  private int threads;
  /** Threads running a function. Guarded by {@link #lock}. */
  private int busy;
  /** Functions that have finished: the progress the stall check looks for. Guarded by {@link #lock}. */
  private long finished;
  /** Whether a stall check is scheduled. Guarded by {@link #lock}. */
  private boolean watching;
  /** The most threads alive at once, for tests. Guarded by {@link #lock}. */
  private int peak;

  /**
   * Creates a pool; its threads are started on demand.
   *
   * @param prefix the start of the daemon threads' names, followed by a number
   * @param bound threads that may run functions before a stall is needed to add more
   * @param stall how long no function may finish, with functions waiting, before a thread is added
   * @param keepAlive how long a thread waits for work before it retires
   */
  public CallbackPool(String prefix, int bound, Duration stall, Duration keepAlive) {
    if (bound < 1) {
      throw new IllegalArgumentException("bound must be positive: " + bound);
    }
    this.prefix = Objects.requireNonNull(prefix, "prefix");
    this.bound = bound;
    this.stallNanos = stall.toNanos();
    this.keepAliveNanos = keepAlive.toNanos();
  }

  /**
   * Runs {@code task} on a thread of the pool, at once if one is free or may be started, otherwise
   * once a thread frees up or a stall adds one.
   *
   * @param task what to run
   * @throws NullPointerException if {@code task} is null
   */
  @Override
  public void execute(Runnable task) {
    Objects.requireNonNull(task, "task");
    boolean spawn = false;
    boolean watch = false;
    long seen;
    synchronized (lock) {
      queue.addLast(task);
      if (queue.size() <= threads - busy) {
        lock.notify(); // an idle thread takes it
      } else if (threads < bound) {
        threads++;
        peak = Math.max(peak, threads);
        spawn = true;
      } else if (!watching) {
        watching = true;
        watch = true;
      }
      seen = finished;
    }
    if (spawn) {
      startThread();
    }
    if (watch) {
      watchFrom(seen);
    }
  }

  private void startThread() {
    // Not inheriting thread-locals: the thread outlives the submitter whose request values (a user,
    // an MDC map) it would otherwise carry into everyone else's functions.
    Thread t = new Thread(null, this::work, prefix + names.incrementAndGet(), 0, false);
    t.setDaemon(true);
    // Nor the submitter's context class loader (a webapp's, pinned after its undeploy): ctx4j's
    // own, the same for every function whoever happened to start the thread.
    t.setContextClassLoader(CallbackPool.class.getClassLoader());
    try {
      t.start();
    } catch (Throwable e) {
      synchronized (lock) {
        threads--; // the queued function waits for another thread
      }
      throw e;
    }
  }

  private void watchFrom(long seen) {
    TimerThread.get().schedule(stallNanos, () -> check(seen));
  }

  /** On the timer thread: adds a thread if nothing finished since {@code seen} and work waits. */
  private void check(long seen) {
    boolean spawn = false;
    long now;
    synchronized (lock) {
      if (queue.isEmpty()) {
        watching = false;
        return;
      }
      if (finished == seen && queue.size() > threads - busy) {
        threads++;
        peak = Math.max(peak, threads);
        spawn = true;
      }
      now = finished;
    }
    try {
      if (spawn) {
        startThread();
      }
    } finally {
      watchFrom(now);
    }
  }

  private void work() {
    boolean ran = false;
    for (; ; ) {
      Runnable task;
      synchronized (lock) {
        if (ran) {
          busy--;
          finished++;
        }
        long deadline = System.nanoTime() + keepAliveNanos;
        while ((task = queue.pollFirst()) == null) {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            threads--;
            return;
          }
          try {
            lock.wait(left / 1_000_000, (int) (left % 1_000_000));
          } catch (InterruptedException e) {
            // Nobody but a function interrupts a pool thread, and that one is over: wait on.
          }
        }
        busy++;
      }
      Thread.interrupted(); // a function's leftover interrupt must not reach the next function
      Callbacks.runReporting(task);
      ran = true;
    }
  }

  /**
   * Counts the pool's live threads.
   *
   * @return threads alive now, busy or idle
   */
  public int threadCount() {
    synchronized (lock) {
      return threads;
    }
  }

  /**
   * Returns the most threads that were alive at once.
   *
   * @return the peak thread count
   */
  public int peakThreadCount() {
    synchronized (lock) {
      return peak;
    }
  }

  /**
   * Returns the number of threads the pool runs functions on before it needs a stall to add more.
   *
   * @return the bound
   */
  public int bound() {
    return bound;
  }

  /**
   * Returns how long functions must fail to finish before a thread beyond the bound is added.
   *
   * @return the stall interval in nanoseconds
   */
  public long stallNanos() {
    return stallNanos;
  }
}
