/**
 * ctx4j-concurrent: cancellation that stops real Java work (blocking helpers, interrupt scopes,
 * futures, executors, virtual threads, closeable I/O, the current context). Start with
 * {@link io.ctx4j.concurrent.Blocking} and {@link io.ctx4j.concurrent.CurrentContext}.
 */
@SuppressWarnings("module") // the qualified export names a module compiled after this one
module io.ctx4j.concurrent {
  requires transitive io.ctx4j;

  exports io.ctx4j.concurrent;
  // Virtual-thread support shared with the task groups; not API.
  exports io.ctx4j.concurrent.internal to io.ctx4j.taskgroup;
}
