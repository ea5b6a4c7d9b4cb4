/**
 * ctx4j-signal: a context cancelled by SIGINT/SIGTERM (Go's {@code signal.NotifyContext}). Start
 * with {@link io.ctx4j.signal.Signals}. Uses {@code sun.misc.Signal} from {@code jdk.unsupported}.
 */
module io.ctx4j.signal {
  requires transitive io.ctx4j;
  requires jdk.unsupported;

  exports io.ctx4j.signal;
}
