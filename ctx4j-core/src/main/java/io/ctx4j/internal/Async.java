package io.ctx4j.internal;

import java.time.Duration;

/**
 * Where {@code afterFunc} functions, and callbacks that must leave the timer thread, run: this is
 * the JDK 17 version, a {@link CallbackPool} of daemon platform threads (at most {@link #BOUND} while
 * functions finish; see the pool for how it grows when they do not). The jar's {@code
 * META-INF/versions/21} layer replaces this class on JDK 21 and later with a virtual thread per
 * function, Go's goroutine.
 */
public final class Async {
  private Async() {}

  /** Threads the JDK 17 pool runs functions on before a stall adds more: 2 per core, at least 8. */
  public static final int BOUND = Math.max(8, 2 * Runtime.getRuntime().availableProcessors());

  /** How long no function may finish, with functions waiting, before the pool adds a thread. */
  public static final Duration STALL = Duration.ofMillis(50);

  private static final CallbackPool POOL =
      new CallbackPool("ctx4j-callback-", BOUND, STALL, Duration.ofSeconds(5));

  /**
   * Tells whether functions run on virtual threads.
   *
   * @return {@code false} in this (JDK 17) version
   */
  public static boolean virtualThreads() {
    return false;
  }

  /**
   * Runs {@code task} on a thread of its own: a pool thread here.
   *
   * @param task what to run; it must report its own failures
   */
  public static void execute(Runnable task) {
    POOL.execute(task);
  }

  /**
   * Counts the platform threads ctx4j runs functions on; for tests and diagnostics.
   *
   * @return live pool threads
   */
  public static int platformThreads() {
    return POOL.threadCount();
  }
}
