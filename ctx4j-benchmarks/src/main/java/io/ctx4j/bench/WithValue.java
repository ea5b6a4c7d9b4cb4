package io.ctx4j.bench;

import io.ctx4j.Context;
import io.ctx4j.Key;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Go's {@code BenchmarkWithValue/depth=D} (Go 1.20 and later; Debian's Go 1.19 lacks it): build a
 * fresh chain of {@code D} value layers from the root, one key per layer. Measures the cost of
 * adding values. Kotlin's {@code Job} has no values: not measured.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class WithValue {
  /** Number of value layers, as in Go. */
  @Param({"10", "20", "30", "50", "100"})
  public int depth;

  private Key<Integer>[] keys;
  private io.grpc.Context.Key<Integer>[] grpcKeys;
  private Integer[] values;

  /** Creates the keys and boxed values once, as Go's int keys cost nothing to make. */
  @Setup
  @SuppressWarnings("unchecked")
  public void setup() {
    keys = new Key[depth];
    grpcKeys = new io.grpc.Context.Key[depth];
    values = new Integer[depth];
    for (int i = 0; i < depth; i++) {
      keys[i] = Key.named(Integer.toString(i));
      grpcKeys[i] = io.grpc.Context.key(Integer.toString(i));
      values[i] = i;
    }
  }

  /**
   * Builds a ctx4j chain.
   *
   * @return the deepest context, consumed by JMH
   */
  @Benchmark
  public Object ctx4j() {
    Context c = Context.background();
    for (int i = 0; i < depth; i++) {
      c = Context.withValue(c, keys[i], values[i]);
    }
    return c;
  }

  /**
   * Builds a grpc-java chain.
   *
   * @return the deepest context, consumed by JMH
   */
  @Benchmark
  public Object grpc() {
    io.grpc.Context c = io.grpc.Context.ROOT;
    for (int i = 0; i < depth; i++) {
      c = c.withValue(grpcKeys[i], values[i]);
    }
    return c;
  }
}
