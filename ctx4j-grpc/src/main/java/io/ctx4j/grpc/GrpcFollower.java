package io.ctx4j.grpc;

import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Key;
import io.ctx4j.Registration;
import io.ctx4j.internal.CoreInternals;
import io.grpc.Deadline;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeoutException;

/**
 * The custom ctx4j parent behind {@link GrpcContexts#toCtx4j(io.grpc.Context, Context)}: a gRPC
 * context and a ctx4j parent seen as one ctx4j context, done when either is.
 *
 * <p>Implementation notes. Why a custom context: the ctx4j child must end with {@link
 * Context#DEADLINE_EXCEEDED} when gRPC's deadline fires, and gRPC's timer must be the only timer for
 * that deadline (a second, ctx4j timer for the same instant would race it: whichever fired first
 * decided between {@code CANCELED} and {@code DEADLINE_EXCEEDED}). A {@code CancelableContext} can
 * only be cancelled with {@code CANCELED} from outside; a child of a custom context takes the
 * custom context's error and cause when it is done. So this class decides, at the moment gRPC
 * cancels, which of the two it was:
 *
 * <ul>
 *   <li>{@code DEADLINE_EXCEEDED} if gRPC's cause is a {@link TimeoutException} (gRPC's own
 *       convention for a deadline, which {@code Contexts.statusFromCancelled} also follows), or if
 *       the gRPC deadline has passed by gRPC's own clock when the cancellation comes: a caller whose
 *       deadline drove its stream reset, after the handler's own (earlier) deadline passed. The
 *       cause is the ctx4j cause a {@link DeadlineCause} carries, else the bare error;
 *   <li>{@code CANCELED} with gRPC's cause otherwise; for a {@link CancelCause}, the ctx4j cause it
 *       wraps.
 * </ul>
 *
 * <p>States: {@code outcome} is null while live, then one {@link Outcome}, set once by CAS (its
 * linearization point) by whichever side is seen done first: a listener of either side, or a reader
 * that finds a side done before its listener ran. Invariant: once non-null it never changes, so
 * {@code err()} and {@code cause()} never change either, as ctx4j requires of a custom context.
 *
 * <p>Each {@link #onDone} registers on both sides; whichever fires first takes the callback (one
 * CAS), then withdraws the other side's registration, so nothing stays on a long-lived gRPC context
 * or ctx4j parent. gRPC listeners are added and removed on the same context object, which is the one
 * pattern grpc-java 1.85.1 undoes fully. A parent's {@code Registration.stop()} that throws (a
 * foreign parent) stops neither the gRPC listener's removal nor the callback, which still runs; the
 * throwable then goes on (with the callback's, if it threw too, suppressed). Nor does a parent's
 * {@code err()} or {@code cause()} that throws when its callback runs: the callback runs all the
 * same, and asks again (ctx4j's own handling of a throwing custom parent takes it from there).
 */
final class GrpcFollower implements Context {
  private static final Executor DIRECT = Runnable::run;
  private static final VarHandle OUTCOME;
  private static final VarHandle ACTION;

  static {
    try {
      MethodHandles.Lookup lookup = MethodHandles.lookup();
      OUTCOME = lookup.findVarHandle(GrpcFollower.class, "outcome", Outcome.class);
      ACTION = lookup.findVarHandle(Watch.class, "action", Runnable.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final io.grpc.Context grpc;
  private final Deadline grpcDeadline;
  private final Context parent;
  private final Optional<Instant> deadline;
  private volatile Outcome outcome;

  /**
   * @param grpc the gRPC context followed
   * @param grpcDeadline its deadline, or null
   * @param parent the ctx4j parent
   * @param at the gRPC deadline on the parent's clock, or null if none
   */
  GrpcFollower(io.grpc.Context grpc, Deadline grpcDeadline, Context parent, Instant at) {
    this.grpc = grpc;
    this.grpcDeadline = grpcDeadline;
    this.parent = parent;
    Optional<Instant> inherited = parent.deadline();
    this.deadline =
        at == null || (inherited.isPresent() && !inherited.get().isAfter(at))
            ? inherited
            : Optional.of(at);
  }

  @Override
  public ContextException err() {
    Outcome o = observe();
    return o == null ? null : o.err;
  }

  @Override
  public Throwable cause() {
    Outcome o = observe();
    return o == null ? null : o.cause;
  }

  @Override
  public Optional<Instant> deadline() {
    return deadline;
  }

  @Override
  public <T> T value(Key<T> key) {
    return parent.value(key);
  }

  @Override
  public Registration onDone(Runnable callback) {
    Objects.requireNonNull(callback, "callback");
    if (observe() != null) {
      callback.run();
      return () -> false;
    }
    Watch w = new Watch(callback);
    // A foreign parent whose onDone returns null is refused, naming its class, before anything is
    // put on the gRPC context: toCtx4j then fails as Context.withCancel(parent) would.
    w.parentRegistration = CoreInternals.register(parent, w::parentDone);
    grpc.addListener(w, DIRECT);
    if (w.action == null) {
      w.release(); // a side fired before the other's registration was in place
    }
    return w;
  }

  @Override
  public String toString() {
    return parent
        + ".WithGrpc("
        + (grpcDeadline == null ? "no deadline" : grpcDeadline.toString())
        + ")";
  }

  /** The outcome, settling it if a side is done but its listener has not run yet. */
  private Outcome observe() {
    Outcome o = outcome;
    if (o != null) {
      return o;
    }
    if (parent.isDone()) {
      return settle(fromParent());
    }
    if (grpc.isCancelled()) {
      return settle(fromGrpc());
    }
    return null;
  }

  private Outcome settle(Outcome candidate) {
    Outcome witness = (Outcome) OUTCOME.compareAndExchange(this, null, candidate);
    return witness == null ? candidate : witness;
  }

  private Outcome fromParent() {
    return new Outcome(parent.err(), parent.cause());
  }

  private Outcome fromGrpc() {
    Throwable c = grpc.cancellationCause();
    if (c instanceof TimeoutException || (grpcDeadline != null && grpcDeadline.isExpired())) {
      Throwable why =
          c instanceof DeadlineCause ? ((DeadlineCause) c).ctx4jCause() : Context.DEADLINE_EXCEEDED;
      return new Outcome(Context.DEADLINE_EXCEEDED, why);
    }
    if (c instanceof CancelCause) {
      return new Outcome(Context.CANCELED, ((CancelCause) c).ctx4jCause());
    }
    return new Outcome(Context.CANCELED, c == null ? Context.CANCELED : c);
  }

  /** An error and its cause, published together. */
  private static final class Outcome {
    final ContextException err;
    final Throwable cause;

    Outcome(ContextException err, Throwable cause) {
      this.err = err;
      this.cause = cause;
    }
  }

  /** One {@code onDone} registration, on both sides; the first side to fire takes the callback. */
  private final class Watch implements io.grpc.Context.CancellationListener, Registration {
    volatile Runnable action;
    volatile Registration parentRegistration;

    Watch(Runnable action) {
      this.action = action;
    }

    void parentDone() {
      try {
        settle(fromParent());
      } finally {
        fire(); // a foreign parent's err() or cause() that throws must not cost the callback
      }
    }

    @Override
    public void cancelled(io.grpc.Context context) {
      settle(fromGrpc());
      fire();
    }

    private void fire() {
      Runnable a = take();
      if (a == null) {
        return;
      }
      try {
        release();
      } catch (Throwable t) { // the callback is owed all the same: a lost cancellation otherwise
        try {
          a.run();
        } catch (Throwable u) {
          t.addSuppressed(u);
        }
        throw t;
      }
      a.run();
    }

    @Override
    public boolean stop() {
      if (take() == null) {
        return false;
      }
      release();
      return true;
    }

    /** Takes the callback; exactly one of fire and stop gets it (the watch's linearization point). */
    private Runnable take() {
      return action == null ? null : (Runnable) ACTION.getAndSet(this, null);
    }

    /** Withdraws both registrations; either may already be gone, or not yet made. */
    void release() {
      Registration r = parentRegistration;
      try {
        if (r != null) {
          r.stop();
        }
      } finally {
        grpc.removeListener(this);
      }
    }
  }
}
