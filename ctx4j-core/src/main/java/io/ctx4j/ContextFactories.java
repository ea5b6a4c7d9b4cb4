package io.ctx4j;

import io.ctx4j.internal.Callbacks;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.internal.TimerThread;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/** The factories behind the static methods of {@link Context}. */
final class ContextFactories {
  private ContextFactories() {}

  static CancelableContext withCancel(Context parent) {
    Objects.requireNonNull(parent, "parent");
    if (parent instanceof BaseContext) {
      BaseContext p = (BaseContext) parent;
      return newCancel(parent, p.settings, p.cancelSourceForChildren());
    }
    return newCancel(parent, foreignSettings(parent), parent);
  }

  private static CancelStateMachine newCancel(
      Context parent, InheritedSettings settings, Context cancelSource) {
    ValueContext values = BaseContext.bindingsOf(parent);
    if (cancelSource instanceof CancelStateMachine) {
      // Lazy: no registration and no look at the cancel source. The child asks its ancestors when
      // it is asked, and registers only when something waits on it (see CancelStateMachine's
      // notes); if they are already done, the first question makes their state its own.
      return new CancelStateMachine(parent, settings, values, cancelSource);
    }
    DoneState inherited = doneOf(cancelSource);
    if (inherited != null) {
      // Born done: no registration, so no link to allocate.
      CancelStateMachine c = new CancelStateMachine(parent, settings, values, null);
      c.bornDone(inherited);
      return c;
    }
    CancelStateMachine c = new CancelStateMachine(parent, settings, values, cancelSource);
    if (cancelSource != null) {
      c.ensureRegistered(); // a custom cancelSource is asked once, at creation
    }
    return c;
  }

  static CancelableContext withDeadline(Context parent, Instant deadline, Throwable cause) {
    Objects.requireNonNull(parent, "parent");
    Objects.requireNonNull(deadline, "deadline");
    InheritedSettings settings = settingsOf(parent);
    Context cancelSource = cancelSourceOf(parent);
    if (settings.deadline != null && settings.deadline.isBefore(deadline)) {
      return newCancel(parent, settings, cancelSource);
    }
    TimeSource source = settings.timeSource();
    long nanos = Durations.saturatedNanos(now(source), deadline);
    return newTimer(parent, settings, cancelSource, deadline, nanos, source, cause);
  }

  static CancelableContext withTimeout(Context parent, Duration timeout, Throwable cause) {
    Objects.requireNonNull(parent, "parent");
    Objects.requireNonNull(timeout, "timeout");
    // A negative timeout is one that has already expired (Go, grpc-java, Kotlin): the deadline
    // below is in the past and the context is born done, as for withDeadline with a past instant.
    InheritedSettings settings = settingsOf(parent);
    Context cancelSource = cancelSourceOf(parent);
    TimeSource source = settings.timeSource();
    Instant now = now(source);
    Instant deadline = Durations.saturatedPlus(now, timeout);
    if (settings.deadline != null && settings.deadline.isBefore(deadline)) {
      return newCancel(parent, settings, cancelSource);
    }
    long nanos = Durations.saturatedNanos(timeout);
    if (deadline.equals(Instant.MAX)) {
      // The sum saturated: the deadline is nearer than the timeout says, and is now itself on a
      // clock standing at Instant.MAX, where Go's rule (a deadline not after now has passed)
      // makes the context born done, as withDeadline(Instant.MAX) is.
      nanos = Math.min(nanos, Durations.saturatedNanos(now, deadline));
    }
    return newTimer(parent, settings, cancelSource, deadline, nanos, source, cause);
  }

  private static CancelableContext newTimer(
      Context parent,
      InheritedSettings settings,
      Context cancelSource,
      Instant deadline,
      long nanos,
      TimeSource source,
      Throwable cause) {
    DoneState expired = DoneState.deadline(cause);
    ValueContext values = BaseContext.bindingsOf(parent);
    DoneState inherited = doneOf(cancelSource);
    if (inherited != null || nanos <= 0) {
      // Born done, without registration or timer; a parent that is already done wins, as in Go.
      DeadlineContext t =
          new DeadlineContext(parent, settings.withDeadline(deadline), values, null, expired);
      t.bornDone(inherited != null ? inherited : expired);
      return t;
    }
    // Registered at once, so that the parent's cancellation stops the timer.
    DeadlineContext t =
        new DeadlineContext(
            parent, settings.withDeadline(deadline), values, cancelSource, expired);
    t.ensureRegistered();
    if (!t.isDone()) {
      try {
        t.start(source, deadline, nanos);
      } catch (Throwable e) { // even a checked one, thrown undeclared by a custom TimeSource
        t.cancel(); // never returned: release its registration with the parent, then report
        throw e;
      }
    }
    return t;
  }

  static <T> Context withValue(Context parent, Key<T> key, T value) {
    Objects.requireNonNull(parent, "parent");
    Objects.requireNonNull(key, "key");
    T v = key.check(value);
    return new ValueContext(parent, settingsOf(parent), cancelSourceOf(parent), key, v);
  }

  static Context withoutCancel(Context parent) {
    Objects.requireNonNull(parent, "parent");
    return new WithoutCancelContext(parent, settingsOf(parent));
  }

  static Context withTimeSource(Context parent, TimeSource source) {
    Objects.requireNonNull(parent, "parent");
    Objects.requireNonNull(source, "source");
    return new TimeSourceContext(parent, settingsOf(parent), cancelSourceOf(parent), source);
  }

  static Registration afterFunc(Context ctx, Runnable fn) {
    Objects.requireNonNull(ctx, "ctx");
    Objects.requireNonNull(fn, "fn");
    // Handing over is short and never blocks, so it may run inline even on the timer thread.
    return register(ctx, () -> Callbacks.runAsync(fn), true);
  }

  static Registration afterFunc(Context ctx, Runnable fn, Executor executor) {
    Objects.requireNonNull(ctx, "ctx");
    Objects.requireNonNull(fn, "fn");
    Objects.requireNonNull(executor, "executor");
    // A user's execute() may block or run fn in the caller (CallerRunsPolicy): never inline on the
    // timer thread, where it would hold up every deadline of the JVM.
    return register(ctx, () -> submit(executor, fn), false);
  }

  /**
   * Hands {@code fn} to {@code executor}; if it does not take it, fn runs on ctx4j's own threads
   * instead, so that it still runs once (the {@link Registration#stop()} arbiter promises that).
   */
  private static void submit(Executor executor, Runnable fn) {
    // Once only, whatever the executor does: a broken one that ran a task twice would run fn twice.
    AtomicBoolean ran = new AtomicBoolean();
    Runnable reported =
        () -> {
          if (ran.compareAndSet(false, true)) {
            Callbacks.runReporting(fn);
          }
        };
    try {
      executor.execute(reported);
    } catch (RejectedExecutionException e) {
      Callbacks.runAsync(reported); // a shut-down or saturated executor: expected, not reported
    } catch (Throwable t) {
      Callbacks.report(t); // a broken executor: say so, and still run fn (unless it already has)
      Callbacks.runAsync(reported);
    }
  }

  private static Registration register(Context ctx, Runnable dispatch, boolean inline) {
    Context cancelSource = cancelSourceOf(ctx);
    if (cancelSource == null) {
      return new NeverRegistration();
    }
    if (cancelSource instanceof CancelStateMachine) {
      CancelStateMachine c = (CancelStateMachine) cancelSource;
      return inline ? c.onDoneInline(dispatch) : c.onDone(dispatch);
    }
    // A custom context may end from an action of the system time source (a deadline of its own)
    // and run its callbacks on the timer thread, where a user's executor must not be called.
    return Once.register(cancelSource, inline ? dispatch : offTheTimer(dispatch));
  }

  /**
   * The arbiter of an {@code afterFunc} on a custom context, as Go's AfterFunc keeps a once of its
   * own: the function runs at most once and {@code stop()} is true only if it prevented the run,
   * whatever the custom context does (one that runs a callback again, or whose registration still
   * answers true after running it). The custom registration is only held, and released by a stop.
   */
  private static final class Once implements Registration, Runnable {
    private final AtomicReference<Runnable> dispatch;
    /** Set once the custom context's onDone has returned, before anyone can call stop(). */
    volatile Registration registration;

    private Once(Runnable dispatch) {
      this.dispatch = new AtomicReference<>(dispatch);
    }

    /**
     * Registers {@code dispatch} with {@code custom} behind a once. A method of its own so that
     * {@link ContextFactories#register}, which afterFunc on ctx4j contexts runs, stays as small.
     */
    static Once register(Context custom, Runnable dispatch) {
      Once once = new Once(dispatch);
      once.registration = CoreInternals.register(custom, once);
      return once;
    }

    @Override
    public void run() {
      Runnable d = dispatch.getAndSet(null);
      if (d != null) {
        d.run();
      }
    }

    @Override
    public boolean stop() {
      if (dispatch.getAndSet(null) == null) {
        return false;
      }
      Registration r = registration;
      if (r != null) {
        r.stop(); // withdraws the callback from the custom context; its answer is not ours
      }
      return true;
    }
  }

  private static Runnable offTheTimer(Runnable dispatch) {
    return () -> {
      if (TimerThread.isTimerThread()) {
        Callbacks.runAsync(dispatch);
      } else {
        dispatch.run();
      }
    };
  }

  // --------------------------------------------------------------------------------- helpers

  private static InheritedSettings settingsOf(Context parent) {
    return parent instanceof BaseContext
        ? ((BaseContext) parent).settings
        : foreignSettings(parent);
  }

  private static Context cancelSourceOf(Context parent) {
    return parent instanceof BaseContext
        ? ((BaseContext) parent).cancelSourceForChildren()
        : parent;
  }

  private static Instant now(TimeSource source) {
    Instant now = source.now();
    if (now == null) {
      throw new NullPointerException(
          "now() of " + source.getClass().getName() + " returned null instead of an Instant");
    }
    return now;
  }

  private static InheritedSettings foreignSettings(Context foreign) {
    Optional<Instant> d = foreign.deadline();
    if (d == null) {
      throw new NullPointerException(
          "deadline() of "
              + foreign.getClass().getName()
              + " returned null instead of an Optional");
    }
    return new InheritedSettings(foreign, d.orElse(null), null);
  }

  private static DoneState doneOf(Context cancelSource) {
    if (cancelSource == null) {
      return null;
    }
    // An Error from a custom source's isDone, err or cause goes to the factory's caller: no child is
    // made yet, so none can be lost (DoneState.from).
    return cancelSource.isDone() ? DoneState.from(cancelSource) : null;
  }
}
