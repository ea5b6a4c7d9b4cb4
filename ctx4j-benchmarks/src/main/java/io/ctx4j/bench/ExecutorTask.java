package io.ctx4j.bench;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.concurrent.ContextExecutorService;
import io.ctx4j.internal.CoreInternals;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * What ctx4j-concurrent adds to one task: the same trivial task through {@code
 * ContextExecutorService.wrap(pool)} ({@code _ctx4j}) and through a bare {@link
 * ThreadPoolExecutor} of the same shape ({@code _baseline}), in one run. Not part of the results
 * table: run by hand with {@code -prof gc} (the bytes per task are the clearer number; the time is
 * mostly the hand-off to the worker and its wake-up). Rows:
 *
 * <ul>
 *   <li>{@code submitGet}: {@code submit(callable).get()} under no context (the service uses
 *       {@code CurrentContext.get()}, {@code Context.background()} here);
 *   <li>{@code submitGetOnContext}: {@code submit(ctx, callable).get()} on a long-lived cancellable
 *       context (the usual case: a request's), which the task registers on and leaves;
 *   <li>{@code execute}: {@code execute(runnable)} of a {@code Runnable} that opens a latch, and the
 *       wait on the latch.
 * </ul>
 *
 * Each pool has one worker and an unbounded queue; the benchmark thread waits for every task, so
 * at most one is in flight. The allocation counts every thread's, the worker's included.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ExecutorTask {
  private static final Callable<Object> TASK = () -> Boolean.TRUE;

  private ThreadPoolExecutor bare;
  private ContextExecutorService wrapped;
  private CancelableContext app;

  /** Starts both pools and their worker, and the long-lived context. */
  @Setup(Level.Trial)
  public void start() {
    bare = pool();
    wrapped = ContextExecutorService.wrap(pool());
    app = Context.withCancel(Context.background());
  }

  private static ThreadPoolExecutor pool() {
    ThreadPoolExecutor p =
        new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>());
    p.prestartAllCoreThreads();
    return p;
  }

  /**
   * Stops both pools; fails the run if the long-lived context kept anything.
   *
   * @throws InterruptedException if interrupted while waiting for the pools
   */
  @TearDown(Level.Trial)
  public void stop() throws InterruptedException {
    bare.shutdown();
    wrapped.close();
    if (!bare.awaitTermination(30, TimeUnit.SECONDS)) {
      throw new IllegalStateException("the bare pool did not terminate");
    }
    int left = CoreInternals.registrationCount(app);
    app.cancel();
    if (left != 0) {
      throw new IllegalStateException(left + " registrations left on the long-lived context");
    }
  }

  /**
   * {@code submit(callable).get()} through the wrapper.
   *
   * @return the task's result
   * @throws Exception if the task failed
   */
  @Benchmark
  public Object submitGet_ctx4j() throws Exception {
    return wrapped.submit(TASK).get();
  }

  /**
   * {@code submit(callable).get()} on the bare pool.
   *
   * @return the task's result
   * @throws Exception if the task failed
   */
  @Benchmark
  public Object submitGet_baseline() throws Exception {
    return bare.submit(TASK).get();
  }

  /**
   * {@code submit(ctx, callable).get()} through the wrapper, on a long-lived context.
   *
   * @return the task's result
   * @throws Exception if the task failed
   */
  @Benchmark
  public Object submitGetOnContext_ctx4j() throws Exception {
    return wrapped.submit(app, TASK).get();
  }

  /**
   * {@code execute} of a latch-opening {@code Runnable} through the wrapper, and the wait.
   *
   * @return the latch
   * @throws InterruptedException if interrupted while waiting
   */
  @Benchmark
  public Object execute_ctx4j() throws InterruptedException {
    return executeAndWait(wrapped);
  }

  /**
   * {@code execute} of a latch-opening {@code Runnable} on the bare pool, and the wait.
   *
   * @return the latch
   * @throws InterruptedException if interrupted while waiting
   */
  @Benchmark
  public Object execute_baseline() throws InterruptedException {
    return executeAndWait(bare);
  }

  private static Object executeAndWait(Executor executor)
      throws InterruptedException {
    CountDownLatch done = new CountDownLatch(1);
    executor.execute(done::countDown);
    if (!done.await(30, TimeUnit.SECONDS)) {
      throw new IllegalStateException("the task never ran");
    }
    return done;
  }
}
