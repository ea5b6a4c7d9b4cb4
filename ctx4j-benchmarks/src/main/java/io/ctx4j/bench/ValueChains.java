package io.ctx4j.bench;

import io.ctx4j.Context;
import io.ctx4j.Key;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The value chains of Go's DeepValue benchmarks: {@code depth} nested value layers, layer {@code i}
 * mapping a distinct key {@code i} to {@code i}, plus a key that was never stored (Go's {@code -1}),
 * so every lookup is a full miss. Built once per trial and only read afterwards, so sharing it
 * between threads is safe (the JMH setup happens-before the measured calls).
 */
@State(Scope.Benchmark)
public class ValueChains {
  /** Number of value layers, as in Go. */
  @Param({"10", "20", "30", "50", "100"})
  public int depth;

  /** The ctx4j chain. */
  public Context ctx;

  /** The grpc-java chain. */
  public io.grpc.Context grpcCtx;

  /** A ctx4j key that is in no layer. */
  public final Key<Integer> missing = Key.named("-1");

  /** A grpc-java key that is in no layer. */
  public final io.grpc.Context.Key<Integer> grpcMissing = io.grpc.Context.key("-1");

  /** Builds both chains. */
  @Setup
  public void setup() {
    Context c = Context.background();
    io.grpc.Context g = io.grpc.Context.ROOT;
    for (int i = 0; i < depth; i++) {
      c = Context.withValue(c, Key.<Integer>named(Integer.toString(i)), i);
      g = g.withValue(io.grpc.Context.<Integer>key(Integer.toString(i)), i);
    }
    ctx = c;
    grpcCtx = g;
  }
}
