package io.ctx4j.internal;

/** Where callbacks that must not run on the cancelling thread go, and how their failures surface. */
public final class Callbacks {
  private Callbacks() {}

  /**
   * Runs {@code task} on a thread of its own (a virtual thread on JDK 21+, a {@link CallbackPool}
   * thread on 17: see {@link Async}); a throw is reported, never lost.
   */
  public static void runAsync(Runnable task) {
    Async.execute(() -> runReporting(task));
  }

  /** Runs {@code task} here; a throw goes to the thread's uncaught-exception handler. */
  public static void runReporting(Runnable task) {
    try {
      task.run();
    } catch (Throwable t) {
      report(t);
    }
  }

  /**
   * Hands {@code t} to the current thread's uncaught-exception handler without unwinding the caller,
   * so that one failing callback never stops the others.
   */
  public static void report(Throwable t) {
    Thread me = Thread.currentThread();
    try {
      me.getUncaughtExceptionHandler().uncaughtException(me, t);
    } catch (Throwable ignored) {
      // A handler that throws has nowhere left to report to.
    }
  }
}
