package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
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
}
