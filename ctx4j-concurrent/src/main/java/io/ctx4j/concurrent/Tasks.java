package io.ctx4j.concurrent;

import io.ctx4j.Context;
import io.ctx4j.concurrent.internal.Loom;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;

/**
 * Starts a task on a thread of its own, governed by a context: the Java form of {@code go f(ctx)}.
 * On JDK 21 and later the thread is virtual; on JDK 17 to 20 it is a daemon platform thread (so
 * keep the number of concurrent tasks modest there).
 *
 * <pre>{@code
 * CompletableFuture<Page> page = Tasks.start(ctx, () -> fetch(url));
 * }</pre>
 *
 * <p>The task behaves as one submitted to a {@link ContextExecutorService}: if {@code ctx} is already
 * done it never runs; when {@code ctx} ends while it runs, its thread is interrupted and the future
 * completes at once with the context's error; the task sees {@code ctx} (through a child context of
 * its own) as its {@link CurrentContext}; cancelling the future interrupts the task.
 *
 * <p>Thread safety: thread-safe. Memory consistency effects: actions before {@code start}
 * happen-before the task runs; actions of the task happen-before a successful return from the
 * future's {@code get}.
 *
 * @since 0.1
 */
public final class Tasks {
  private static final ThreadFactory THREADS = Loom.factory("ctx4j-task");

  private Tasks() {}

  /**
   * Starts {@code task} under {@code ctx} on a new (virtual where possible) thread.
   *
   * @param ctx the context governing the task
   * @param task what to compute
   * @param <T> the result type
   * @return the task's future: its result, its exception, or the context's error
   * @throws NullPointerException if an argument is null
   */
  public static <T> CompletableFuture<T> start(Context ctx, Callable<T> task) {
    Objects.requireNonNull(ctx, "ctx");
    Objects.requireNonNull(task, "task");
    return ContextTask.submit(r -> THREADS.newThread(r).start(), ctx, task);
  }

  /**
   * Starts {@code task} under {@code ctx} on a new (virtual where possible) thread.
   *
   * @param ctx the context governing the task
   * @param task what to run
   * @return the task's future, completed with {@code null}, the task's exception or the context's
   *     error
   * @throws NullPointerException if an argument is null
   */
  public static CompletableFuture<Void> start(Context ctx, Runnable task) {
    Objects.requireNonNull(task, "task");
    return start(ctx, Executors.callable(task, (Void) null));
  }

  /**
   * Tells whether {@link #start} uses virtual threads on this JDK.
   *
   * @return {@code true} on JDK 21 and later
   */
  public static boolean virtualThreads() {
    return Loom.virtualThreads();
  }

  /**
   * Returns a new factory of the threads {@link #start} uses, named {@code namePrefix-1}, {@code
   * namePrefix-2}, ...: virtual threads on JDK 21 and later, daemon platform threads on JDK 17 to
   * 20. For libraries that run work on their own executor but want the same threads as {@code
   * start} (ctx4j-taskgroup does).
   *
   * <p>The factory is thread-safe; the threads it makes are not started.
   *
   * @param namePrefix the start of the thread names
   * @return a new factory
   * @throws NullPointerException if {@code namePrefix} is null
   */
  public static ThreadFactory threadFactory(String namePrefix) {
    return Loom.factory(Objects.requireNonNull(namePrefix, "namePrefix"));
  }
}
