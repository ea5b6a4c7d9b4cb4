package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.Key;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionService;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link ContextExecutorService} used as a plain {@link ExecutorService}, call by call against what a
 * {@link ThreadPoolExecutor} does, and the promise that nobody waits forever for a task whose context
 * ended.
 */
@Timeout(120) // every defect guarded here was a hang
class ExecutorServiceParityTest {
  private static final Key<String> KEY = Key.named("k");
  private ContextExecutorService pool;
  private final CountDownLatch release = new CountDownLatch(1);

  @BeforeEach
  void singleWorker() {
    pool = ContextExecutorService.wrap(Executors.newFixedThreadPool(1)); // a ThreadPoolExecutor
  }

  @AfterEach
  void shutDown() throws Exception {
    release.countDown();
    pool.shutdownNow();
    assertTrue(pool.awaitTermination(Duration.ofSeconds(30)));
  }

  private static CancelableContext ended() {
    CancelableContext ctx = Context.withCancel(Context.background());
    ctx.cancel(new IllegalStateException("request over"));
    return ctx;
  }

  /** Keeps the only worker busy until {@link #release} opens; returns once the worker is taken. */
  private void occupyWorker() throws Exception {
    occupyWorker(pool.delegate());
  }

  private void occupyWorker(ExecutorService executor) throws Exception {
    Stalls.worker(executor, release);
  }

  private static void assertContextError(Throwable t) {
    assertInstanceOf(CanceledException.class, t, () -> "got " + t);
    assertInstanceOf(IllegalStateException.class, t.getCause(), "the context's cause is kept");
  }

  @Test
  void invokeAnyUnderAnEndedContextThrowsInsteadOfHanging() throws Exception {
    AtomicInteger ran = new AtomicInteger();
    List<Callable<Integer>> tasks = List.of(ran::incrementAndGet, ran::incrementAndGet);
    CancelableContext ctx = ended();
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> CurrentContext.call(ctx, () -> pool.invokeAny(tasks)));
    assertContextError(e.getCause());
    ExecutionException timed =
        assertThrows(
            ExecutionException.class,
            () -> CurrentContext.call(ctx, () -> pool.invokeAny(tasks, 30, TimeUnit.SECONDS)));
    assertContextError(timed.getCause());
    assertEquals(0, ran.get());
  }

  @Test
  void invokeAnyWhoseContextEndsWhileItsTasksAreQueuedThrowsInsteadOfHanging() throws Exception {
    occupyWorker();
    CancelableContext ctx = Context.withCancel(Context.background());
    AtomicInteger ran = new AtomicInteger();
    CompletableFuture<Integer> result =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return CurrentContext.call(
                    ctx, () -> pool.invokeAny(List.<Callable<Integer>>of(ran::incrementAndGet)));
              } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
              }
            });
    // The task is queued behind the busy worker once the pool's queue holds it.
    ThreadPoolExecutor tpe = (ThreadPoolExecutor) pool.delegate();
    while (tpe.getQueue().isEmpty()) {
      Thread.onSpinWait();
    }
    ctx.cancel(new IllegalStateException("request over"));
    ExecutionException e = assertThrows(ExecutionException.class, () -> result.get(60, TimeUnit.SECONDS));
    assertInstanceOf(ExecutionException.class, e.getCause());
    assertContextError(e.getCause().getCause());
    release.countDown();
    assertEquals(0, ran.get());
  }

  @Test
  void anExecutorCompletionServiceUnderAnEndedContextHandsBackAFailedFuture() throws Exception {
    CompletionService<Integer> ecs = new ExecutorCompletionService<>(pool);
    AtomicInteger ran = new AtomicInteger();
    Future<Integer> f = CurrentContext.call(ended(), () -> ecs.submit(ran::incrementAndGet));
    Future<Integer> taken = ecs.poll(60, TimeUnit.SECONDS);
    assertSame(f, taken);
    CancellationException e = assertThrows(CancellationException.class, () -> taken.get(30, TimeUnit.SECONDS));
    assertContextError(e);
    assertEquals(0, ran.get());
  }

  @Test
  void supplyAsyncUnderAnEndedContextFailsInsteadOfHanging() throws Exception {
    AtomicInteger ran = new AtomicInteger();
    CancelableContext ctx = ended();
    RejectedExecutionException e =
        assertThrows(
            RejectedExecutionException.class,
            () -> CurrentContext.call(ctx, () -> CompletableFuture.supplyAsync(ran::incrementAndGet, pool)));
    assertContextError(e.getCause());
    assertThrows(
        RejectedExecutionException.class,
        () -> CurrentContext.call(ctx, () -> CompletableFuture.runAsync(ran::incrementAndGet, pool)));
    assertEquals(0, ran.get());
  }

  /**
   * A dependent stage on the pool ({@code thenApplyAsync(fn, pool)} and the like) is handed to
   * execute by the thread that completes its source, or by the one that adds it to a source complete
   * already, so it runs under that thread's current context: under an ended one it is refused, as
   * supplyAsync is, and the stage fails with the refusal (nothing waits for ever), whatever context
   * the code that added the stage ran under. Documented (README, the class Javadoc); pinned here.
   */
  @Test
  void aDependentStageTakesTheContextOfTheThreadThatHandsItOver() throws Exception {
    AtomicInteger ran = new AtomicInteger();
    CancelableContext ended = ended();
    CompletableFuture<String> source = new CompletableFuture<>();
    CompletableFuture<Integer> dependent = source.thenApplyAsync(v -> ran.incrementAndGet(), pool);
    CurrentContext.run(ended, () -> source.complete("x"));
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> dependent.get(30, TimeUnit.SECONDS));
    assertInstanceOf(RejectedExecutionException.class, e.getCause());
    assertContextError(e.getCause().getCause());
    CompletableFuture<Integer> addedLate =
        CurrentContext.call(ended, () -> source.thenApplyAsync(v -> ran.incrementAndGet(), pool));
    e = assertThrows(ExecutionException.class, () -> addedLate.get(30, TimeUnit.SECONDS));
    assertInstanceOf(RejectedExecutionException.class, e.getCause());
    assertEquals(0, ran.get());

    // Completed under a live context, the same stage runs, under (a child of) that context.
    CancelableContext live = Context.withCancel(Context.background());
    CompletableFuture<String> other = new CompletableFuture<>();
    CompletableFuture<Boolean> underLive =
        other.thenApplyAsync(v -> "live".equals(CurrentContext.get().value(KEY)), pool);
    CurrentContext.run(Context.withValue(live, KEY, "live"), () -> other.complete("x"));
    assertTrue(underLive.get(30, TimeUnit.SECONDS), "it ran under the completing thread's context");
    live.cancel();
  }

  @Test
  void supplyAsyncWhoseContextEndsWhileQueuedStillCompletes() throws Exception {
    occupyWorker();
    CancelableContext ctx = Context.withCancel(Context.background());
    AtomicReference<Context> seen = new AtomicReference<>();
    CompletableFuture<String> f =
        CurrentContext.call(
            ctx,
            () ->
                CompletableFuture.supplyAsync(
                    () -> {
                      seen.set(CurrentContext.get());
                      CurrentContext.get().throwIfDone();
                      return "ran";
                    },
                    pool));
    ctx.cancel(new IllegalStateException("request over"));
    release.countDown();
    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(60, TimeUnit.SECONDS));
    assertContextError(e.getCause());
    assertTrue(seen.get().isDone(), "it ran under its ended context, so it could see that");
  }

  /**
   * The worker reaches a queued task just as its context ends: the context is done, but its
   * callback, which completes the task's future, has not run yet (here a callback registered on the
   * parent before it, which runs first, holds the cancelling thread there). The task must still be
   * told: a Future handed to execute (an ExecutorCompletionService's, a FutureTask) is cancelled,
   * and supplyAsync's task runs under its ended context, or their callers wait forever.
   */
  @Test
  void aTaskReachedAsItsContextEndsStillCompletesWhatItsCallerWaitsOn() throws Exception {
    occupyWorker();
    CancelableContext ctx = Context.withCancel(Context.background());
    CountDownLatch callbackMayReturn = new CountDownLatch(1);
    CountDownLatch inCallback = Stalls.endOf(ctx, callbackMayReturn);
    AtomicInteger ran = new AtomicInteger();
    java.util.concurrent.FutureTask<Integer> executed =
        new java.util.concurrent.FutureTask<>(ran::incrementAndGet);
    CompletionService<Integer> ecs = new ExecutorCompletionService<>(pool);
    AtomicReference<Context> seen = new AtomicReference<>();
    CompletableFuture<String> async =
        CurrentContext.call(
            ctx,
            () -> {
              pool.execute(executed);
              ecs.submit(ran::incrementAndGet);
              return CompletableFuture.supplyAsync(
                  () -> {
                    seen.set(CurrentContext.get());
                    return "ran";
                  },
                  pool);
            });
    CompletableFuture<Void> cancelling =
        CompletableFuture.runAsync(() -> ctx.cancel(new IllegalStateException("request over")));
    assertTrue(inCallback.await(30, TimeUnit.SECONDS));
    release.countDown(); // the worker now runs the three tasks, their context done, futures not
    pool.delegate().submit(() -> null).get(30, TimeUnit.SECONDS); // ... and has run them
    callbackMayReturn.countDown();
    cancelling.get(30, TimeUnit.SECONDS);
    List<String> waitingForever = new java.util.ArrayList<>();
    if (!executed.isDone()) {
      waitingForever.add("the FutureTask given to execute was neither run nor cancelled");
    }
    if (ecs.poll(10, TimeUnit.SECONDS) == null) {
      waitingForever.add("the completion service never handed its future back");
    }
    if (!async.isDone()) {
      waitingForever.add("supplyAsync's future never completed");
    }
    assertEquals(List.of(), waitingForever, "callers left waiting forever");
    assertTrue(executed.isCancelled());
    assertEquals("ran", async.get(30, TimeUnit.SECONDS));
    assertTrue(seen.get().isDone(), "it ran under its ended context");
    assertEquals(0, ran.get());
  }

  @Test
  void invokeAllReturnsTheFuturesItExecutedAndTimedInvokeAllCancelsTheLateOnes() throws Exception {
    List<Future<String>> done = pool.invokeAll(List.of(() -> "a", () -> "b"));
    assertEquals("a", done.get(0).get());
    assertEquals("b", done.get(1).get());
    CountDownLatch stuck = new CountDownLatch(1);
    AtomicBoolean interrupted = new AtomicBoolean();
    List<Future<String>> late =
        pool.invokeAll(
            List.of(
                () -> {
                  try {
                    stuck.await(60, TimeUnit.SECONDS);
                  } catch (InterruptedException e) {
                    interrupted.set(true);
                  }
                  return "late";
                }),
            50,
            TimeUnit.MILLISECONDS);
    assertTrue(late.get(0).isCancelled());
    assertThrows(CancellationException.class, () -> late.get(0).get());
    assertFalse(pool.submit(() -> Thread.currentThread().isInterrupted()).get(30, TimeUnit.SECONDS));
    assertTrue(interrupted.get(), "the timed-out task was interrupted, as cancel(true) does");
  }

  @Test
  void closeInterruptedKeepsWaitingForTheTasksAndReassertsTheInterrupt() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch sawShutdownNow = new CountDownLatch(1);
    CountDownLatch closeReturned = new CountDownLatch(1);
    AtomicBoolean closeReturnedWhileRunning = new AtomicBoolean();
    pool.execute(
        () -> {
          started.countDown();
          try {
            release.await(60, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            sawShutdownNow.countDown();
            try {
              // The task ignores the interrupt for a while: close() must not return meanwhile.
              closeReturnedWhileRunning.set(closeReturned.await(2, TimeUnit.SECONDS));
            } catch (InterruptedException ignored) {
              // not expected
            }
          }
        });
    assertTrue(started.await(30, TimeUnit.SECONDS));
    AtomicBoolean interruptedAfterClose = new AtomicBoolean();
    AtomicBoolean terminatedAfterClose = new AtomicBoolean();
    Thread closer =
        new Thread(
            () -> {
              pool.close();
              terminatedAfterClose.set(pool.isTerminated());
              interruptedAfterClose.set(Thread.currentThread().isInterrupted());
              closeReturned.countDown();
            });
    closer.start();
    while (!pool.isShutdown()) {
      Thread.onSpinWait();
    }
    closer.interrupt();
    assertTrue(sawShutdownNow.await(30, TimeUnit.SECONDS), "the interrupt led to shutdownNow");
    closer.join(60_000);
    assertFalse(closer.isAlive());
    assertFalse(closeReturnedWhileRunning.get(), "close() returned while a task still ran");
    assertTrue(terminatedAfterClose.get());
    assertTrue(interruptedAfterClose.get(), "the interrupt is re-asserted");
  }

  /** A one-thread pool whose worker reports uncaught exceptions to {@code handler}. */
  static ContextExecutorService reportingPool(Thread.UncaughtExceptionHandler handler) {
    return ContextExecutorService.wrap(
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r);
              t.setUncaughtExceptionHandler(handler);
              return t;
            }));
  }

  /** What execute() must report: the task's own CancellationException, a sneaky checked one. */
  @Test
  void everyExceptionOfAnExecutedTaskIsReportedWhileItsContextIsLive() throws Exception {
    CompletableFuture<Void> unrelated = new CompletableFuture<>();
    unrelated.cancel(false);
    java.io.IOException io = new java.io.IOException("disk");
    List<Runnable> tasks = List.of(unrelated::join, () -> Sneaky.<RuntimeException>rethrow(io));
    for (Runnable task : tasks) {
      AtomicReference<Throwable> reported = new AtomicReference<>();
      CountDownLatch done = new CountDownLatch(1);
      ContextExecutorService reporting =
          reportingPool(
              (thread, e) -> {
                reported.set(e);
                done.countDown();
              });
      try {
        reporting.execute(task);
        assertTrue(done.await(30, TimeUnit.SECONDS), "swallowed: task " + tasks.indexOf(task));
      } finally {
        reporting.shutdown();
        assertTrue(reporting.awaitTermination(30, TimeUnit.SECONDS));
      }
      if (task == tasks.get(0)) {
        assertInstanceOf(CancellationException.class, reported.get());
      } else {
        assertSame(io, reported.get());
      }
    }
  }

  @Test
  void shutdownNowReturnsTheQueuedObjectsAsAThreadPoolExecutorDoes() throws Exception {
    occupyWorker();
    CompletableFuture<String> submitted = pool.submit(() -> "never");
    Runnable executed = () -> {};
    pool.execute(executed);
    CompletableFuture<Void> withContext = pool.submit(Context.background(), () -> {});
    List<Runnable> left = pool.shutdownNow();
    assertEquals(3, left.size());
    assertSame(submitted, left.get(0), "submit: the future the caller holds, as TPE's FutureTask");
    assertSame(executed, left.get(1), "execute: the caller's own Runnable");
    assertSame(withContext, left.get(2));
    // Unlike the JDK's, cancelled: nobody waits for ever, no task stays on its context.
    assertTrue(submitted.isCancelled(), "a task that never started is cancelled");
    assertTrue(withContext.isCancelled());

    // The same calls on a plain pool, for reference.
    ExecutorService plain = Executors.newSingleThreadExecutor();
    occupyWorker(plain);
    Future<String> plainSubmitted = plain.submit(() -> "never");
    plain.execute(executed);
    List<Runnable> plainLeft = plain.shutdownNow();
    assertSame(plainSubmitted, plainLeft.get(0));
    assertSame(executed, plainLeft.get(1));
    assertTrue(plain.awaitTermination(30, TimeUnit.SECONDS));
  }

  @Test
  void tasksAreRejectedAfterShutdownByEveryMethod() throws Exception {
    pool.shutdown();
    assertThrows(RejectedExecutionException.class, () -> pool.execute(() -> {}));
    assertThrows(RejectedExecutionException.class, () -> pool.submit(() -> 1));
    assertThrows(RejectedExecutionException.class, () -> pool.submit(() -> {}));
    assertThrows(RejectedExecutionException.class, () -> pool.invokeAll(List.of(() -> 1)));
    assertThrows(RejectedExecutionException.class, () -> pool.invokeAny(List.of(() -> 1)));
    assertThrows(
        RejectedExecutionException.class, () -> CompletableFuture.supplyAsync(() -> 1, pool));
    assertTrue(pool.awaitTermination(Duration.ofSeconds(30)));
    assertTrue(pool.isTerminated());
  }

  @Test
  void aSubmittedTaskRunsOnce() throws Exception {
    AtomicInteger runs = new AtomicInteger();
    CompletableFuture<Integer> f = pool.submit(runs::incrementAndGet);
    assertEquals(1, f.get(30, TimeUnit.SECONDS));
    ((Runnable) f).run(); // a caller that runs a drained task by hand
    assertEquals(1, runs.get());
  }

  @Test
  void invokeAllUnderAnEndedContextReturnsFuturesCarryingTheContextError() throws Exception {
    List<Future<Integer>> results =
        CurrentContext.call(ended(), () -> pool.invokeAll(List.<Callable<Integer>>of(() -> 1)));
    CancellationException e = assertThrows(CancellationException.class, () -> results.get(0).get());
    assertContextError(e);
  }

  @Test
  void closeAfterTheTasksEndedReturnsAtOnceAndClosingTheCommonPoolDoesNotHang() {
    pool.close();
    assertTrue(pool.isTerminated());
    ContextExecutorService common = ContextExecutorService.wrap(java.util.concurrent.ForkJoinPool.commonPool());
    common.close(); // the common pool never terminates; its close() is a no-op in the JDK too
    assertFalse(common.isTerminated());
  }
}
