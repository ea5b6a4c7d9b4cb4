package io.ctx4j.bench;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.grpc.Context.CancellableContext;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;

/**
 * Scale: build a chain of {@code depth} cancellable contexts on an open root, cancel the root and
 * check that the deepest link is done. Every library's body runs on a fresh thread with a 2 GiB
 * stack, because grpc-java's cancellation check and Kotlin's cancel propagation recurse once per
 * level and would overflow the default stack; ctx4j's are loops and need no such stack. Linear time
 * means the score divided by {@code depth} stays flat as {@code depth} grows.
 *
 * <p>Kotlin's {@code Job} is measured by {@link KotlinChain} at smaller depths: creating a child job
 * walks up the whole ancestry ({@code JobImpl.handlesException}), so a chain costs time quadratic in
 * its depth and a million levels would take hours.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@org.openjdk.jmh.annotations.State(org.openjdk.jmh.annotations.Scope.Thread)
public class Chain {
  static final long STACK = 2L << 30;

  static {
    Peers.quietGrpcDepthWarning();
  }

  /** Length of the chain. */
  @Param({"10000", "100000", "1000000"})
  public int depth;

  static IllegalStateException notPropagated() {
    return new IllegalStateException("the deepest link is not done after the root was cancelled");
  }

  /** ctx4j: build, cancel the root, check the leaf. */
  @Benchmark
  public void ctx4j() {
    int n = depth;
    Spawn.runWithStack(
        STACK,
        () -> {
          CancelableContext root = Context.withCancel(Context.background());
          Context c = root;
          for (int i = 0; i < n; i++) {
            c = Context.withCancel(c);
          }
          root.cancel();
          if (!c.isDone()) {
            throw notPropagated();
          }
        });
  }

  /** grpc-java: build, cancel the root, check the leaf. */
  @Benchmark
  public void grpc() {
    int n = depth;
    Spawn.runWithStack(
        STACK,
        () -> {
          CancellableContext root = io.grpc.Context.ROOT.withCancellation();
          io.grpc.Context c = root;
          for (int i = 0; i < n; i++) {
            c = c.withCancellation();
          }
          Peers.cancel(root);
          if (!c.isCancelled()) {
            throw notPropagated();
          }
        });
  }
}
