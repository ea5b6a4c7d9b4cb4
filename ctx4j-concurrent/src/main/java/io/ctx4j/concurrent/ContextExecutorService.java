package io.ctx4j.concurrent;

import io.ctx4j.Context;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * An {@link ExecutorService} wrapper whose tasks carry a context.
 *
 * <pre>{@code
 * try (ContextExecutorService pool = ContextExecutorService.wrap(Executors.newFixedThreadPool(4))) {
 *   CompletableFuture<Report> f = pool.submit(requestCtx, () -> buildReport());
 *   ...
 * }
 * }</pre>
 *
 * <p>For each task submitted with a context:
 *
 * <ul>
 *   <li>if the context ends before the task starts, the task never runs;
 *   <li>if the context ends while the task runs, its thread is interrupted (and the interrupt is
 *       cleared before the thread goes back to the pool);
 *   <li>in both cases the task's future completes at once with a fresh copy of the context's error
 *       ({@link io.ctx4j.CanceledException} or {@link io.ctx4j.DeadlineExceededException}, carrying
 *       the cause), without waiting for the body to notice;
 *   <li>cancelling the future stops the task the same way (with a plain {@code
 *       CancellationException});
 *   <li>inside the task, {@link CurrentContext#get()} is a child of the task's context.
 * </ul>
 *
 * If the task finishes at the same instant as the context ends, the future holds exactly one of the
 * two outcomes.
 *
 * <p>It is an {@link ExecutorService} too, so it can be passed wherever one is expected: the
 * methods without a context ({@code execute}, {@code submit}, {@code invokeAll}, {@code invokeAny})
 * use the {@linkplain CurrentContext#get() current context} of the submitting thread. A task given
 * to {@code execute} whose context ends before it starts does not run; if it is a {@link Future}
 * (as the tasks of {@code invokeAll} are), it is cancelled instead, so nobody waits for it forever.
 * An exception thrown by an {@code execute}d task goes to the worker's uncaught-exception handler,
 * as with the JDK's pools.
 *
 * <p>Thread safety: thread-safe as the wrapped service is. Memory consistency effects: actions before
 * {@code submit} happen-before the task runs; actions of the task happen-before a successful return
 * from the future's {@code get}.
 *
 * @since 0.1
 */
public final class ContextExecutorService extends AbstractExecutorService implements AutoCloseable {
  private final ExecutorService delegate;

  private ContextExecutorService(ExecutorService delegate) {
    this.delegate = delegate;
  }

  /**
   * Wraps {@code delegate}. The wrapper owns it: shutting down or closing the wrapper shuts it down.
   *
   * @param delegate the service that runs the tasks
   * @return the wrapper
   * @throws NullPointerException if {@code delegate} is null
   */
  public static ContextExecutorService wrap(ExecutorService delegate) {
    return new ContextExecutorService(Objects.requireNonNull(delegate, "delegate"));
  }

  /**
   * Submits {@code task} under {@code ctx}.
   *
   * @param ctx the context governing the task
   * @param task what to compute
   * @param <T> the result type
   * @return the task's future
   * @throws NullPointerException if an argument is null
   * @throws RejectedExecutionException if the service does not accept the task
   */
  public <T> CompletableFuture<T> submit(Context ctx, Callable<T> task) {
    Objects.requireNonNull(ctx, "ctx");
    Objects.requireNonNull(task, "task");
    return ContextTask.submit(delegate, ctx, task);
  }

  /**
   * Submits {@code task} under {@code ctx}.
   *
   * @param ctx the context governing the task
   * @param task what to run
   * @return the task's future, completed with {@code null} on success
   * @throws NullPointerException if an argument is null
   * @throws RejectedExecutionException if the service does not accept the task
   */
  public CompletableFuture<Void> submit(Context ctx, Runnable task) {
    Objects.requireNonNull(task, "task");
    return submit(ctx, Executors.callable(task, (Void) null));
  }

  /**
   * Submits {@code task} under the {@linkplain CurrentContext#get() current context}.
   *
   * @param task what to compute
   * @param <T> the result type
   * @return the task's future
   * @throws NullPointerException if {@code task} is null
   * @throws RejectedExecutionException if the service does not accept the task
   */
  @Override
  public <T> CompletableFuture<T> submit(Callable<T> task) {
    return submit(CurrentContext.get(), task);
  }

  /**
   * Submits {@code task} under the {@linkplain CurrentContext#get() current context}.
   *
   * @param task what to run
   * @return the task's future, completed with {@code null} on success
   * @throws NullPointerException if {@code task} is null
   * @throws RejectedExecutionException if the service does not accept the task
   */
  @Override
  public CompletableFuture<Void> submit(Runnable task) {
    return submit(CurrentContext.get(), task);
  }

  /**
   * Submits {@code task} under the {@linkplain CurrentContext#get() current context}.
   *
   * @param task what to run
   * @param result what the future completes with on success
   * @param <T> the result type
   * @return the task's future
   * @throws NullPointerException if {@code task} is null
   * @throws RejectedExecutionException if the service does not accept the task
   */
  @Override
  public <T> CompletableFuture<T> submit(Runnable task, T result) {
    Objects.requireNonNull(task, "task");
    return submit(CurrentContext.get(), Executors.callable(task, result));
  }

  /**
   * Runs {@code command} under the {@linkplain CurrentContext#get() current context}; see the class
   * notes for what happens when that context ends first, and where exceptions go.
   *
   * @param command what to run
   * @throws NullPointerException if {@code command} is null
   * @throws RejectedExecutionException if the service does not accept the task
   */
  @Override
  public void execute(Runnable command) {
    Objects.requireNonNull(command, "command");
    Runnable reporting =
        () -> {
          try {
            command.run();
          } catch (CancellationException e) {
            // The context ended (or the task was cancelled): the future says so; nothing to report.
          } catch (RuntimeException | Error e) {
            // Reported here, on the worker, as the JDK's pools do for execute(); nobody holds a
            // future that could report it.
            Thread w = Thread.currentThread();
            w.getUncaughtExceptionHandler().uncaughtException(w, e);
          }
        };
    CompletableFuture<Void> f = submit(CurrentContext.get(), reporting);
    if (command instanceof Future) {
      // Ended before it ran (or stopped by its context): a Future handed to us must say so too.
      f.whenComplete(
          (ignored, failure) -> {
            if (failure != null) {
              ((Future<?>) command).cancel(false);
            }
          });
    }
  }

  /** Stops accepting tasks; submitted ones still run, as {@link ExecutorService#shutdown()}. */
  @Override
  public void shutdown() {
    delegate.shutdown();
  }

  /**
   * Stops accepting tasks and interrupts running ones, as {@link ExecutorService#shutdownNow()}.
   *
   * @return the tasks that never started
   */
  @Override
  public List<Runnable> shutdownNow() {
    return delegate.shutdownNow();
  }

  /**
   * Waits for the tasks to finish after a shutdown.
   *
   * @param timeout the longest wait
   * @return {@code true} if the service terminated
   * @throws InterruptedException if interrupted while waiting
   * @throws NullPointerException if {@code timeout} is null
   * @throws IllegalArgumentException if {@code timeout} is negative
   */
  public boolean awaitTermination(Duration timeout) throws InterruptedException {
    return delegate.awaitTermination(Blocking.nanos(timeout, "timeout"), TimeUnit.NANOSECONDS);
  }

  /**
   * Waits for the tasks to finish after a shutdown, as {@link ExecutorService#awaitTermination}.
   *
   * @param timeout the longest wait, in {@code unit}
   * @param unit the unit of {@code timeout}
   * @return {@code true} if the service terminated
   * @throws InterruptedException if interrupted while waiting
   * @throws NullPointerException if {@code unit} is null
   */
  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
    return delegate.awaitTermination(timeout, Objects.requireNonNull(unit, "unit"));
  }

  /**
   * Whether {@link #shutdown} or {@link #shutdownNow} was called.
   *
   * @return {@code true} once shut down
   */
  @Override
  public boolean isShutdown() {
    return delegate.isShutdown();
  }

  /**
   * Whether every task has finished after a shutdown.
   *
   * @return {@code true} once terminated
   */
  @Override
  public boolean isTerminated() {
    return delegate.isTerminated();
  }

  /**
   * Shuts down and waits until every task has finished, as {@code ExecutorService.close()} does on
   * JDK 19 and later. If interrupted while waiting, stops the tasks with {@code shutdownNow} and
   * keeps the interrupt status.
   */
  @Override
  public void close() {
    delegate.shutdown();
    boolean interrupted = false;
    try {
      while (!delegate.awaitTermination(1, TimeUnit.DAYS)) {
        // keep waiting: close() promises termination
      }
    } catch (InterruptedException e) {
      delegate.shutdownNow();
      interrupted = true;
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Returns the wrapped service, for tasks that need no context.
   *
   * @return the delegate
   */
  public ExecutorService delegate() {
    return delegate;
  }
}
