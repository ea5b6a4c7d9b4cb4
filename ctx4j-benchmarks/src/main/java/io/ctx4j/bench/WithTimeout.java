package io.ctx4j.bench;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import io.grpc.Context.CancellableContext;
import java.time.Duration;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * Go's {@code BenchmarkWithTimeout/concurrency=N}: {@code N} one-hour timeouts are pending while two
 * threads each create ten more one-hour timeouts and cancel them; one operation is the ten creates
 * and ten cancels. It measures timer insertion and removal under a loaded timer structure.
 *
 * <p>grpc-java runs its deadlines on a {@link ScheduledThreadPoolExecutor} configured as its own
 * shared timer (see {@link Peers#grpcTimer()}). Kotlin's {@code Job} has no deadline: not
 * measured. The tear-down fails the run if a cancelled ctx4j timeout left a timer entry behind.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Threads(2)
public class WithTimeout {
  private static final Duration HOUR = Duration.ofHours(1);

  /** Number of timeouts pending in the background, as in Go. */
  @Param({"40", "4000", "400000"})
  public int concurrency;

  private CancelableContext[] pending;
  private CancellableContext[] grpcPending;
  private ScheduledThreadPoolExecutor timer;

  /** Per-thread array of the ten contexts of one operation, as Go's {@code wcf}. */
  @State(Scope.Thread)
  public static class Batch {
    final CancelableContext[] ctx = new CancelableContext[10];
    final CancellableContext[] grpc = new CancellableContext[10];
  }

  /**
   * Pre-loads the timer structure of the library under test only, so that one library's background
   * timers do not load the other's run.
   *
   * @param params tells which benchmark method runs
   */
  @Setup
  public void setup(BenchmarkParams params) {
    timer = Peers.grpcTimer();
    if (params.getBenchmark().endsWith(".ctx4j")) {
      pending = new CancelableContext[concurrency];
      for (int i = 0; i < concurrency; i++) {
        pending[i] = Context.withTimeout(Context.background(), HOUR);
      }
    } else {
      grpcPending = new CancellableContext[concurrency];
      for (int i = 0; i < concurrency; i++) {
        grpcPending[i] = io.grpc.Context.ROOT.withDeadlineAfter(1, TimeUnit.HOURS, timer);
      }
    }
    // Settle the heap once, for every library alike: without it the first seconds after creating
    // 400,000 long-lived timers measure the collector promoting them (seen: 5-7x slower until the
    // first young collection), not steady-state timeout cost.
    System.gc();
  }

  /**
   * Cancels the pre-loaded timeouts and checks that nothing is left pending.
   *
   * @throws IllegalStateException if a cancelled timeout left a pending timer behind
   */
  @TearDown
  public void tearDown() {
    if (pending != null) {
      for (CancelableContext c : pending) {
        c.cancel();
      }
      int left = CoreInternals.pendingTimers();
      if (left != 0) {
        throw new IllegalStateException(left + " ctx4j timers still pending after cancelling all");
      }
    }
    if (grpcPending != null) {
      for (CancellableContext c : grpcPending) {
        Peers.cancel(c);
      }
      int left = timer.getQueue().size();
      if (left != 0) {
        throw new IllegalStateException(left + " grpc timers still pending after cancelling all");
      }
    }
    timer.shutdownNow();
  }

  /**
   * Ten ctx4j timeouts created and cancelled.
   *
   * @param b per-thread batch
   * @return the last context, consumed by JMH
   */
  @Benchmark
  public Object ctx4j(Batch b) {
    CancelableContext[] c = b.ctx;
    for (int i = 0; i < c.length; i++) {
      c[i] = Context.withTimeout(Context.background(), HOUR);
    }
    for (CancelableContext x : c) {
      x.cancel();
    }
    return c[9];
  }

  /**
   * Ten grpc-java deadlines created and cancelled.
   *
   * @param b per-thread batch
   * @return the last context, consumed by JMH
   */
  @Benchmark
  public Object grpc(Batch b) {
    CancellableContext[] c = b.grpc;
    for (int i = 0; i < c.length; i++) {
      c[i] = io.grpc.Context.ROOT.withDeadlineAfter(1, TimeUnit.HOURS, timer);
    }
    for (CancellableContext x : c) {
      Peers.cancel(x);
    }
    return c[9];
  }
}
