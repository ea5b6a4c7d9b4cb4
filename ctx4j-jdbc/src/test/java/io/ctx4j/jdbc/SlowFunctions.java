package io.ctx4j.jdbc;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/** Java functions that H2 calls per row, to make a deliberately slow query. */
public final class SlowFunctions {
  private SlowFunctions() {}

  private static final Map<Thread, CountDownLatch> NEXT_ROW = new ConcurrentHashMap<>();

  /**
   * Counts {@code latch} down when the calling thread next computes a row of SLOW_ROW or DEAF_ROW
   * (H2 embedded runs them on the thread that executes the query). The query is then past the
   * point where H2 records the command that its {@code cancel()} stops.
   *
   * <p>Why tests need this: H2 2.5's {@code JdbcStatement.cancel()} reads the executing command,
   * cancels it if there is one, and then sets it to null without a lock. A {@code cancel()} that
   * overlaps the start of a query can therefore erase the command the query has just recorded, and
   * no later {@code cancel()} reaches that query (the ctx4j-jdbc README's known limits). A test that
   * cancels "as the query starts" must wait for this signal, or it tests H2's race.
   *
   * @param latch the latch, or null to forget one that no row counted down
   */
  static void onNextRow(CountDownLatch latch) {
    if (latch == null) {
      NEXT_ROW.remove(Thread.currentThread());
    } else {
      NEXT_ROW.put(Thread.currentThread(), latch);
    }
  }

  private static void rowStarted() {
    CountDownLatch latch = NEXT_ROW.remove(Thread.currentThread());
    if (latch != null) {
      latch.countDown();
    }
  }

  /** Returns {@code x} after about a millisecond: 100,000 rows take well over a minute. */
  public static long slowRow(long x) throws InterruptedException {
    rowStarted();
    Thread.sleep(1);
    return x;
  }

  /**
   * Returns {@code x} after about a millisecond and leaves an interrupt pending instead of reacting
   * to it, as a driver blocked in socket I/O does; only a cancel stops the query.
   */
  public static long deafRow(long x) {
    rowStarted();
    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1);
    for (long left; (left = until - System.nanoTime()) > 0; ) {
      if (Thread.currentThread().isInterrupted()) {
        Thread.onSpinWait(); // park would return at once: spin out the millisecond instead
      } else {
        LockSupport.parkNanos(left);
      }
    }
    return x;
  }
}
