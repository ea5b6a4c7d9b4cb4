package io.ctx4j.taskgroup;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutionException;

/**
 * Thrown by {@link TaskGroup#await()} when a task of the group failed with an exception: the Java
 * form of the non-nil error that Go's {@code errgroup.Group.Wait} returns.
 *
 * <p>{@link #getCause()} is the group's first failure, exactly as the task threw it (checked or
 * unchecked). The later failures the group kept (at most {@link TaskGroup#MAX_LATER_FAILURES}) are
 * {@linkplain #getSuppressed() suppressed} on this exception, in the order they happened, and
 * {@link #droppedFailures()} counts the ones beyond that bound. The tasks' own exceptions are never
 * modified, so a first failure that is shared, or that was built with suppression disabled, loses
 * nothing. Failures that merely report the group's own cancellation are not included (see {@link
 * TaskGroup}). Extends {@link ExecutionException} so that code written against {@link
 * java.util.concurrent.Future#get()} handles it the same way. An {@link Error} thrown by a task is
 * never wrapped in this exception: {@code await()} rethrows it as it is.
 *
 * <p>Each {@code await()} throws a new instance; like any exception it is not meant to be shared
 * between threads while it is being changed.
 *
 * @since 0.1
 */
public final class TaskGroupException extends ExecutionException {
  private static final long serialVersionUID = 1L;

  /**
   * How many later failures the group counted but did not keep.
   *
   * @serial never negative
   */
  private final long droppedFailures;

  /**
   * Creates an exception reporting {@code firstFailure} alone.
   *
   * @param firstFailure the group's first failure; must not be null
   * @throws NullPointerException if {@code firstFailure} is null
   */
  public TaskGroupException(Throwable firstFailure) {
    this(firstFailure, List.of(), 0);
  }

  /**
   * Creates an exception reporting {@code firstFailure}, with the later failures suppressed on it.
   *
   * @param firstFailure the group's first failure, the cause
   * @param laterFailures the later failures that were kept, in order; each is added as suppressed
   * @param droppedFailures how many later failures were not kept
   * @throws NullPointerException if {@code firstFailure}, {@code laterFailures} or one of its
   *     elements is null
   * @throws IllegalArgumentException if {@code droppedFailures} is negative, or a later failure is
   *     {@code firstFailure} itself
   */
  public TaskGroupException(
      Throwable firstFailure, List<? extends Throwable> laterFailures, long droppedFailures) {
    super(message(firstFailure, laterFailures, droppedFailures), firstFailure);
    this.droppedFailures = droppedFailures;
    for (Throwable t : laterFailures) {
      addSuppressed(t); // rejects null and self-suppression with a clear exception
      if (t == firstFailure) {
        throw new IllegalArgumentException("laterFailures contains firstFailure");
      }
    }
  }

  private static String message(
      Throwable firstFailure, List<? extends Throwable> laterFailures, long droppedFailures) {
    Objects.requireNonNull(firstFailure, "firstFailure");
    Objects.requireNonNull(laterFailures, "laterFailures");
    if (droppedFailures < 0) {
      throw new IllegalArgumentException("droppedFailures is negative: " + droppedFailures);
    }
    String message = "task failed: " + describe(firstFailure);
    long more = laterFailures.size() + droppedFailures;
    if (more > 0) {
      message += " (and " + more + " later failure" + (more == 1 ? "" : "s");
      message += droppedFailures > 0 ? ", " + droppedFailures + " of them not kept)" : ")";
    }
    return message;
  }

  /**
   * {@code t.toString()}, or its class's name if that throws: a failure that cannot describe itself
   * is still reported, as itself (the cause), rather than replaced by its {@code toString()}'s.
   */
  private static String describe(Throwable t) {
    try {
      return String.valueOf(t);
    } catch (RuntimeException | StackOverflowError unreadable) {
      return t.getClass().getName()
          + " (its toString() threw "
          + unreadable.getClass().getName()
          + ")";
    }
  }

  /**
   * Returns how many later failures the group counted but did not keep, beyond the {@link
   * TaskGroup#MAX_LATER_FAILURES} suppressed on this exception.
   *
   * @return zero or more
   */
  public long droppedFailures() {
    return droppedFailures;
  }
}
