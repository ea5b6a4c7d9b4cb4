package io.ctx4j.bench;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.grpc.Context.CancellableContext;
import java.util.concurrent.TimeUnit;
import kotlinx.coroutines.CompletableJob;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Go's {@code BenchmarkCheckCanceled/Err} and {@code /Done}: ask an already-cancelled context for its
 * error, or poll its done signal without blocking. Single thread.
 *
 * <p>The analogues: Err is ctx4j {@code err()}, grpc-java {@code cancellationCause()}, Kotlin {@code
 * isCancelled} (a Job's cancellation exception is built on demand, so it is no cheap error getter);
 * Done is ctx4j {@code isDone()}, grpc-java {@code isCancelled()}, Kotlin {@code isActive}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class CheckCanceled {
  private CancelableContext ctx;
  private CancellableContext grpcCtx;
  private CompletableJob job;

  /** Creates and cancels one context per library. */
  @Setup
  public void setup() {
    ctx = Context.withCancel(Context.background());
    ctx.cancel();
    grpcCtx = io.grpc.Context.ROOT.withCancellation();
    Peers.cancel(grpcCtx);
    job = Peers.job(null);
    Peers.cancel(job);
  }

  /**
   * ctx4j {@code err()} on a cancelled context.
   *
   * @return the error, consumed by JMH
   */
  @Benchmark
  public Object err_ctx4j() {
    return ctx.err();
  }

  /**
   * ctx4j {@code isDone()} on a cancelled context.
   *
   * @return whether done, consumed by JMH
   */
  @Benchmark
  public boolean done_ctx4j() {
    return ctx.isDone();
  }

  /**
   * grpc-java {@code cancellationCause()} on a cancelled context.
   *
   * @return the cause, consumed by JMH
   */
  @Benchmark
  public Object err_grpc() {
    return grpcCtx.cancellationCause();
  }

  /**
   * grpc-java {@code isCancelled()} on a cancelled context.
   *
   * @return whether cancelled, consumed by JMH
   */
  @Benchmark
  public boolean done_grpc() {
    return grpcCtx.isCancelled();
  }

  /**
   * Kotlin {@code isCancelled} on a cancelled job.
   *
   * @return whether cancelled, consumed by JMH
   */
  @Benchmark
  public boolean err_kotlinJob() {
    return job.isCancelled();
  }

  /**
   * Kotlin {@code isActive} on a cancelled job.
   *
   * @return whether active, consumed by JMH
   */
  @Benchmark
  public boolean done_kotlinJob() {
    return job.isActive();
  }
}
