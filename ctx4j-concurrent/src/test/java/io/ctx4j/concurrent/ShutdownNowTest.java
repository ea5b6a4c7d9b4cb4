package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.FutureTask;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What {@link ContextExecutorService#shutdownNow} leaves behind: the tasks it stops before they
 * start, on a long-lived context, and what their callers see.
 */
@Timeout(120)
class ShutdownNowTest {

  /**
   * A task drained from one service (by its shutdownNow, or by its delegate's) that the caller hands
   * to another service, which refuses it: the refusal released the task's context, so its future
   * must complete too. It stayed pending for ever, and get(timeout) with the interrupt status set
   * (done wins: the task's context is done) then waited for it past its timeout, for ever.
   */
  @Test
  void aDrainedTaskThatAnotherServiceRefusesCompletesAndItsTimedGetKeepsItsTimeout()
      throws Exception {
    CancelableContext app = Context.withCancel(Context.background());
    ContextExecutorService refusing = ContextExecutorService.wrap(Executors.newSingleThreadExecutor());
    refusing.shutdown();
    List<String> problems = new ArrayList<>();
    for (String how : List.of("shutdownNow", "delegate().shutdownNow")) {
      CountDownLatch release = new CountDownLatch(1);
      ContextExecutorService first = ContextExecutorService.wrap(Executors.newFixedThreadPool(1));
      Stalls.worker(first.delegate(), release);
      CompletableFuture<String> f = first.submit(app, () -> "never");
      List<Runnable> drained =
          how.equals("shutdownNow") ? first.shutdownNow() : first.delegate().shutdownNow();
      release.countDown();
      assertTrue(first.awaitTermination(30, TimeUnit.SECONDS));
      assertEquals(1, drained.size());
      try {
        refusing.execute(drained.get(0));
        problems.add(how + ": the shut-down service accepted the task");
      } catch (RejectedExecutionException expected) {
        // the caller hears of it
      }
      String interrupted = Stalls.timedGet(f, 200, true);
      // Completed with the refusal, or cancelled by the shutdownNow that drained it.
      if (!List.of(
              "ExecutionException(RejectedExecutionException), interrupted",
              "CancellationException, interrupted")
          .contains(interrupted)) {
        problems.add(how + ": interrupted get(200 ms): " + interrupted);
      }
      if (!f.isDone()) {
        problems.add(how + ": the refused task's future never completed");
      }
    }
    assertEquals(List.of(), problems, "after the refusal of a drained task");
    assertFalse(app.isDone());
    app.cancel();
  }

  /** A service on a pool of one worker. */
  private static ContextExecutorService oneWorker() {
    return ContextExecutorService.wrap(Executors.newFixedThreadPool(1));
  }

  /** The number of tasks {@code executor} holds in its queues, not yet taken by a worker. */
  private static long queued(ExecutorService executor) {
    return executor instanceof ForkJoinPool
        ? ((ForkJoinPool) executor).getQueuedSubmissionCount()
        : ((ThreadPoolExecutor) executor).getQueue().size();
  }

  /**
   * shutdownNow ends every task of the service that no worker has started, whatever the wrapped
   * service returns: a ThreadPoolExecutor the tasks themselves, a ScheduledThreadPoolExecutor its
   * own wrappers of them, a ForkJoinPool nothing (its queued tasks are cancelled, or stay queued, and
   * never run). Each task let go of its long-lived context only if it came back unwrapped and was
   * a wrapper of execute's; the others stayed on the context's cancel tree (with their callables)
   * until it ended, and their callers (get, an ExecutorCompletionService's take, invokeAny, a
   * FutureTask given to execute) waited for ever.
   */
  @Test
  void everyTaskItStopsLetsGoOfItsContextAndCompletesWhateverTheDelegateReturns()
      throws Exception {
    List<String> problems = new ArrayList<>();
    List<Supplier<ExecutorService>> delegates =
        List.of(
            () -> Executors.newFixedThreadPool(1),
            () -> new ScheduledThreadPoolExecutor(1),
            () -> new ForkJoinPool(1));
    for (Supplier<ExecutorService> delegate : delegates) {
      CancelableContext app = Context.withCancel(Context.background());
      CountDownLatch release = new CountDownLatch(1);
      ContextExecutorService pool = ContextExecutorService.wrap(delegate.get());
      String which = pool.delegate().getClass().getSimpleName();
      AtomicInteger ran = new AtomicInteger();
      Stalls.worker(pool.delegate(), release);
      CompletableFuture<String> submitted =
          pool.submit(
              app,
              () -> {
                ran.incrementAndGet();
                return "x";
              });
      FutureTask<Integer> executedFuture = new FutureTask<>(ran::incrementAndGet);
      ExecutorCompletionService<Integer> ecs = new ExecutorCompletionService<>(pool);
      CurrentContext.run(
          app,
          () -> {
            pool.execute(ran::incrementAndGet);
            pool.execute(executedFuture);
            ecs.submit(ran::incrementAndGet);
          });
      CompletableFuture<Integer> any = new CompletableFuture<>();
      Thread invoking =
          new Thread(
              () ->
                  CurrentContext.run(
                      app,
                      () -> {
                        try {
                          any.complete(pool.invokeAny(List.of(ran::incrementAndGet)));
                        } catch (Throwable t) {
                          any.completeExceptionally(t);
                        }
                      }));
      invoking.setDaemon(true);
      invoking.start();
      long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (queued(pool.delegate()) < 5) { // submit, 2 execute, the completion service, invokeAny
        assertTrue(System.nanoTime() - giveUp < 0, which + ": the tasks never reached the queue");
        Thread.onSpinWait();
      }

      pool.shutdownNow();
      release.countDown();
      assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS), which);

      int left = CoreInternals.registrationCount(app);
      if (left != 0) {
        problems.add(which + ": " + left + " registrations left on the context");
      }
      List<String> waiting = new ArrayList<>();
      if (!submitted.isDone()) {
        waiting.add("submit's future");
      }
      if (!executedFuture.isDone()) {
        waiting.add("the FutureTask given to execute");
      }
      if (ecs.poll() == null) {
        waiting.add("the completion service's take");
      }
      try {
        any.get(10, TimeUnit.SECONDS);
        problems.add(which + ": invokeAny returned a task's result");
      } catch (ExecutionException expected) {
        // its task was cancelled: invokeAny says so
      } catch (TimeoutException e) {
        waiting.add("invokeAny");
      }
      if (!waiting.isEmpty()) {
        problems.add(which + ": waiting for ever: " + String.join(", ", waiting));
      }
      assertEquals(0, ran.get(), which + ": a queued task ran");
      assertFalse(app.isDone());
      app.cancel();
    }
    assertEquals(List.of(), problems, "after shutdownNow on a long-lived context");
  }

  /**
   * A wrapped service that ignores shutdownNow, as ForkJoinPool.commonPool() does, goes on running
   * the tasks, so they are not cancelled: ending them is for a service that has stopped.
   */
  @Test
  void tasksOfAServiceThatIgnoresShutdownNowAreLeftToRun() throws Exception {
    ExecutorService inner = Executors.newFixedThreadPool(1);
    ExecutorService ignoring =
        new IgnoringLifecycle() {
          @Override
          public void execute(Runnable command) {
            inner.execute(command);
          }
        };
    CountDownLatch release = new CountDownLatch(1);
    try {
      Stalls.worker(inner, release);
      ContextExecutorService pool = ContextExecutorService.wrap(ignoring);
      CompletableFuture<String> queued = pool.submit(Context.background(), () -> "ran");
      assertEquals(List.of(), pool.shutdownNow());
      release.countDown();
      assertEquals("ran", queued.get(30, TimeUnit.SECONDS));
    } finally {
      release.countDown();
      inner.shutdownNow();
      assertTrue(inner.awaitTermination(30, TimeUnit.SECONDS));
    }
  }

  /**
   * A task taken from the delegate's own shutdownNow() and handed to another service belongs to
   * that one: a later shutdownNow() of the first must not cancel it while it waits in the second's
   * queue, nor the first keep it. It stayed in the first service's set of pending tasks, whose
   * shutdownNow() cancelled it before the second's worker reached it.
   */
  @Test
  void aTaskDrainedByTheDelegateAndHandedToAnotherServiceBelongsToThatOne() throws Exception {
    CancelableContext app = Context.withCancel(Context.background());
    ContextExecutorService first = oneWorker();
    ContextExecutorService second = oneWorker();
    CountDownLatch releaseFirst = new CountDownLatch(1);
    CountDownLatch releaseSecond = new CountDownLatch(1);
    try {
      Stalls.worker(first.delegate(), releaseFirst);
      Stalls.worker(second.delegate(), releaseSecond);
      CompletableFuture<String> f = first.submit(app, () -> "ran");
      List<Runnable> drained = first.delegate().shutdownNow();
      assertEquals(List.of(f), drained);
      second.execute(drained.get(0)); // queued behind the second's held worker
      first.shutdownNow();
      List<String> problems = new ArrayList<>();
      if (f.isDone()) {
        problems.add("the first service's shutdownNow ended it: " + Stalls.timedGet(f, 0, false));
      }
      if (first.pendingTasks() != 0) {
        problems.add("the first service still holds " + first.pendingTasks());
      }
      releaseSecond.countDown();
      if (problems.isEmpty()) {
        assertEquals("ran", f.get(30, TimeUnit.SECONDS));
      }
      assertEquals(List.of(), problems, "after the first service's shutdownNow");
      assertEquals(0, second.pendingTasks());
      assertFalse(app.isDone());
      app.cancel();
    } finally {
      releaseFirst.countDown();
      releaseSecond.countDown();
      first.close();
      second.close();
    }
  }

  /**
   * A task handed back and forth between two services (here the future of a queued task, given to
   * the other's execute each time) is each time the last one's, and only that one's: handing it over
   * must not leave something behind on the task per hand-over. Each hand-over registered one more
   * completion callback on the task's future (with the service's weak reference to it, and through
   * it the other service's set), all kept until the task completed.
   */
  @Test
  void aTaskHandedOverAndBackKeepsNothingPerHandOver() throws Exception {
    CancelableContext app = Context.withCancel(Context.background());
    ContextExecutorService first = oneWorker();
    ContextExecutorService second = oneWorker();
    CountDownLatch release = new CountDownLatch(1);
    try {
      Stalls.worker(first.delegate(), release);
      Stalls.worker(second.delegate(), release);
      CompletableFuture<String> f = first.submit(app, () -> "ran");
      int before = f.getNumberOfDependents();
      for (int i = 0; i < 10_000; i++) {
        (i % 2 == 0 ? second : first).execute((Runnable) f);
      }
      int after = f.getNumberOfDependents();
      assertEquals(
          before,
          after,
          "callbacks on the task's future after 10,000 hand-overs (before them: " + before + ")");
      assertEquals(1, first.pendingTasks(), "the first service, which had it last");
      assertEquals(0, second.pendingTasks(), "the second service");
      release.countDown();
      assertEquals("ran", f.get(30, TimeUnit.SECONDS));
      assertEquals(0, first.pendingTasks());
      assertEquals(0, second.pendingTasks());
      assertEquals(0, CoreInternals.registrationCount(app));
      app.cancel();
    } finally {
      release.countDown();
      first.close();
      second.close();
    }
  }

  /**
   * A task handed to another service while the first one's shutdownNow() runs: once the hand-over
   * has returned, the task is the second's alone, so the first's shutdownNow, still running, must
   * not end it. Two tasks of the first service, taken from its delegate's own shutdownNow() (still
   * the first's), are ended by the first's shutdownNow() one after the other; while it cancels the
   * Future given to execute of whichever comes first, this thread hands the other one to the second
   * service. The first's shutdownNow had already taken the other from its set, and cancelled it.
   */
  @Test
  void aTaskHandedOverWhileTheFirstServicesShutdownNowRunsIsTheSecondsAlone() throws Exception {
    CancelableContext app = Context.withCancel(Context.background());
    ContextExecutorService first = oneWorker();
    ContextExecutorService second = oneWorker();
    CountDownLatch releaseFirst = new CountDownLatch(1);
    CountDownLatch releaseSecond = new CountDownLatch(1);
    CountDownLatch inCancel = new CountDownLatch(1);
    CountDownLatch handedOver = new CountDownLatch(1);
    AtomicReference<FutureTask<String>> cancelledFirst = new AtomicReference<>();
    List<FutureTask<String>> commands = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      String name = "task " + i;
      commands.add(
          new FutureTask<>(() -> name) {
            @Override
            public boolean cancel(boolean mayInterruptIfRunning) {
              if (cancelledFirst.compareAndSet(null, this)) {
                // Inside the first's shutdownNow: hold it here while the other is handed over.
                inCancel.countDown();
                try {
                  handedOver.await(60, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
              return super.cancel(mayInterruptIfRunning);
            }
          });
    }
    Thread shuttingDown = null;
    try {
      Stalls.worker(first.delegate(), releaseFirst);
      Stalls.worker(second.delegate(), releaseSecond);
      CurrentContext.run(app, () -> commands.forEach(first::execute));
      List<Runnable> drained = first.delegate().shutdownNow(); // still the first's tasks
      assertEquals(2, drained.size());
      shuttingDown = new Thread(first::shutdownNow, "first.shutdownNow");
      shuttingDown.start();
      assertTrue(inCancel.await(30, TimeUnit.SECONDS), "the first's shutdownNow never ended a task");
      FutureTask<String> other =
          commands.get(0) == cancelledFirst.get() ? commands.get(1) : commands.get(0);
      ContextTask<?> otherTask = null;
      for (Runnable r : drained) {
        if (((ContextTask<?>) r).origin() == other) {
          otherTask = (ContextTask<?>) r;
        }
      }
      second.execute(otherTask); // queued behind the second's held worker
      List<String> problems = new ArrayList<>();
      if (otherTask.isDone()) {
        problems.add("ended before the hand-over returned");
      }
      handedOver.countDown();
      shuttingDown.join(30_000);
      assertFalse(shuttingDown.isAlive(), "the first's shutdownNow never returned");
      if (otherTask.isDone() || other.isDone()) {
        problems.add(
            "the first service's shutdownNow ended it after the hand-over: task "
                + Stalls.timedGet(otherTask, 0, false)
                + ", command "
                + (other.isCancelled() ? "cancelled" : other.isDone() ? "done" : "pending"));
      }
      releaseSecond.countDown();
      if (problems.isEmpty()) {
        assertTrue(other.get(30, TimeUnit.SECONDS).startsWith("task "), "the second ran it");
        otherTask.get(30, TimeUnit.SECONDS);
      }
      assertEquals(List.of(), problems, "a task handed over while the first's shutdownNow ran");
    } finally {
      handedOver.countDown();
      releaseFirst.countDown();
      releaseSecond.countDown();
      if (shuttingDown != null) {
        shuttingDown.join(30_000);
      }
      first.close();
      second.close();
      app.cancel();
    }
  }
}
