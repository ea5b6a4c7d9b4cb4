package io.ctx4j.bench;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.grpc.Context.CancellableContext;
import java.util.concurrent.TimeUnit;
import kotlin.Unit;
import kotlinx.coroutines.CompletableJob;
import kotlinx.coroutines.Job;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * Go's {@code BenchmarkCancelTree/depth=D/Root=OpenCanceler} made to pay the full cost of the
 * cancel, whatever a library's design: in Go's row nobody looks at the chain after the root is
 * cancelled, so a library that propagates lazily (grpc-java: a child asks its ancestors when asked,
 * and registers with its parent only when it gets a listener) does no cascade there at all. Two
 * variants, single thread, one operation = build the chain of {@code depth} cancellable contexts on
 * an open root, then:
 *
 * <ul>
 *   <li>{@code checked}: cancel the root, then ask the leaf {@code isDone()} (grpc-java {@code
 *       isCancelled()}, Kotlin {@code isCancelled}); the answer must be yes;
 *   <li>{@code watched}: register a callback on the leaf before the cancel (ctx4j {@code onDone},
 *       grpc-java {@code addListener} with a direct executor, Kotlin {@code invokeOnCompletion}),
 *       cancel the root; every library runs such a callback in the cancelling thread, and the body
 *       checks that it ran exactly once.
 * </ul>
 *
 * <p>A wrong answer throws, which fails the run ({@code -foe true}), so a row can only be fast by
 * doing the work. Forks get a 32 MiB stack, as {@link CancelTree}'s, for Kotlin's recursive cancel.
 * Not thread-safe: JMH gives each thread its own instance ({@link Scope#Thread}).
 */
@State(Scope.Thread)
@Fork(jvmArgsAppend = "-Xss32m")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class CancelTreeLeaf {
  static {
    // At depth 1000 grpc-java would log a stack trace per operation; see Peers.
    Peers.quietGrpcDepthWarning();
  }

  /** Length of the chain under the root, as in Go's CancelTree. */
  @Param({"1", "10", "100", "1000"})
  public int depth;

  /** Times the current operation's callback ran; written and read by the benchmark thread only. */
  private int fired;

  private final Runnable onFire = () -> fired++;

  private void expectFiredOnce() {
    if (fired != 1) {
      throw new IllegalStateException("the leaf's callback ran " + fired + " times, expected once");
    }
    fired = 0;
  }

  private static void expectDone(boolean done) {
    if (!done) {
      throw new IllegalStateException("the leaf is not done after its root was cancelled");
    }
  }

  /**
   * ctx4j: build, cancel the root, check the leaf.
   *
   * @return the leaf, consumed by JMH
   */
  @Benchmark
  public Object checked_ctx4j() {
    CancelableContext r = Context.withCancel(Context.background());
    Context leaf = CancelTree.chain(r, depth);
    r.cancel();
    expectDone(leaf.isDone());
    return leaf;
  }

  /**
   * grpc-java: build, cancel the root, check the leaf.
   *
   * @return the leaf, consumed by JMH
   */
  @Benchmark
  public Object checked_grpc() {
    CancellableContext r = io.grpc.Context.ROOT.withCancellation();
    io.grpc.Context leaf = CancelTree.grpcChain(r, depth);
    Peers.cancel(r);
    expectDone(leaf.isCancelled());
    return leaf;
  }

  /**
   * Kotlin {@code Job}: build, cancel the root, check the leaf.
   *
   * @return the leaf, consumed by JMH
   */
  @Benchmark
  public Object checked_kotlinJob() {
    CompletableJob r = Peers.job(null);
    Job leaf = CancelTree.jobChain(r, depth);
    Peers.cancel(r);
    expectDone(leaf.isCancelled());
    return leaf;
  }

  /**
   * ctx4j: build, register a callback on the leaf, cancel the root.
   *
   * @return the leaf, consumed by JMH
   */
  @Benchmark
  public Object watched_ctx4j() {
    CancelableContext r = Context.withCancel(Context.background());
    Context leaf = CancelTree.chain(r, depth);
    leaf.onDone(onFire);
    r.cancel();
    expectFiredOnce();
    return leaf;
  }

  /**
   * grpc-java: build, register a listener (direct executor) on the leaf, cancel the root.
   *
   * @return the leaf, consumed by JMH
   */
  @Benchmark
  public Object watched_grpc() {
    CancellableContext r = io.grpc.Context.ROOT.withCancellation();
    io.grpc.Context leaf = CancelTree.grpcChain(r, depth);
    leaf.addListener(c -> onFire.run(), Runnable::run);
    Peers.cancel(r);
    expectFiredOnce();
    return leaf;
  }

  /**
   * Kotlin {@code Job}: build, register a completion handler on the leaf, cancel the root.
   *
   * @return the leaf, consumed by JMH
   */
  @Benchmark
  public Object watched_kotlinJob() {
    CompletableJob r = Peers.job(null);
    Job leaf = CancelTree.jobChain(r, depth);
    leaf.invokeOnCompletion(
        t -> {
          onFire.run();
          return Unit.INSTANCE;
        });
    Peers.cancel(r);
    expectFiredOnce();
    return leaf;
  }
}
