/**
 * ctx4j-concurrent: cancellation that stops real Java work (blocking helpers, interrupt scopes,
 * futures, executors, virtual threads, closeable I/O, the current context). Start with
 * {@link io.ctx4j.concurrent.Blocking} and {@link io.ctx4j.concurrent.CurrentContext}.
 */
module io.ctx4j.concurrent {
  requires transitive io.ctx4j;

  exports io.ctx4j.concurrent;
}
