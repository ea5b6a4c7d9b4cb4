package io.ctx4j.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;

/**
 * Go's {@code BenchmarkDeepValueSameGoRoutine/depth=D}: look up a missing key through {@code D}
 * value layers, on the benchmark thread (hot caches). Kotlin's {@code Job} has no values: not
 * measured.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class DeepValueSameGoRoutine {
  /**
   * ctx4j lookup of a missing key.
   *
   * @param v the chain
   * @return the (null) value, consumed by JMH
   */
  @Benchmark
  public Object ctx4j(ValueChains v) {
    return v.ctx.value(v.missing);
  }

  /**
   * grpc-java lookup of a missing key.
   *
   * @param v the chain
   * @return the (null) value, consumed by JMH
   */
  @Benchmark
  public Object grpc(ValueChains v) {
    return v.grpcMissing.get(v.grpcCtx);
  }
}
