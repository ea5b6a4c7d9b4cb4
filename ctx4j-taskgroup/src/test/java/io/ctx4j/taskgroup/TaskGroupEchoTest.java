package io.ctx4j.taskgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.concurrent.Futures;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Which failures only echo the group's cancellation: through any number of the JDK's wrappers, the
 * group's own context error, never another context's, and never a wrapper that carries failures of
 * its own (found by a review of the rule's first version, which looked one wrapper deep at any
 * {@code ContextException}).
 */
@Timeout(60)
class TaskGroupEchoTest {

  /** Guava's Uninterruptibles.getUninterruptibly: waits through interrupts, restores the status. */
  static <V> V getUninterruptibly(Future<V> f) throws ExecutionException {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return f.get();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  static void awaitUninterruptibly(CountDownLatch l) {
    boolean interrupted = false;
    while (true) {
      try {
        assertTrue(l.await(20, TimeUnit.SECONDS), "latch");
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  static CountDownLatch doneLatch(Context c) {
    CountDownLatch l = new CountDownLatch(1);
    c.onDone(l::countDown);
    return l;
  }

  /** Everything reachable through causes and suppressed exceptions; cycles are fine. */
  static Set<Throwable> reachable(Throwable root) {
    Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    Deque<Throwable> todo = new ArrayDeque<>();
    todo.add(root);
    while (!todo.isEmpty()) {
      Throwable t = todo.poll();
      if (t == null || !seen.add(t)) {
        continue;
      }
      if (t.getCause() != null) {
        todo.add(t.getCause());
      }
      Collections.addAll(todo, t.getSuppressed());
    }
    return seen;
  }

  /**
   * The parent is cancelled; the task waits (as Guava's getUninterruptibly does) for work it handed
   * to an ExecutorService, which joined a stage ended with the group's context. FutureTask wraps
   * what the callable threw: ExecutionException(CompletionException(CanceledException)), or on JDK
   * 25 for the future itself ExecutionException(CancellationException(CanceledException)). Only
   * the cancellation is news: the README says the parent's cancel is then reported as the
   * context's error, not as a task failure.
   */
  @Test
  void aWrapperOfAWrapperOfTheContextErrorEchoesTheCancellation() throws Exception {
    IllegalStateException why = new IllegalStateException("shutting down");
    List<String> wrong = new ArrayList<>();
    for (String row : new String[] {"pool.submit(dependent::join)", "pool.submit(future::join)"}) {
      ExecutorService pool = Executors.newSingleThreadExecutor();
      CountDownLatch started = new CountDownLatch(1);
      AtomicReference<Throwable> thrown = new AtomicReference<>();
      try (CancelableContext parent = Context.withCancelCause(Context.background());
          TaskGroup g = TaskGroup.open(parent)) {
        g.go(
            c -> {
              CompletableFuture<String> reply = new CompletableFuture<>(); // never answered
              Futures.cancelWhenDone(c, reply);
              CompletableFuture<Integer> length = reply.thenApply(String::length);
              Future<?> viaPool =
                  row.contains("dependent")
                      ? pool.submit(() -> length.join())
                      : pool.submit(() -> reply.join());
              started.countDown();
              try {
                return getUninterruptibly(viaPool);
              } catch (Throwable t) {
                thrown.set(t);
                throw t;
              }
            });
        assertTrue(started.await(10, TimeUnit.SECONDS));
        parent.cancel(why);
        TaskGroupException e = assertThrows(TaskGroupException.class, g::await);
        if (!(e.getCause() instanceof CanceledException) || e.getCause().getCause() != why) {
          wrong.add(
              row
                  + " (the task threw "
                  + thrown.get()
                  + " <- "
                  + thrown.get().getCause()
                  + "): await() reported "
                  + e.getCause());
        }
      } finally {
        pool.shutdownNow();
      }
    }
    assertEquals(List.of(), wrong, "a parent's cancel reported as a task failure");
  }

  /**
   * A task runs a nested group. The parent is cancelled: the inner group's first failure is the
   * echo (its await() throws TaskGroupException(CanceledException)), and a real failure of an inner
   * task (a rollback that failed while stopping) is kept on it as a later failure. The outer task
   * throws that TaskGroupException, an ExecutionException whose cause is a ContextException: since
   * 68b36e4 the outer group takes it for an echo and, its first failure being already the
   * cancellation, drops it, with the real failure in it. The same failure thrown by an outer task
   * directly is kept (control row).
   */
  @Test
  void aRealFailureInsideANestedGroupsReportIsNotDropped() throws Exception {
    for (boolean nested : new boolean[] {false, true}) {
      IllegalStateException rollback = new IllegalStateException("rollback failed");
      CountDownLatch outerEchoRecorded = new CountDownLatch(1);
      CountDownLatch started = new CountDownLatch(1);
      AtomicReference<Throwable> innerThrew = new AtomicReference<>();
      try (CancelableContext parent = Context.withCancelCause(Context.background());
          TaskGroup outer = TaskGroup.open(parent)) {
        outer.go(
            c -> {
              CountDownLatch cDone = doneLatch(c);
              if (!nested) {
                started.countDown();
                awaitUninterruptibly(cDone);
                awaitUninterruptibly(outerEchoRecorded);
                throw rollback;
              }
              try (TaskGroup inner = TaskGroup.open(c)) {
                CountDownLatch release = new CountDownLatch(1);
                CountDownLatch innerStarted = new CountDownLatch(1);
                inner.go(
                    ic -> {
                      innerStarted.countDown();
                      awaitUninterruptibly(release);
                      throw rollback;
                    });
                awaitUninterruptibly(innerStarted); // running: the parent's cancel will not skip it
                started.countDown();
                awaitUninterruptibly(cDone); // the outer's context ended: so did the inner's
                inner.go(ic -> null); // skipped: the inner group's first failure is the echo
                release.countDown();
                awaitUninterruptibly(outerEchoRecorded);
                Thread.interrupted(); // the outer group's interrupt: let await() wait
                try {
                  inner.await();
                } catch (Throwable t) {
                  innerThrew.set(t);
                  throw t;
                }
                return null;
              }
            });
        assertTrue(started.await(10, TimeUnit.SECONDS));
        parent.cancel(new IllegalStateException("shutting down"));
        outer.go(c -> null); // skipped: the outer group's first failure is the echo
        outerEchoRecorded.countDown();
        TaskGroupException e = assertThrows(TaskGroupException.class, outer::await);
        boolean found = false;
        for (Throwable f : outer.failures()) {
          found |= reachable(f).contains(rollback);
        }
        found |= reachable(e).contains(rollback);
        assertTrue(
            found,
            (nested ? "thrown in a nested group" : "thrown by the task itself")
                + ": the rollback's failure is nowhere in the outer group's report; failures() = "
                + outer.failures()
                + ", await() threw "
                + e
                + " suppressed "
                + List.of(e.getSuppressed())
                + "; the nested group's await() threw "
                + innerThrew.get()
                + (innerThrew.get() == null
                    ? ""
                    : " suppressed " + List.of(innerThrew.get().getSuppressed())));
      }
    }
  }

  /**
   * A sibling fails; then a task's own call, made under a context of its own (another service's
   * deadline, nothing to do with the group's), fails with that context's DeadlineExceededException,
   * which the task gets through get(): ExecutionException(DeadlineExceededException). That is no
   * echo of the group's cancellation, but the rule looked only at the cause's type. Control: the
   * ExecutionException of an IOException is kept as a later failure.
   */
  @Test
  void anotherContextsDeadlineThroughGetIsNotAnEcho() throws Exception {
    List<String> dropped = new ArrayList<>();
    for (String row : new String[] {
          "IOException",
          "another context's deadline",
          "bare: another context's deadline (before 68b36e4 too)"
        }) {
      IllegalArgumentException first = new IllegalArgumentException("bad input");
      AtomicReference<Throwable> thrown = new AtomicReference<>();
      try (TaskGroup g = TaskGroup.open(Context.background())) {
        CountDownLatch started = new CountDownLatch(1);
        g.go(
            c -> {
              CountDownLatch cDone = doneLatch(c);
              started.countDown();
              awaitUninterruptibly(cDone); // the sibling's failure is recorded
              CompletableFuture<String> reply = new CompletableFuture<>();
              if (row.startsWith("IO")) {
                reply.completeExceptionally(new IOException("payment service: connection reset"));
              } else {
                CancelableContext call =
                    Context.withTimeout(Context.background(), Duration.ofMillis(20));
                Futures.cancelWhenDone(call, reply);
                try {
                  reply.join(); // uninterruptible: ends at the call's own deadline
                } catch (CancellationException expected) {
                  if (row.startsWith("bare")) { // thrown as is, no wrapper (JDK 25 adds one)
                    Throwable bare =
                        expected instanceof DeadlineExceededException
                            ? expected
                            : expected.getCause();
                    thrown.set(bare);
                    throw (Exception) bare;
                  }
                }
              }
              try {
                return reply.thenApply(String::length).get(); // done: get() does not wait
              } catch (Throwable t) {
                thrown.set(t);
                throw t;
              }
            });
        assertTrue(started.await(10, TimeUnit.SECONDS));
        g.go(
            c -> {
              throw first;
            });
        TaskGroupException e = assertThrows(TaskGroupException.class, g::await);
        assertSame(first, e.getCause());
        if (row.startsWith("bare")) {
          assertInstanceOf(DeadlineExceededException.class, thrown.get());
        } else if (row.startsWith("another")) {
          assertInstanceOf(ExecutionException.class, thrown.get());
          assertInstanceOf(DeadlineExceededException.class, thrown.get().getCause());
        }
        if (!g.failures().contains(thrown.get())) {
          dropped.add(row + ": " + thrown.get() + " not among " + g.failures());
        }
      }
    }
    assertEquals(List.of(), dropped, "a later task failure dropped");
  }

  /**
   * Cause cycles thrown once the context is done must not hang the group: an ExecutionException
   * whose cause, the context's error, has it as its own cause (an echo), and one whose cause chain
   * loops through plain exceptions (a failure).
   */
  @Test
  void aCauseCycleDoesNotHang() throws Exception {
    for (boolean throughContextError : new boolean[] {true, false}) {
      IllegalStateException why = new IllegalStateException("shutting down");
      CountDownLatch started = new CountDownLatch(1);
      AtomicReference<Throwable> thrown = new AtomicReference<>();
      try (CancelableContext parent = Context.withCancelCause(Context.background());
          TaskGroup g = TaskGroup.open(parent)) {
        g.go(
            c -> {
              CountDownLatch cDone = doneLatch(c);
              started.countDown();
              awaitUninterruptibly(cDone);
              ExecutionException a = new ExecutionException("a") {};
              Throwable b =
                  throughContextError ? c.err().copy(a) : new RuntimeException("b", a);
              a.initCause(b);
              thrown.set(a);
              throw a;
            });
        assertTrue(started.await(10, TimeUnit.SECONDS));
        parent.cancel(why);
        TaskGroupException e = assertThrows(TaskGroupException.class, g::await);
        // Reported as the echo or as the failure thrown: either way, reported, and no hang.
        assertTrue(
            e.getCause() instanceof CanceledException || e.getCause() == thrown.get(),
            "" + e.getCause());
        assertTrue(e.getMessage().length() > 0);
        java.io.StringWriter w = new java.io.StringWriter();
        e.printStackTrace(new java.io.PrintWriter(w));
        assertTrue(w.toString().contains("CIRCULAR REFERENCE"), w.toString());
      }
    }
  }
}
