package io.ctx4j.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Go's {@code BenchmarkDeepValueNewGoRoutine/depth=D}: per operation start a new thread that looks
 * up a missing key through {@code D} value layers, and wait for it. The thread is virtual on JDK 21
 * and later (the closest thing to a goroutine), a platform thread on 17 (see {@link Spawn}).
 * {@link #baseline} starts and joins an empty thread, so the lookup's share can be read off.
 *
 * <p>Go's loop itself runs on a goroutine, so its new goroutine is handed over within Go's
 * scheduler. On JDK 21+ the full run ({@code run-benchmarks.sh}) therefore runs this class with
 * JMH's {@code -Djmh.executor=VIRTUAL}, which makes the benchmark thread virtual as well, for every
 * library alike; from a platform thread, each operation also pays for waking a parked carrier and
 * then the parked benchmark thread (about 30 µs here instead of about 2.5 µs).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class DeepValueNewGoRoutine {
  /**
   * ctx4j lookup on a new thread.
   *
   * @param v the chain
   * @param bh sink for the looked-up value
   * @throws InterruptedException if interrupted while joining
   */
  @Benchmark
  public void ctx4j(ValueChains v, Blackhole bh) throws InterruptedException {
    Spawn.start(() -> bh.consume(v.ctx.value(v.missing))).join();
  }

  /**
   * grpc-java lookup on a new thread.
   *
   * @param v the chain
   * @param bh sink for the looked-up value
   * @throws InterruptedException if interrupted while joining
   */
  @Benchmark
  public void grpc(ValueChains v, Blackhole bh) throws InterruptedException {
    Spawn.start(() -> bh.consume(v.grpcMissing.get(v.grpcCtx))).join();
  }

  /**
   * Starting and joining a thread that does nothing but touch the chain.
   *
   * @param v the chain
   * @param bh sink
   * @throws InterruptedException if interrupted while joining
   */
  @Benchmark
  public void baseline(ValueChains v, Blackhole bh) throws InterruptedException {
    Spawn.start(() -> bh.consume(v.ctx)).join();
  }
}
