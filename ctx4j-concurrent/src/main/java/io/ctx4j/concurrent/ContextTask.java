package io.ctx4j.concurrent;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Registration;
import io.ctx4j.internal.CoreInternals;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.RunnableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * A task governed by a context, and the future of its result; shared by {@link
 * ContextExecutorService} and {@link Tasks}.
 *
 * <p>Implementation notes. Each task gets a child context of its own, cancelled when the task ends,
 * when the future is completed by anyone else (cancel, complete, completeExceptionally, orTimeout,
 * completeAsync, {@link Futures#cancelWhenDone}), or when the caller's context ends. The future is
 * completed at most once, by whichever comes first: the body's result, the body's exception, the
 * context's end (through an {@code onDone} callback, so the future does not wait for a body that
 * ignores interruption), or an outside completion. A result is published only if the task context
 * was still live when the body returned, since a body may return normally because it was
 * interrupted. The body runs at most once (a CAS on {@code started}, as FutureTask's runner CAS),
 * and never if the future is already complete when a worker reaches it. A running body runs inside
 * an {@link InterruptScope} on the task context, so the context's end interrupts it, and the
 * scope's close guarantees the worker thread goes back to its pool with no stray interrupt. The
 * task context is also the {@link CurrentContext} of the body.
 *
 * <p>A task made for {@code ContextExecutorService.execute} also remembers the caller's {@link
 * Runnable} ({@link #command}), which is what {@code shutdownNow} hands back and what is cancelled
 * when the context ends first (see {@link #skipped}).
 */
final class ContextTask<T> extends CompletableFuture<T> implements RunnableFuture<T> {
  private static final VarHandle STARTED;
  private static final VarHandle HOLDER;

  static {
    try {
      STARTED = MethodHandles.lookup().findVarHandle(ContextTask.class, "started", boolean.class);
      HOLDER =
          MethodHandles.lookup()
              .findVarHandle(ContextTask.class, "holder", ContextExecutorService.Held.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final CancelableContext ctx;
  private final Callable<T> body;
  private final Runnable command; // execute()'s Runnable, or null
  private Registration onEnd; // set before the task is handed to an executor

  @SuppressWarnings("unused") // accessed through STARTED
  private volatile boolean started;

  // The weak reference by which the service it was last handed to holds it (accessed through
  // HOLDER too); its completion (untrack) takes exactly that one out of that service's set.
  private volatile ContextExecutorService.Held holder;

  private ContextTask(Context parent, Callable<T> body, Runnable command) {
    this.ctx = Context.withCancel(parent);
    this.body = body;
    this.command = command;
  }

  /**
   * Makes a task under {@code parent}, not yet handed to any executor. A context already done
   * completes it at once.
   */
  static <T> ContextTask<T> of(Context parent, Callable<T> body) {
    return armed(new ContextTask<>(parent, body, null));
  }

  /** A task for {@code execute(command)}; {@code body} runs {@code command} and reports its failure. */
  static ContextTask<Void> forCommand(Context parent, Runnable command, Callable<Void> body) {
    return armed(new ContextTask<>(parent, body, command));
  }

  private static <T> ContextTask<T> armed(ContextTask<T> task) {
    task.onEnd = task.ctx.onDone(task::contextEnded);
    return task;
  }

  /** Submits {@code body} to {@code executor} under {@code parent}; see the class notes. */
  static <T> CompletableFuture<T> submit(Executor executor, Context parent, Callable<T> body) {
    ContextTask<T> task = of(parent, body);
    task.handTo(executor);
    return task;
  }

  /**
   * Hands this task to {@code executor}; a rejection ends the task (see {@link #abandon}) and is
   * rethrown.
   */
  void handTo(Executor executor) {
    try {
      executor.execute(this);
    } catch (Throwable e) {
      // Any throwable: an executor may throw a checked exception it does not declare (Kotlin, a
      // sneaky rethrow), and the task would stay on its parent's cancel tree. Rethrown as it is.
      abandon(e);
      throw e;
    }
  }

  /**
   * Makes {@code held} (a service's weak reference to this task, in its set of tasks for its
   * shutdownNow) the one that holds this task, and returns the one that held it before, or null.
   */
  ContextExecutorService.Held heldBy(ContextExecutorService.Held held) {
    return (ContextExecutorService.Held) HOLDER.getAndSet(this, held);
  }

  /**
   * Takes this task from the service whose entry {@code held} is, if that service still holds it
   * (a compare-and-set against {@link #heldBy}): true if it did, and then no other service holds
   * it; false if another service took it over first, or it completed.
   */
  boolean claim(ContextExecutorService.Held held) {
    return HOLDER.compareAndSet(this, held, null);
  }

  /** The weak reference by which a service holds this task, or null if none does. */
  ContextExecutorService.Held holder() {
    return holder;
  }

  /**
   * The future is complete (or about to be, by this thread): the service that holds the task lets
   * go of it. Called on every path that completes the future, after it, and by a service that took
   * the task over just as it completed; a task no service holds (Tasks') pays one volatile read.
   */
  void untrack() {
    if (holder != null) {
      ContextExecutorService.Held held = (ContextExecutorService.Held) HOLDER.getAndSet(this, null);
      if (held != null) {
        held.release();
      }
    }
  }

  /** The object a caller gave us: the {@code execute} command, else this future. */
  Runnable origin() {
    return command != null ? command : this;
  }

  /**
   * Ends a task that will never run (refused, or drained by {@code shutdownNow}) without touching
   * the caller's command: it withdraws the task's hold on its parent context and completes the
   * future with {@code why}, since whoever holds the future (a caller that handed a drained task to
   * another executor) would otherwise wait for ever, and a get interrupted meanwhile would find the
   * task context done and wait for the outcome done wins promises. A task that a worker has started
   * already (an executor that ran it, then threw; a task handed to a second executor while the
   * first runs it) is left to that worker, which completes it.
   */
  boolean abandon(Throwable why) {
    if (!STARTED.compareAndSet(this, false, true)) {
      return false;
    }
    onEnd.stop();
    ctx.cancel();
    super.completeExceptionally(why); // a no-op if the context's end completed it first
    untrack();
    return true;
  }

  /**
   * Ends a task that {@code shutdownNow} stopped, if no worker has started it: the future is
   * cancelled, the task context released, and a {@link Future} handed to execute cancelled too, as
   * when the context ends first. A plain {@code Runnable}, and supplyAsync's task (whose future can
   * be completed only by running it), are left to the caller, to whom shutdownNow hands them back.
   */
  void drain() {
    if (abandon(new CancellationException("stopped by shutdownNow before it started"))) {
      cancelCommand();
    }
  }

  private void contextEnded() {
    boolean completed = super.completeExceptionally(CoreInternals.errorCopy(ctx));
    untrack();
    if (completed) {
      cancelCommand();
    }
  }

  /**
   * A Future handed to execute() (an ExecutorCompletionService's, a FutureTask) must say that it
   * will never run, so nobody waits for it forever (a second cancel is a no-op).
   */
  private void cancelCommand() {
    if (command instanceof Future && !(command instanceof AsynchronousCompletionTask)) {
      ((Future<?>) command).cancel(false);
    }
  }

  @Override
  public void run() {
    if (!STARTED.compareAndSet(this, false, true)) {
      return; // runs once, as a FutureTask does
    }
    if (isDone()) {
      // Cancelled, completed or ended before it started. Most of these ended the task context
      // already; obtrudeValue and obtrudeException do not, so release it here.
      ctx.cancel();
      untrack();
      skipped();
      return;
    }
    T value = null;
    Throwable failure;
    boolean bodyStarted = false;
    try (InterruptScope scope = InterruptScope.open(ctx)) {
      if (!ctx.isDone()) {
        bodyStarted = true;
        value = CurrentContext.call(ctx, body);
      }
      // A body that returns because it was interrupted must not pass for a success: the result
      // counts only if the context was still live when the body returned.
      failure = CoreInternals.errorCopy(ctx);
    } catch (Throwable t) {
      ContextException err = CoreInternals.errorCopy(ctx);
      // An exception after the context ended is taken to be the body's reaction to it. A
      // CancellationException of the body's own (a join() on an unrelated cancelled future) is a
      // failure, as supplyAsync and FutureTask report it, not a cancelled task: stored raw, it would
      // make isCancelled() true and get() throw it instead of an ExecutionException.
      failure =
          err != null ? err : t instanceof CancellationException ? new CompletionException(t) : t;
    }
    // Release the task context before publishing, so that it is gone when get() returns. Once the
    // callback is stopped, this thread alone completes the future (unless someone outside does).
    onEnd.stop();
    ctx.cancel();
    untrack(); // before publishing too, so that no service holds the task once get() returns
    if (failure == null) {
      super.complete(value);
    } else {
      super.completeExceptionally(failure);
    }
    untrack(); // a service that took the task over in between
    if (!bodyStarted) {
      // The context ended after the isDone() check above but before its callback completed this
      // future (callbacks run after the whole subtree is marked done, and others may run first).
      // This thread then completed the future, so contextEnded will not tell the command.
      skipped();
    }
  }

  /**
   * The future ended before the body started. CompletableFuture's own async tasks ({@code
   * supplyAsync(..., executor)}) hide the future their caller waits on: it can be completed only by
   * running them, so they run, under their ended context (they can see it through {@link
   * CurrentContext}), rather than leave their caller waiting forever. Any other {@link Future}
   * handed to execute is cancelled, as {@link #contextEnded} does.
   */
  private void skipped() {
    if (command instanceof AsynchronousCompletionTask) {
      CurrentContext.run(ctx, command);
    } else {
      cancelCommand();
    }
  }

  @Override
  public T get() throws InterruptedException, ExecutionException {
    try {
      return super.get();
    } catch (CancellationException e) {
      throw unwrapped(e);
    } catch (InterruptedException e) {
      return doneWinsOver(e);
    }
  }

  @Override
  public T get(long timeout, TimeUnit unit)
      throws InterruptedException, ExecutionException, TimeoutException {
    long deadline = System.nanoTime() + unit.toNanos(timeout); // compared by difference
    try {
      return super.get(timeout, unit);
    } catch (CancellationException e) {
      throw unwrapped(e);
    } catch (InterruptedException e) {
      if (!endingOrDone()) {
        throw e;
      }
      return doneWins(true, deadline);
    }
  }

  /** An interrupt while waiting: rethrown while the context lives, else {@link #doneWins}. */
  private T doneWinsOver(InterruptedException e) throws InterruptedException, ExecutionException {
    if (!endingOrDone()) {
      throw e;
    }
    try {
      return doneWins(false, 0L);
    } catch (TimeoutException impossible) {
      throw new AssertionError("an untimed wait timed out", impossible);
    }
  }

  /** The future is complete, or its context has ended and the future is about to be completed. */
  private boolean endingOrDone() {
    return isDone() || ctx.isDone();
  }

  /**
   * Done wins over an interrupt: waits, ignoring further interrupts, for the outcome that the task
   * context's end is about to publish, reports it, and leaves the interrupt set. The wait is short
   * as a rule (the callback that completes the future runs as the context ends), but other
   * callbacks run first and may take their time, so a timed get waits no longer than its
   * {@code deadline} and then times out.
   */
  private T doneWins(boolean timed, long deadline) throws ExecutionException, TimeoutException {
    try {
      while (true) {
        try {
          return timed ? super.get(deadline - System.nanoTime(), TimeUnit.NANOSECONDS) : super.get();
        } catch (InterruptedException again) {
          // done wins: keep waiting; the interrupt is set again below
        }
      }
    } catch (CancellationException e) {
      throw unwrapped(e);
    } finally {
      Thread.currentThread().interrupt();
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

  @Override
  public T getNow(T valueIfAbsent) {
    try {
      return super.getNow(valueIfAbsent);
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
    untrack();
    return cancelled;
  }

  /** Completed from outside (by a caller, orTimeout...): nobody wants the body's result any more. */
  @Override
  public boolean complete(T value) {
    boolean completed = super.complete(value);
    ctx.cancel();
    untrack();
    return completed;
  }

  /**
   * Completed exceptionally from outside ({@link Futures#cancelWhenDone}, orTimeout, a caller): the
   * body is stopped as by {@link #cancel}.
   */
  @Override
  public boolean completeExceptionally(Throwable ex) {
    boolean completed = super.completeExceptionally(ex);
    ctx.cancel(ex);
    untrack();
    return completed;
  }

  /**
   * Completed from outside by {@code supplier} on {@code executor}, as {@link
   * CompletableFuture#completeAsync(Supplier, Executor)}: the body is stopped and the task lets go
   * of its context and its service as by {@link #complete} and {@link #completeExceptionally},
   * through which the completion now goes. The JDK's completes the future past them (its own
   * completeValue), so the task stayed on its context until a worker reached it, and a running body
   * ran on. A supplier's failure is stored wrapped in a {@link CompletionException}, as the JDK
   * stores it (so {@code isCancelled()} stays false even for a {@code CancellationException}).
   * {@code completeAsync(supplier)} comes here with the default executor.
   */
  @Override
  public CompletableFuture<T> completeAsync(Supplier<? extends T> supplier, Executor executor) {
    Objects.requireNonNull(supplier, "supplier");
    Objects.requireNonNull(executor, "executor");
    // The JDK's task still does the hand-over (a CompletableFuture async task, which a
    // ContextExecutorService treats as one) and calls the supplier only if the future is not
    // complete; its own completion after ours finds the future complete and does nothing.
    return super.completeAsync(() -> completeWith(supplier), executor);
  }

  private T completeWith(Supplier<? extends T> supplier) {
    T value;
    try {
      value = supplier.get();
    } catch (Throwable t) {
      completeExceptionally(t instanceof CompletionException ? t : new CompletionException(t));
      return null;
    }
    complete(value);
    return value;
  }

  /**
   * Forces the outcome, as {@link CompletableFuture#obtrudeValue}; the service that holds the task
   * lets go of it (the body, if it runs, still runs under its context).
   */
  @Override
  public void obtrudeValue(T value) {
    super.obtrudeValue(value);
    untrack();
  }

  /**
   * Forces the outcome, as {@link CompletableFuture#obtrudeException}; the service that holds the
   * task lets go of it.
   */
  @Override
  public void obtrudeException(Throwable ex) {
    super.obtrudeException(ex);
    untrack();
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
