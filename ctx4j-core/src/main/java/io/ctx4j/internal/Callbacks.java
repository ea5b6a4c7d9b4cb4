package io.ctx4j.internal;

import java.util.concurrent.Executor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** Where callbacks that must not run on the cancelling thread go, and how their failures surface. */
public final class Callbacks {
  private Callbacks() {}

  private static final AtomicInteger THREADS = new AtomicInteger();

  /**
   * A cached pool of daemon threads: each {@code afterFunc} gets a thread of its own for as long as
   * it runs (Go starts a goroutine), idle threads retire after a few seconds, and none keeps the JVM
   * alive.
   */
  private static final Executor ASYNC;

  static {
    ThreadFactory factory =
        r -> {
          Thread t = new Thread(r, "ctx4j-callback-" + THREADS.incrementAndGet());
          t.setDaemon(true);
          return t;
        };
    ThreadPoolExecutor pool =
        new ThreadPoolExecutor(
            0, Integer.MAX_VALUE, 5, TimeUnit.SECONDS, new SynchronousQueue<>(), factory);
    ASYNC = pool;
  }

  /** Runs {@code task} on a thread of its own; a throw is reported, never lost. */
  public static void runAsync(Runnable task) {
    ASYNC.execute(() -> runReporting(task));
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
