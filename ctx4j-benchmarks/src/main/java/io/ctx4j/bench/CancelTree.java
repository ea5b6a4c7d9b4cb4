package io.ctx4j.bench;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.grpc.Context.CancellableContext;
import java.util.concurrent.TimeUnit;
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
 * Go's {@code BenchmarkCancelTree/depth=D/Root=R}: build a chain of {@code D} cancellable contexts
 * on a root that is {@code Background} (never cancelled: creation only), an open canceler (cancelled
 * after the build: the cancel cascades down the chain) or a closed canceler (cancelled before the
 * build: every link is born cancelled). Single thread.
 *
 * <p>grpc-java propagates cancellation lazily (a child looks at its ancestors when asked, and only
 * registers with its parent when it gets a listener), so its OpenCanceler row does no cascade.
 * Kotlin's {@code Job(parent)} propagates eagerly, like Go and ctx4j, but recursively: cancelling a
 * 1,000-deep chain overflows the default 1 MiB thread stack, so the forks of this class get a 32 MiB
 * stack (for every library alike; ctx4j's loops do not need it).
 */
@State(Scope.Thread)
@Fork(jvmArgsAppend = "-Xss32m")
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class CancelTree {
  static {
    // At depth 1000 grpc-java would log a stack trace per operation; see Peers.
    Peers.quietGrpcDepthWarning();
  }

  /** Length of the chain, as in Go. */
  @Param({"1", "10", "100", "1000"})
  public int depth;

  /** Root of the chain, named as in Go: Background, OpenCanceler or ClosedCanceler. */
  @Param({"Background", "OpenCanceler", "ClosedCanceler"})
  public String root;

  /**
   * The ctx4j body.
   *
   * @return the deepest context, consumed by JMH
   */
  @Benchmark
  public Object ctx4j() {
    switch (root) {
      case "Background":
        return chain(Context.background(), depth);
      case "OpenCanceler":
        {
          CancelableContext r = Context.withCancel(Context.background());
          Context leaf = chain(r, depth);
          r.cancel();
          return leaf;
        }
      default:
        {
          CancelableContext r = Context.withCancel(Context.background());
          r.cancel();
          return chain(r, depth);
        }
    }
  }

  /** A chain of {@code depth} cancellable contexts under {@code root}; returns the deepest. */
  static Context chain(Context root, int depth) {
    Context c = root;
    for (int d = 0; d < depth; d++) {
      c = Context.withCancel(c);
    }
    return c;
  }

  /**
   * The grpc-java body.
   *
   * @return the deepest context, consumed by JMH
   */
  @Benchmark
  public Object grpc() {
    switch (root) {
      case "Background":
        return grpcChain(io.grpc.Context.ROOT, depth);
      case "OpenCanceler":
        {
          CancellableContext r = io.grpc.Context.ROOT.withCancellation();
          io.grpc.Context leaf = grpcChain(r, depth);
          Peers.cancel(r);
          return leaf;
        }
      default:
        {
          CancellableContext r = io.grpc.Context.ROOT.withCancellation();
          Peers.cancel(r);
          return grpcChain(r, depth);
        }
    }
  }

  /** grpc-java's chain of {@code depth} cancellable contexts under {@code root}. */
  static io.grpc.Context grpcChain(io.grpc.Context root, int depth) {
    io.grpc.Context c = root;
    for (int d = 0; d < depth; d++) {
      c = c.withCancellation();
    }
    return c;
  }

  /**
   * The kotlinx.coroutines body; a root job stands in for Background's first link, which has no
   * cancellable parent.
   *
   * @return the deepest job, consumed by JMH
   */
  @Benchmark
  public Object kotlinJob() {
    switch (root) {
      case "Background":
        return jobChain(null, depth);
      case "OpenCanceler":
        {
          CompletableJob r = Peers.job(null);
          Job leaf = jobChain(r, depth);
          Peers.cancel(r);
          return leaf;
        }
      default:
        {
          CompletableJob r = Peers.job(null);
          Peers.cancel(r);
          return jobChain(r, depth);
        }
    }
  }

  /** A chain of {@code depth} Kotlin jobs under {@code root} (null: a root job first). */
  static Job jobChain(Job root, int depth) {
    Job c = root;
    for (int d = 0; d < depth; d++) {
      c = Peers.job(c);
    }
    return c;
  }
}
