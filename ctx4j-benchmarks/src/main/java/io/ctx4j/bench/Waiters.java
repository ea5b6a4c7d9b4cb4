package io.ctx4j.bench;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.grpc.Context.CancellableContext;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import kotlinx.coroutines.CompletableJob;
import kotlin.Unit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * Scale: {@code waiters} threads (virtual on JDK 21 and later) are blocked on one context's done
 * signal; the operation is one cancel plus the time until every waiter has woken. ctx4j threads use
 * {@code await()}; grpc-java and Kotlin have no blocking wait on a context or job from a plain
 * thread, so their threads wait on a latch released by a completion listener run on the cancelling
 * thread, which is what their users write.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class Waiters {
  /** Number of blocked threads. */
  @Param({"10000"})
  public int waiters;

  private Runnable cancel;
  private Thread[] threads;
  private CountDownLatch woken;

  /**
   * Creates the context of the library under test and blocks {@code waiters} threads on it.
   *
   * @param params tells which benchmark method runs
   */
  @Setup(Level.Invocation)
  public void block(BenchmarkParams params) {
    String b = params.getBenchmark();
    CountDownLatch w = new CountDownLatch(waiters);
    woken = w;
    Runnable wait;
    if (b.endsWith(".ctx4j")) {
      CancelableContext ctx = Context.withCancel(Context.background());
      cancel = ctx::cancel;
      wait =
          () -> {
            try {
              ctx.await();
              w.countDown();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          };
    } else if (b.endsWith(".grpc")) {
      CancellableContext ctx = io.grpc.Context.ROOT.withCancellation();
      cancel = () -> Peers.cancel(ctx);
      wait =
          () -> {
            CountDownLatch mine = new CountDownLatch(1);
            ctx.addListener(c -> mine.countDown(), Runnable::run);
            awaitThenCount(mine, w);
          };
    } else {
      CompletableJob job = Peers.job(null);
      cancel = () -> Peers.cancel(job);
      wait =
          () -> {
            CountDownLatch mine = new CountDownLatch(1);
            job.invokeOnCompletion(
                t -> {
                  mine.countDown();
                  return Unit.INSTANCE;
                });
            awaitThenCount(mine, w);
          };
    }
    threads = new Thread[waiters];
    for (int i = 0; i < waiters; i++) {
      threads[i] = Spawn.start(wait);
    }
    // Measure the wake-up, not the start-up: wait until every thread is parked.
    for (Thread t : threads) {
      while (t.getState() != Thread.State.WAITING) {
        Thread.yield();
      }
    }
  }

  private static void awaitThenCount(CountDownLatch mine, CountDownLatch all) {
    try {
      mine.await();
      all.countDown();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Joins the woken threads before the next invocation.
   *
   * @throws InterruptedException if interrupted while joining
   */
  @TearDown(Level.Invocation)
  public void join() throws InterruptedException {
    for (Thread t : threads) {
      t.join();
    }
  }

  private void cancelAndWait() throws InterruptedException {
    cancel.run();
    woken.await();
  }

  /**
   * ctx4j: one cancel wakes every waiter.
   *
   * @throws InterruptedException if interrupted while waiting
   */
  @Benchmark
  public void ctx4j() throws InterruptedException {
    cancelAndWait();
  }

  /**
   * grpc-java: one cancel wakes every waiter.
   *
   * @throws InterruptedException if interrupted while waiting
   */
  @Benchmark
  public void grpc() throws InterruptedException {
    cancelAndWait();
  }

  /**
   * Kotlin: one cancel wakes every waiter.
   *
   * @throws InterruptedException if interrupted while waiting
   */
  @Benchmark
  public void kotlinJob() throws InterruptedException {
    cancelAndWait();
  }
}
