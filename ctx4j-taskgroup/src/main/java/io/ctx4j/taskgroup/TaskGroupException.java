package io.ctx4j.taskgroup;

import java.util.concurrent.ExecutionException;

/**
 * Thrown by {@link TaskGroup#await()} when a task of the group failed with an exception: the Java
 * form of the non-nil error that Go's {@code errgroup.Group.Wait} returns.
 *
 * <p>{@link #getCause()} is the group's first failure, exactly as the task threw it (checked or
 * unchecked); the later failures of other tasks are attached to that cause with {@link
 * Throwable#addSuppressed}, except failures that merely report the group's own cancellation (see
 * {@link TaskGroup}). Extends {@link ExecutionException} so that code written against {@link
 * java.util.concurrent.Future#get()} handles it the same way. An {@link Error} thrown by a task is
 * never wrapped in this exception: {@code await()} rethrows it as it is.
 *
 * @since 0.1
 */
public final class TaskGroupException extends ExecutionException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates an exception reporting {@code firstFailure}.
   *
   * @param firstFailure the group's first failure; must not be null
   * @throws NullPointerException if {@code firstFailure} is null
   */
  public TaskGroupException(Throwable firstFailure) {
    super(
        "task failed: " + java.util.Objects.requireNonNull(firstFailure, "firstFailure"),
        firstFailure);
  }
}
