package io.ctx4j.jdbc;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/** Java functions that H2 calls per row, to make a deliberately slow query. */
public final class SlowFunctions {
  private SlowFunctions() {}

  /** Returns {@code x} after about a millisecond: 100,000 rows take well over a minute. */
  public static long slowRow(long x) throws InterruptedException {
    Thread.sleep(1);
    return x;
  }

  /**
   * Returns {@code x} after about a millisecond and leaves an interrupt pending instead of reacting
   * to it, as a driver blocked in socket I/O does; only a cancel stops the query.
   */
  public static long deafRow(long x) {
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
