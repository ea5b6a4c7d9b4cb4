package io.ctx4j.taskgroup;

import io.ctx4j.Key;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.Registration;
import io.ctx4j.TimeSource;
import io.ctx4j.internal.CoreInternals;
import java.time.Instant;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
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

  /** What a task does once the group's context has ended; what it throws is judged. */
  interface Body {
    void run(Context c) throws Exception;
  }

  /** A timer that fires only when told: a loaded timer thread, deterministically. */
  static final class HeldClock implements TimeSource {
    private volatile Instant now = Instant.parse("2040-01-01T00:00:00Z");
    private final List<Runnable> due = new CopyOnWriteArrayList<>();

    @Override
    public Instant now() {
      return now;
    }

    @Override
    public Registration schedule(Instant deadline, Runnable action) {
      due.add(action);
      return () -> due.remove(action);
    }

    void pass(Duration d) {
      now = now.plus(d);
    }

    void fireLastFirst() {
      List<Runnable> all = new ArrayList<>(due);
      Collections.reverse(all);
      for (Runnable r : all) {
        due.remove(r);
        r.run();
      }
    }

    void fire() {
      for (Runnable r : due) {
        due.remove(r);
        r.run();
      }
    }
  }

  /** How the group's context ends: returns the parent; end(parent) ends it. */
  interface Ending {
    CancelableContext parent();

    void end(CancelableContext parent);
  }

  static final Key<String> K = Key.named("k");

  /** An ending by a parent of {@code withCancelCause(background())}, named {@code name}. */
  static Ending ending(String name, java.util.function.Consumer<CancelableContext> end) {
    return new Ending() {
      @Override
      public CancelableContext parent() {
        return Context.withCancelCause(Context.background());
      }

      @Override
      public void end(CancelableContext p) {
        end.accept(p);
      }

      @Override
      public String toString() {
        return name;
      }
    };
  }

  /** A sibling's real failure ends the group (cause: that failure); row() throws it. */
  static Ending byFailure() {
    return ending(
        "a sibling's failure",
        p -> {
          throw new UnsupportedOperationException("handled in row()");
        });
  }

  static Ending byCancel() {
    return ending("parent.cancel()", p -> p.cancel());
  }

  static Ending byCancelCause() {
    return ending(
        "parent.cancel(cause)", p -> p.cancel(new IllegalStateException("shutting down")));
  }


  static Ending byDeadline(boolean withCause) {
    ManualTimeSource clock = ManualTimeSource.startingAt(Instant.parse("2040-01-01T00:00:00Z"));
    return new Ending() {
      public CancelableContext parent() {
        Context base = Context.withTimeSource(Context.background(), clock);
        return withCause
            ? Context.withTimeoutCause(
                base, Duration.ofSeconds(1), new IllegalStateException("request budget spent"))
            : Context.withTimeout(base, Duration.ofSeconds(1));
      }

      public void end(CancelableContext p) {
        clock.advance(Duration.ofSeconds(2));
      }

      public String toString() {
        return withCause ? "parent deadline with a cause" : "parent deadline";
      }
    };
  }

  /**
   * Runs one row: the group ends per {@code ending}; the group's first failure is the skipped
   * task's echo; then {@code body} runs (in a task started before the end) and throws. Returns
   * failures() after await.
   */
  static List<Throwable> row(Ending ending, Body body) throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch firstRecorded = new CountDownLatch(1);
    try (CancelableContext parent = ending.parent();
        TaskGroup g = TaskGroup.open(parent)) {
      g.go(
          c -> {
            CountDownLatch cDone = doneLatch(c);
            started.countDown();
            awaitUninterruptibly(cDone);
            awaitUninterruptibly(firstRecorded);
            Thread.interrupted(); // the group's interrupt: let the body block if it needs to
            body.run(c);
            return null;
          });
      assertTrue(started.await(10, TimeUnit.SECONDS));
      if (ending.toString().equals("a sibling's failure")) {
        g.go(
            c -> {
              throw new IllegalArgumentException("bad input");
            });
        awaitUninterruptibly(doneLatch(g.context()));
      } else {
        ending.end(parent);
        assertTrue(g.context().isDone(), "group context done");
        g.go(c -> null); // skipped: the echo is the group's first failure
      }
      firstRecorded.countDown();
      assertThrows(TaskGroupException.class, g::await);
      return g.failures();
    }
  }

  static final class Closing implements AutoCloseable {
    final IOException failure = new IOException("flush on close failed");

    @Override
    public void close() throws IOException {
      throw failure;
    }
  }

  static void innerGroupAwaitUninterruptibly(Context c) throws Exception {
    try (TaskGroup inner = TaskGroup.open(c)) {
      inner.go(ic -> null); // skipped: inner's first failure is the echo
      while (true) {
        try {
          inner.await();
          return;
        } catch (InterruptedException e) {
          // keep waiting
        }
      }
    }
  }

  /** Echo candidates: the group's end seen through ctx4j's own APIs. None should be kept. */
  @Test
  void pureEchoesAreNotReportedAsFailures() throws Exception {
    List<String> wrong = new ArrayList<>();
    List<Function<Void, Ending>> endings =
        List.of(
            v -> byFailure(),
            v -> byCancel(), v -> byCancelCause(), v -> byDeadline(false), v -> byDeadline(true));
    for (Function<Void, Ending> mk : endings) {
      String[] names = {
        "c.throwIfDone()",
        "throw c.err()",
        "withTimeout(c,1h).throwIfDone()",
        "withCancel(c).throwIfDone()",
        "withValue(c).throwIfDone()",
        "cancelWhenDone(c,cf); cf.join()",
        "cancelWhenDone(c,cf); cf.get()",
        "cancelWhenDone(c,cf); cf.thenApply(..).join()",
        "cancelWhenDone(c,cf); cf.thenApply(..).get()",
        "contextOf(c, never).throwIfDone()",
        "nested group cleanly cancelled",
        "parent.throwIfDone()",
        "Blocking.sleep(c, 1h)",
        "Blocking.get(c, never)",
        "Blocking.take(c, emptyQueue)",
        "Tasks.start(c, ..).join()",
        "Tasks.start(c, ..).get()",
        "ContextExecutorService.wrap(pool).submit(c, ..).get()",
        "Closer.call(c, socket, body failing with the close's IOException)",
      };
      for (int i = 0; i < names.length; i++) {
        Ending ending = mk.apply(null);
        int row = i;
        final CancelableContext[] parentRef = new CancelableContext[1];
        Body body =
            c -> {
              switch (row) {
                case 0:
                  c.throwIfDone();
                  break;
                case 1:
                  throw c.err();
                case 2:
                  Context.withTimeout(c, Duration.ofHours(1)).throwIfDone();
                  break;
                case 3:
                  Context.withCancel(c).throwIfDone();
                  break;
                case 4:
                  Context.withValue(c, K, "v").throwIfDone();
                  break;
                case 5:
                  {
                    CompletableFuture<String> cf = new CompletableFuture<>();
                    Futures.cancelWhenDone(c, cf);
                    cf.join();
                    break;
                  }
                case 6:
                  {
                    CompletableFuture<String> cf = new CompletableFuture<>();
                    Futures.cancelWhenDone(c, cf);
                    cf.get();
                    break;
                  }
                case 7:
                  {
                    CompletableFuture<String> cf = new CompletableFuture<>();
                    Futures.cancelWhenDone(c, cf);
                    cf.thenApply(s -> s + "!").join();
                    break;
                  }
                case 8:
                  {
                    CompletableFuture<String> cf = new CompletableFuture<>();
                    Futures.cancelWhenDone(c, cf);
                    cf.thenApply(s -> s + "!").get();
                    break;
                  }
                case 9:
                  Futures.contextOf(c, new CompletableFuture<>()).throwIfDone();
                  break;
                case 10:
                  innerGroupAwaitUninterruptibly(c);
                  break;
                case 11:
                  parentRef[0].throwIfDone();
                  break;
                case 12:
                  io.ctx4j.concurrent.Blocking.sleep(c, Duration.ofHours(1));
                  break;
                case 13:
                  io.ctx4j.concurrent.Blocking.get(c, new CompletableFuture<String>());
                  break;
                case 14:
                  io.ctx4j.concurrent.Blocking.take(
                      c, new java.util.concurrent.LinkedBlockingQueue<String>());
                  break;
                case 15:
                  io.ctx4j.concurrent.Tasks.start(c, () -> "x").join();
                  break;
                case 16:
                  io.ctx4j.concurrent.Tasks.start(c, () -> "x").get();
                  break;
                case 17:
                  {
                    java.util.concurrent.ExecutorService pool =
                        java.util.concurrent.Executors.newSingleThreadExecutor();
                    try {
                      io.ctx4j.concurrent.ContextExecutorService ces =
                          io.ctx4j.concurrent.ContextExecutorService.wrap(pool);
                      ces.submit(c, () -> "x").get();
                    } finally {
                      pool.shutdownNow();
                    }
                    break;
                  }
                case 18:
                  io.ctx4j.concurrent.Closer.call(
                      c,
                      () -> {},
                      () -> {
                        throw new java.net.SocketException("Socket closed");
                      });
                  break;
                default:
                  throw new AssertionError();
              }
              throw new AssertionError("row " + row + " did not throw");
            };
        CancelableContext p0 = ending.parent();
        // row() makes its own parent: route parent.throwIfDone() to it.
        Ending routed =
            new Ending() {
              public CancelableContext parent() {
                parentRef[0] = p0;
                return p0;
              }

              public void end(CancelableContext p) {
                ending.end(p);
              }

              public String toString() {
                return ending.toString();
              }
            };
        if (i == 11 && ending.toString().equals("a sibling's failure")) {
          continue; // the parent is not done there
        }
        List<Throwable> failures = row(routed, body);
        if (failures.size() != 1) {
          wrong.add(
              ending
                  + " / "
                  + names[i]
                  + ": kept as a failure: "
                  + failures.subList(1, failures.size()));
        }
      }
    }
    assertTrue(
        wrong.isEmpty(), "pure echoes reported as failures:\n  " + String.join("\n  ", wrong));
  }

  /**
   * A task's HTTP client (ctx4j-okhttp, ContextHttp) refuses a request whose deadline has passed
   * before the timer fired: CoreInternals.endOf gives DEADLINE_EXCEEDED.copy(null). The timer then
   * fires (the group's context ends by that very deadline) and the task throws the refusal. Before
   * 7d1329e: an echo. Now, for a deadline with a cause (withTimeoutCause), a failure.
   */
  @Test
  void aRefusalInTheDeadlineWindowIsAnEchoOfThatDeadline() throws Exception {
    List<String> wrong = new ArrayList<>();
    for (boolean withCause : new boolean[] {false, true}) {
      HeldClock clock = new HeldClock();
      Context base = Context.withTimeSource(Context.background(), clock);
      CountDownLatch refused = new CountDownLatch(1);
      CountDownLatch firstRecorded = new CountDownLatch(1);
      try (CancelableContext parent =
              withCause
                  ? Context.withTimeoutCause(
                      base, Duration.ofSeconds(1), new IllegalStateException("budget spent"))
                  : Context.withTimeout(base, Duration.ofSeconds(1));
          TaskGroup g = TaskGroup.open(parent)) {
        CountDownLatch start = new CountDownLatch(1);
        g.go(
            c -> {
              CountDownLatch cDone = doneLatch(c);
              awaitUninterruptibly(start);
              RuntimeException refusal = CoreInternals.endOf(c); // what the client throws
              assertTrue(refusal != null && !c.isDone(), "in the window");
              refused.countDown();
              awaitUninterruptibly(cDone);
              awaitUninterruptibly(firstRecorded);
              throw refusal;
            });
        clock.pass(Duration.ofSeconds(2));
        start.countDown();
        assertTrue(refused.await(10, TimeUnit.SECONDS));
        clock.fire(); // the timer, late: the group's context ends by its deadline
        assertTrue(g.context().isDone());
        g.go(c -> null); // skipped: the echo is first
        firstRecorded.countDown();
        assertThrows(TaskGroupException.class, g::await);
        if (g.failures().size() != 1) {
          wrong.add(
              (withCause ? "withTimeoutCause" : "withTimeout")
                  + ": the deadline's own refusal kept as a failure: "
                  + g.failures().get(1)
                  + " cause="
                  + g.failures().get(1).getCause()
                  + "; group cause="
                  + g.context().cause());
        }
      }
    }
    assertTrue(wrong.isEmpty(), String.join("\n", wrong));
  }

  /**
   * A try-with-resources whose close() fails while the body rethrows the group's end: the close
   * failure is suppressed on what the body threw. The rule's first version kept it when that was a
   * JDK wrapper and dropped it when the body threw the context error itself, and cf.join() throws
   * the error bare on JDK 17 and wrapped on 25: one program, two outcomes. Now it is treated alike
   * whatever the wrapper (an echo, as before that version).
   */
  @Test
  void aCloseFailureSuppressedOnTheEchoIsTreatedAlikeWhateverTheWrapper() throws Exception {
    List<String> wrong = new ArrayList<>();
    String[] names = {"c.throwIfDone()", "cf.join()", "cf.thenApply(..).join()"};
    for (int i = 0; i < names.length; i++) {
      int row = i;
      Closing[] res = new Closing[1];
      List<Throwable> failures =
          row(
              byCancel(),
              c -> {
                CompletableFuture<String> cf = new CompletableFuture<>();
                Futures.cancelWhenDone(c, cf);
                try (Closing r = new Closing()) {
                  res[0] = r;
                  if (row == 0) {
                    c.throwIfDone();
                  } else if (row == 1) {
                    cf.join();
                  } else {
                    cf.thenApply(s -> s).join();
                  }
                }
              });
      boolean kept = false;
      for (Throwable f : failures) {
        kept |= reachable(f).contains(res[0].failure);
      }
      wrong.add(
          names[i]
              + " -> close failure "
              + (kept ? "KEPT" : "DROPPED")
              + " (failures()="
              + failures
              + ")");
    }
    String all = String.join("\n  ", wrong);
    assertTrue(
        !all.contains("DROPPED") || !all.contains("KEPT"),
        "java " + Runtime.version() + ": treated differently:\n  " + all);
  }

  /**
   * A task's call states the group's deadline again (a deadline read off the wire, or
   * withDeadline(c, c.deadline().get())): not earlier than the parent's, so the child gets a timer
   * of its own, which may fire first at that same instant. The task sees the child's end once the
   * group's context has ended by the same deadline.
   */
  @Test
  void aChildWithTheGroupsOwnDeadlineWhoseTimerFiresFirstIsAnEcho() throws Exception {
    HeldClock clock = new HeldClock();
    Context base = Context.withTimeSource(Context.background(), clock);
    CountDownLatch childMade = new CountDownLatch(1);
    CountDownLatch firstRecorded = new CountDownLatch(1);
    try (CancelableContext parent =
            Context.withTimeoutCause(
                base, Duration.ofSeconds(1), new IllegalStateException("budget spent"));
        TaskGroup g = TaskGroup.open(parent)) {
      g.go(
          c -> {
            CountDownLatch cDone = doneLatch(c);
            Context call = Context.withDeadline(c, c.deadline().get());
            childMade.countDown();
            awaitUninterruptibly(cDone);
            awaitUninterruptibly(firstRecorded);
            call.throwIfDone();
            return null;
          });
      assertTrue(childMade.await(10, TimeUnit.SECONDS));
      clock.pass(Duration.ofSeconds(1));
      clock.fireLastFirst(); // the call's timer, then the group's
      assertTrue(g.context().isDone());
      g.go(c -> null);
      firstRecorded.countDown();
      assertThrows(TaskGroupException.class, g::await);
      assertTrue(
          g.failures().size() == 1,
          "the same deadline's end kept as a failure: "
              + g.failures()
              + " group cause="
              + g.context().cause());
    }
  }

  /**
   * Work a task hands to a ForkJoinPool (a parallel stream, commonPool().submit) that checks the
   * group's context: ForkJoinTask.join()/get() on another thread rethrow what the worker threw as a
   * new exception of the same class made by its (Throwable) constructor, the original as its cause:
   * CanceledException(CanceledException(cause)). Before 7d1329e any ContextException was an echo.
   */
  @Test
  void theGroupsEndRethrownByForkJoinIsAnEcho() throws Exception {
    List<String> wrong = new ArrayList<>();
    String[] names = {
      "commonPool().submit(c::throwIfDone).join()",
      "commonPool().submit(c::throwIfDone).get()",
      "IntStream.parallel().forEach(x -> c.throwIfDone() on a worker)",
    };
    for (Function<Void, Ending> mk :
        List.<Function<Void, Ending>>of(
            v -> byCancel(), v -> byCancelCause(), v -> byDeadline(false))) {
      for (int i = 0; i < names.length; i++) {
        int row = i;
        Ending ending = mk.apply(null);
        Throwable[] thrown = new Throwable[1];
        List<Throwable> failures =
            row(
                ending,
                c -> {
                  try {
                    if (row < 2) {
                      // Taken by a worker before we join, so the join cannot run it itself.
                      CountDownLatch taken = new CountDownLatch(1);
                      java.util.concurrent.ForkJoinTask<?> f =
                          java.util.concurrent.ForkJoinPool.commonPool()
                              .submit(
                                  () -> {
                                    taken.countDown();
                                    c.throwIfDone();
                                  });
                      awaitUninterruptibly(taken);
                      Thread.interrupted();
                      if (row == 0) {
                        f.join();
                      } else {
                        f.get();
                      }
                    } else {
                      // Only the pool's workers check; the caller's share waits for one of them.
                      CountDownLatch workerThrew = new CountDownLatch(1);
                      java.util.stream.IntStream.range(0, 10_000)
                          .parallel()
                          .forEach(
                              x -> {
                                if (Thread.currentThread()
                                    instanceof java.util.concurrent.ForkJoinWorkerThread) {
                                  workerThrew.countDown();
                                  c.throwIfDone();
                                } else {
                                  awaitUninterruptibly(workerThrew);
                                }
                              });
                    }
                  } catch (Throwable t) {
                    thrown[0] = t;
                    throw t;
                  }
                });
        if (failures.size() != 1) {
          Throwable t = thrown[0];
          wrong.add(
              ending
                  + " / "
                  + names[i]
                  + ": kept as a failure: "
                  + t
                  + " <- "
                  + t.getCause()
                  + " <- "
                  + (t.getCause() == null ? null : t.getCause().getCause()));
        }
      }
    }
    assertTrue(
        wrong.isEmpty(),
        "java "
            + Runtime.version()
            + ": pure echoes reported as failures:\n  "
            + String.join("\n  ", wrong));
  }
}
