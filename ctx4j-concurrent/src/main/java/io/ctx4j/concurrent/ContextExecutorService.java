package io.ctx4j.concurrent;

import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.internal.CoreInternals;
import java.lang.ref.Reference;
import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.RejectedExecutionHandler;
import java.util.concurrent.RunnableFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

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
 * two outcomes. An exception the body throws while its context is live fails the future (a {@code
 * CancellationException} of its own too: {@code get} throws an {@code ExecutionException} and
 * {@code isCancelled()} is false, as with {@code supplyAsync} and a {@code ThreadPoolExecutor}).
 *
 * <p>It is an {@link ExecutorService} too, so it can be passed wherever one is expected, and it
 * behaves as a {@link java.util.concurrent.ThreadPoolExecutor} does call by call: the methods
 * without a context ({@code execute}, {@code submit}, {@code invokeAll}, {@code invokeAny}, and
 * {@code CompletableFuture.supplyAsync(..., pool)} or an {@link
 * java.util.concurrent.ExecutorCompletionService} on top of it) use the {@linkplain
 * CurrentContext#get() current context} of the submitting thread. Nobody waits forever for a task
 * whose context ended before it started:
 *
 * <ul>
 *   <li>the futures of {@code submit}, {@code invokeAll}, {@code invokeAny} and of an {@code
 *       ExecutorCompletionService} built on this service are tasks of this service ({@link
 *       #newTaskFor}) and complete with the context's error, so {@code invokeAny} throws an {@code
 *       ExecutionException} whose cause is that error;
 *   <li>{@code supplyAsync}/{@code runAsync} under a context already done are refused with a {@link
 *       RejectedExecutionException} (the context's error as cause); if the context ends while such a
 *       task is queued, the task still runs, under its ended context, since its future can be
 *       completed no other way. A dependent stage on this service ({@code thenApplyAsync(fn, pool)}
 *       and the like) is handed to {@code execute} by the thread that completes its source (or that
 *       adds it to a source already complete), so it takes that thread's current context, not the
 *       one it was added under; under an ended one it is refused the same way, and the stage
 *       completes with the {@code RejectedExecutionException} without running its function (give it
 *       {@link #delegate()} to run it whatever context completes the source);
 *   <li>any other {@link Future} given to {@code execute} is cancelled; a plain {@code Runnable}
 *       does not run;
 *   <li>a task of this service that the wrapped executor refuses (one drained from a service and
 *       handed to another that is shut down, say) completes with the exception it threw.
 * </ul>
 *
 * An exception thrown by an {@code execute}d task (a {@code CancellationException} of its own or a
 * checked exception thrown sneakily included) goes to the worker's uncaught-exception handler, as
 * with the JDK's pools; only a {@code CancellationException} thrown after the task's context ended is
 * taken as the task's reaction to that end and not reported. {@link #shutdownNow} returns the objects
 * that were queued, as a {@code ThreadPoolExecutor} does, and cancels the tasks no worker started.
 *
 * <p>Thread safety: thread-safe as the wrapped service is. Memory consistency effects: actions before
 * {@code submit} happen-before the task runs; actions of the task happen-before a successful return
 * from the future's {@code get}.
 *
 * @since 0.1
 */
public final class ContextExecutorService extends AbstractExecutorService implements AutoCloseable {
  private final ExecutorService delegate;

  /**
   * The task {@link #newTaskFor} made on this thread, until the {@link #execute} that follows it.
   * invokeAny and an ExecutorCompletionService hand execute not that task but a wrapper of it (the
   * JDK's QueueingFuture); if the executor refuses the wrapper, the caller gets the exception and
   * nobody holds the task, which would otherwise stay on its context's cancel tree until the
   * context ends. Per instance, so that another service's execute never takes it; held only between
   * the two calls, which the JDK makes one after the other on the same thread, except in timed
   * invokeAll, which makes every task before it hands any over, and hands none over when its timeout
   * is zero or less: invokeAll and invokeAny empty it when they return or throw, so nothing stays
   * reachable from the calling thread.
   */
  private final ThreadLocal<ContextTask<?>> unhanded = new ThreadLocal<>();

  /**
   * This service's tasks whose futures are not complete, each until its future completes, held
   * weakly. {@link #shutdownNow} ends those that no worker has started: the delegate's list cannot
   * say which they are, since a ScheduledThreadPoolExecutor returns its own wrappers of them and a
   * ForkJoinPool none, and a task left pending would stay on its context's cancel tree until the
   * context ends. Weakly, since a task the delegate dropped without a word (a rejection handler of
   * the application's own) is held by nobody else under a context that never ends, and a strong
   * hold would keep one more per drop for the life of the service; every task shutdownNow must end
   * is strongly reachable otherwise: from the delegate's queue, its context's cancel tree or
   * whoever holds its future. One {@link Held} per task, compared by identity. The entry of a
   * collected task is taken out at the next submission or completion of a task, and by shutdown,
   * shutdownNow and close, so a service that stops keeps none; one that is idle but not stopped
   * keeps it (a weak reference and its set node) until one of these, since no thread of the
   * service's takes it out (a thread would keep the class loader of an application that carries
   * ctx4j alive; see wrap's Javadoc and the README).
   */
  private final Set<Held> pending = ConcurrentHashMap.newKeySet();

  /** Where the {@link Held}s of collected tasks come, to be taken out of {@link #pending}. */
  private final ReferenceQueue<ContextTask<?>> collected = new ReferenceQueue<>();

  /**
   * A service's weak hold on one of its tasks, in its {@link #pending} set. The task keeps the one
   * of the service it was last handed to (see {@link ContextTask#heldBy}) and, when its future
   * completes, takes exactly that one out of that service's set ({@link ContextTask}'s completion
   * paths, no callback on the future: a task handed back and forth between services would collect
   * one per hand-over). Equality is the reference's own (identity).
   */
  static final class Held extends WeakReference<ContextTask<?>> {
    final ContextExecutorService owner;

    Held(ContextTask<?> task, ContextExecutorService owner) {
      super(task, owner.collected);
      this.owner = owner;
    }

    /**
     * The task's future completed, or another service took the task over: let go of it, and of
     * the entries of collected tasks while at it (a poll of an empty queue is one read).
     */
    void release() {
      owner.pending.remove(this);
      owner.expunge();
    }
  }

  private ContextExecutorService(ExecutorService delegate) {
    this.delegate = delegate;
  }

  /**
   * Wraps {@code delegate}. The wrapper owns it: shutting down or closing the wrapper shuts it down.
   *
   * <p>The wrapped service must run every task it accepts, or refuse it by throwing: a task dropped
   * without a word can be seen by nobody, so its future completes only when its context ends or
   * {@link #shutdownNow} stops it, and until then the task stays registered on its context (a leak
   * on a long-lived context, one task per drop). This service holds its tasks only weakly: a dropped
   * task that nothing else holds (under a context that never ends, such as {@link
   * Context#background()}, once its future is let go of) is collected, and {@code shutdownNow} no
   * longer sees it. This service's small entry for such a task (a cleared weak reference and its
   * set node) goes at the service's next submission or task completion, and at {@code shutdown},
   * {@code shutdownNow} and {@code close}: the service has no thread of its own (a thread would
   * keep the class loader of an application that carries ctx4j alive), so one left idle and not
   * stopped keeps these entries until then. So a {@link Future} given to {@code execute} (an {@code
   * ExecutorCompletionService}'s, {@code invokeAny}'s) whose task was dropped under such a context
   * is never cancelled, and whoever waits on it waits for ever. A {@link
   * ThreadPoolExecutor} whose rejection policy is the JDK's {@link
   * ThreadPoolExecutor.DiscardPolicy} or {@link ThreadPoolExecutor.DiscardOldestPolicy} (or a
   * subclass) is therefore refused here. Use {@link ThreadPoolExecutor.AbortPolicy} (the default),
   * which this service turns into a future completed with the {@link RejectedExecutionException}
   * besides throwing it, or {@link ThreadPoolExecutor.CallerRunsPolicy}, which runs the task on the
   * submitting thread; note that {@code CallerRunsPolicy} drops a task without a word once the pool
   * is shut down, so do not hand tasks to it then. The same holds for a policy set on the delegate
   * after this call, and for a handler of your own: one that neither runs nor throws (one that logs
   * and drops, say) leaves the task pending as above.
   *
   * @param delegate the service that runs the tasks
   * @return the wrapper
   * @throws NullPointerException if {@code delegate} is null
   * @throws IllegalArgumentException if {@code delegate} is a {@code ThreadPoolExecutor} whose
   *     rejection policy discards tasks ({@code DiscardPolicy}, {@code DiscardOldestPolicy}); the
   *     message names it
   */
  public static ContextExecutorService wrap(ExecutorService delegate) {
    Objects.requireNonNull(delegate, "delegate");
    if (delegate instanceof ThreadPoolExecutor) {
      RejectedExecutionHandler policy = ((ThreadPoolExecutor) delegate).getRejectedExecutionHandler();
      if (policy instanceof ThreadPoolExecutor.DiscardPolicy
          || policy instanceof ThreadPoolExecutor.DiscardOldestPolicy) {
        throw new IllegalArgumentException(
            "delegate's rejection policy "
                + policy.getClass().getName()
                + " drops tasks without a word: a dropped task's future would never complete, and"
                + " the task would stay on its context until it ends; use AbortPolicy (the"
                + " default) or CallerRunsPolicy");
      }
    }
    return new ContextExecutorService(delegate);
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
    ContextTask<T> made = tracked(ContextTask.of(ctx, task));
    made.handTo(delegate);
    return made;
  }

  /**
   * The number of tasks held for {@link #shutdownNow}: those whose futures are not complete and that
   * have not been collected.
   */
  int pendingTasks() {
    expunge();
    int live = 0;
    for (Held held : pending) {
      if (held.get() != null) {
        live++;
      }
    }
    return live;
  }

  /**
   * The number of entries in {@link #pending}, collected tasks' included, as they are: nothing is
   * taken out first.
   */
  int heldEntries() {
    return pending.size();
  }

  /**
   * Lists {@code task} in {@link #pending} until its future completes, and takes it off the list of
   * the service that held it before: a task drained by another service's delegate (its own
   * shutdownNow() or delegate().shutdownNow()) and handed to this one is this one's now, and that
   * one's shutdownNow must not cancel it while it waits here.
   */
  private <T> ContextTask<T> tracked(ContextTask<T> task) {
    if (task.isDone()) {
      return task;
    }
    Held current = task.holder();
    if (current != null && current.owner == this) {
      return task; // listed already: invokeAll hands execute the task newTaskFor made
    }
    expunge(); // on every add, so the entries of collected tasks never pile up
    Held held = new Held(task, this);
    // Listed first, then made the task's holder: a completion from then on takes it out again.
    pending.add(held);
    Held before = task.heldBy(held);
    if (before != null) {
      before.release(); // the other service's: this one owns the task now
    }
    if (task.isDone()) {
      task.untrack(); // it completed before it held this entry, so its completion missed it
    }
    return task;
  }

  /** Takes the entries of collected tasks that the collector has queued out of {@link #pending}. */
  private void expunge() {
    for (Reference<?> gone; (gone = collected.poll()) != null; ) {
      pending.remove(gone);
    }
  }

  /**
   * Takes every entry of a collected task out of {@link #pending} and out of {@link #collected}, so
   * that a service that stops holds none (it gets no submission, whose {@link #expunge} would).
   * The collector clears a reference at once but queues it later, on another thread: a cleared
   * entry not queued yet is queued here (a reference is queued at most once), then polled.
   */
  private void letGoOfCollected() {
    for (Held held : pending) {
      if (held.refersTo(null)) {
        held.enqueue();
      }
    }
    expunge();
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
   * @throws RejectedExecutionException if the service does not accept the task, or if {@code
   *     command} is an asynchronous task of a {@link CompletableFuture} and the current context is
   *     already done (the context's error is the cause)
   */
  @Override
  public void execute(Runnable command) {
    ContextTask<?> made = unhanded.get();
    if (made != null) {
      unhanded.remove();
    }
    try {
      hand(command);
    } catch (Throwable t) {
      if (made != null && !(command instanceof ContextTask)) {
        // Refused inside a wrapper: see unhanded. (A ContextTask command is the task itself, which
        // handTo abandoned, or one of timed invokeAll's, which makes them all first and cancels
        // them all on a refusal.)
        made.abandon(t);
      }
      throw t;
    }
  }

  private void hand(Runnable command) {
    Objects.requireNonNull(command, "command");
    if (command instanceof ContextTask) {
      // One of ours (from newTaskFor, as invokeAll/invokeAny/ExecutorCompletionService make them,
      // or drained by shutdownNow): it carries its context and completes itself when it ends.
      tracked((ContextTask<?>) command).handTo(delegate);
      return;
    }
    Context ctx = CurrentContext.get();
    if (command instanceof CompletableFuture.AsynchronousCompletionTask) {
      ContextException err = CoreInternals.errorCopy(ctx);
      if (err != null) {
        // supplyAsync/runAsync hide the future their caller waits on; throwing is the one way to
        // tell that caller that the task will not run.
        throw new RejectedExecutionException("the current context is done: " + err.getMessage(), err);
      }
    }
    ContextTask<Void> task =
        ContextTask.forCommand(
            ctx,
            command,
            () -> {
              try {
                command.run();
              } catch (Throwable t) {
                // A CancellationException after the context ended is the task's reaction to it; the
                // task's own ones (a join() on an unrelated cancelled future) are reported, as
                // everything else is, on the worker, as the JDK's pools do for execute().
                if (!(t instanceof CancellationException && CurrentContext.get().isDone())) {
                  CoreInternals.reportUncaught(t);
                }
              }
              return null;
            });
    tracked(task).handTo(delegate);
  }

  /**
   * Runs {@code tasks} under the {@linkplain CurrentContext#get() current context} and waits for
   * them all, as {@link ExecutorService#invokeAll(Collection)}.
   *
   * @param tasks the tasks
   * @param <T> the result type
   * @return their futures, all complete, in the order of {@code tasks}
   * @throws InterruptedException if interrupted while waiting (unfinished tasks are cancelled)
   * @throws NullPointerException if {@code tasks} or one of them is null (named {@code tasks[i]}),
   *     before any task is handed over
   * @throws RejectedExecutionException if the service does not accept a task
   */
  @Override
  public <T> List<Future<T>> invokeAll(Collection<? extends Callable<T>> tasks)
      throws InterruptedException {
    try {
      return super.invokeAll(checked(tasks));
    } finally {
      unhanded.remove();
    }
  }

  /**
   * Runs {@code tasks} under the {@linkplain CurrentContext#get() current context} and waits for
   * them all, or until the timeout, as {@link ExecutorService#invokeAll(Collection, long,
   * TimeUnit)}; the tasks unfinished then are cancelled.
   *
   * @param tasks the tasks
   * @param timeout the longest wait, in {@code unit}
   * @param unit the unit of {@code timeout}
   * @param <T> the result type
   * @return their futures, all complete, in the order of {@code tasks}
   * @throws InterruptedException if interrupted while waiting (unfinished tasks are cancelled)
   * @throws NullPointerException if {@code tasks}, one of them (named {@code tasks[i]}) or {@code
   *     unit} is null, before any task is handed over
   * @throws RejectedExecutionException if the service does not accept a task
   */
  @Override
  public <T> List<Future<T>> invokeAll(
      Collection<? extends Callable<T>> tasks, long timeout, TimeUnit unit)
      throws InterruptedException {
    List<Callable<T>> checked = checked(tasks);
    Objects.requireNonNull(unit, "unit");
    try {
      return super.invokeAll(checked, timeout, unit);
    } finally {
      // With a timeout of zero or less it makes every task and hands over none: the last one made
      // would stay in unhanded, with its callable and context, until this thread's next execute.
      unhanded.remove();
    }
  }

  /**
   * Runs {@code tasks} under the {@linkplain CurrentContext#get() current context} and returns the
   * result of one that succeeded, as {@link ExecutorService#invokeAny(Collection)}; the others are
   * cancelled.
   *
   * @param tasks the tasks
   * @param <T> the result type
   * @return the result of one of them
   * @throws InterruptedException if interrupted while waiting
   * @throws ExecutionException if no task succeeded (the context's error as cause if it ended)
   * @throws NullPointerException if {@code tasks} or one of them is null (named {@code tasks[i]}),
   *     before any task is handed over
   * @throws IllegalArgumentException if {@code tasks} is empty
   * @throws RejectedExecutionException if the service does not accept a task
   */
  @Override
  public <T> T invokeAny(Collection<? extends Callable<T>> tasks)
      throws InterruptedException, ExecutionException {
    try {
      return super.invokeAny(nonEmpty(checked(tasks)));
    } finally {
      unhanded.remove();
    }
  }

  /**
   * Runs {@code tasks} under the {@linkplain CurrentContext#get() current context} and returns the
   * result of one that succeeded before the timeout, as {@link ExecutorService#invokeAny(Collection,
   * long, TimeUnit)}; the others are cancelled.
   *
   * @param tasks the tasks
   * @param timeout the longest wait, in {@code unit}
   * @param unit the unit of {@code timeout}
   * @param <T> the result type
   * @return the result of one of them
   * @throws InterruptedException if interrupted while waiting
   * @throws ExecutionException if no task succeeded (the context's error as cause if it ended)
   * @throws TimeoutException if none succeeded before the timeout
   * @throws NullPointerException if {@code tasks}, one of them (named {@code tasks[i]}) or {@code
   *     unit} is null, before any task is handed over
   * @throws IllegalArgumentException if {@code tasks} is empty
   * @throws RejectedExecutionException if the service does not accept a task
   */
  @Override
  public <T> T invokeAny(Collection<? extends Callable<T>> tasks, long timeout, TimeUnit unit)
      throws InterruptedException, ExecutionException, TimeoutException {
    List<Callable<T>> checked = nonEmpty(checked(tasks));
    Objects.requireNonNull(unit, "unit");
    try {
      return super.invokeAny(checked, timeout, unit);
    } finally {
      unhanded.remove();
    }
  }

  /**
   * A copy of {@code tasks}, checked: AbstractExecutorService finds a null task only when it comes
   * to it, after handing over those before it, and says neither which argument is wrong nor how.
   * A copy, so that the tasks checked are the tasks run, whatever the collection does meanwhile.
   */
  private static <T> List<Callable<T>> checked(Collection<? extends Callable<T>> tasks) {
    Objects.requireNonNull(tasks, "tasks");
    List<Callable<T>> copy = new ArrayList<>(tasks.size());
    for (Callable<T> task : tasks) {
      if (task == null) {
        throw new NullPointerException("tasks[" + copy.size() + "]");
      }
      copy.add(task);
    }
    return copy;
  }

  private static <T> List<Callable<T>> nonEmpty(List<Callable<T>> tasks) {
    if (tasks.isEmpty()) {
      throw new IllegalArgumentException("tasks is empty");
    }
    return tasks;
  }

  /**
   * Makes the task that {@code invokeAll}, {@code invokeAny} and an {@link
   * java.util.concurrent.ExecutorCompletionService} built on this service run: a task under the
   * {@linkplain CurrentContext#get() current context}, whose future completes with the context's
   * error when the context ends first, so none of them waits forever.
   *
   * @param callable what to compute
   * @param <T> the result type
   * @return the task, not yet submitted
   */
  @Override
  protected <T> RunnableFuture<T> newTaskFor(Callable<T> callable) {
    return made(ContextTask.of(CurrentContext.get(), Objects.requireNonNull(callable, "task")));
  }

  /** Remembers {@code task} for the execute that follows; see {@link #unhanded}. */
  private <T> ContextTask<T> made(ContextTask<T> task) {
    unhanded.set(task);
    return tracked(task);
  }

  /**
   * Makes a task as {@link #newTaskFor(Callable)} does.
   *
   * @param runnable what to run
   * @param value what the future completes with on success
   * @param <T> the result type
   * @return the task, not yet submitted
   */
  @Override
  protected <T> RunnableFuture<T> newTaskFor(Runnable runnable, T value) {
    Objects.requireNonNull(runnable, "task");
    return made(ContextTask.of(CurrentContext.get(), Executors.callable(runnable, value)));
  }

  /** Stops accepting tasks; submitted ones still run, as {@link ExecutorService#shutdown()}. */
  @Override
  public void shutdown() {
    delegate.shutdown();
    letGoOfCollected();
  }

  /**
   * Stops accepting tasks and interrupts running ones, as {@link ExecutorService#shutdownNow()}.
   * Like a {@link java.util.concurrent.ThreadPoolExecutor}, it returns the very objects that were
   * queued: for {@code submit} and {@code invokeAll} the future the caller holds, for {@code execute}
   * the caller's {@code Runnable}. Unlike one, it ends every task of this service that no worker
   * has started, so that nobody waits for it for ever and none stays on its context: its future is
   * cancelled, and so is a {@link Future} given to {@code execute} (an {@code
   * ExecutorCompletionService}'s, whose {@code take} and {@code invokeAny} then return), as when
   * the context ends first. A plain {@code Runnable} given to {@code execute} is left as it is, as
   * is the task of {@code supplyAsync}, whose future can be completed only by running it. This holds
   * whatever the wrapped service returns: a {@link java.util.concurrent.ScheduledThreadPoolExecutor}
   * returns its own wrappers of the tasks, and a {@link ForkJoinPool} none, and that is what this
   * method returns then. A service that ignores the call ({@link ForkJoinPool#commonPool()}) goes on
   * running the tasks. A task of this service that the wrapped service's own {@code shutdownNow()}
   * handed back ({@code delegate().shutdownNow()}) is still this service's, and this method ends it
   * if no worker has started it, unless it was handed meanwhile to another {@code
   * ContextExecutorService}: it is that one's then, and only that one's {@code shutdownNow} ends it,
   * even when the hand-over races this method (once that service's {@code execute} has returned,
   * this method no longer ends the task; before, it may, and that service then finds it done).
   * Handed to any other executor, it is still this service's.
   *
   * @return the tasks that never started, as far as the wrapped service lists them
   */
  @Override
  public List<Runnable> shutdownNow() {
    List<Runnable> drained = delegate.shutdownNow();
    List<Runnable> tasks = new ArrayList<>(drained.size());
    for (Runnable r : drained) {
      tasks.add(r instanceof ContextTask ? ((ContextTask<?>) r).origin() : r);
    }
    if (delegate.isShutdown()) {
      // Whatever the list holds: every task listed before it was handed over, so none accepted
      // before the shutdown is missed. A worker that took one just now finds it claimed. Each is
      // claimed from this service first: one that another service has taken over meanwhile (its
      // execute has returned, even while this loop runs) is that one's alone, and left to it.
      for (Held held : pending) {
        ContextTask<?> task = held.get(); // null: collected, so nobody held it, queue included
        if (task != null && task.claim(held)) {
          pending.remove(held);
          task.drain();
        }
      }
    }
    letGoOfCollected();
    return tasks;
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
   * JDK 19 and later: if interrupted while waiting, stops the tasks with {@link #shutdownNow} and goes
   * on waiting until they have finished, then returns with the interrupt status set. A wrapped
   * {@link ForkJoinPool#commonPool()}, which never terminates, is left alone, as its own {@code
   * close()} does.
   */
  @Override
  public void close() {
    if (delegate == ForkJoinPool.commonPool() || delegate.isTerminated()) {
      letGoOfCollected();
      return;
    }
    delegate.shutdown();
    boolean interrupted = false;
    boolean terminated = false;
    while (!terminated) {
      try {
        terminated = delegate.awaitTermination(1, TimeUnit.DAYS);
      } catch (InterruptedException e) {
        if (!interrupted) {
          shutdownNow();
          interrupted = true;
        }
      }
    }
    letGoOfCollected();
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
