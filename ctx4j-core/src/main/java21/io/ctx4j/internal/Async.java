package io.ctx4j.internal;

import java.time.Duration;
import java.util.concurrent.ThreadFactory;

/**
 * Where {@code afterFunc} functions, and callbacks that must leave the timer thread, run: this is
 * the JDK 21+ version, a virtual thread per function, as Go starts a goroutine per function. Blocked
 * functions cost no platform thread, and functions that wait for each other all run.
 */
public final class Async {
  private Async() {}

  /** Unused here: virtual threads need no bound. Kept so both versions have the same API. */
  public static final int BOUND = Math.max(8, 2 * Runtime.getRuntime().availableProcessors());

  /** Unused here; kept so both versions have the same API. */
  public static final Duration STALL = Duration.ofMillis(50);

  // No inheritable thread-locals of whichever thread ended the context, as on JDK 17's pool.
  private static final ThreadFactory VIRTUAL =
      Thread.ofVirtual().name("ctx4j-callback-", 1).inheritInheritableThreadLocals(false).factory();

  /**
   * Tells whether functions run on virtual threads.
   *
   * @return {@code true} in this (JDK 21+) version
   */
  public static boolean virtualThreads() {
    return true;
  }

  /**
   * Runs {@code task} on a new virtual thread.
   *
   * @param task what to run; it must report its own failures
   */
  public static void execute(Runnable task) {
    VIRTUAL.newThread(task).start();
  }

  /**
   * Counts the platform threads ctx4j runs functions on; for tests and diagnostics.
   *
   * @return always 0 in this version
   */
  public static int platformThreads() {
    return 0;
  }
}
