package io.ctx4j.concurrent;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Registration;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A task governed by a context, and the future of its result; shared by {@link
 * ContextExecutorService} and {@link Tasks}.
 *
 * <p>Implementation notes. Each task gets a child context of its own, cancelled when the task ends,
 * when the caller cancels the future, or when the caller's context ends. The future is completed at
 * most once, by whichever comes first: the body's result, the body's exception, or the context's end
 * (through an {@code onDone} callback, so the future does not wait for a body that ignores
 * interruption). A result is published only if the task context was still live when the body
 * returned, since a body may return normally because it was interrupted. A body that has not started when the future completes is never started: the runner
 * checks the future first. A running body runs inside an {@link InterruptScope} on the task context,
 * so the context's end interrupts it, and the scope's close guarantees the worker thread goes back to
 * its pool with no stray interrupt. The task context is also the {@link CurrentContext} of the body.
 */
final class ContextTask<T> extends CompletableFuture<T> implements Runnable {
  private final CancelableContext ctx;
  private final Callable<T> body;
  private Registration onEnd; // set before the task is handed to an executor

  private ContextTask(Context parent, Callable<T> body) {
    this.ctx = Context.withCancel(parent);
    this.body = body;
  }

  /** Submits {@code body} to {@code executor} under {@code parent}; see the class notes. */
  static <T> CompletableFuture<T> submit(Executor executor, Context parent, Callable<T> body) {
    ContextTask<T> task = new ContextTask<>(parent, body);
    // Registered before submission, so a context already done completes the future at once.
    task.onEnd = task.ctx.onDone(() -> task.completeExceptionally(ContextErrors.of(task.ctx)));
    try {
      executor.execute(task);
    } catch (RejectedExecutionException e) {
      task.ctx.cancel(e);
      throw e;
    }
    return task;
  }

  @Override
  public void run() {
    if (isDone()) {
      return; // cancelled or its context ended before it started
    }
    T value = null;
    Throwable failure;
    try (InterruptScope scope = InterruptScope.open(ctx)) {
      if (!ctx.isDone()) {
        value = CurrentContext.call(ctx, body);
      }
      // A body that returns because it was interrupted must not pass for a success: the result
      // counts only if the context was still live when the body returned.
      failure = ContextErrors.of(ctx);
    } catch (Throwable t) {
      ContextException err = ContextErrors.of(ctx);
      // An exception after the context ended is taken to be the body's reaction to it.
      failure = err != null ? err : t;
    }
    // Release the task context before publishing, so that it is gone when get() returns. Once the
    // callback is stopped, this thread alone completes the future (unless the caller cancels it).
    onEnd.stop();
    ctx.cancel();
    if (failure == null) {
      complete(value);
    } else {
      completeExceptionally(failure);
    }
  }

  @Override
  public T get() throws InterruptedException, ExecutionException {
    try {
      return super.get();
    } catch (CancellationException e) {
      throw unwrapped(e);
    }
  }

  @Override
  public T get(long timeout, TimeUnit unit)
      throws InterruptedException, ExecutionException, TimeoutException {
    try {
      return super.get(timeout, unit);
    } catch (CancellationException e) {
      throw unwrapped(e);
    }
  }

  @Override
  public T join() {
    try {
      return super.join();
    } catch (CancellationException e) {
      throw unwrapped(e);
    }
  }

  /**
   * Newer JDKs (seen on 25) rethrow a stored {@code CancellationException} wrapped in a new one;
   * hand back the context's error itself, as JDK 17 does, so callers can catch its type.
   */
  private static CancellationException unwrapped(CancellationException e) {
    if (!(e instanceof ContextException) && e.getCause() instanceof ContextException) {
      return (ContextException) e.getCause();
    }
    return e;
  }

  /**
   * Completes this future with a {@link java.util.concurrent.CancellationException}, interrupts the
   * body if it is running (whatever {@code mayInterruptIfRunning} says: stopping the body is the
   * point of a context), and never starts it if it has not started.
   */
  @Override
  public boolean cancel(boolean mayInterruptIfRunning) {
    boolean cancelled = super.cancel(mayInterruptIfRunning);
    ctx.cancel();
    return cancelled;
  }

  /** Dependent stages are plain futures: cancelling one must not cancel this task. */
  @Override
  public <U> CompletableFuture<U> newIncompleteFuture() {
    return new CompletableFuture<>();
  }

  @Override
  public String toString() {
    return "ContextTask[" + ctx + ", " + super.toString() + "]";
  }
}
