package io.ctx4j;

import io.ctx4j.internal.Callbacks;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

/** The factories behind the static methods of {@link Context}. */
final class Impl {
  private Impl() {}

  static CancelableContext withCancel(Context parent) {
    Objects.requireNonNull(parent, "parent");
    if (parent instanceof Ctx) {
      Ctx p = (Ctx) parent;
      return newCancel(parent, p.env, p.canceler());
    }
    return newCancel(parent, foreignEnv(parent), parent);
  }

  private static CancelCtx newCancel(Context parent, Env env, Context canceler) {
    ValueCtx values = Ctx.bindingsOf(parent);
    if (canceler instanceof CancelCtx) {
      // Lazy: no registration and no look at the canceler. The child asks its ancestors when it is
      // asked, and registers only when something waits on it (see CancelCtx's notes); if they are
      // already done, the first question makes their state its own.
      return new CancelCtx(parent, env, values, canceler);
    }
    Done inherited = doneOf(canceler);
    if (inherited != null) {
      // Born done: no registration, so no link to allocate.
      CancelCtx c = new CancelCtx(parent, env, values, null);
      c.bornDone(inherited);
      return c;
    }
    CancelCtx c = new CancelCtx(parent, env, values, canceler);
    if (canceler != null) {
      c.ensureRegistered(); // a custom canceler is asked once, at creation
    }
    return c;
  }

  static CancelableContext withDeadline(Context parent, Instant deadline, Throwable cause) {
    Objects.requireNonNull(parent, "parent");
    Objects.requireNonNull(deadline, "deadline");
    Env env = envOf(parent);
    Context canceler = cancelerOf(parent);
    if (env.deadline != null && env.deadline.isBefore(deadline)) {
      return newCancel(parent, env, canceler);
    }
    TimeSource source = env.timeSource();
    long nanos = Durations.saturatedNanos(now(source), deadline);
    return newTimer(parent, env, canceler, deadline, nanos, source, cause);
  }

  static CancelableContext withTimeout(Context parent, Duration timeout, Throwable cause) {
    Objects.requireNonNull(parent, "parent");
    Objects.requireNonNull(timeout, "timeout");
    // A negative timeout is one that has already expired (Go, grpc-java, Kotlin): the deadline
    // below is in the past and the context is born done, as for withDeadline with a past instant.
    Env env = envOf(parent);
    Context canceler = cancelerOf(parent);
    TimeSource source = env.timeSource();
    Instant deadline = Durations.saturatedPlus(now(source), timeout);
    if (env.deadline != null && env.deadline.isBefore(deadline)) {
      return newCancel(parent, env, canceler);
    }
    long nanos = Durations.saturatedNanos(timeout);
    return newTimer(parent, env, canceler, deadline, nanos, source, cause);
  }

  private static CancelableContext newTimer(
      Context parent,
      Env env,
      Context canceler,
      Instant deadline,
      long nanos,
      TimeSource source,
      Throwable cause) {
    Done expired = Done.deadline(cause);
    ValueCtx values = Ctx.bindingsOf(parent);
    Done inherited = doneOf(canceler);
    if (inherited != null || nanos <= 0) {
      // Born done, without registration or timer; a parent that is already done wins, as in Go.
      TimerCtx t = new TimerCtx(parent, env.withDeadline(deadline), values, null, expired);
      t.bornDone(inherited != null ? inherited : expired);
      return t;
    }
    // Registered at once, so that the parent's cancellation stops the timer.
    TimerCtx t = new TimerCtx(parent, env.withDeadline(deadline), values, canceler, expired);
    t.ensureRegistered();
    if (!t.isDone()) {
      try {
        t.start(source, deadline, nanos);
      } catch (RuntimeException | Error e) {
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
    return new ValueCtx(parent, envOf(parent), cancelerOf(parent), key, v);
  }

  static Context withoutCancel(Context parent) {
    Objects.requireNonNull(parent, "parent");
    return LayerCtx.withoutCancel(parent, envOf(parent));
  }

  static Context withTimeSource(Context parent, TimeSource source) {
    Objects.requireNonNull(parent, "parent");
    Objects.requireNonNull(source, "source");
    return LayerCtx.withTimeSource(parent, envOf(parent), cancelerOf(parent), source);
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
    Context canceler = cancelerOf(ctx);
    if (canceler == null) {
      return new NeverRegistration();
    }
    if (canceler instanceof CancelCtx) {
      CancelCtx c = (CancelCtx) canceler;
      return inline ? c.onDoneInline(dispatch) : c.onDone(dispatch);
    }
    Registration r = canceler.onDone(dispatch);
    if (r == null) {
      throw new NullPointerException(
          "onDone of " + canceler.getClass().getName() + " returned null instead of a Registration");
    }
    return r;
  }

  // --------------------------------------------------------------------------------- helpers

  private static Env envOf(Context parent) {
    return parent instanceof Ctx ? ((Ctx) parent).env : foreignEnv(parent);
  }

  private static Context cancelerOf(Context parent) {
    return parent instanceof Ctx ? ((Ctx) parent).canceler() : parent;
  }

  private static Instant now(TimeSource source) {
    Instant now = source.now();
    if (now == null) {
      throw new NullPointerException(
          "now() of " + source.getClass().getName() + " returned null instead of an Instant");
    }
    return now;
  }

  private static Env foreignEnv(Context foreign) {
    Optional<Instant> d = foreign.deadline();
    if (d == null) {
      throw new NullPointerException(
          "deadline() of " + foreign.getClass().getName() + " returned null instead of an Optional");
    }
    return new Env(foreign, d.orElse(null), null);
  }

  private static Done doneOf(Context canceler) {
    if (canceler == null) {
      return null;
    }
    if (canceler instanceof CancelCtx) {
      CancelCtx c = (CancelCtx) canceler;
      return c.result();
    }
    return canceler.isDone() ? Done.from(canceler) : null;
  }
}
