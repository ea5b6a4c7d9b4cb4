package io.ctx4j.taskgroup;

import static io.ctx4j.taskgroup.TaskGroupEchoTest.awaitUninterruptibly;
import static io.ctx4j.taskgroup.TaskGroupEchoTest.getUninterruptibly;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The group's end seen through a sibling's future, and an {@code Error} suppressed on an echo
 * (found by review of 7d1329e and f0a4c6c). A task that waits for another task's future gets that
 * task's echo wrapped by the future ({@code CompletionException}, {@code ExecutionException}): the
 * same echo. An {@code Error} a resource's {@code close()} threw while the body rethrew the group's
 * end is suppressed on the echo; the group must not drop it with the echo.
 */
@Timeout(120)
class TaskGroupEchoThroughFuturesTest {

  /**
   * Task A waits for sibling B's future (the group's own future, as in a pipeline: orders need the
   * user). The group ends; B, blocked, gets the group's interrupt and throws InterruptedException
   * (or ClosedByInterruptException from an interruptible channel), an echo the group itself does
   * not report. B's future holds that echo, so A's join()/get() of it throws it wrapped:
   * CompletionException(InterruptedException) or ExecutionException(InterruptedException). A
   * throws nothing but the group's end, so nothing besides the first failure should be kept.
   */
  @Test
  void aSiblingsEchoSeenThroughItsFutureIsNotAFailure() throws Exception {
    List<String> wrong = new ArrayList<>();
    String[] endings = {"a sibling's failure", "parent.cancel(cause)"};
    String[] sees = {"b.join()", "getUninterruptibly(b)", "b.thenApply(..).join()"};
    String[] echoes = {"Thread.sleep", "Pipe.source().read"};
    for (String ending : endings) {
      for (String see : sees) {
        for (String echo : echoes) {
          IllegalArgumentException bad = new IllegalArgumentException("bad input");
          IllegalStateException why = new IllegalStateException("shutting down");
          AtomicReference<Throwable> bThrew = new AtomicReference<>();
          AtomicReference<Throwable> aThrew = new AtomicReference<>();
          CountDownLatch bStarted = new CountDownLatch(1);
          CountDownLatch aStarted = new CountDownLatch(1);
          Pipe pipe = Pipe.open();
          try (CancelableContext parent = Context.withCancelCause(Context.background());
              TaskGroup g = TaskGroup.open(parent)) {
            CompletableFuture<Integer> b =
                g.go(
                    c -> {
                      bStarted.countDown();
                      try {
                        if (echo.equals("Thread.sleep")) {
                          Thread.sleep(TimeUnit.HOURS.toMillis(1));
                        } else {
                          pipe.source().read(ByteBuffer.allocate(1));
                        }
                        return 1;
                      } catch (Throwable t) {
                        bThrew.set(t);
                        throw t;
                      }
                    });
            g.go(
                c -> {
                  aStarted.countDown();
                  try {
                    switch (see) {
                      case "b.join()":
                        return b.join() + 1;
                      case "getUninterruptibly(b)":
                        return getUninterruptibly(b) + 1;
                      default:
                        return b.thenApply(x -> x + 1).join();
                    }
                  } catch (Throwable t) {
                    aThrew.set(t);
                    throw t;
                  }
                });
            assertTrue(bStarted.await(10, TimeUnit.SECONDS));
            assertTrue(aStarted.await(10, TimeUnit.SECONDS));
            if (ending.equals("a sibling's failure")) {
              g.go(
                  c -> {
                    throw bad;
                  });
            } else {
              parent.cancel(why);
            }
            TaskGroupException e = assertThrows(TaskGroupException.class, g::await);
            String row = ending + " / A: " + see + " / B: " + echo;
            if (g.failures().size() != 1) {
              wrong.add(
                  row
                      + ": kept "
                      + g.failures().subList(1, g.failures().size())
                      + " (B threw "
                      + bThrew.get()
                      + ", A threw "
                      + aThrew.get()
                      + " <- "
                      + (aThrew.get() == null ? null : aThrew.get().getCause())
                      + ")");
            }
            Throwable expectedCause = ending.equals("a sibling's failure") ? bad : null;
            if (expectedCause != null && e.getCause() != bad) {
              wrong.add(row + ": await() reported " + e.getCause());
            }
            if (expectedCause == null
                && !(e.getCause() instanceof CanceledException && e.getCause().getCause() == why)) {
              wrong.add(row + ": await() reported " + e.getCause() + ", not the context's error");
            }
          } finally {
            pipe.sink().close();
            pipe.source().close();
          }
        }
      }
    }
    assertEquals(List.of(), wrong, "echoes of the group's end reported as failures");
  }

  /**
   * The parent is cancelled and nothing failed on its own: the README says the first failure is
   * then reported as the context's error. With A joining B's future, A's CompletionException may
   * be recorded before B's own echo (B completes its future before it records): counts how often
   * await() reports something else.
   */
  @Test
  void theFirstFailureAfterAParentsCancelIsTheContextsError() throws Exception {
    int rounds = 200;
    int other = 0;
    String example = null;
    for (int i = 0; i < rounds; i++) {
      CountDownLatch started = new CountDownLatch(2);
      try (CancelableContext parent = Context.withCancelCause(Context.background());
          TaskGroup g = TaskGroup.open(parent)) {
        CompletableFuture<Integer> b =
            g.go(
                c -> {
                  started.countDown();
                  Thread.sleep(TimeUnit.HOURS.toMillis(1));
                  return 1;
                });
        g.go(
            c -> {
              started.countDown();
              return b.join() + 1;
            });
        assertTrue(started.await(10, TimeUnit.SECONDS));
        parent.cancel(new IllegalStateException("shutting down"));
        TaskGroupException e = assertThrows(TaskGroupException.class, g::await);
        if (!(e.getCause() instanceof ContextException)) {
          other++;
          example = String.valueOf(e.getCause());
        }
      }
    }
    assertEquals(
        0,
        other,
        "rounds of "
            + rounds
            + " where await() reported a sibling's wrapped echo as the group's failure, e.g. "
            + example);
  }

  /** Held checks: very deep wrapper chains neither overflow the stack nor change the answer. */
  @Test
  void veryDeepWrapperChains() throws Exception {
    for (boolean echo : new boolean[] {true, false}) {
      IllegalStateException real = new IllegalStateException("real");
      List<Throwable> failures =
          TaskGroupEchoTest.row(
              TaskGroupEchoTest.byCancel(),
              c -> {
                Throwable t = echo ? c.err().copy(c.cause()) : real;
                for (int i = 0; i < 100_000; i++) {
                  t = new CompletionException(null, t); // no message: no O(n^2) toString
                }
                throw (Exception) t;
              });
      assertEquals(echo ? 1 : 2, failures.size(), "echo=" + echo);
    }
  }

  /**
   * README: "Errors are never wrapped or lost. An Error in a task cancels the group like any
   * failure; await() throws the first Error itself ... and close() throws it if no await() did."
   * A task's resource fails its close() with an Error (an AssertionError of an invariant check)
   * while the body rethrows the group's end: Java's try-with-resources suppresses the Error on the
   * echo. Thrown alone, the same Error is thrown by await(); suppressed on an echo, it is nowhere.
   */
  @Test
  void anErrorSuppressedOnAnEchoIsNotLost() throws Exception {
    List<String> lost = new ArrayList<>();
    String[] hows = {
      "the Error thrown alone (control)",
      "suppressed on c.throwIfDone()",
      "suppressed on Thread.sleep's InterruptedException"
    };
    for (String how : hows) {
      AssertionError broken = new AssertionError("pool invariant broken on close");
      IllegalArgumentException bad = new IllegalArgumentException("bad input");
      CountDownLatch started = new CountDownLatch(1);
      Throwable awaitThrew = null;
      List<Throwable> failures;
      TaskGroup g = TaskGroup.open(Context.background());
      try {
        g.go(
            c -> {
              CountDownLatch cDone = TaskGroupEchoTest.doneLatch(c);
              started.countDown();
              if (how.startsWith("the Error")) {
                awaitUninterruptibly(cDone);
                throw broken;
              }
              try (AutoCloseable r = () -> {
                    throw broken;
                  }) {
                if (how.contains("sleep")) {
                  Thread.sleep(TimeUnit.HOURS.toMillis(1));
                } else {
                  awaitUninterruptibly(cDone);
                  c.throwIfDone();
                }
              }
              return null;
            });
        assertTrue(started.await(10, TimeUnit.SECONDS));
        g.go(
            c -> {
              throw bad;
            });
        try {
          g.await();
        } catch (Throwable t) {
          awaitThrew = t;
        }
        failures = g.failures();
      } finally {
        try {
          g.close();
        } catch (Throwable t) {
          if (awaitThrew == null) {
            awaitThrew = t;
          }
        }
      }
      boolean found = false;
      for (Throwable f : failures) {
        found |= TaskGroupEchoTest.reachable(f).contains(broken);
      }
      found |= awaitThrew != null && TaskGroupEchoTest.reachable(awaitThrew).contains(broken);
      if (!found) {
        lost.add(how + ": await() threw " + awaitThrew + ", failures() = " + failures);
      }
    }
    assertEquals(List.of(), lost, "an Error lost");
  }
}
