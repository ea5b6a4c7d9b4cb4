package io.ctx4j.taskgroup;

import io.ctx4j.Context;

/**
 * A unit of work for a {@link TaskGroup}: a {@link java.util.concurrent.Callable} handed the
 * group's context, the Java form of the {@code func() error} that Go's {@code errgroup.Group.Go}
 * takes.
 *
 * <p>A task should stop soon after its context is done: check {@link Context#isDone()} in loops,
 * block through the context ({@link Context#await(java.util.concurrent.CompletionStage)}), and let
 * {@link InterruptedException} propagate, since the group interrupts the threads of running tasks
 * when its context is cancelled.
 *
 * @param <T> the result type; use {@code Void} and return {@code null} for side effects only
 * @since 0.1
 */
@FunctionalInterface
public interface Task<T> {

  /**
   * Runs the task in a thread of the group.
   *
   * @param ctx the group's context, cancelled when a sibling fails, when the parent is done, or
   *     when the group is closed
   * @return the result, passed to the future that {@link TaskGroup#go(Task)} returned
   * @throws Exception the task's failure; the group's first failure cancels its siblings and is
   *     reported by {@link TaskGroup#await()}
   */
  T run(Context ctx) throws Exception;
}
