package io.ctx4j.bench;

import java.util.concurrent.TimeUnit;
import kotlinx.coroutines.CompletableJob;
import kotlinx.coroutines.Job;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * {@link Chain} for Kotlin's {@code Job}, at depths it can finish: each {@code Job(parent)} walks up
 * the whole ancestry when it is created, so the chain is quadratic in its depth (10x the depth, about
 * 100x the time). The report shows these numbers in the Chain rows' Kotlin column.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class KotlinChain {
  /** Length of the chain. */
  @Param({"10000", "100000"})
  public int depth;

  /** Build, cancel the root job, check the leaf, on a thread with a large stack. */
  @Benchmark
  public void kotlinJob() {
    int n = depth;
    Spawn.runWithStack(
        Chain.STACK,
        () -> {
          CompletableJob root = Peers.job(null);
          Job c = root;
          for (int i = 0; i < n; i++) {
            c = Peers.job(c);
          }
          Peers.cancel(root);
          if (c.isActive()) {
            throw Chain.notPropagated();
          }
        });
  }
}
