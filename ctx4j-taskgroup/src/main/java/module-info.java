/**
 * ctx4j-taskgroup: Go's errgroup for Java. Start with {@link io.ctx4j.taskgroup.TaskGroup}.
 */
module io.ctx4j.taskgroup {
  requires transitive io.ctx4j;
  requires io.ctx4j.concurrent;

  exports io.ctx4j.taskgroup;
}
