package io.ctx4j.grpc;

import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import java.util.concurrent.TimeoutException;

/**
 * The cancellation cause handed to gRPC for a ctx4j context cancelled with a cause that gRPC would
 * read as a status other than {@code CANCELLED}: a status exception of status {@code CANCELLED}
 * whose {@link #getCause()} is the ctx4j cause.
 *
 * <p>Why: gRPC turns a cancelled context into a call's status with {@code
 * io.grpc.Contexts.statusFromCancelled}, which reads a {@link TimeoutException} cause as {@code
 * DEADLINE_EXCEEDED} and a {@link StatusException} or {@link StatusRuntimeException} anywhere in the
 * cause chain as its own status. A context cancelled with such a cause (the failure of a sibling
 * call, which a task group cancels the others with, say) would fail its calls with {@code
 * NOT_FOUND}, {@code UNAVAILABLE} or {@code DEADLINE_EXCEEDED}, where ctx4j promises {@code
 * CANCELLED}. Wrapped in this, gRPC finds {@code CANCELLED} first. Other causes go to gRPC as they
 * are, so the call's status has them as its cause. Recognised by {@link GrpcFollower}, which hands
 * the ctx4j cause back, so that a round trip through gRPC keeps it.
 */
final class CancelCause extends StatusRuntimeException {
  private static final long serialVersionUID = 1L;

  private CancelCause(Throwable cause) {
    super(Status.CANCELLED.withDescription("Context cancelled").withCause(cause));
  }

  /** The cause to hand gRPC for a context cancelled with {@code cause}. */
  static Throwable of(Throwable cause) {
    return readAsAnotherStatus(cause) ? new CancelCause(cause) : cause;
  }

  /**
   * Whether gRPC would read {@code cause} as a status other than {@code CANCELLED}; also for a
   * cause chain that loops, which gRPC's own walk of it would never leave.
   */
  private static boolean readAsAnotherStatus(Throwable cause) {
    if (cause instanceof TimeoutException) {
      return true;
    }
    Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    for (Throwable t = cause; t != null; t = t.getCause()) {
      if (!seen.add(t)) {
        return true;
      }
      Status status =
          t instanceof StatusException
              ? ((StatusException) t).getStatus()
              : t instanceof StatusRuntimeException ? ((StatusRuntimeException) t).getStatus() : null;
      if (status != null) {
        return status.getCode() != Status.Code.CANCELLED;
      }
    }
    return false;
  }

  /** The ctx4j cause this stands for. */
  Throwable ctx4jCause() {
    return getCause();
  }
}
