package io.ctx4j.bench;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.grpc.Context.CancellableContext;
import java.util.concurrent.TimeUnit;
import kotlinx.coroutines.Job;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Threads;

/**
 * CommonParentCancel without the dummy work: two threads create a cancellable child of one shared
 * open parent and cancel it at once. {@link #allocBaseline} allocates one object with the same
 * fields as ctx4j's cancellable context (so the same size), which is the floor for creating one;
 * the goal is ctx4j at most twice that.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Threads(2)
public class SharedParentChild {
  /**
   * Same instance fields as {@code io.ctx4j.CancelCtx} and its superclass (five references and an
   * int: 40 bytes with compressed references: env, parent, canceler, the lazily set link, and one
   * state field for stack-or-result). Keep in step with the core if its layout changes; the B/op
   * column shows the size.
   */
  static final class SameSizeAsCancelCtx {
    final Object env;
    final Object parent;
    final Object canceler;
    volatile Object link;
    volatile Object state;
    int sweepCountdown = 16;

    SameSizeAsCancelCtx(Object env, Object parent, Object canceler) {
      this.env = env;
      this.parent = parent;
      this.canceler = canceler;
    }
  }

  /**
   * ctx4j: create a child of the shared parent and cancel it.
   *
   * @param p the shared parents
   * @return the child, consumed by JMH
   */
  @Benchmark
  public Object ctx4j(OpenParents p) {
    CancelableContext c = Context.withCancel(p.ctx);
    c.cancel();
    return c;
  }

  /**
   * grpc-java: create a child of the shared parent and cancel it.
   *
   * @param p the shared parents
   * @return the child, consumed by JMH
   */
  @Benchmark
  public Object grpc(OpenParents p) {
    CancellableContext c = p.grpc.withCancellation();
    Peers.cancel(c);
    return c;
  }

  /**
   * Kotlin: create a child job of the shared parent and cancel it.
   *
   * @param p the shared parents
   * @return the child, consumed by JMH
   */
  @Benchmark
  public Object kotlinJob(OpenParents p) {
    Job c = Peers.job(p.job);
    Peers.cancel(c);
    return c;
  }

  /**
   * A bare allocation of an object the size of ctx4j's cancellable context.
   *
   * @param p the shared parents
   * @return the object, consumed by JMH (so it escapes and is really allocated)
   */
  @Benchmark
  public Object allocBaseline(OpenParents p) {
    return new SameSizeAsCancelCtx(p, p.ctx, p.ctx);
  }
}
