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
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;

/**
 * Go's {@code BenchmarkCommonParentCancel}: two threads (Go's RunParallel on two cores) repeatedly
 * derive a cancellable child of one shared parent, look up a value through it, do a hundred steps of
 * dummy work, cancel the child and do another hundred steps. It measures contention on the shared
 * parent's child registry. {@link #baseline} runs the dummy work alone, so the context overhead is
 * the total minus the baseline.
 *
 * <p>Kotlin's {@code Job} carries no values, so its body skips the lookup.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Threads(2)
public class CommonParentCancel {
  /** Per-thread running value of the dummy work, as Go keeps {@code x} per goroutine. */
  @State(Scope.Thread)
  public static class Work {
    int x;
  }

  /**
   * The ctx4j body.
   *
   * @param p the shared parents
   * @param w per-thread dummy-work state
   * @return the dummy value, consumed by JMH
   */
  @Benchmark
  public int ctx4j(OpenParents p, Work w) {
    CancelableContext ctx = Context.withCancel(p.ctx);
    if (!"value".equals(ctx.value(OpenParents.KEY))) {
      throw new AssertionError("should not be reached");
    }
    int x = Busy.hundredDivisions(w.x);
    ctx.cancel();
    x = Busy.hundredDivisions(x);
    w.x = x;
    return x;
  }

  /**
   * The grpc-java body.
   *
   * @param p the shared parents
   * @param w per-thread dummy-work state
   * @return the dummy value, consumed by JMH
   */
  @Benchmark
  public int grpc(OpenParents p, Work w) {
    CancellableContext ctx = p.grpc.withCancellation();
    if (!"value".equals(OpenParents.GRPC_KEY.get(ctx))) {
      throw new AssertionError("should not be reached");
    }
    int x = Busy.hundredDivisions(w.x);
    Peers.cancel(ctx);
    x = Busy.hundredDivisions(x);
    w.x = x;
    return x;
  }

  /**
   * The kotlinx.coroutines body (no value lookup: a Job has no values).
   *
   * @param p the shared parents
   * @param w per-thread dummy-work state
   * @return the dummy value, consumed by JMH
   */
  @Benchmark
  public int kotlinJob(OpenParents p, Work w) {
    Job job = Peers.job(p.job);
    int x = Busy.hundredDivisions(w.x);
    Peers.cancel(job);
    x = Busy.hundredDivisions(x);
    w.x = x;
    return x;
  }

  /**
   * The dummy work alone: two hundred division steps.
   *
   * @param w per-thread dummy-work state
   * @return the dummy value, consumed by JMH
   */
  @Benchmark
  public int baseline(Work w) {
    int x = Busy.hundredDivisions(w.x);
    x = Busy.hundredDivisions(x);
    w.x = x;
    return x;
  }
}
