package io.ctx4j.taskgroup;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.concurrent.InterruptScope;
import io.ctx4j.concurrent.Tasks;
import java.io.InterruptedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.channels.ClosedByInterruptException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A group of tasks that run concurrently under one context and are waited for together: Go's
 * {@code errgroup.Group}, made structured. The first task to fail cancels the group's context, so
 * its siblings stop; {@link #await()} waits for all of them and reports that first failure; closing
 * the group cancels and waits, so a try-with-resources block never leaves a task running.
 *
 * <pre>{@code
 * try (TaskGroup group = TaskGroup.open(ctx)) {
 *   CompletableFuture<User> user = group.go(c -> userService.fetch(c, id));
 *   CompletableFuture<List<Order>> orders = group.go(c -> orderService.fetch(c, id));
 *   group.await();                      // throws TaskGroupException with the first failure
 *   return render(user.join(), orders.join());
 * }                                     // close(): cancel, then wait for every task
 * }</pre>
 *
 * <h2>Go mapping</h2>
 *
 * {@code errgroup.WithContext(ctx)} is {@link #open(Context)} plus {@link #context()}; the zero
 * {@code Group} is {@link #open()}; {@code Go}, {@code TryGo}, {@code SetLimit} and {@code Wait}
 * are {@link #go}, {@link #tryGo}, {@link #setLimit} and {@link #await()}. Go has no counterpart of
 * {@link #close()}: there, a goroutine outlives a forgotten {@code Wait}; here, it cannot outlive
 * the try-with-resources block.
 *
 * <h2>Semantics</h2>
 *
 * <ul>
 *   <li><b>Context.</b> {@link #context()} is derived from the parent with a cancel cause. In a
 *       group made by {@link #open(Context)} it is cancelled, with the failure as its {@linkplain
 *       Context#cause() cause}, when the first task fails; when {@link #await()} returns or throws
 *       (cause: the first failure, else {@link Context#CANCELED}), like Go's {@code Wait}; when the
 *       parent is done; and when the group is closed. In a group made by {@link #open()} a failure
 *       cancels nothing and {@code await()} leaves the context alone, like Go's zero {@code Group},
 *       so that group can be reused; only {@code close()} cancels it.
 *   <li><b>Interruption.</b> When the group's context is cancelled, the threads running its tasks
 *       are interrupted, so that blocking calls ({@code sleep}, {@code BlockingQueue.take}, socket
 *       channels, {@code Future.get}) return at once with {@link InterruptedException}. The group
 *       never leaves that interrupt behind on a pooled thread after its task ends. A task that
 *       swallows interrupts still sees the context done; a task blocked in {@code ctx.await()} may
 *       get an {@code InterruptedException} rather than a normal return.
 *   <li><b>Tasks not yet started.</b> A task whose turn comes after the group's context is done is
 *       not run: its future fails with the context's error (a fresh {@link ContextException} whose
 *       cause is the context's cause). Go would still start the function; skipping it is what lets
 *       the cancellation of the parent stop the queued work too.
 *   <li><b>Failures.</b> A task fails by throwing. The first failure is the one reported, as the
 *       {@linkplain Throwable#getCause() cause} of a {@link TaskGroupException}; the later ones are
 *       {@linkplain Throwable#getSuppressed() suppressed} on that {@code TaskGroupException}, never
 *       added to the tasks' own exceptions (which may be shared, or refuse suppressed exceptions).
 *       Failures that only echo the cancellation (the group's context error, or a copy of it
 *       carrying the context's cause, as {@code Futures.cancelWhenDone} stores in a {@code
 *       CompletableFuture}; an {@link InterruptedException}, or a {@link
 *       ClosedByInterruptException}, which an interruptible channel throws for the interrupt; or a
 *       {@link CancellationException}, {@link CompletionException} or {@link ExecutionException}
 *       whose cause is one of these, to any depth, which is how newer JDKs (seen on 25) rethrow
 *       the error from a {@code CompletableFuture}'s {@code join()} or {@code get()}, how a stage
 *       that depends on such a future throws it, and how a task that waits for a sibling's future
 *       gets the sibling's echo; thrown once the group's context is done) are not failures; an
 *       {@link Error} suppressed on such an echo (a resource's {@code close()} that failed while
 *       the body rethrew the group's end) is kept as a failure. Nor is a {@link SocketException}
 *       or an {@link InterruptedIOException} (not a {@link SocketTimeoutException}) that a task
 *       throws after the group interrupted its thread for the context's end, the thread's
 *       interrupt status still set: on a virtual thread (the default threads on JDK 21+) a plain
 *       {@link java.net.Socket} read so interrupted has its socket closed by the JDK and throws a
 *       {@code SocketException}, the status kept; a task that turns the interrupt into an {@code
 *       InterruptedIOException} and restores the status is alike. Such an exception thrown with the status cleared, and any other {@code IOException},
 *       is a failure; so, once the group has interrupted the thread and the status is still set, a
 *       socket's own failure (a reset) cannot be told from the echo and is taken for it. On a
 *       platform thread (JDK 17's pool, or an executor's) a plain socket read ignores the interrupt
 *       altogether, and ends only when the socket is closed or times out. If the first failure is
 *       such an echo (the parent was cancelled and no task failed on its own), it is reported as
 *       the context's error, the echo suppressed on it, rather than as the bare exception.
 *   <li><b>Bounded.</b> A group keeps its first failure, at most {@link #MAX_LATER_FAILURES} later
 *       ones and its first {@code Error}; it counts the others ({@link #droppedFailures()}), so a
 *       group reused for many rounds holds bounded memory. {@link #failures()} lists what it kept.
 *   <li><b>Errors.</b> An {@link Error} thrown by a task is a failure like any other (it cancels
 *       the group) but is never wrapped or lost: {@link #await()} throws the first {@code Error}
 *       itself, ahead of any exception, with the other kept failures added to it as suppressed
 *       (when it accepts them; {@link #failures()} has them regardless), and {@link #close()}
 *       throws it if no {@code await()} did.
 *   <li><b>Limit.</b> {@link #setLimit(int)} bounds the tasks that are active at once (submitted
 *       and not yet finished, whether running or queued in the executor). {@link #go} waits for a
 *       free slot, and stops waiting when the context is done or the group is closed; {@link
 *       #tryGo} does not wait.
 *   <li><b>After close.</b> {@link #go} and {@link #tryGo} throw {@link IllegalStateException}.
 * </ul>
 *
 * <h2>Threads</h2>
 *
 * By default each task runs on a new virtual thread on JDK 21 and later, and on a pool of daemon
 * platform threads owned by the group on JDK 17 (at most {@link Builder#platformThreads(int)},
 * default {@link #DEFAULT_PLATFORM_THREADS}; more tasks queue, and a task that waits for a queued
 * sibling can then wait forever, so size the pool or set a limit accordingly). {@link
 * Builder#executor(Executor)} runs tasks on an executor of the caller's instead; the group never
 * shuts that one down.
 *
 * <h2>Thread safety and memory consistency</h2>
 *
 * Every method may be called from any thread. Actions in a thread before it calls {@link #go}
 * happen-before the task runs; actions of a task happen-before the completion of its future and the
 * return (or throw) of an {@link #await()} or {@link #close()} that waited for it. Calling {@code
 * await()} or {@code close()} from one of the group's own tasks would wait for itself, and throws
 * {@link IllegalStateException} instead; so does a call from a task of another group that a
 * caller-runs executor runs inside one of this group's tasks, on its thread.
 *
 * @since 0.1
 */
public final class TaskGroup implements AutoCloseable {

  /*
   * Implementation notes.
   *
   * All mutable state of the group is guarded by `lock`; the work done under it is a few field
   * updates, so one lock for the whole group is cheap even with 100,000 tasks, and it keeps the
   * invariants easy to check. The one state outside it is each submission's claim.
   *
   * A submission is a go()/tryGo() that took a slot: submit() hands the executor a Submission,
   * whose `state` says who gives the slot back. An executor may accept a task and still throw
   * (it ran the task in the caller and then failed; it queued or handed it over and then failed in
   * a later step, the task starting before or after the throw reaches submit(); a faulty one runs
   * it twice), so giving the slot back both in the run and in submit()'s catch would count one
   * slot twice. Instead exactly one side claims the submission, with one CAS out of NEW:
   *
   *          Submission.run() claims it (on whatever thread the executor runs it)
   *     NEW ------------------------------------------------> STARTED: the task runs once; run()'s
   *      |                                                     finally gives the slot back
   *      | submit()'s catch claims it (execute() threw), or close() or await() does (the context
   *      | is done, so the task would only be skipped; the executor may never run it: shutdownNow())
   *      +--------------------------------------------------> REFUSED: the claimer gives the slot
   *                                                            back; a later run() does nothing
   * Both end states are final. When execute() throws after STARTED, submit() only rethrows. The
   * submissions holding a slot are in `pending` (under the lock) for close() and await() to find.
   *
   * Invariants:
   *   1. `active` is the number of slots taken and not yet given back: go()/tryGo() take one under
   *      the lock before calling the executor, and each submission gives it back exactly once, in
   *      finish(), by whichever side moved it out of NEW. So `active` >= 0 (asserted in finish())
   *      and, with a limit, never exceeds it (setLimit refuses a new limit while tasks are active).
   *      One exception: once a task's code is over and its future completes, on the task's thread
   *      (its Running is `over`), a dependent stage of that future may call go()/tryGo() at the limit; the finished task's
   *      slot then passes to the new task (`handedOn`, under the lock) instead of being given back,
   *      as the stage would otherwise wait for the slot its own thread holds. `active` is unchanged
   *      by the pass, and finish() of the finished task gives nothing back.
   *   2. A task's code runs only after its Submission went NEW -> STARTED: at most once, and
   *      never once submit() has given its slot back; so a task that runs is counted in `active`
   *      until it has ended, and await()/close() wait for it.
   *   3. The interrupts are ctx4j-concurrent's InterruptScope's: each task's code runs inside a
   *      scope on the group's context, opened on the task's thread and closed before the thread
   *      goes back to the executor. The scope's own state machine guarantees that once it is closed
   *      its thread is never interrupted for the group again and no interrupt of ours is left set;
   *      a context that ends between the task's isDone() check and the scope's opening interrupts
   *      the thread at once, so a cancel is never missed.
   *   4. A failure is recorded (and a task's future completed) before its slot is given back, so an
   *      await() that sees active == 0 sees every failure.
   *   5. `first` never changes once set; `later` is append-only and holds at most
   *      MAX_LATER_FAILURES entries plus the first Error; the rest only increment `dropped`. So a
   *      group reused for any number of rounds keeps O(MAX_LATER_FAILURES) throwables, and
   *      await() builds a fresh TaskGroupException from them without touching the tasks' own
   *      exceptions (a shared sentinel would collect suppressed exceptions from every group, and one
   *      built without suppression would silently drop them).
   * The context is cancelled only outside the lock: cancel() runs callbacks, ours among them (which
   * takes the lock, harmlessly, as the lock is reentrant) and other people's, which must never run
   * under our lock. Two tasks failing at once both cancel with `first`, so the cause is the
   * first recorded failure whichever cancel() wins.
   */

  /**
   * How many failures after the first one a group keeps, so that a group reused for many rounds
   * (Go's zero {@code Group} keeps only its first error) holds a bounded amount of memory. Later
   * ones are counted ({@link #droppedFailures()}, {@link TaskGroupException#droppedFailures()})
   * and let go; the first {@code Error} is kept in any case.
   */
  public static final int MAX_LATER_FAILURES = 32;

  /** The default size of the platform-thread pool used where the JDK has no virtual threads. */
  public static final int DEFAULT_PLATFORM_THREADS =
      Math.max(64, 8 * Runtime.getRuntime().availableProcessors());

  /**
   * The groups whose tasks this thread is running, innermost first: a caller-runs executor runs a
   * task of another group inside one of ours on the same thread, and waiting for ours there would
   * wait for that task too.
   */
  private static final ThreadLocal<Running> RUNNING_IN = new ThreadLocal<>();

  /**
   * One group in a thread's {@link #RUNNING_IN} chain: the task of it this thread runs. Confined to
   * that thread.
   */
  private static final class Running {
    final TaskGroup group;
    final Running outer;
    final Submission<?> submission;
    /**
     * Set once the task's code is over, as its future completes: a stage of that future running
     * here may take over the task's slot (invariant 1).
     */
    boolean over;

    Running(TaskGroup group, Running outer, Submission<?> submission) {
      this.group = group;
      this.outer = outer;
      this.submission = submission;
    }
  }
  private static final ThreadFactory VIRTUAL =
      Tasks.virtualThreads() ? Tasks.threadFactory("ctx4j-taskgroup") : null;

  private final CancelableContext ctx;
  private final boolean failFast;
  private final Executor executor;
  private final ThreadPoolExecutor ownPool;

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition slotFreed = lock.newCondition();
  private final Condition drained = lock.newCondition();

  // Guarded by lock.
  private int limit;
  private int active;
  private boolean closed;
  private Throwable first; // the first failure: the context's cause, what await() reports
  private Error firstError; // the first Error, kept even beyond the bound on later failures
  private final List<Throwable> later = new ArrayList<>(); // at most MAX_LATER_FAILURES + 1
  private long dropped; // later failures not kept
  // The submissions holding a slot (`active` counts them): close() claims those not yet started.
  private final Set<Submission<?>> pending = new HashSet<>();
  private boolean errorThrown;
  private int attachedToError; // how many of errorOthers() are already suppressed on firstError

  private TaskGroup(Builder b) {
    this.ctx = Context.withCancelCause(b.parent);
    this.failFast = b.failFast;
    this.limit = b.limit;
    if (b.executor != null) {
      this.executor = b.executor;
      this.ownPool = null;
    } else if (VIRTUAL != null && b.poolThreads == null) {
      this.executor = task -> VIRTUAL.newThread(task).start();
      this.ownPool = null;
    } else {
      // Threads are made on demand and die after a second idle, so an idle group that nobody
      // closed holds no thread; the queue is unbounded because the limit, not the pool, is the
      // user-facing bound on submissions.
      ThreadPoolExecutor pool =
          new ThreadPoolExecutor(
              b.platformThreads,
              b.platformThreads,
              1,
              TimeUnit.SECONDS,
              new LinkedBlockingQueue<>(),
              b.poolThreads != null ? b.poolThreads : Tasks.threadFactory("ctx4j-taskgroup"));
      pool.allowCoreThreadTimeOut(true);
      this.executor = pool;
      this.ownPool = pool;
    }
    ctx.onDone(this::contextDone);
  }

  /**
   * Opens a group whose context is derived from {@code parent} and cancelled by the first failure:
   * Go's {@code errgroup.WithContext}. No limit; tasks run on virtual threads (JDK 21+) or a pool
   * of the group's (JDK 17).
   *
   * @param parent the parent context; when it is done, the group's context is done
   * @return a new group; close it
   * @throws NullPointerException if {@code parent} is null
   */
  public static TaskGroup open(Context parent) {
    return builder(parent).build();
  }

  /**
   * Opens a group like Go's zero {@code errgroup.Group}: its context is derived from {@link
   * Context#background()}, a failure is recorded but cancels nothing, and {@link #await()} does not
   * cancel the context, so the group may be awaited and reused any number of times until it is
   * closed.
   *
   * @return a new group; close it
   */
  public static TaskGroup open() {
    return builder(Context.background()).failFast(false).build();
  }

  /**
   * Returns a builder for a group derived from {@code parent}, for a limit, an executor or the pool
   * size.
   *
   * @param parent the parent context
   * @return a new builder, not thread-safe
   * @throws NullPointerException if {@code parent} is null
   */
  public static Builder builder(Context parent) {
    return new Builder(Objects.requireNonNull(parent, "parent"));
  }

  /**
   * Returns the group's context, the one every task receives; pass it to work started outside the
   * group that should stop with it.
   *
   * @return the context; never null
   */
  public Context context() {
    return ctx;
  }

  /**
   * Starts {@code task} in a thread of the group, first waiting while the {@linkplain #setLimit
   * limit} of active tasks is reached: Go's {@code Group.Go}. The wait ends early when the group's
   * context is done; then, and whenever the context is already done, the task is not run and the
   * returned future fails with the context's error, which counts as a failure of the group only if
   * there was none before. The wait is not interruptible (as in Go); an interrupt stays pending.
   * Called from a stage of a task's future that runs on that task's thread as the future completes
   * (the task has finished but not yet given its slot back), it takes over that task's slot instead
   * of waiting for it: a pipeline such as {@code first.thenCompose(v -> group.go(...))} never waits
   * for itself.
   *
   * @param task the task
   * @param <T> its result type
   * @return a future completed with the task's result or failure; completing or cancelling it does
   *     not affect the task or the group
   * @throws NullPointerException if {@code task} is null
   * @throws IllegalStateException if the group is closed, before or during the wait
   * @throws RejectedExecutionException if a caller-supplied executor rejects the task; any other
   *     throwable a caller-supplied executor throws (even a checked one it does not declare) is
   *     rethrown unchanged too. If the task had not started when the executor threw, it never runs
   *     (not even if the executor runs it later) and the group is left as if {@code go} had not
   *     been called. If it had started (an executor that ran it in the caller, or handed it to a
   *     thread, and then failed), the executor's exception is still thrown, as it is the
   *     executor's report of a failure, and the task is the group's like any other: it counts
   *     against the limit until it ends, {@link #await()} and {@link #close()} wait for it, and its
   *     failure is the group's; only its result is lost with the future
   */
  public <T> CompletableFuture<T> go(Task<T> task) {
    Objects.requireNonNull(task, "task");
    Submission<T> slot = null;
    lock.lock();
    try {
      while (true) {
        ensureOpen();
        if (ctx.isDone()) {
          break;
        }
        if (limit < 0 || active < limit) {
          slot = take(task);
          break;
        }
        Submission<?> finished = finishedHere();
        if (finished != null) {
          slot = takeOver(finished, task);
          break;
        }
        slotFreed.awaitUninterruptibly();
      }
    } finally {
      lock.unlock();
    }
    // With a slot the task is submitted even if the context ends meanwhile; the worker skips it.
    return slot != null ? submit(slot) : skipped();
  }

  /**
   * Starts {@code task} like {@link #go}, unless the limit of active tasks is reached, when
   * it returns {@code false} at once: Go's {@code Group.TryGo}. Like {@code go}, from a stage of a
   * finished task's future on that task's thread it takes over that task's slot. If the group's context is already
   * done the task is accepted but not run (see {@link #go}).
   *
   * @param task the task
   * @return {@code true} if the group took the task, {@code false} if the limit is reached
   * @throws NullPointerException if {@code task} is null
   * @throws IllegalStateException if the group is closed
   * @throws RejectedExecutionException if a caller-supplied executor rejects the task; like any
   *     other throwable from the executor, rethrown as {@link #go} does, with the same effect on
   *     the task and the group
   */
  public boolean tryGo(Task<?> task) {
    Objects.requireNonNull(task, "task");
    boolean skip;
    Submission<?> slot = null;
    lock.lock();
    try {
      ensureOpen();
      skip = ctx.isDone();
      if (!skip) {
        if (limit < 0 || active < limit) {
          slot = take(task);
        } else {
          Submission<?> finished = finishedHere();
          if (finished == null) {
            return false;
          }
          slot = takeOver(finished, task);
        }
      }
    } finally {
      lock.unlock();
    }
    if (skip) {
      skipped();
    } else {
      submit(slot);
    }
    return true;
  }

  /**
   * Bounds the number of tasks active at once: Go's {@code Group.SetLimit}. A negative {@code n}
   * removes the bound, at any time, as in Go (waiting {@link #go} calls proceed); {@code 0} lets no
   * task start ({@link #tryGo} returns {@code false}, {@link #go} waits until the context is done,
   * the limit is removed or the group closed).
   *
   * @param n the new limit
   * @throws IllegalStateException if {@code n >= 0} while tasks are active: Go panics there when a
   *     limit was set (and, when none was, leaves its {@code Wait} blocked for good); call it before
   *     starting tasks or once {@link #await()} has returned
   */
  public void setLimit(int n) {
    lock.lock();
    try {
      if (n >= 0 && active != 0) {
        throw new IllegalStateException(
            "cannot change the limit while " + active + " tasks of the group are still active");
      }
      limit = n < 0 ? -1 : n;
      slotFreed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits for every task started so far to finish, then reports the first failure: Go's {@code
   * Group.Wait}. In a group made by {@link #open(Context)} it then cancels the context, with
   * the first failure as cause (or {@link Context#CANCELED} if none), whether it returns or throws.
   * Tasks may still be added while it waits; it returns once none is active.
   *
   * <p>Once the group's context is done, the tasks the executor has not started are skipped at once
   * (their futures fail with the context's error, see the class documentation), so await() does not
   * depend on an executor that will never run them: one shut down with {@code shutdownNow()}, which
   * hands back its queue, or one that discards. While the context is not done, await() waits for
   * every task submitted; a caller-supplied executor that drops a task it accepted then leaves
   * await() waiting until the context ends (cancel it, or {@link #close()} the group), which is
   * the executor's owner's to avoid.
   *
   * <p>If no task is active the outcome is reported at once, even if the calling thread is
   * interrupted (as {@code Future.get} does for a completed future); the interrupt stays set.
   *
   * @throws TaskGroupException if a task failed with an exception: its cause is the first failure,
   *     exactly as thrown; the later failures the group kept are suppressed on the {@code
   *     TaskGroupException} itself (the tasks' exceptions are never modified), and {@link
   *     TaskGroupException#droppedFailures()} counts those beyond {@link #MAX_LATER_FAILURES}
   * @throws Error the first {@code Error} thrown by a task, as it was thrown, with the other kept
   *     failures added to it as suppressed (if it accepts them; {@link #failures()} has them all
   *     in any case)
   * @throws InterruptedException if the calling thread is interrupted while waiting; tasks go on
   *     and the context is not cancelled
   * @throws IllegalStateException if called from one of the group's own tasks
   */
  public void await() throws TaskGroupException, InterruptedException {
    ensureNotInOwnTask("await");
    Throwable primary;
    List<Throwable> others;
    long droppedNow;
    // Not lockInterruptibly: the lock is held only briefly, and a drained group must report its
    // outcome whatever the interrupt status; only the wait for tasks is interruptible.
    lock.lock();
    try {
      boolean skipped = false;
      while (active > 0) {
        if (!skipped && ctx.isDone()) {
          // The tasks not started would only be skipped when run, and the executor may never run
          // them (shutdownNow(), a discarding policy): skip them now, as close() does. One pass is
          // enough: no slot is taken once the context is done. Outside the lock, as record() may
          // cancel the context; contextDone() wakes this wait when the context ends.
          skipped = true;
          lock.unlock();
          try {
            skipNotStarted();
          } finally {
            lock.lock();
          }
          continue;
        }
        drained.await();
      }
      primary = firstError != null ? firstError : first;
      others = primary == firstError ? errorOthersToAttach() : List.copyOf(later);
      droppedNow = dropped;
      if (primary != null && primary == firstError) {
        errorThrown = true;
      }
    } finally {
      lock.unlock();
    }
    if (failFast) {
      ctx.cancel(primary);
    }
    if (primary instanceof Error) {
      for (Throwable t : others) {
        primary.addSuppressed(t); // a no-op if the Error has suppression disabled
      }
      throw (Error) primary;
    }
    if (primary != null) {
      throw new TaskGroupException(primary, others, droppedNow);
    }
  }

  /**
   * Returns the failures the group has kept, in the order they happened: the first failure (the
   * one {@link #await()} reports), then up to {@link #MAX_LATER_FAILURES} later ones, plus the first
   * {@code Error} wherever it came. Failures that only echo the group's cancellation are not
   * failures (see the class documentation). Every kept failure is here whatever the exceptions
   * themselves accept, for example when the reported {@code Error} has suppression disabled.
   *
   * @return an unmodifiable snapshot; empty if nothing failed
   */
  public List<Throwable> failures() {
    lock.lock();
    try {
      List<Throwable> all = new ArrayList<>(later.size() + 1);
      if (first != null) {
        all.add(first);
      }
      all.addAll(later);
      return Collections.unmodifiableList(all);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Returns how many failures the group did not keep because {@link #MAX_LATER_FAILURES} later
   * failures were already kept.
   *
   * @return the number of dropped failures; 0 in most groups
   */
  public long droppedFailures() {
    lock.lock();
    try {
      return dropped;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Cancels the group's context (cause {@link Context#CANCELED}, unless it is already done), which
   * interrupts the running tasks, and waits for every task to finish; then refuses new tasks. A
   * task the executor has not started by then is skipped at once, its future failing with the
   * context's error, so close() does not depend on an executor that will never run it (one shut
   * down with {@code shutdownNow()}, which hands back its queue, or one that discards). So is the
   * task of a {@link #go} or {@link #tryGo} on another thread that has taken its slot and not yet
   * handed the task over when this method runs: that call returns as if it had (the task's future
   * failed with the context's error), also when the group's own pool, which this method shuts
   * down, refuses the task; only a caller-supplied executor's exception is rethrown, as {@code go}
   * says. It does not report exceptions (call {@link #await()} first for that), but throws a
   * task's {@code Error} that no {@code await()} has thrown, so it is never lost. The wait is
   * uninterruptible: an interrupt is kept and re-asserted on return, as the tasks are what must
   * end. Idempotent.
   *
   * @throws Error the first {@code Error} thrown by a task, if {@code await()} did not throw it
   * @throws IllegalStateException if called from one of the group's own tasks
   */
  @Override
  public void close() {
    ensureNotInOwnTask("close");
    lock.lock();
    try {
      closed = true;
      slotFreed.signalAll();
    } finally {
      lock.unlock();
    }
    ctx.cancel();
    // Every slot taken before `closed` is pending by now, and none is taken after: one pass is all.
    skipNotStarted();
    boolean interrupted = false;
    Error undelivered = null;
    lock.lock();
    try {
      while (active > 0) {
        try {
          drained.await();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (firstError != null && !errorThrown) {
        errorThrown = true;
        undelivered = firstError;
      }
    } finally {
      lock.unlock();
    }
    if (ownPool != null) {
      ownPool.shutdown();
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    if (undelivered != null) {
      throw undelivered;
    }
  }

  /**
   * Describes the group for debugging: active tasks, limit, failures and the context.
   *
   * @return a one-line description; its format may change
   */
  @Override
  public String toString() {
    lock.lock();
    try {
      return "TaskGroup[active="
          + active
          + ", limit="
          + (limit < 0 ? "none" : Integer.toString(limit))
          + ", failures="
          + ((first == null ? 0 : 1) + later.size() + dropped)
          + (closed ? ", closed" : "")
          + ", context="
          + ctx
          + "]";
    } finally {
      lock.unlock();
    }
  }

  // ---------------------------------------------------------------------------------- internals

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("the task group is closed");
    }
  }

  private void ensureNotInOwnTask(String what) {
    boolean own = false;
    for (Running r = RUNNING_IN.get(); r != null && !own; r = r.outer) {
      own = r.group == this;
    }
    if (own) {
      throw new IllegalStateException(
          "a task cannot " + what + " its own group: it would wait for itself");
    }
  }

  /** Takes a slot for {@code task}; called under the lock. */
  private <T> Submission<T> take(Task<T> task) {
    Submission<T> s = new Submission<>(this, task);
    active++;
    pending.add(s);
    return s;
  }

  /**
   * The task of this group whose future this thread is completing, if it still holds its slot: a
   * dependent stage of that future is calling go() or tryGo() at the limit. Under the lock.
   */
  private Submission<?> finishedHere() {
    Running r = RUNNING_IN.get();
    return r != null && r.group == this && r.over && !r.submission.handedOn ? r.submission : null;
  }

  /** Passes {@code finished}'s slot to {@code task} (invariant 1); under the lock. */
  private <T> Submission<T> takeOver(Submission<?> finished, Task<T> task) {
    finished.handedOn = true;
    Submission<T> s = new Submission<>(this, task);
    pending.add(s);
    return s;
  }

  /**
   * Hands a task that holds a slot to the executor; see the class notes for who frees the slot.
   * With the group's context as the current context: an executor that takes the submitter's (ctx4j's
   * {@code ContextExecutorService}) then skips the task only once the group's context has ended,
   * which await() and close() see, and not because the thread that called go() had a context that
   * ended, which would leave the slot held for good.
   */
  private <T> CompletableFuture<T> submit(Submission<T> s) {
    try {
      CurrentContext.run(ctx, () -> executor.execute(s));
    } catch (Throwable e) { // not only unchecked: an executor may throw a checked one undeclared
      if (s.refuse()) {
        finish(s);
      } else if (executor == ownPool && e instanceof RejectedExecutionException) {
        // The group's pool refuses only once close() has shut it down, which it does after every
        // slot was given back: close() skipped this task meanwhile (its future failed with the
        // context's error), so this go() gets that answer, as if it had handed the task over first.
        return s.result;
      }
      throw e;
    }
    return s.result;
  }

  /**
   * For close() and await(), the context being done: claims the submissions the executor has not
   * started, which would only be skipped when it runs them, and skips them now, so that neither
   * waits on an executor that will never run them (shut down with shutdownNow(), or one that
   * discards).
   *
   * @return whether it claimed any
   */
  private boolean skipNotStarted() {
    List<Submission<?>> claimed = new ArrayList<>();
    lock.lock();
    try {
      for (Submission<?> s : pending) {
        if (s.refuse()) {
          claimed.add(s);
        }
      }
    } finally {
      lock.unlock();
    }
    for (Submission<?> s : claimed) { // outside the lock: record() may cancel the context
      ContextException e = contextError();
      s.result.completeExceptionally(e);
      record(e, true);
      finish(s);
    }
    return !claimed.isEmpty();
  }

  /** A task that will not run because the context is done: fails with, and maybe reports, that. */
  private <T> CompletableFuture<T> skipped() {
    ContextException e = contextError();
    record(e, true);
    return CompletableFuture.failedFuture(e);
  }

  private <T> void run(Submission<T> s) {
    Task<T> task = s.task;
    CompletableFuture<T> result = s.result;
    Running outer = RUNNING_IN.get();
    Running running = new Running(this, outer, s);
    RUNNING_IN.set(running);
    boolean interruptedIo = false;
    try {
      if (ctx.isDone()) {
        ContextException e = contextError();
        record(e, true);
        result.completeExceptionally(e);
      } else {
        T value;
        try (InterruptScope scope = InterruptScope.open(ctx)) {
          try {
            value = task.run(ctx);
          } catch (SocketException | InterruptedIOException e) {
            // Read before the scope's close clears our interrupt: blocking I/O that our interrupt
            // ended (a virtual thread's socket read: the JDK closes the socket, throws
            // SocketException and keeps the status set) echoes the context's end. Not any
            // IOException: a task may throw its own with our interrupt merely pending.
            interruptedIo =
                !(e instanceof SocketTimeoutException)
                    && scope.interrupted()
                    && Thread.currentThread().isInterrupted();
            throw e;
          }
        }
        running.over = true;
        result.complete(value);
      }
    } catch (Throwable t) {
      boolean echo;
      Error hidden;
      try {
        echo = ctx.isDone() && (interruptedIo || isCancellationEcho(t));
        // An Error a try-with-resources suppressed on the echo (a resource's close() failing while
        // the body rethrew the group's end) is a failure of its own: never dropped with the echo.
        hidden = echo ? suppressedError(t) : null;
      } catch (RuntimeException | StackOverflowError unreadable) {
        // A throwable whose getCause() or getSuppressed() throws, or recurses: it cannot be shown
        // to echo the group's end, so it is a failure, as thrown; the future and the group must
        // still hear of it, or a sibling joining the future and await() would wait forever.
        echo = false;
        hidden = null;
      }
      Throwable failure = t;
      if (echo && !(t instanceof ContextException)) { // the interrupt's: report the context's end
        ContextException e = contextError();
        e.addSuppressed(t);
        failure = e;
      }
      running.over = true;
      result.completeExceptionally(t);
      if (hidden != null) {
        record(hidden, false); // in the echo's place: await() throws it ahead of anything else
      } else {
        record(failure, echo);
      }
    } finally {
      if (outer == null) {
        RUNNING_IN.remove();
      } else {
        RUNNING_IN.set(outer);
      }
      finish(s);
    }
  }

  /** Gives back a task's slot (its interrupt scope is closed already), unless it passed it on. */
  private void finish(Submission<?> s) {
    lock.lock();
    try {
      pending.remove(s);
      if (s.handedOn) {
        return; // the task a dependent of its future started holds the slot now (invariant 1)
      }
      assert active > 0 : "a slot given back twice: active=" + active; // invariant 1
      active--;
      slotFreed.signal();
      if (active == 0) {
        drained.signalAll();
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Records a failure; an echo of the cancellation counts only if nothing failed before it. Later
   * failures beyond the bound are counted, not kept, except the first Error.
   */
  private void record(Throwable failure, boolean echo) {
    Throwable cause;
    lock.lock();
    try {
      if (first == null) {
        first = failure;
      } else if (echo || isKept(failure)) {
        // A failure kept already (one exception object thrown by several tasks, or in several
        // rounds: a sentinel, a cached exception) is reported once.
        return;
      } else if (later.size() < MAX_LATER_FAILURES
          || (failure instanceof Error && firstError == null)) {
        later.add(failure);
      } else {
        dropped++;
      }
      if (failure instanceof Error && firstError == null) {
        firstError = (Error) failure;
      }
      cause = first;
    } finally {
      lock.unlock();
    }
    if (failFast) {
      ctx.cancel(cause);
    }
  }

  /** Whether {@code failure}, that very object, is kept already; under the lock. */
  private boolean isKept(Throwable failure) {
    if (failure == first) {
      return true;
    }
    for (Throwable t : later) {
      if (t == failure) {
        return true;
      }
    }
    return false;
  }

  /**
   * The kept failures other than {@code firstError} that await() has not yet added to it, in
   * order; a group reused after an Error adds each one once. Called under the lock.
   */
  private List<Throwable> errorOthersToAttach() {
    List<Throwable> others = new ArrayList<>(later.size() + 1);
    if (first != firstError) {
      others.add(first);
    }
    for (Throwable t : later) {
      if (t != firstError) {
        others.add(t);
      }
    }
    List<Throwable> fresh = List.copyOf(others.subList(attachedToError, others.size()));
    attachedToError = others.size();
    return fresh;
  }

  /**
   * Runs once, in the thread that completes the context: wakes the waiters for a slot, and await()
   * so that it skips the tasks not started (the tasks' interrupt scopes interrupt the tasks).
   */
  private void contextDone() {
    lock.lock();
    try {
      slotFreed.signalAll();
      drained.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * How many links of a cause chain the echo rule reads at most: far past any real chain (JDK
   * wrappers nest a few deep; veryDeepWrapperChains nests 100,000), and a bound in time and memory
   * for a getCause() that makes a new wrapper on every call, which no cycle check stops.
   */
  private static final int MAX_CAUSES = 1 << 17;

  /**
   * Whether {@code t}, thrown once the context is done, only echoes its end: the context's own error,
   * or what the group's interrupt makes a blocking call throw (an interruptible channel throws
   * ClosedByInterruptException, not InterruptedException). run() adds a SocketException or
   * InterruptedIOException thrown with the group's interrupt still set; the type alone cannot tell
   * that one (a SocketException is as often a peer's reset), and its message is no contract.
   * Newer JDKs (seen on 25) rethrow a ContextException stored in a CompletableFuture (what
   * Futures.cancelWhenDone stores) from join(), get() and getNow() as a new CancellationException
   * whose cause it is, where JDK 17 throws it as is; a stage that depends on such a future holds it
   * in a CompletionException, which its join() throws, and its get() throws an ExecutionException
   * of it, on every JDK; a FutureTask wraps any of these once more. Each wrapper, to any depth, is
   * the same echo, provided it carries nothing of its own: a wrapper with suppressed exceptions (a
   * nested group's TaskGroupException, which keeps its later failures there) is not one. And only
   * the group's own error is echoed: the sentinel, or a copy with the context's cause; another
   * context's end (a call's own deadline) is a failure.
   */
  private boolean isCancellationEcho(Throwable t) {
    // Links past MAX_CAUSES are not looked at: no echo, a failure.
    // Through any number of wrappers (a FutureTask's ExecutionException of a dependent stage's
    // CompletionException, JDK 25's CancellationException), cycles stopped; a wrapper carrying
    // failures of its own (a nested group's TaskGroupException) is no echo. The interrupt's echo
    // too, at any depth: a task that waits for a sibling's future gets the sibling's
    // InterruptedException wrapped by that future.
    Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    for (Throwable x = t; x != null && seen.add(x) && seen.size() <= MAX_CAUSES; x = x.getCause()) {
      if (x instanceof InterruptedException || x instanceof ClosedByInterruptException) {
        return true;
      }
      if (x instanceof ContextException) {
        if (isOurs((ContextException) x)) {
          return true;
        }
        // ForkJoinTask.join()/get() rethrow a worker's exception as a new one of its class, made
        // by its (Throwable) constructor: CanceledException(CanceledException(cause)). Walk on.
        if (x.getCause() instanceof ContextException) {
          continue;
        }
        return false;
      }
      if (!(x instanceof CancellationException
              || x instanceof CompletionException
              || x instanceof ExecutionException)
          // A nested group's report carries its later failures: no echo. The JDK's own wrappers
          // are looked through whatever a try-with-resources added to them, as the bare error is
          // (JDK 17's cf.join() throws it bare, JDK 25's wraps it): one rule on every JDK.
          || (x instanceof TaskGroupException
              && (x.getSuppressed().length > 0
                  || ((TaskGroupException) x).droppedFailures() > 0))) {
        return false;
      }
    }
    return false;
  }

  /**
   * The first Error suppressed on {@code t} or on a link of its cause chain (the wrappers an echo
   * passes through), or null; cycles stopped.
   */
  private static Error suppressedError(Throwable t) {
    Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    for (Throwable x = t; x != null && seen.add(x) && seen.size() <= MAX_CAUSES; x = x.getCause()) {
      for (Throwable s : x.getSuppressed()) {
        if (s instanceof Error) {
          return (Error) s;
        }
      }
    }
    return null;
  }

  /** Whether {@code e} is the group's context's error, or a copy of it (a descendant's end). */
  private boolean isOurs(ContextException e) {
    ContextException err = ctx.err();
    if (e == err) {
      return true;
    }
    if (err == null || e.getClass() != err.getClass()) {
      return false;
    }
    // copy(cause) attaches the cause unless it is a sentinel: compare with what it attaches.
    Throwable cause = ctx.cause();
    Throwable attachable =
        cause == Context.CANCELED || cause == Context.DEADLINE_EXCEEDED ? null : cause;
    // Once the group has ended by a deadline, a deadline's error without a cause is that deadline
    // too: CoreInternals.endOf's refusal before the timer fired, and a descendant with the same
    // deadline whose own timer fired first.
    return e.getCause() == attachable || (err.isTimeout() && e.getCause() == null);
  }

  /** A fresh copy of the error of the group's context, which is done (ctx4j's own: err() is set). */
  private ContextException contextError() {
    ContextException err = ctx.err();
    if (err == null) {
      throw new IllegalStateException("the group's context is not done");
    }
    return err.copy(ctx.cause());
  }

  /**
   * The runnable an executor gets for one task: it replaces the lambda submit() used to pass (one
   * object per task either way) and carries the claim of the class notes. Thread-safe: run() and
   * refuse() may race, and run() may be called any number of times from any threads.
   */
  private static final class Submission<T> implements Runnable {
    private static final int NEW = 0;
    private static final int STARTED = 1;
    private static final int REFUSED = 2;
    private static final VarHandle STATE;

    static {
      try {
        STATE = MethodHandles.lookup().findVarHandle(Submission.class, "state", int.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    private final TaskGroup group;
    private final Task<T> task;
    private final CompletableFuture<T> result = new CompletableFuture<>();

    /** Its slot passed to a task a dependent of its future started (invariant 1); guarded by lock. */
    private boolean handedOn;

    // Left at its default, NEW (0): an initializer would cost a volatile store per task. Leaves NEW
    // only by CAS, which also publishes the claim to the side that lost it.
    private volatile int state;

    Submission(TaskGroup group, Task<T> task) {
      this.group = group;
      this.task = task;
    }

    @Override
    public void run() {
      if (STATE.compareAndSet(this, NEW, STARTED)) {
        group.run(this);
      }
    }

    /**
     * Claims the submission for submit() after the executor threw, or for close() once the
     * context is done.
     *
     * @return whether the task had not started, so it never will and the caller frees the slot
     */
    boolean refuse() {
      return STATE.compareAndSet(this, NEW, REFUSED);
    }
  }

  /**
   * Options for a {@link TaskGroup}. Not thread-safe; build once and discard.
   *
   * @since 0.1
   */
  public static final class Builder {
    private final Context parent;
    private int limit = -1;
    private Executor executor;
    private int platformThreads = DEFAULT_PLATFORM_THREADS;
    private boolean failFast = true;
    private ThreadFactory poolThreads; // for tests; null: the default threads

    private Builder(Context parent) {
      this.parent = parent;
    }

    /**
     * Sets the initial limit of active tasks, as {@link TaskGroup#setLimit(int)} would.
     *
     * @param n the limit; negative means none (the default)
     * @return this builder
     */
    public Builder limit(int n) {
      this.limit = n < 0 ? -1 : n;
      return this;
    }

    /**
     * Runs the tasks on {@code executor} instead of the default threads. The group does not shut it
     * down, and its interrupts never outlive a task on the executor's threads.
     *
     * @param executor the executor
     * @return this builder
     * @throws NullPointerException if {@code executor} is null
     */
    public Builder executor(Executor executor) {
      this.executor = Objects.requireNonNull(executor, "executor");
      return this;
    }

    /**
     * Sets the size of the group's platform-thread pool, used only where the JDK has no virtual
     * threads (JDK 17) and no executor was given.
     *
     * @param n the most threads the group runs at once
     * @return this builder
     * @throws IllegalArgumentException if {@code n} is not positive
     */
    public Builder platformThreads(int n) {
      if (n <= 0) {
        throw new IllegalArgumentException("platformThreads must be positive: " + n);
      }
      this.platformThreads = n;
      return this;
    }

    /**
     * Runs the tasks on the group's own pool of platform threads, as on JDK 17, on any JDK, with
     * threads made by {@code threads}. For tests only (package-private): a factory that waits on
     * a latch holds a {@code go} inside the pool's {@code execute}, which makes the first worker.
     *
     * @param threads the pool's thread factory
     * @return this builder
     */
    Builder poolThreads(ThreadFactory threads) {
      this.poolThreads = Objects.requireNonNull(threads, "threads");
      return this;
    }

    /**
     * Chooses whether the first failure cancels the group's context and {@link TaskGroup#await()}
     * cancels it ({@code true}, the default, Go's {@code WithContext}); {@code false} gives Go's
     * zero {@code Group}, where only {@link TaskGroup#close()} cancels.
     *
     * @param failFast whether failures and {@code await()} cancel the context
     * @return this builder
     */
    public Builder failFast(boolean failFast) {
      this.failFast = failFast;
      return this;
    }

    /**
     * Opens the group.
     *
     * @return a new group; close it
     */
    public TaskGroup build() {
      return new TaskGroup(this);
    }
  }
}
