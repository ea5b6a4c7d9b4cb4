package io.ctx4j.internal;

import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Registration;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * The one door from the other ctx4j modules into the core's internals. <strong>Not API</strong>: no
 * compatibility promise of any kind; applications must not call it.
 *
 * <p>Why it exists: the integrations need a few things that are not worth a public promise but must
 * not be written twice (a fresh copy of a context's error, saturating time arithmetic, reporting to
 * the uncaught-exception handler), and the stress, leak and benchmark code needs to read structure
 * counters (live registrations, pending timers) to check that nothing leaks. Before this class they
 * reached them by putting classes into package {@code io.ctx4j} (split packages, which the module
 * path forbids) and by importing the timer wheel directly.
 *
 * <p>How: the pattern of the JDK's {@code SharedSecrets}. This package is not exported to the world;
 * {@code module-info} exports it only to the ctx4j modules that use it. What only code in package
 * {@code io.ctx4j} can do is behind {@link PackageAccess}, implemented there by a package-private
 * class that installs itself here when it is initialised; {@link #packageAccess()} initialises it
 * on first use. On the class path every module can reach this class anyway; the name says
 * "internal" and the Javadoc says "not API", as grpc-java's {@code Internal*} classes do.
 *
 * <p>Nothing here is on a hot path: the lookups ({@code isDone}, {@code err}, {@code value}) never
 * go through it.
 *
 * <p>Thread safety: every method may be called from any thread.
 */
public final class CoreInternals {
  private CoreInternals() {}

  /**
   * What only package {@code io.ctx4j} can do; implemented there and installed once, at the
   * initialisation of the implementing class. Not API.
   */
  public interface PackageAccess {
    /**
     * Returns a fresh, throwable copy of a done context's error with its cause attached, exactly
     * what {@link Context#throwIfDone()} throws; tolerant of custom contexts.
     *
     * @param ctx a done context
     * @return a new exception
     */
    ContextException errorOf(Context ctx);

    /**
     * Returns {@code d} in nanoseconds, saturated to the range of {@code long}.
     *
     * @param d a duration
     * @return the nanoseconds, or {@code Long.MIN_VALUE}/{@code Long.MAX_VALUE} beyond the range
     */
    long saturatedNanos(Duration d);

    /**
     * Returns the nanoseconds from {@code from} to {@code to}, saturated.
     *
     * @param from the start
     * @param to the end
     * @return the nanoseconds, or {@code Long.MIN_VALUE}/{@code Long.MAX_VALUE} beyond the range
     */
    long saturatedNanos(Instant from, Instant to);

    /**
     * Returns {@code t + d}, saturated to {@code Instant.MIN}/{@code Instant.MAX}.
     *
     * @param t an instant
     * @param d a duration
     * @return the sum, saturated
     */
    Instant saturatedPlus(Instant t, Duration d);

    /**
     * Counts the live registrations held by a cancelable core context.
     *
     * @param ctx a context made by a cancel, deadline or timeout factory of the core
     * @return the count; 0 once it is done
     * @throws IllegalArgumentException if {@code ctx} is not such a context
     */
    int registrationCount(Context ctx);

    /**
     * Counts every node in a cancelable core context's notification stack, dead ones included.
     *
     * @param ctx a context made by a cancel, deadline or timeout factory of the core
     * @return the count
     * @throws IllegalArgumentException if {@code ctx} is not such a context
     */
    int nodeCount(Context ctx);

    /**
     * Registers a cancelable core context with its parent now, as a waiter or a child would.
     *
     * @param ctx a context made by a cancel, deadline or timeout factory of the core
     * @throws IllegalArgumentException if {@code ctx} is not such a context
     */
    void register(Context ctx);

    /**
     * Returns how many unregistered ancestors a done-ness question walks past before it registers.
     *
     * @return the walk limit
     */
    int maxUnregisteredWalk();
  }

  /** The implementing class in package io.ctx4j; named, since this package cannot see it. */
  private static final String IMPLEMENTATION = "io.ctx4j.CorePackageAccess";

  private static volatile PackageAccess packageAccess;

  /**
   * Installs the implementation; called once, by the implementing class's static initialiser.
   *
   * @param access the implementation
   * @throws IllegalStateException if one is installed already
   * @throws NullPointerException if {@code access} is null
   */
  public static synchronized void install(PackageAccess access) {
    Objects.requireNonNull(access, "access");
    if (packageAccess != null) {
      throw new IllegalStateException("the core's package access is installed already");
    }
    packageAccess = access;
  }

  /**
   * Returns the implementation, initialising the class that installs it on first use.
   *
   * @return the package access of the core
   */
  public static PackageAccess packageAccess() {
    PackageAccess a = packageAccess;
    if (a == null) {
      try {
        Class.forName(IMPLEMENTATION, true, CoreInternals.class.getClassLoader());
      } catch (ClassNotFoundException e) {
        throw new IllegalStateException("the core's package access is missing: " + IMPLEMENTATION, e);
      }
      a = packageAccess;
    }
    return a;
  }

  /**
   * Returns a fresh, throwable copy of {@code ctx}'s error with its cause attached (what {@link
   * Context#throwIfDone()} throws), or {@code null} if {@code ctx} is not done: what to complete a
   * future with or throw. One copy per call, so no two callers share a stack trace or suppressed
   * exceptions.
   *
   * @param ctx any context
   * @return a new exception, or {@code null}
   * @throws NullPointerException if {@code ctx} is null
   */
  public static ContextException errorCopy(Context ctx) {
    return ctx.isDone() ? packageAccess().errorOf(ctx) : null;
  }

  /**
   * Returns why work under {@code ctx} must not be sent out: a fresh copy of its error with its
   * cause attached if it has ended (as {@link #errorCopy}), else a fresh {@code
   * DeadlineExceededException} without a cause (the context has none yet) if its deadline has
   * passed; {@code null} if neither. The second case is the window between a deadline and the
   * moment the context's timer ends it (a tick, longer on a loaded timer thread, for ever with a
   * custom context that lags): {@code err()} is still {@code null} there, and a request sent then
   * would go out with a budget of 0 and could succeed after its deadline. One copy per call, as
   * {@link #errorCopy}.
   *
   * <p>What a custom context's {@code err()}, {@code cause()} or {@code remaining()} throws goes to
   * the caller, as it would from the caller's own next question to the context (the time left for
   * a deadline header, say); nothing is swallowed here.
   *
   * @param ctx any context
   * @return a new exception, or {@code null} if work under {@code ctx} may go out
   * @throws NullPointerException if {@code ctx} is null
   */
  public static ContextException endOf(Context ctx) {
    ContextException err = ctx.err();
    if (err != null) {
      return err.copy(ctx.cause());
    }
    Optional<Duration> left = ctx.remaining();
    if (left.isPresent() && (left.get().isNegative() || left.get().isZero())) {
      return Context.DEADLINE_EXCEEDED.copy(null);
    }
    return null;
  }

  /**
   * What work under {@code ctx} that failed with {@code failure} should fail with instead: {@link
   * #endOf}{@code (ctx)}, with {@code failure} {@linkplain Throwable#addSuppressed suppressed} on
   * it, once the context has ended or its deadline has passed (the failure is then most likely the
   * end's doing, and one cause gets one error, whichever side noticed first); {@code null} while
   * the work may go on, for the caller to throw {@code failure} itself.
   *
   * @param ctx any context
   * @param failure what the work failed with
   * @return a new exception, or {@code null}
   * @throws NullPointerException if an argument is null
   */
  public static ContextException endWith(Context ctx, Throwable failure) {
    Objects.requireNonNull(failure, "failure");
    ContextException end = endOf(ctx);
    if (end != null) {
      end.addSuppressed(failure);
    }
    return end;
  }

  /**
   * Registers {@code callback} with {@code ctx.onDone}, refusing the {@code null} a context
   * implemented outside ctx4j may return instead of a {@link Registration} ({@link
   * #nullRegistration}), so that the caller fails before doing anything under the context rather
   * than later with a bare NullPointerException.
   *
   * @param ctx the context
   * @param callback what to run when it ends
   * @return the registration, never null
   * @throws NullPointerException if {@code onDone} returned null (naming the context's class), or
   *     an argument is null
   */
  public static Registration register(Context ctx, Runnable callback) {
    Registration r = ctx.onDone(callback);
    if (r == null) {
      throw nullRegistration(ctx);
    }
    return r;
  }

  /**
   * Stops {@code registration} once the work it guarded has failed with {@code failure}. A {@code
   * stop()} that throws as well (a context implemented outside ctx4j) is {@linkplain
   * Throwable#addSuppressed suppressed} on {@code failure}, unless it is {@code failure} or already
   * there (the same exception: identity, not {@code equals}), rather than thrown in its place: the
   * caller is owed the reason the work failed.
   *
   * @param failure what the work failed with, to be thrown by the caller afterwards
   * @param registration the registration to stop
   * @throws NullPointerException if an argument is null
   */
  public static void stopAfter(Throwable failure, Registration registration) {
    Objects.requireNonNull(failure, "failure");
    try {
      registration.stop();
    } catch (Throwable stopFailure) {
      if (stopFailure != failure && !suppresses(failure, stopFailure)) {
        failure.addSuppressed(stopFailure);
      }
    }
  }

  /**
   * Whether {@code t} is among the suppressed exceptions of {@code failure}, compared by identity:
   * an exception's {@code equals} is its own (value equality, or one that throws) and must neither
   * drop a second failure nor throw in place of the one the caller is owed.
   */
  private static boolean suppresses(Throwable failure, Throwable t) {
    for (Throwable s : failure.getSuppressed()) {
      if (s == t) {
        return true;
      }
    }
    return false;
  }

  /**
   * The exception for a context implemented outside ctx4j whose {@code onDone} returned {@code
   * null} instead of a {@link Registration}: one message, naming the class, wherever ctx4j
   * registers on such a context.
   *
   * @param ctx the context whose {@code onDone} returned null
   * @return a new exception, to throw
   */
  public static NullPointerException nullRegistration(Context ctx) {
    return new NullPointerException(
        "onDone of " + ctx.getClass().getName() + " returned null instead of a Registration");
  }

  /**
   * Returns {@code d} in nanoseconds, saturated to the range of {@code long} rather than throwing
   * {@link ArithmeticException} (beyond about 292 years).
   *
   * @param d a duration
   * @return the nanoseconds, saturated
   * @throws NullPointerException if {@code d} is null
   */
  public static long saturatedNanos(Duration d) {
    return packageAccess().saturatedNanos(d);
  }

  /**
   * Returns the nanoseconds from {@code from} to {@code to}, saturated.
   *
   * @param from the start
   * @param to the end
   * @return the nanoseconds, saturated
   * @throws NullPointerException if an argument is null
   */
  public static long saturatedNanos(Instant from, Instant to) {
    return packageAccess().saturatedNanos(from, to);
  }

  /**
   * Returns {@code t + d}, saturated to {@code Instant.MIN}/{@code Instant.MAX}.
   *
   * @param t an instant
   * @param d a duration
   * @return the sum, saturated
   * @throws NullPointerException if an argument is null
   */
  public static Instant saturatedPlus(Instant t, Duration d) {
    return packageAccess().saturatedPlus(t, d);
  }

  /**
   * Hands {@code t} to the current thread's uncaught-exception handler without unwinding the caller;
   * a handler that throws is ignored, as there is nowhere left to report to.
   *
   * @param t the failure to report
   */
  public static void reportUncaught(Throwable t) {
    Callbacks.report(t);
  }

  /**
   * Throws {@code t} as it is, whatever its type, checked or not: for an integration that passes on
   * a failure of the code it wraps (a checked exception thrown sneakily by a handler, a stream or a
   * client) exactly as it would pass without ctx4j. Declared to return so that callers can write
   * {@code throw CoreInternals.<RuntimeException>rethrow(t)} and the compiler sees the path end.
   *
   * @param t the failure, thrown unchanged (not wrapped)
   * @param <E> the type the compiler is told is thrown
   * @return never returns
   * @throws E always: {@code t} itself
   */
  @SuppressWarnings("unchecked")
  public static <E extends Throwable> E rethrow(Throwable t) throws E {
    throw (E) Objects.requireNonNull(t, "t");
  }

  /**
   * Counts the timers scheduled and not yet fired or cancelled, for leak checks.
   *
   * @return the number of pending timers of the core's shared timer
   */
  public static int pendingTimers() {
    return TimerThread.get().pendingCount();
  }

  /**
   * Counts the live registrations (cancelable children, waiters, callbacks) held by {@code ctx}.
   *
   * @param ctx a context made by a cancel, deadline or timeout factory of the core
   * @return the count; 0 once {@code ctx} is done
   * @throws IllegalArgumentException if {@code ctx} is not such a context
   */
  public static int registrationCount(Context ctx) {
    return packageAccess().registrationCount(ctx);
  }

  /**
   * Counts every node in the notification stack of {@code ctx}, dead ones not yet swept included:
   * the memory {@code ctx} holds on behalf of its children and callbacks.
   *
   * @param ctx a context made by a cancel, deadline or timeout factory of the core
   * @return the count
   * @throws IllegalArgumentException if {@code ctx} is not such a context
   */
  public static int nodeCount(Context ctx) {
    return packageAccess().nodeCount(ctx);
  }

  /**
   * Registers a plain cancelable context with its parent now, as a waiter, a callback or a child of
   * its own would; plain children otherwise register lazily.
   *
   * @param ctx a context made by a cancel, deadline or timeout factory of the core
   * @throws IllegalArgumentException if {@code ctx} is not such a context
   */
  public static void register(Context ctx) {
    packageAccess().register(ctx);
  }

  /**
   * Returns how many unregistered ancestors a question about done-ness walks past before it
   * registers the context it was asked of instead; models of the registration counts need it.
   *
   * @return the walk limit of the core
   */
  public static int maxUnregisteredWalk() {
    return packageAccess().maxUnregisteredWalk();
  }
}
