package io.ctx4j.taskgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Groups opened one after another on a long-lived parent (a server's root context) must leave no
 * registration on it once each is closed, however its tasks ended: a group that kept one would
 * grow the parent by a callback per request.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class TaskGroupRegistrationLeakTest {

  @Test
  void closedGroupsLeaveNoRegistrationOnALongLivedParent() throws Exception {
    ExecutorService helper = Executors.newSingleThreadExecutor();
    try (CancelableContext root = Context.withCancel(Context.background());
        CancelableContext withDeadline = Context.withTimeout(root, Duration.ofHours(1))) {
      for (Context parent : new Context[] {root, withDeadline}) {
        String which = parent == root ? "without a deadline" : "with a deadline";
        for (int round = 0; round < 300; round++) {
          oneGroup(parent, round % 6, helper);
        }
        // withDeadline is itself registered on root: count what the groups left on each.
        int expected = parent == root ? 1 : 0;
        assertEquals(expected, CoreInternals.registrationCount(parent), which + ": registrations left");
        assertFalse(parent.isDone(), which);
      }
    } finally {
      helper.shutdownNow();
    }
  }

  /** One group on {@code parent}, ending the way {@code how} names; always closed. */
  private static void oneGroup(Context parent, int how, ExecutorService helper) throws Exception {
    switch (how) {
      case 0: // tasks succeed; await, then close
        try (TaskGroup g = TaskGroup.open(parent)) {
          g.go(c -> 1);
          g.go(c -> 2);
          g.await();
        }
        break;
      case 1: // a task fails and cancels its blocked sibling
        try (TaskGroup g = TaskGroup.open(parent)) {
          g.go(
              c -> {
                c.await();
                return null;
              });
          g.go(
              c -> {
                throw new IllegalStateException("boom");
              });
          assertThrows(TaskGroupException.class, g::await);
        }
        break;
      case 2: // closed without await while a task blocks, interrupted by the close
        {
          CountDownLatch started = new CountDownLatch(1);
          try (TaskGroup g = TaskGroup.open(parent)) {
            g.go(
                c -> {
                  started.countDown();
                  new CountDownLatch(1).await();
                  return null;
                });
            assertTrue(started.await(10, TimeUnit.SECONDS));
          }
        }
        break;
      case 3: // a go waiting on a limit of 1 behind a blocked task, released by the close
        {
          CountDownLatch started = new CountDownLatch(1);
          CompletableFuture<Throwable> waiter;
          try (TaskGroup g = TaskGroup.builder(parent).limit(1).build()) {
            g.go(
                c -> {
                  started.countDown();
                  c.await();
                  return null;
                });
            assertTrue(started.await(10, TimeUnit.SECONDS));
            waiter =
                CompletableFuture.supplyAsync(
                    () -> {
                      try {
                        g.go(c -> null);
                        return null;
                      } catch (Throwable t) {
                        return t;
                      }
                    },
                    helper);
            assertFalse(g.tryGo(c -> null), "the limit is reached");
          }
          waiter.get(10, TimeUnit.SECONDS); // refused by the close, or skipped: either way, done
        }
        break;
      case 4: // a caller-runs executor, and one that rejects
        try (TaskGroup g = TaskGroup.builder(parent).executor(Runnable::run).build()) {
          g.go(c -> 1);
          g.await();
        }
        try (TaskGroup g =
            TaskGroup.builder(parent)
                .executor(
                    r -> {
                      throw new RejectedExecutionException("full");
                    })
                .build()) {
          assertThrows(RejectedExecutionException.class, () -> g.go(c -> 1));
        }
        break;
      default: // a zero-style group (failures cancel nothing) awaited twice, then closed
        try (TaskGroup g = TaskGroup.builder(parent).failFast(false).build()) {
          g.go(
              c -> {
                throw new IllegalArgumentException("first round");
              });
          assertThrows(TaskGroupException.class, g::await);
          g.go(c -> 1);
          assertThrows(TaskGroupException.class, g::await);
        }
        break;
    }
  }
}
