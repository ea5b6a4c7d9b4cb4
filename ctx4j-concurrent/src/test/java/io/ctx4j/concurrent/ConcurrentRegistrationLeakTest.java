package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Tasks of {@link ContextExecutorService} on one long-lived context, ended every way, refused
 * included, leave no registration on it (the core's exact count): an application's context lives
 * as long as the application, and each registration left behind holds a task, its child context and
 * what the task's callable captured.
 */
@Timeout(120)
class ConcurrentRegistrationLeakTest {

  /**
   * invokeAny and an ExecutorCompletionService make a task with newTaskFor and hand the executor a
   * wrapper of it (the JDK's QueueingFuture); when the executor refuses the wrapper, the caller gets
   * the RejectedExecutionException and nobody holds the task, so it must not stay on the context.
   * Refused by a pool that is shut down and by a live one that is saturated (one worker, busy; no
   * queue).
   */
  @Test
  void refusedInvokeAnyAndCompletionServiceSubmissionsLeaveNothingOnTheContext() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch busy = new CountDownLatch(1);
    ContextExecutorService saturated =
        ContextExecutorService.wrap(
            new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new SynchronousQueue<>()));
    ContextExecutorService shutDown =
        ContextExecutorService.wrap(
            new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new SynchronousQueue<>()));
    shutDown.shutdown();
    try {
      saturated.delegate().execute(() -> {
        busy.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      assertTrue(busy.await(30, TimeUnit.SECONDS));
      List<Callable<String>> tasks = List.of(() -> "a", () -> "b");
      List<String> leaks = new ArrayList<>();
      for (ContextExecutorService pool : List.of(saturated, shutDown)) {
        String which = pool == saturated ? "saturated pool" : "shut-down pool";
        List<Callable<?>> refusedCalls =
            List.of(
                () -> pool.invokeAny(tasks),
                () -> pool.invokeAny(tasks, 30, TimeUnit.SECONDS),
                () -> new ExecutorCompletionService<String>(pool).submit(() -> "c"),
                () -> new ExecutorCompletionService<String>(pool).submit(() -> {}, "d"),
                () -> pool.invokeAll(tasks),
                () -> pool.submit(() -> "e"));
        String[] names = {"invokeAny", "timed invokeAny", "completion service submit(Callable)",
            "completion service submit(Runnable, T)", "invokeAll", "submit"};
        for (int i = 0; i < refusedCalls.size(); i++) {
          // A context of its own per row, so each row's count is its own.
          CancelableContext app = Context.withCancel(Context.background());
          Callable<?> call = refusedCalls.get(i);
          for (int round = 0; round < 50; round++) {
            assertThrows(RejectedExecutionException.class, () -> CurrentContext.call(app, call));
          }
          int left = CoreInternals.registrationCount(app);
          if (left != 0) {
            leaks.add(which + ", " + names[i] + ": " + left);
          }
          assertFalse(app.isDone());
          app.cancel();
        }
      }
      assertEquals(List.of(), leaks, "registrations left on the context after 50 refused calls");
    } finally {
      release.countDown();
      saturated.close();
      shutDown.close();
    }
  }
}
