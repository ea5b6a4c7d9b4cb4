package io.ctx4j.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Threads;

/**
 * Go's {@code BenchmarkContextCancelDone}: two threads poll the done signal of one shared, open
 * context (the contention case of golang/go#42564). {@link #baseline} is a plain volatile read of a
 * field of a shared object reached through a reference, as the context is: the floor any done check
 * can reach.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Threads(2)
public class ContextCancelDone {
  /**
   * ctx4j {@code isDone()} on the shared open context.
   *
   * @param p the shared open contexts
   * @return whether done, consumed by JMH
   */
  @Benchmark
  public boolean ctx4j(OpenParents p) {
    return p.ctx.isDone();
  }

  /**
   * grpc-java {@code isCancelled()} on the shared open context.
   *
   * @param p the shared open contexts
   * @return whether cancelled, consumed by JMH
   */
  @Benchmark
  public boolean grpc(OpenParents p) {
    return p.grpc.isCancelled();
  }

  /**
   * Kotlin {@code isActive} on the shared open job.
   *
   * @param p the shared open contexts
   * @return whether active, consumed by JMH
   */
  @Benchmark
  public boolean kotlinJob(OpenParents p) {
    return p.job.isActive();
  }

  /**
   * A plain volatile read of a shared object's field.
   *
   * @param p holds the shared object
   * @return the field, consumed by JMH
   */
  @Benchmark
  public boolean baseline(OpenParents p) {
    return p.flag.set;
  }
}
