package io.ctx4j.bench;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import io.grpc.Context.CancellableContext;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Scale: {@code count} timeouts pending at once. One in {@value #FIRE_EVERY} gets a short timeout
 * (1 to 10 ms) and is left to fire; the others get one hour and are cancelled early. The operation
 * ends when every short one has fired; the run fails if any timer is left pending (grpc-java's
 * checked at the end of the operation, ctx4j's after it: see {@link #noCtx4jTimerLeft}). Kotlin's
 * {@code Job} has no deadline: not measured.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class Timeouts {
  static final int FIRE_EVERY = 100;
  private static final Duration HOUR = Duration.ofHours(1);

  /** Number of timeouts created per operation. */
  @Param({"100000", "1000000"})
  public int count;

  private static long shortMillis(int i) {
    return 1 + (i / FIRE_EVERY) % 10;
  }

  /**
   * ctx4j: create, cancel the long ones, wait for the short ones.
   *
   * @throws InterruptedException if interrupted while waiting
   */
  @Benchmark
  public void ctx4j() throws InterruptedException {
    CancelableContext[] all = new CancelableContext[count];
    CountDownLatch fired = new CountDownLatch((count + FIRE_EVERY - 1) / FIRE_EVERY);
    for (int i = 0; i < count; i++) {
      if (i % FIRE_EVERY == 0) {
        CancelableContext c =
            Context.withTimeout(Context.background(), Duration.ofMillis(shortMillis(i)));
        c.onDone(fired::countDown);
        all[i] = c;
      } else {
        all[i] = Context.withTimeout(Context.background(), HOUR);
      }
    }
    for (int i = 0; i < count; i++) {
      if (i % FIRE_EVERY != 0) {
        all[i].cancel();
      }
    }
    fired.await();
  }

  /**
   * Fails the run if a ctx4j timer is still pending after an operation: every short timeout has
   * fired and every long one was cancelled, so none may remain. Outside the measured time, and with
   * a bounded wait: on JDK 17 the callbacks of the fired contexts run on the core's callback pool,
   * whose stall check is a timer of its own that is pending for up to one stall interval (50 ms)
   * after the last callback ran (a check right after the latch saw it: "1 ctx4j timers left
   * pending").
   *
   * @throws InterruptedException if interrupted while waiting
   * @throws IllegalStateException if a timer is still pending after 10 seconds
   */
  @TearDown(Level.Iteration)
  public void noCtx4jTimerLeft() throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    int left;
    while ((left = CoreInternals.pendingTimers()) != 0) {
      if (System.nanoTime() - end > 0) {
        throw new IllegalStateException(left + " ctx4j timers left pending");
      }
      Thread.sleep(1);
    }
  }

  /**
   * grpc-java: create, cancel the long ones, wait for the short ones.
   *
   * @param t grpc-java's scheduler
   * @throws InterruptedException if interrupted while waiting
   * @throws IllegalStateException if a timer is left pending
   */
  @Benchmark
  public void grpc(GrpcTimer t) throws InterruptedException {
    ScheduledThreadPoolExecutor timer = t.timer;
    CancellableContext[] all = new CancellableContext[count];
    CountDownLatch fired = new CountDownLatch((count + FIRE_EVERY - 1) / FIRE_EVERY);
    io.grpc.Context root = io.grpc.Context.ROOT;
    for (int i = 0; i < count; i++) {
      if (i % FIRE_EVERY == 0) {
        CancellableContext c = root.withDeadlineAfter(shortMillis(i), TimeUnit.MILLISECONDS, timer);
        c.addListener(ctx -> fired.countDown(), Runnable::run);
        all[i] = c;
      } else {
        all[i] = root.withDeadlineAfter(1, TimeUnit.HOURS, timer);
      }
    }
    for (int i = 0; i < count; i++) {
      if (i % FIRE_EVERY != 0) {
        Peers.cancel(all[i]);
      }
    }
    fired.await();
    int left = timer.getQueue().size();
    if (left != 0) {
      throw new IllegalStateException(left + " grpc timers left pending");
    }
  }
}
