package io.ctx4j.bench;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.grpc.Context.CancellableContext;
import java.util.concurrent.TimeUnit;
import kotlinx.coroutines.CompletableJob;
import kotlinx.coroutines.Job;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * Scale: one parent with {@code children} cancellable children (built before the measurement) is
 * cancelled, and then every child is checked to be done. Checking every child makes the libraries
 * comparable: ctx4j, Go and Kotlin push the cancel to each child eagerly, grpc-java lets each child
 * discover it when asked. Linear time means the score divided by {@code children} stays flat as
 * {@code children} grows.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class FanOut {
  /** Number of children of the one parent. */
  @Param({"100000", "1000000"})
  public int children;

  private CancelableContext parent;
  private CancelableContext[] kids;
  private CancellableContext grpcParent;
  private CancellableContext[] grpcKids;
  private CompletableJob jobParent;
  private Job[] jobKids;

  /**
   * Builds the parent and its children for the library under test.
   *
   * @param params tells which benchmark method runs
   */
  @Setup(Level.Invocation)
  public void build(BenchmarkParams params) {
    String b = params.getBenchmark();
    parent = null;
    kids = null;
    grpcParent = null;
    grpcKids = null;
    jobParent = null;
    jobKids = null;
    if (b.endsWith(".ctx4j")) {
      parent = Context.withCancel(Context.background());
      kids = new CancelableContext[children];
      for (int i = 0; i < children; i++) {
        kids[i] = Context.withCancel(parent);
      }
    } else if (b.endsWith(".grpc")) {
      grpcParent = io.grpc.Context.ROOT.withCancellation();
      grpcKids = new CancellableContext[children];
      for (int i = 0; i < children; i++) {
        grpcKids[i] = grpcParent.withCancellation();
      }
    } else {
      jobParent = Peers.job(null);
      jobKids = new Job[children];
      for (int i = 0; i < children; i++) {
        jobKids[i] = Peers.job(jobParent);
      }
    }
  }

  private static IllegalStateException notPropagated(int i) {
    return new IllegalStateException("child " + i + " not done after its parent was cancelled");
  }

  /**
   * ctx4j: cancel the parent, check every child.
   *
   * @throws IllegalStateException if a child did not see the cancel
   */
  @Benchmark
  public void ctx4j() {
    parent.cancel();
    for (int i = 0; i < kids.length; i++) {
      if (!kids[i].isDone()) {
        throw notPropagated(i);
      }
    }
  }

  /**
   * grpc-java: cancel the parent, check every child.
   *
   * @throws IllegalStateException if a child did not see the cancel
   */
  @Benchmark
  public void grpc() {
    Peers.cancel(grpcParent);
    for (int i = 0; i < grpcKids.length; i++) {
      if (!grpcKids[i].isCancelled()) {
        throw notPropagated(i);
      }
    }
  }

  /**
   * Kotlin: cancel the parent job, check every child.
   *
   * @throws IllegalStateException if a child did not see the cancel
   */
  @Benchmark
  public void kotlinJob() {
    Peers.cancel(jobParent);
    for (int i = 0; i < jobKids.length; i++) {
      if (jobKids[i].isActive()) {
        throw notPropagated(i);
      }
    }
  }
}
