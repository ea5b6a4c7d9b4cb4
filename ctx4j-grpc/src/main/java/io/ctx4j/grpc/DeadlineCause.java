package io.ctx4j.grpc;

import io.ctx4j.Context;
import java.util.concurrent.TimeoutException;

/**
 * The cancellation cause handed to gRPC for a ctx4j context whose deadline has passed: a {@link
 * TimeoutException}, gRPC's convention, which {@code io.grpc.Contexts.statusFromCancelled} turns into
 * {@code DEADLINE_EXCEEDED}; its {@link #getCause()} is the ctx4j cause (the one given to {@code
 * withDeadlineCause}), or null where that is the bare {@link Context#DEADLINE_EXCEEDED}.
 *
 * <p>A context whose deadline has passed but whose timer has not fired yet (a busy timer thread, a
 * manual clock moved but not yet run) is not done, so its cause is not known when gRPC must be told.
 * Such a cause keeps the context and reads its cause when asked: null until the timer fires, the
 * deadline's cause afterwards. Recognised by {@link GrpcFollower}, so that a round trip through gRPC
 * keeps the cause.
 */
final class DeadlineCause extends TimeoutException {
  private static final long serialVersionUID = 1L;
  private static final String MESSAGE = "ctx4j context deadline exceeded";

  /** The context to ask for the cause, while it was not done when this was made; else null. */
  private final transient Context pending;

  private DeadlineCause(Context pending) {
    super(MESSAGE);
    this.pending = pending;
  }

  /** For a context that ended by its deadline, with {@code cause} (null: none beyond the error). */
  static DeadlineCause of(Throwable cause) {
    DeadlineCause d = new DeadlineCause(null);
    if (cause != null && cause != Context.DEADLINE_EXCEEDED) {
      d.initCause(cause);
    }
    return d;
  }

  /** For a live context whose deadline has passed: the cause is read from it when asked. */
  static DeadlineCause pending(Context ctx) {
    return new DeadlineCause(ctx);
  }

  @Override
  public synchronized Throwable getCause() {
    Context ctx = pending;
    if (ctx == null) {
      return super.getCause();
    }
    Throwable cause = ctx.err() == Context.DEADLINE_EXCEEDED ? ctx.cause() : null;
    return cause == Context.DEADLINE_EXCEEDED ? null : cause;
  }

  /** The ctx4j cause this stands for: the deadline's cause, or the bare error. */
  Throwable ctx4jCause() {
    Throwable cause = getCause();
    return cause == null ? Context.DEADLINE_EXCEEDED : cause;
  }
}
