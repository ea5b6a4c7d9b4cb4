package io.ctx4j;

import io.ctx4j.internal.CoreInternals;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * A context carries a cancellation signal, a deadline and request-scoped values across API
 * boundaries and between threads: Go's {@code context.Context}, in Java.
 *
 * <p>Contexts form a tree. {@link #background()} is the root; every {@code with...} factory derives
 * a child. When a context is cancelled, or its deadline passes, it and all of its descendants become
 * <em>done</em>: {@link #err()} turns from {@code null} to {@link #CANCELED} or {@link
 * #DEADLINE_EXCEEDED} and stays so, {@link #cause()} says why, waiters wake up and {@link
 * #onDone(Runnable) callbacks} run. A done context never becomes live again.
 *
 * <pre>{@code
 * try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofSeconds(3))) {
 *   String reply = ctx.await(client.fetchAsync(request)); // the reply, or the context's error
 * } // closing cancels, like Go's defer cancel()
 * }</pre>
 *
 * <h2>Go mapping</h2>
 *
 * {@code Deadline()} is {@link #deadline()}; {@code Done()} is {@link #isDone()}, {@link #await()},
 * {@link #onDone(Runnable)} and {@link #toFuture()}; {@code Err()} is {@link #err()}; {@code
 * Value(key)} is {@link #value(Key)}. The package functions are the static methods of this
 * interface, and {@code CancelFunc} is {@link CancelableContext#cancel()}.
 *
 * <h2>Implementing Context</h2>
 *
 * Contexts made by ctx4j are the usual kind. A custom implementation may be used as a parent: its
 * children register through {@link #onDone(Runnable)} (no thread per child) and inherit its {@link
 * #deadline()} and {@link #value(Key) values}. Implementations must be thread-safe, must keep {@code
 * err()} null until done and then return the same value forever, and must run every registered
 * callback once when done, even if another one throws. Override {@link #cause()} too when the
 * implementation has a cause to give, a wrapper forwarding it to the context it wraps: the default
 * returns {@code err()}, so a wrapper that implements only the four abstract methods reports {@link
 * #CANCELED} as the cause of a context cancelled with a cause, and so do its children (Go's {@code
 * Cause} finds the wrapped context's through {@code Value}; ctx4j cannot see through a class it
 * does not know). A child copies the parent's {@code err()} and {@code cause()} when the parent
 * runs its callback; if either throws, the child still ends, as {@link #CANCELED} with no cause of
 * its own: an exception is dropped, and an {@link Error} is rethrown once the child (and everything
 * below it) has ended, to the code that runs the callback.
 * A factory whose parent is done already and throws such an {@code Error} passes it on to its
 * caller and returns no child; nothing stays registered with the parent. A chain that passes
 * through custom contexts cancels however deep it is: when a custom context runs its callback
 * inside a cancellation (a wrapper of a ctx4j context does), the children of custom contexts
 * nested more than 32 deep on one thread are ended after the callbacks of the contexts above them
 * instead of before, still before the cancel that began it returns.
 *
 * <h2>Thread safety and memory consistency</h2>
 *
 * Every method may be called from any thread at any time. Actions in a thread before it cancels a
 * context (or before the deadline fires) <i>happen-before</i> actions in any thread after it observes
 * that context or any descendant done, whether by a non-null {@code err()}, a {@code true} {@code
 * isDone()}, a return from {@code await}, a callback or the future. Values bound by {@link
 * #withValue} are visible to every thread that receives the context.
 *
 * <h2>Interrupts: done wins</h2>
 *
 * The blocking waits ({@link #await()}, {@link #await(Duration)}, {@link #await(CompletionStage)})
 * follow one rule when the waiting thread is interrupted: if the context is done, on entry or when
 * the wait wakes up, the wait gives the context's outcome (it returns, or it throws a fresh copy of
 * {@link #err()} carrying the cause) even though the thread is interrupted, and it leaves the
 * interrupt status <em>set</em> for the code that follows. Only a wait whose context is not done
 * ends with {@code InterruptedException}, and that one clears the status, as the JDK's waits do. So
 * a task group or an executor that cancels a context and then interrupts its threads sees the
 * context's error from every wait, not an {@code InterruptedException} that depends on timing.
 *
 * @since 0.1
 */
public interface Context {

  /**
   * The error of a context that was cancelled; its message is {@code "context canceled"}. Shared by
   * the whole JVM and locked: no stack trace, no cause, and {@code addSuppressed}/{@code
   * setStackTrace} do nothing (see {@link ContextException}).
   */
  CanceledException CANCELED = SentinelErrors.CANCELED;

  /**
   * The error of a context whose deadline passed; its message is {@code "context deadline
   * exceeded"}. Shared and locked like {@link #CANCELED}.
   */
  DeadlineExceededException DEADLINE_EXCEEDED = SentinelErrors.DEADLINE_EXCEEDED;

  // ---------------------------------------------------------------- the four methods of Go's Context

  /**
   * Returns why this context is done, or {@code null} while it is not: the Java form of Go's {@code
   * Err()}. Once non-null the result never changes, and it is always one of the two sentinels {@link
   * #CANCELED} and {@link #DEADLINE_EXCEEDED}, so compare with {@code ==}. A non-null result implies
   * that {@link #isDone()} is already true and waiters are being released. Lock-free for contexts
   * made by ctx4j.
   *
   * @return {@code null}, {@link #CANCELED} or {@link #DEADLINE_EXCEEDED}
   */
  ContextException err();

  /**
   * Returns the time at which this context will be cancelled by itself, if any; successive calls
   * return the same value. The deadline of a derived context is the earliest of its own and its
   * ancestors'.
   *
   * @return the deadline, or empty if there is none
   */
  Optional<Instant> deadline();

  /**
   * Returns the time left until {@link #deadline()}, measured on this context's {@link
   * #timeSourceOf time source}: the Java form of Go's {@code time.Until(deadline)} and of grpc-java's
   * {@code Deadline.timeRemaining}. The result is zero or negative once the deadline has passed
   * (even if the timer that cancels the context has not fired yet), and it is saturated to the
   * range of a {@code long} number of nanoseconds (about 292 years either way), so {@code
   * toNanos()} and {@code toMillis()} on it never throw. Integrations use it to send a budget over
   * the wire or to set a timeout on a blocking call. Thread-safe; reads the clock once.
   *
   * @return the time left, or empty if this context has no deadline
   */
  default Optional<Duration> remaining() {
    Optional<Instant> deadline = deadline();
    if (deadline.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(
        Duration.ofNanos(Durations.saturatedNanos(timeSourceOf(this).now(), deadline.get())));
  }

  /**
   * Returns the value bound to {@code key} by the nearest {@link #withValue} among this context and
   * its ancestors, or {@code null} if none. Lookups cost the same whatever the number of values and
   * the depth of the tree.
   *
   * @param key the key; compared by identity
   * @param <T> the value type
   * @return the value, or {@code null}
   * @throws NullPointerException if {@code key} is null
   */
  <T> T value(Key<T> key);

  /**
   * Registers {@code callback} to run once when this context is done; if it already is, runs it at
   * once in the calling thread. Otherwise the callback runs in the thread that completes the context
   * (the one calling {@code cancel}, or for a deadline a thread of ctx4j's), after the whole subtree
   * has been marked done, so it must be short and must not block; use {@link #afterFunc} for
   * anything longer. An exception it throws goes to that thread's uncaught-exception handler and
   * stops nothing else.
   *
   * <p>Memory consistency effects: actions before the cancellation happen-before the callback runs.
   *
   * <p>An implementation outside ctx4j must never return {@code null}: wherever ctx4j registers on
   * such a context (the factories, the value and time-source layers above it, and this
   * interface's own {@code await} and {@code toFuture}), it refuses a {@code null} with a {@code
   * NullPointerException} that names the class.
   *
   * @param callback what to run
   * @return a registration whose {@code stop()} withdraws the callback and releases it
   * @throws NullPointerException if {@code callback} is null
   */
  Registration onDone(Runnable callback);

  // ------------------------------------------------------------------------- derived from the above

  /**
   * Tells whether this context is done, without blocking: Go's non-blocking receive on {@code
   * Done()}.
   *
   * @return {@code true} once the context is cancelled or its deadline has passed
   */
  default boolean isDone() {
    return err() != null;
  }

  /**
   * Returns why this context was cancelled: the cause given to {@link
   * CancelableContext#cancel(Throwable)} or {@link #withDeadlineCause} by the first cancellation of
   * this context or an ancestor; otherwise the same as {@link #err()}; {@code null} while not done.
   * Never changes once non-null. The default returns {@link #err()}: an implementation outside
   * ctx4j that can tell a cause (a wrapper: its wrapped context's) overrides it, or its children
   * inherit {@code err()} as their cause.
   *
   * @return the cause, or {@code null} while the context is not done
   */
  default Throwable cause() {
    return err();
  }

  /**
   * Throws if this context is done; the check to put in loops that cannot block on the context.
   *
   * @throws ContextException a fresh {@link CanceledException} or {@link DeadlineExceededException}
   *     with a stack trace and the {@linkplain #cause() cause} attached
   */
  default void throwIfDone() {
    if (isDone()) {
      throw Waits.errorOf(this);
    }
  }

  /**
   * Blocks until this context is done: Go's {@code <-ctx.Done()}. Returns at once if it already is,
   * even in an interrupted thread (done wins, see the class notes; the interrupt status stays set).
   *
   * @throws InterruptedException if the thread is interrupted while waiting (or on entry) and the
   *     context is not done; the interrupt status is then cleared
   */
  default void await() throws InterruptedException {
    if (isDone()) {
      return;
    }
    CountDownLatch latch = new CountDownLatch(1);
    Registration r = CoreInternals.register(this, latch::countDown);
    try {
      latch.await();
    } catch (InterruptedException e) {
      CancelStateMachine.doneWinsOverInterrupt(this);
    } finally {
      r.stop();
    }
  }

  /**
   * Blocks until this context is done or the timeout elapses, whichever first. A done context gives
   * {@code true} even in an interrupted thread, whose interrupt status then stays set (done wins,
   * see the class notes).
   *
   * @param timeout the longest time to wait; zero or negative means do not wait
   * @return {@code true} if the context is done
   * @throws InterruptedException if the thread is interrupted while waiting (or on entry) and the
   *     context is not done; the interrupt status is then cleared
   * @throws NullPointerException if {@code timeout} is null
   */
  default boolean await(Duration timeout) throws InterruptedException {
    Objects.requireNonNull(timeout, "timeout");
    if (isDone()) {
      return true;
    }
    CountDownLatch latch = new CountDownLatch(1);
    Registration r = CoreInternals.register(this, latch::countDown);
    try {
      return latch.await(Durations.saturatedNanos(timeout), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      CancelStateMachine.doneWinsOverInterrupt(this);
      return true;
    } finally {
      r.stop();
    }
  }

  /**
   * Waits for {@code work} or for this context, whichever finishes first: the Java form of Go's
   * {@code select { case r := <-work: ...; case <-ctx.Done(): ... }}. It does not cancel the work;
   * tie the work to the context for that (or use a task group).
   *
   * @param work the pending result
   * @param <T> its type
   * @return the work's result, if the work completes first (or both already have)
   * @throws ContextException a fresh copy of this context's error, with its cause, if the context is
   *     done first
   * @throws ExecutionException if the work completes first with an exception (a {@code
   *     CompletionException} wrapper is removed)
   * @throws java.util.concurrent.CancellationException if the work itself was cancelled
   * @throws InterruptedException if the thread is interrupted while waiting (or on entry) and
   *     neither the work nor the context has finished; the interrupt status is then cleared. If
   *     either has, its outcome is given instead and the status stays set (done wins, see the class
   *     notes)
   * @throws NullPointerException if {@code work} is null
   */
  default <T> T await(CompletionStage<T> work) throws InterruptedException, ExecutionException {
    return Waits.awaitEither(this, work);
  }

  /**
   * Returns a future that completes exceptionally with this context's error (a fresh copy carrying
   * the cause) when the context is done, and never completes normally: the {@code CompletionStage}
   * view of Go's {@code Done()}. Each call returns a new future; completing or cancelling it has no
   * effect on the context and withdraws its registration.
   *
   * <p>Since {@link ContextException} is a {@code CancellationException}, the future reports {@code
   * isCancelled()}, and {@code get()}/{@code join()} throw a {@code CancellationException} that is
   * the error itself on some JDKs and a wrapper of it on others (JDK 25). Read the error with
   * {@code handle}, {@code exceptionally} or {@code whenComplete}.
   *
   * @return a new future tied to this context
   */
  default CompletableFuture<Void> toFuture() {
    CompletableFuture<Void> f = new CompletableFuture<>();
    Registration r =
        CoreInternals.register(this, () -> f.completeExceptionally(Waits.errorOf(this)));
    f.whenComplete((v, e) -> r.stop());
    return f;
  }

  // --------------------------------------------------------------------------------- the factories

  /**
   * Returns the root context: never cancelled, no deadline, no values. Prints as {@code
   * context.Background}.
   *
   * @return the shared background context
   */
  static Context background() {
    return RootContext.BACKGROUND;
  }

  /**
   * Returns a root context like {@link #background()}, to be used where the right context is not yet
   * known. Prints as {@code context.TODO}.
   *
   * @return the shared TODO context
   */
  static Context todo() {
    return RootContext.TODO;
  }

  /**
   * Derives a context that is done when it is cancelled or when {@code parent} is done, whichever
   * first. Cancel it (or close it) as soon as the work it governs is over: that releases its
   * registration with the parent. If the parent is already done the child is born done with the
   * parent's error and cause.
   *
   * @param parent the parent
   * @return a new cancelable context
   * @throws NullPointerException if {@code parent} is null
   */
  static CancelableContext withCancel(Context parent) {
    return ContextFactories.withCancel(parent);
  }

  /**
   * Same as {@link #withCancel(Context)}: in ctx4j every cancelable context takes a cause through
   * {@link CancelableContext#cancel(Throwable)}. Kept for a one-to-one mapping with Go's {@code
   * WithCancelCause}.
   *
   * @param parent the parent
   * @return a new cancelable context
   * @throws NullPointerException if {@code parent} is null
   */
  static CancelableContext withCancelCause(Context parent) {
    return ContextFactories.withCancel(parent);
  }

  /**
   * Derives a context that is also done, with {@link #DEADLINE_EXCEEDED}, once {@code deadline}
   * passes. If the parent's deadline is earlier, this is the same as {@link #withCancel} (Go's
   * shortcut: no timer is made). A deadline already past gives a context that is born done.
   * Cancelling it early releases its timer at once.
   *
   * @param parent the parent
   * @param deadline when the context expires; {@link Instant#MAX} means never in practice
   * @return a new cancelable context
   * @throws NullPointerException if an argument is null
   */
  static CancelableContext withDeadline(Context parent, Instant deadline) {
    return ContextFactories.withDeadline(parent, deadline, null);
  }

  /**
   * Like {@link #withDeadline}, and when the deadline fires, {@link #cause()} returns {@code cause}.
   * Cancelling the context by hand sets no cause.
   *
   * @param parent the parent
   * @param deadline when the context expires
   * @param cause what {@code cause()} reports if the deadline fires; null means {@link
   *     #DEADLINE_EXCEEDED}
   * @return a new cancelable context
   * @throws NullPointerException if {@code parent} or {@code deadline} is null
   */
  static CancelableContext withDeadlineCause(Context parent, Instant deadline, Throwable cause) {
    return ContextFactories.withDeadline(parent, deadline, cause);
  }

  /**
   * Derives a context whose deadline is {@code timeout} from now, by the parent's {@link TimeSource}.
   * A zero or negative timeout has already expired, as in Go ({@code WithTimeout(ctx, -1)}),
   * grpc-java and Kotlin: the context is born done with {@link #DEADLINE_EXCEEDED} (unless the
   * parent is already done, whose error then wins) and its deadline lies in the past.
   *
   * @param parent the parent
   * @param timeout how long from now; huge values saturate, negative ones have expired
   * @return a new cancelable context
   * @throws NullPointerException if an argument is null
   */
  static CancelableContext withTimeout(Context parent, Duration timeout) {
    return ContextFactories.withTimeout(parent, timeout, null);
  }

  /**
   * Like {@link #withTimeout}, with the cause reported if the deadline fires.
   *
   * @param parent the parent
   * @param timeout how long from now; zero or negative means already expired, and {@code cause()}
   *     is then {@code cause} at once
   * @param cause what {@code cause()} reports if the deadline fires; null means {@link
   *     #DEADLINE_EXCEEDED}
   * @return a new cancelable context
   * @throws NullPointerException if {@code parent} or {@code timeout} is null
   */
  static CancelableContext withTimeoutCause(Context parent, Duration timeout, Throwable cause) {
    return ContextFactories.withTimeout(parent, timeout, cause);
  }

  /**
   * Derives a context in which {@code key} maps to {@code value}, hiding any outer binding of the
   * same key (a {@code null} value hides it too). Cancellation and deadline are the parent's.
   *
   * @param parent the parent
   * @param key the key
   * @param value the value; may be null
   * @param <T> the value type
   * @return a new context
   * @throws NullPointerException if {@code parent} or {@code key} is null
   * @throws IllegalArgumentException if {@code key} was made with a type and {@code value} is not an
   *     instance of it
   */
  static <T> Context withValue(Context parent, Key<T> key, T value) {
    return ContextFactories.withValue(parent, key, value);
  }

  /**
   * Derives a context that keeps the parent's values but is never cancelled and has no deadline,
   * for work that must outlive the request (cleanup, audit logs). Its {@code cause()} is null.
   *
   * @param parent the parent
   * @return a new context
   * @throws NullPointerException if {@code parent} is null
   */
  static Context withoutCancel(Context parent) {
    return ContextFactories.withoutCancel(parent);
  }

  /**
   * Derives a context whose deadlines, and those of its descendants, are measured and fired by
   * {@code source}; for tests that must not sleep. Otherwise it behaves as its parent. A custom
   * {@link Context} implementation in between hides {@code source} from the contexts below it
   * (ctx4j cannot read it through a class it does not know): they use {@link TimeSource#system()}
   * unless given a {@code withTimeSource} of their own.
   *
   * @param parent the parent
   * @param source the time source
   * @return a new context
   * @throws NullPointerException if an argument is null
   */
  static Context withTimeSource(Context parent, TimeSource source) {
    return ContextFactories.withTimeSource(parent, source);
  }

  /**
   * Arranges for {@code fn} to run once, in a thread of its own, after {@code ctx} is done; at once
   * if it already is. The returned registration's {@code stop()} tells whether it prevented the run;
   * it does not wait for a run in progress. If {@code ctx} can never be done, {@code fn} never runs.
   * An exception thrown by {@code fn} goes to its thread's uncaught-exception handler.
   *
   * <p>Threads: on JDK 21 and later each function runs on a new virtual thread, as Go starts a
   * goroutine, so functions that block cost no platform thread. On JDK 17 they share a pool of
   * daemon threads, at most two per core (at least 8) while functions finish; when all of them are
   * blocked and none has finished for 50 ms while others wait, the pool adds one thread, and one more
   * every 50 ms the stall lasts, so functions that wait for each other still all run; idle threads
   * retire after 5 s. Either way the thread carries no inheritable thread-local of the thread that
   * ended the context, and a pool thread has ctx4j's class loader as its context class loader,
   * whichever thread started it. Pass an {@link Executor} to {@link #afterFunc(Context, Runnable,
   * Executor)} to choose the threads yourself, e.g. for a function that needs a webapp's class
   * loader as its context class loader (JNDI, {@code ServiceLoader}).
   *
   * <p>Memory consistency effects: actions before the cancellation happen-before {@code fn} runs.
   *
   * @param ctx the context to follow
   * @param fn what to run
   * @return the registration
   * @throws NullPointerException if an argument is null
   */
  static Registration afterFunc(Context ctx, Runnable fn) {
    return ContextFactories.afterFunc(ctx, fn);
  }

  /**
   * Like {@link #afterFunc(Context, Runnable)}, running {@code fn} on {@code executor}: once {@code
   * ctx} is done, {@code fn} is handed to {@code executor.execute}, from the thread that completes
   * the context (for a deadline, a ctx4j thread, never the timer thread itself, so an executor that
   * blocks or runs tasks in the caller cannot hold up other deadlines). {@code stop()} is true if it
   * prevented the hand-over.
   *
   * <p>If {@code executor} does not accept {@code fn} ({@code execute} throws {@link
   * java.util.concurrent.RejectedExecutionException}, say after a shutdown), {@code fn} runs on
   * ctx4j's own threads instead, as with {@link #afterFunc(Context, Runnable)}: a registration that
   * {@code stop()} did not withdraw always runs its function. Any other exception from {@code
   * execute} is reported to the uncaught-exception handler of the thread that handed over, and
   * {@code fn} runs on ctx4j's threads too. Once the executor has accepted {@code fn}, running it is
   * the executor's business (a {@code shutdownNow} may drop it). An exception thrown by {@code fn}
   * goes to the uncaught-exception handler of the thread that runs it; the executor does not see it.
   *
   * <p>Memory consistency effects: actions before the cancellation happen-before {@code fn} runs
   * (through the executor's own hand-over, as for any {@code java.util.concurrent} executor).
   *
   * @param ctx the context to follow
   * @param fn what to run
   * @param executor where to run it
   * @return the registration
   * @throws NullPointerException if an argument is null
   */
  static Registration afterFunc(Context ctx, Runnable fn, Executor executor) {
    return ContextFactories.afterFunc(ctx, fn, executor);
  }

  /**
   * Returns the time source that {@code ctx}'s deadlines are measured with: the one given to the
   * nearest {@link #withTimeSource} ancestor, else {@link TimeSource#system()}. The search stops at a
   * custom {@link Context} implementation, which ctx4j cannot see through: for one, or for a context
   * below one with no {@code withTimeSource} in between, this is {@link TimeSource#system()}.
   * Integrations use it to compute the time left ({@code Duration.between(timeSourceOf(ctx).now(),
   * deadline)}) so that they follow a {@link ManualTimeSource} in tests.
   *
   * @param ctx the context
   * @return its time source, never null
   * @throws NullPointerException if {@code ctx} is null
   */
  static TimeSource timeSourceOf(Context ctx) {
    Objects.requireNonNull(ctx, "ctx");
    return ctx instanceof BaseContext ? ((BaseContext) ctx).settings.timeSource() : TimeSource.system();
  }

  /**
   * Returns {@code ctx.cause()}: why {@code ctx} was cancelled, or {@code null} if it is not done.
   * The Java form of Go's {@code context.Cause}. As Go's, it falls back to {@code ctx.err()} when
   * {@code cause()} is null, which only a custom implementation can answer for a done context
   * (one whose {@code err()} is its own while its {@code cause()} asks a live context it wraps).
   *
   * @param ctx the context
   * @return the cause, or null
   * @throws NullPointerException if {@code ctx} is null
   */
  static Throwable cause(Context ctx) {
    Throwable cause = Objects.requireNonNull(ctx, "ctx").cause();
    if (cause != null || ctx instanceof BaseContext) {
      return cause; // ctx4j's own publish the cause with the error: null means not done
    }
    // Go's Cause falls back to Err (golang/go#73258): a custom context may be done by an err() of
    // its own while its cause() forwards to a wrapped context that is still live. err() first, then
    // cause() again: one that was not done at the first read may have ended with a cause since.
    ContextException err = ctx.err();
    if (err == null) {
      return null;
    }
    cause = ctx.cause();
    return cause != null ? cause : err;
  }
}
