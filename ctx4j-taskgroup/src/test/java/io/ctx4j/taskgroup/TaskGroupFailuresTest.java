package io.ctx4j.taskgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import io.ctx4j.testing.Gc;
import java.io.IOException;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Where the failures after the first one go, and how many a group keeps (issue 14 items 14-15). */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class TaskGroupFailuresTest {

  /** Everything reachable from {@code t} through causes and suppressed exceptions. */
  private static List<Throwable> reachable(Throwable t) {
    List<Throwable> seen = new ArrayList<>();
    List<Throwable> work = new ArrayList<>(List.of(t));
    while (!work.isEmpty()) {
      Throwable x = work.remove(work.size() - 1);
      if (x == null || seen.stream().anyMatch(s -> s == x)) {
        continue;
      }
      seen.add(x);
      work.add(x.getCause());
      work.addAll(Arrays.asList(x.getSuppressed()));
    }
    return seen;
  }

  /** An exception built with suppression disabled, as shared or preallocated ones are. */
  static final class NoSuppression extends Exception {
    private static final long serialVersionUID = 1L;

    NoSuppression(String message) {
      super(message, null, false, true);
    }
  }

  /** Runs {@code first} to failure after a sibling has started; the sibling then throws later. */
  private static TaskGroupException failFirstThenLater(
      TaskGroup g, Throwable first, Throwable later) throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    g.go(
        ctx -> {
          started.countDown();
          awaitDoneIgnoringInterrupts(ctx); // fails only after the first failure
          throw sneaky(later);
        });
    assertTrue(started.await(10, TimeUnit.SECONDS));
    g.go(ctx -> {
      throw sneaky(first);
    });
    return assertThrows(TaskGroupException.class, g::await);
  }

  /**
   * Blocks (never spins: two spinning virtual threads would hold both carriers of this 2-core
   * machine) until {@code ctx} is done, swallowing the group's interrupt, so that the task then
   * fails with its own exception rather than an echo of the cancellation.
   */
  private static void awaitDoneIgnoringInterrupts(Context ctx) {
    while (!ctx.isDone()) {
      try {
        ctx.await();
      } catch (InterruptedException groupsInterrupt) {
        // keep waiting: the context is about to be, or already is, done
      }
    }
  }

  @SuppressWarnings("unchecked")
  private static <E extends Throwable> E sneaky(Throwable t) throws E {
    throw (E) t;
  }

  static Stream<Exception> firstFailures() {
    return Stream.of(new NoSuppression("no suppression"), new IOException("a shared sentinel"));
  }

  /**
   * Issue 14 item 14: a first failure that refuses suppressed exceptions loses nothing; and the
   * tasks' exceptions are not changed, so a shared sentinel does not collect suppressed ones.
   */
  @ParameterizedTest
  @MethodSource("firstFailures")
  void laterFailuresAreKeptOnTheGroupsExceptionNotOnTheTasks(Exception first) throws Exception {
    IOException later = new IOException("later");
    try (TaskGroup g = TaskGroup.open(Context.background())) {
      TaskGroupException e = failFirstThenLater(g, first, later);
      assertSame(first, e.getCause());
      assertTrue(reachable(e).contains(later), "the later failure is lost: " + reachable(e));
      assertEquals(List.of(later), Arrays.asList(e.getSuppressed()));
      assertEquals(0, first.getSuppressed().length);
    }
  }

  /**
   * An Error is rethrown as it is; one built without suppression (like the JVM's preallocated
   * OutOfMemoryError) cannot carry the other failures, and the group still has them.
   */
  @Test
  void anErrorWithoutSuppressionIsThrownAndTheOtherFailuresStayReachable() throws Exception {
    Error error = new ErrorWithoutSuppression("preallocated");
    IOException first = new IOException("first");
    IllegalStateException later = new IllegalStateException("later");
    TaskGroup g = TaskGroup.open(Context.background());
    CountDownLatch started = new CountDownLatch(2);
    for (Throwable t : List.of(error, later)) {
      g.go(
          ctx -> {
            started.countDown();
            awaitDoneIgnoringInterrupts(ctx);
            throw sneaky(t);
          });
    }
    assertTrue(started.await(10, TimeUnit.SECONDS));
    g.go(ctx -> {
      throw first;
    });
    assertSame(error, assertThrows(Error.class, g::await));
    assertEquals(0, error.getSuppressed().length);
    List<Throwable> kept = g.failures();
    assertSame(first, kept.get(0));
    assertTrue(kept.contains(error) && kept.contains(later) && kept.size() == 3, kept.toString());
    g.close(); // await() already threw the Error: close does not throw it again
  }

  /** An Error that accepts suppressed exceptions gets each other failure once, over two awaits. */
  @Test
  void anErrorCarriesTheOtherFailuresOnceEach() throws Exception {
    AssertionError error = new AssertionError("broken");
    IOException before = new IOException("before");
    try (TaskGroup g = TaskGroup.open()) {
      g.go(ctx -> {
        throw before;
      });
      assertSame(before, assertThrows(TaskGroupException.class, g::await).getCause());
      g.go(ctx -> {
        throw error;
      });
      assertSame(error, assertThrows(AssertionError.class, g::await));
      IOException after = new IOException("after");
      g.go(ctx -> {
        throw after;
      });
      assertSame(error, assertThrows(AssertionError.class, g::await));
      assertEquals(List.of(before, after), Arrays.asList(error.getSuppressed()));
      assertEquals(List.of(before, error, after), g.failures());
    }
  }

  /** Many failures in one group: the bound holds there too, and the message counts them all. */
  @Test
  void oneGroupWithManyFailuresKeepsTheBoundAndCountsTheRest() throws Exception {
    int n = 1_000;
    try (TaskGroup g = TaskGroup.open()) {
      for (int i = 0; i < n; i++) {
        int id = i;
        g.go(ctx -> {
          throw new IOException("task " + id);
        });
      }
      TaskGroupException e = assertThrows(TaskGroupException.class, g::await);
      assertEquals(TaskGroup.MAX_LATER_FAILURES, e.getSuppressed().length);
      assertEquals(n - 1 - TaskGroup.MAX_LATER_FAILURES, e.droppedFailures());
      assertTrue(
          e.getMessage().endsWith("(and 999 later failures, 967 of them not kept)"), e.getMessage());
    }
  }

  @Test
  void theExceptionsConstructorsRejectBadArguments() {
    IOException io = new IOException("x");
    assertThrows(NullPointerException.class, () -> new TaskGroupException(null, List.of(), 0));
    assertThrows(NullPointerException.class, () -> new TaskGroupException(io, null, 0));
    assertThrows(
        NullPointerException.class,
        () -> new TaskGroupException(io, Arrays.asList((Throwable) null), 0));
    assertThrows(IllegalArgumentException.class, () -> new TaskGroupException(io, List.of(), -1));
    assertThrows(IllegalArgumentException.class, () -> new TaskGroupException(io, List.of(io), 0));
    assertEquals("task failed: java.io.IOException: x", new TaskGroupException(io).getMessage());
  }

  /** Reuses {@code g} for {@code rounds} rounds of one failing task and an await each. */
  private static List<WeakReference<Throwable>> failRounds(TaskGroup g, int rounds)
      throws Exception {
    List<WeakReference<Throwable>> refs = new ArrayList<>(rounds);
    Throwable firstSeen = null;
    for (int i = 0; i < rounds; i++) {
      IOException failure = new IOException("round " + i);
      refs.add(new WeakReference<>(failure));
      g.go(ctx -> {
        throw failure;
      });
      TaskGroupException e = assertThrows(TaskGroupException.class, g::await);
      if (i == 0) {
        firstSeen = e.getCause();
      }
      assertSame(firstSeen, e.getCause(), "Go's zero Group keeps reporting its first error");
      assertTrue(e.getSuppressed().length <= 32, "suppressed " + e.getSuppressed().length);
      assertEquals(0, e.getCause().getSuppressed().length, "round " + i);
      assertEquals(Math.max(0, i - TaskGroup.MAX_LATER_FAILURES), e.droppedFailures());
    }
    return refs;
  }

  /** An Error built with suppression disabled. */
  static final class ErrorWithoutSuppression extends Error {
    private static final long serialVersionUID = 1L;

    ErrorWithoutSuppression(String message) {
      super(message, null, false, true);
    }
  }

  /**
   * Issue 14 item 15: a zero group reused for 5,000 failing rounds keeps a bounded number of
   * failures; the rest can be collected by the garbage collector.
   */
  @Test
  void aReusedZeroGroupRetainsABoundedNumberOfFailures() throws Exception {
    int rounds = 5_000;
    try (TaskGroup g = TaskGroup.open()) {
      // In a method of its own, so that no dead local of the last round keeps a failure alive.
      List<WeakReference<Throwable>> refs = failRounds(g, rounds);
      assertEquals(1 + TaskGroup.MAX_LATER_FAILURES, g.failures().size());
      assertEquals(rounds - 1 - TaskGroup.MAX_LATER_FAILURES, g.droppedFailures());
      assertTrue(g.toString().contains("failures=" + rounds), g.toString());
      // The group keeps 1 + 32; an idle pool thread may still hold the last task it ran in a stale
      // stack slot, hence a little slack (the defect kept every one of the 5,000).
      int bound = 1 + TaskGroup.MAX_LATER_FAILURES + 8;
      Gc.until(() -> reachable(refs) <= bound);
      long retained = reachable(refs);
      assertTrue(retained <= bound, retained + " of " + rounds + " failures still reachable");
      assertFalse(g.context().isDone());
    }
  }

  private static long reachable(List<WeakReference<Throwable>> refs) {
    return refs.stream().filter(r -> r.get() != null).count();
  }
  /** One exception object, thrown by two tasks of a round: a sentinel, a cached exception. */
  private static final IOException SENTINEL = new IOException("the shared one");

  /**
   * Two tasks that throw the same exception object: await() reported it twice (as the cause and
   * as a later failure), which TaskGroupException refuses, so await() threw an
   * IllegalArgumentException instead. Each object is reported once, also across the rounds of a
   * reused group.
   */
  @Test
  void oneExceptionObjectThrownByTwoTasksIsReportedOnce() throws Exception {
    try (TaskGroup g = TaskGroup.open()) {
      for (int round = 1; round <= 2; round++) {
        CountDownLatch bothRunning = new CountDownLatch(2);
        for (int i = 0; i < 2; i++) {
          g.go(
              c -> {
                bothRunning.countDown();
                bothRunning.await(); // both run before either fails
                throw SENTINEL;
              });
        }
        TaskGroupException e = assertThrows(TaskGroupException.class, g::await, "round " + round);
        assertSame(SENTINEL, e.getCause(), "round " + round);
        assertEquals(0, e.getSuppressed().length, "round " + round);
        assertEquals(List.of(SENTINEL), g.failures(), "round " + round);
      }
    }
  }
}
