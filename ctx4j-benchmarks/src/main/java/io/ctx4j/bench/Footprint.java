package io.ctx4j.bench;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Key;
import io.grpc.Context.CancellableContext;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import kotlinx.coroutines.Job;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * Memory per context kind: each benchmark creates one context of a kind and hands it to JMH, so
 * that JMH's GC profiler ({@code -prof gc}, {@code gc.alloc.rate.norm}) reports the bytes one
 * context costs. Kinds: Cancel (cancellable child of the root), Child (cancellable child of an open
 * cancellable parent, then cancelled, so the registration is counted but nothing accumulates),
 * Timeout (one-hour timeout on the root, cancelled), Value (one value on the root). Single thread.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class Footprint {
  private static final Key<String> KEY = Key.named("k");
  private static final io.grpc.Context.Key<String> GRPC_KEY = io.grpc.Context.key("k");
  private static final Duration HOUR = Duration.ofHours(1);

  /**
   * ctx4j {@code withCancel(background())}.
   *
   * @return the context
   */
  @Benchmark
  public Object cancel_ctx4j() {
    return Context.withCancel(Context.background());
  }

  /**
   * ctx4j {@code withCancel(open)}, cancelled.
   *
   * @param p the open parents
   * @return the context
   */
  @Benchmark
  public Object child_ctx4j(OpenParents p) {
    CancelableContext c = Context.withCancel(p.ctx);
    c.cancel();
    return c;
  }

  /**
   * ctx4j {@code withTimeout(background(), 1h)}, cancelled.
   *
   * @return the context
   */
  @Benchmark
  public Object timeout_ctx4j() {
    CancelableContext c = Context.withTimeout(Context.background(), HOUR);
    c.cancel();
    return c;
  }

  /**
   * ctx4j {@code withValue(background(), key, value)}.
   *
   * @return the context
   */
  @Benchmark
  public Object value_ctx4j() {
    return Context.withValue(Context.background(), KEY, "v");
  }

  /**
   * grpc-java {@code ROOT.withCancellation()}.
   *
   * @return the context
   */
  @Benchmark
  public Object cancel_grpc() {
    return io.grpc.Context.ROOT.withCancellation();
  }

  /**
   * grpc-java {@code open.withCancellation()}, cancelled.
   *
   * @param p the open parents
   * @return the context
   */
  @Benchmark
  public Object child_grpc(OpenParents p) {
    CancellableContext c = p.grpc.withCancellation();
    Peers.cancel(c);
    return c;
  }

  /**
   * grpc-java {@code ROOT.withDeadlineAfter(1h)}, cancelled.
   *
   * @param t grpc-java's scheduler
   * @return the context
   */
  @Benchmark
  public Object timeout_grpc(GrpcTimer t) {
    CancellableContext c = io.grpc.Context.ROOT.withDeadlineAfter(1, TimeUnit.HOURS, t.timer);
    Peers.cancel(c);
    return c;
  }

  /**
   * grpc-java {@code ROOT.withValue(key, value)}.
   *
   * @return the context
   */
  @Benchmark
  public Object value_grpc() {
    return io.grpc.Context.ROOT.withValue(GRPC_KEY, "v");
  }

  /**
   * Kotlin {@code Job()}.
   *
   * @return the job
   */
  @Benchmark
  public Object cancel_kotlinJob() {
    return Peers.job(null);
  }

  /**
   * Kotlin {@code Job(open)}, cancelled.
   *
   * @param p the open parents
   * @return the job
   */
  @Benchmark
  public Object child_kotlinJob(OpenParents p) {
    Job c = Peers.job(p.job);
    Peers.cancel(c);
    return c;
  }
}
