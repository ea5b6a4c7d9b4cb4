package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.Key;
import io.ctx4j.ManualTimeSource;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.RejectedExecutionHandler;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class ContextExecutorServiceTest {
  private static final Key<String> USER = Key.of("user", String.class);
  private ContextExecutorService pool;

  @BeforeEach
  void singleWorker() {
    pool = ContextExecutorService.wrap(Executors.newSingleThreadExecutor());
  }

  @AfterEach
  void shutDown() throws Exception {
    pool.shutdownNow();
    assertTrue(pool.awaitTermination(Duration.ofSeconds(10)));
  }

  /** The worker thread must never be handed back interrupted. */
  private void assertWorkerNotInterrupted() throws Exception {
    assertFalse(pool.delegate().submit(() -> Thread.currentThread().isInterrupted()).get(10, TimeUnit.SECONDS));
  }

  @Test
  void aTaskSeesItsContextAsTheCurrentOne() throws Exception {
    Context ctx = Context.withValue(Context.background(), USER, "ada");
    CompletableFuture<Context> seen = pool.submit(ctx, CurrentContext::get);
    Context inside = seen.get(10, TimeUnit.SECONDS);
    assertNotSame(ctx, inside, "a child of its own, so the task can be stopped alone");
    assertEquals("ada", inside.value(USER));
    assertTrue(inside.isDone(), "the task's context is released when the task ends");
  }

  @Test
  void aTaskWhoseContextEndedBeforeItStartedNeverRuns() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    pool.delegate().submit(() -> release.await(60, TimeUnit.SECONDS)); // keeps the only worker busy
    AtomicInteger ran = new AtomicInteger();
    CancelableContext ctx = Context.withCancel(Context.background());
    CompletableFuture<Void> f = pool.submit(ctx, (Runnable) ran::incrementAndGet);
    ctx.cancel();
    assertThrows(CanceledException.class, () -> f.get(10, TimeUnit.SECONDS));
    release.countDown();
    assertWorkerNotInterrupted();
    assertEquals(0, ran.get());
  }

  @Test
  void aTaskSubmittedUnderADoneContextNeverRuns() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    ctx.cancel();
    AtomicInteger ran = new AtomicInteger();
    CompletableFuture<Void> f = pool.submit(ctx, (Runnable) ran::incrementAndGet);
    assertTrue(f.isCompletedExceptionally());
    assertWorkerNotInterrupted();
    assertEquals(0, ran.get());
  }

  /**
   * The deadline passes once the task runs (a manual clock advanced when the task has started):
   * with a real 50 ms timeout a loaded machine could pass it while the task was still queued, and
   * a task that never starts is never interrupted.
   */
  @Test
  void aRunningTaskIsInterruptedAndItsFutureCarriesTheDeadline() throws Exception {
    CountDownLatch interrupted = new CountDownLatch(1);
    CountDownLatch started = new CountDownLatch(1);
    ManualTimeSource clock = ManualTimeSource.startingAt(Instant.parse("2026-01-01T00:00:00Z"));
    try (CancelableContext ctx =
        Context.withTimeout(
            Context.withTimeSource(Context.background(), clock), Duration.ofSeconds(1))) {
      CompletableFuture<String> f =
          pool.submit(
              ctx,
              () -> {
                started.countDown();
                try {
                  Thread.sleep(60_000);
                  return "slept";
                } catch (InterruptedException e) {
                  interrupted.countDown();
                  throw e;
                }
              });
      assertTrue(started.await(10, TimeUnit.SECONDS), "the task never started");
      clock.advance(Duration.ofSeconds(1));
      assertThrows(DeadlineExceededException.class, () -> f.get(10, TimeUnit.SECONDS));
      assertTrue(interrupted.await(10, TimeUnit.SECONDS), "the running task was not interrupted");
    }
    assertWorkerNotInterrupted();
  }

  @Test
  void theFutureCompletesWithTheContextErrorWithoutWaitingForAStubbornBody() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch letGo = new CountDownLatch(1);
    IllegalStateException why = new IllegalStateException("client went away");
    CancelableContext ctx = Context.withCancel(Context.background());
    CompletableFuture<String> f =
        pool.submit(
            ctx,
            () -> {
              started.countDown();
              while (true) {
                try {
                  letGo.await(); // ignores interruption on purpose
                  return "late";
                } catch (InterruptedException ignored) {
                  // stubborn
                }
              }
            });
    assertTrue(started.await(10, TimeUnit.SECONDS));
    ctx.cancel(why);
    CanceledException e = assertThrows(CanceledException.class, () -> f.get(10, TimeUnit.SECONDS));
    assertSame(why, e.getCause());
    letGo.countDown();
    assertWorkerNotInterrupted();
    assertTrue(f.isCompletedExceptionally(), "the late result does not replace the error");
  }

  @Test
  void cancellingTheFutureInterruptsTheTask() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch interrupted = new CountDownLatch(1);
    CompletableFuture<Object> f =
        pool.submit(
            Context.background(),
            () -> {
              started.countDown();
              try {
                return new CountDownLatch(1).await(60, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                interrupted.countDown();
                throw e;
              }
            });
    assertTrue(started.await(10, TimeUnit.SECONDS));
    assertTrue(f.cancel(false));
    assertTrue(interrupted.await(10, TimeUnit.SECONDS));
    assertThrows(CancellationException.class, f::get);
    assertWorkerNotInterrupted();
  }

  @Test
  void failuresAndRejectionsAreReported() throws Exception {
    CompletableFuture<Object> f =
        pool.submit(
            Context.background(),
            () -> {
              throw new java.io.IOException("disk");
            });
    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
    assertTrue(e.getCause() instanceof java.io.IOException);
    pool.shutdown();
    assertThrows(RejectedExecutionException.class, () -> pool.submit(Context.background(), () -> 1));
  }

  @Test
  void theCurrentContextIsUsedWhenNoneIsGiven() throws Exception {
    Context ctx = Context.withValue(Context.background(), USER, "grace");
    CompletableFuture<String> f =
        CurrentContext.call(ctx, () -> pool.submit(() -> CurrentContext.get().value(USER)));
    assertEquals("grace", f.get(10, TimeUnit.SECONDS));
  }

  @Test
  void aTaskFinishingAsItsContextEndsHasExactlyOneOutcomeAndLeavesNoInterrupt() throws Exception {
    CyclicBarrier barrier = new CyclicBarrier(2);
    for (int i = 0; i < Races.ITERATIONS; i++) {
      CancelableContext ctx = Context.withCancel(Context.background());
      CompletableFuture<String> f =
          pool.submit(
              ctx,
              () -> {
                barrier.await(10, TimeUnit.SECONDS);
                return "value";
              });
      barrier.await(10, TimeUnit.SECONDS);
      ctx.cancel();
      try {
        assertEquals("value", f.get(10, TimeUnit.SECONDS));
      } catch (CanceledException expected) {
        // the other allowed outcome
      }
      assertTrue(f.isDone());
      assertWorkerNotInterrupted();
    }
  }

  @Test
  void tasksStartOnTheirOwnThreadVirtualFrom21() throws Exception {
    CompletableFuture<Thread> f = Tasks.start(Context.background(), Thread::currentThread);
    Thread t = f.get(10, TimeUnit.SECONDS);
    assertEquals(Runtime.version().feature() >= 21, Tasks.virtualThreads());
    assertTrue(t.getName().startsWith("ctx4j-task-"));
    CountDownLatch interrupted = new CountDownLatch(1);
    try (CancelableContext ctx = Context.withCancel(Context.background())) {
      CountDownLatch started = new CountDownLatch(1);
      CompletableFuture<Void> g =
          Tasks.start(
              ctx,
              () -> {
                started.countDown();
                try {
                  Thread.sleep(60_000);
                } catch (InterruptedException e) {
                  interrupted.countDown();
                }
              });
      assertTrue(started.await(10, TimeUnit.SECONDS));
      ctx.cancel();
      assertThrows(CanceledException.class, () -> g.get(10, TimeUnit.SECONDS));
      assertTrue(interrupted.await(10, TimeUnit.SECONDS));
    }
  }

  @Test
  void badArgumentsAreNamed() {
    assertEquals(
        "ctx",
        assertThrows(NullPointerException.class, () -> pool.submit((Context) null, () -> 1)).getMessage());
    assertEquals(
        "task",
        assertThrows(
                NullPointerException.class, () -> Tasks.start(Context.background(), (Runnable) null))
            .getMessage());
  }

  /**
   * A ThreadPoolExecutor whose rejection policy drops a task without a word (the JDK's DiscardPolicy
   * and DiscardOldestPolicy) is refused when wrapped, with an IllegalArgumentException naming the
   * policy. The service cannot see a discard: the dropped task's future never completed, and the
   * task stayed on its context and in the service's set of pending tasks until shutdownNow() or the
   * context's end, one more for each task dropped, on a long-lived service under load. The policies
   * that throw or run the task are accepted (guards).
   */
  @Test
  void wrappingAPoolThatDropsRefusedTasksWithoutAWordIsRefused() {
    List<String> wrong = new ArrayList<>();
    List<RejectedExecutionHandler> handlers =
        List.of(
            new ThreadPoolExecutor.DiscardPolicy(),
            new ThreadPoolExecutor.DiscardOldestPolicy(),
            new ThreadPoolExecutor.DiscardPolicy() {}, // a subclass
            new ThreadPoolExecutor.AbortPolicy(),
            new ThreadPoolExecutor.CallerRunsPolicy());
    for (RejectedExecutionHandler handler : handlers) {
      for (boolean scheduled : new boolean[] {false, true}) {
        ThreadPoolExecutor tpe =
            scheduled
                ? new ScheduledThreadPoolExecutor(1, handler)
                : new ThreadPoolExecutor(
                    1, 1, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>(1), handler);
        String row = (scheduled ? "STPE " : "TPE ") + handler.getClass().getName();
        boolean drops =
            handler instanceof ThreadPoolExecutor.DiscardPolicy
                || handler instanceof ThreadPoolExecutor.DiscardOldestPolicy;
        try {
          ContextExecutorService.wrap(tpe);
          if (drops) {
            wrong.add(row + ": accepted");
          }
        } catch (IllegalArgumentException e) {
          String name = handler.getClass().getName();
          if (!drops) {
            wrong.add(row + ": refused");
          } else if (!e.getMessage().contains(name) || !e.getMessage().contains("AbortPolicy")) {
            wrong.add(row + ": message " + e.getMessage());
          }
        } finally {
          tpe.shutdownNow();
        }
      }
    }
    assertEquals(List.of(), wrong, "wrapping pools by rejection policy");
  }

  /**
   * invokeAll and invokeAny check their arguments before handing any task over, and name what is
   * wrong. AbstractExecutorService's threw a bare NullPointerException or IllegalArgumentException,
   * and found a null element only once the tasks before it were handed to the executor (the call
   * failed, but they had been queued, and could have run).
   */
  @Test
  void invokeAllAndInvokeAnyNameBadArgumentsBeforeHandingOverAnyTask() throws Exception {
    AtomicInteger handedOver = new AtomicInteger();
    ContextExecutorService counting =
        ContextExecutorService.wrap(
            new java.util.concurrent.ThreadPoolExecutor(
                1, 1, 0, TimeUnit.SECONDS, new java.util.concurrent.LinkedBlockingQueue<>()) {
              @Override
              public void execute(Runnable command) {
                handedOver.incrementAndGet();
                super.execute(command);
              }
            });
    CountDownLatch release = new CountDownLatch(1);
    try {
      Stalls.worker(counting.delegate(), release); // the tasks would stay queued, not run
      handedOver.set(0);
      List<Callable<Integer>> withNull = java.util.Arrays.asList(() -> 1, null);
      List<Callable<Integer>> one = List.of(() -> 1);
      List<String> wrong = new java.util.ArrayList<>();
      List<Callable<?>> calls =
          List.of(
              () -> counting.invokeAll(null),
              () -> counting.invokeAll(null, 1, TimeUnit.SECONDS),
              () -> counting.invokeAll(withNull),
              () -> counting.invokeAll(withNull, 1, TimeUnit.SECONDS),
              () -> counting.invokeAll(one, 1, null),
              () -> counting.invokeAny(null),
              () -> counting.invokeAny(null, 1, TimeUnit.SECONDS),
              () -> counting.invokeAny(List.of()),
              () -> counting.invokeAny(List.of(), 1, TimeUnit.SECONDS),
              () -> counting.invokeAny(withNull),
              () -> counting.invokeAny(withNull, 1, TimeUnit.SECONDS),
              () -> counting.invokeAny(one, 1, null));
      List<String> expected =
          List.of(
              "NullPointerException: tasks",
              "NullPointerException: tasks",
              "NullPointerException: tasks[1]",
              "NullPointerException: tasks[1]",
              "NullPointerException: unit",
              "NullPointerException: tasks",
              "NullPointerException: tasks",
              "IllegalArgumentException: tasks is empty",
              "IllegalArgumentException: tasks is empty",
              "NullPointerException: tasks[1]",
              "NullPointerException: tasks[1]",
              "NullPointerException: unit");
      for (int i = 0; i < calls.size(); i++) {
        Callable<?> call = calls.get(i);
        Exception e = assertThrows(Exception.class, call::call, "call " + i);
        String got = e.getClass().getSimpleName() + ": " + e.getMessage();
        int queued = handedOver.getAndSet(0);
        if (!got.equals(expected.get(i)) || queued != 0) {
          wrong.add("call " + i + ": " + got + (queued != 0 ? " after handing over " + queued : ""));
        }
      }
      assertEquals(List.of(), wrong, "bad arguments of invokeAll and invokeAny");
    } finally {
      release.countDown();
      counting.shutdownNow();
      assertTrue(counting.awaitTermination(Duration.ofSeconds(10)));
    }
  }

  @Test
  void asAnExecutorServiceItsTasksRunUnderTheSubmittersCurrentContext() throws Exception {
    ExecutorService plain = pool;
    Context ctx = Context.withValue(Context.background(), USER, "grace");
    List<Future<String>> results =
        CurrentContext.call(
            ctx,
            () ->
                plain.invokeAll(
                    List.of(() -> CurrentContext.get().value(USER), () -> "second"),
                    10,
                    TimeUnit.SECONDS));
    assertEquals("grace", results.get(0).get());
    assertEquals("second", results.get(1).get());
    CountDownLatch ran = new CountDownLatch(1);
    AtomicReference<String> seen = new AtomicReference<>();
    CurrentContext.run(
        ctx,
        () ->
            plain.execute(
                () -> {
                  seen.set(CurrentContext.get().value(USER));
                  ran.countDown();
                }));
    assertTrue(ran.await(10, TimeUnit.SECONDS));
    assertEquals("grace", seen.get());
  }

  @Test
  @Timeout(60) // the failure this guards against is invokeAll waiting forever
  void invokeAllUnderAnEndedContextReturnsCancelledFuturesInsteadOfHanging() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    ctx.cancel();
    AtomicInteger ran = new AtomicInteger();
    List<Callable<Integer>> tasks = List.of(ran::incrementAndGet, ran::incrementAndGet);
    List<Future<Integer>> results = CurrentContext.call(ctx, () -> pool.invokeAll(tasks));
    for (Future<Integer> f : results) {
      assertTrue(f.isCancelled());
    }
    assertEquals(0, ran.get());
  }

  @Test
  void anExceptionFromAnExecutedTaskReachesTheUncaughtExceptionHandler() throws Exception {
    AtomicReference<Throwable> reported = new AtomicReference<>();
    AtomicReference<Thread> reportedOn = new AtomicReference<>();
    CountDownLatch done = new CountDownLatch(1);
    ContextExecutorService reporting =
        ExecutorServiceParityTest.reportingPool(
            (thread, e) -> {
              reported.set(e);
              reportedOn.set(Thread.currentThread());
              done.countDown();
            });
    try {
      IllegalStateException boom = new IllegalStateException("boom");
      reporting.execute(
          () -> {
            throw boom;
          });
      assertTrue(done.await(10, TimeUnit.SECONDS));
      assertSame(boom, reported.get());
      assertNotSame(Thread.currentThread(), reportedOn.get(), "reported on the worker, not the caller");
      assertFalse(reporting.isShutdown());
    } finally {
      reporting.shutdown();
      assertTrue(reporting.awaitTermination(10, TimeUnit.SECONDS));
      assertTrue(reporting.isTerminated());
    }
  }
  /**
   * invokeAll and invokeAny leave nothing on the calling thread, whatever the path. Timed invokeAll
   * makes every task (newTaskFor) before it hands any over; with a timeout of zero or less it hands
   * over none, so the last task made stayed in the service's per-thread slot for the execute that
   * follows newTaskFor, keeping its callable and its context reachable from a long-lived thread
   * until that thread's next execute on the service. The invokeAny row is a guard.
   */
  @Test
  void invokeAllAndInvokeAnyLeaveNoTaskReachableFromTheCallingThread() throws Exception {
    CancelableContext app = Context.withCancel(Context.background());
    List<String> kept = new ArrayList<>();
    for (String row : List.of("invokeAll(0 ns)", "invokeAll(-1 s)", "invokeAny(0 ns)")) {
      List<WeakReference<Object>> refs = invokeOnce(row, app);
      for (int i = 0; i < 20 && refs.stream().anyMatch(r -> r.get() != null); i++) {
        System.gc();
      }
      if (refs.get(0).get() != null) {
        kept.add(row + ": the callable");
      }
      if (refs.get(1).get() != null) {
        kept.add(row + ": the call's context");
      }
    }
    assertEquals(List.of(), kept, "still reachable after the call returned, the thread alive");
    assertFalse(app.isDone());
    app.cancel();
  }

  /** One call under a context of its own; weak references to its callable and its context. */
  private List<WeakReference<Object>> invokeOnce(String row, Context app) throws Exception {
    CancelableContext call = Context.withCancel(app);
    // Held until invokeAny has timed out: invokeAny hands the task over before it first polls, and
    // a task that returned at once won the race on a fast worker (seen on JDK 25), so invokeAny
    // returned its result instead of timing out.
    CountDownLatch gate = new CountDownLatch(1);
    Callable<String> task = new Callable<>() {
      @Override
      public String call() throws InterruptedException {
        gate.await(); // or interrupted by invokeAny's cancel of the timed-out task
        return "ran";
      }
    };
    List<WeakReference<Object>> refs = List.of(new WeakReference<>(task), new WeakReference<>(call));
    try {
      CurrentContext.call(
          call,
          () -> {
            switch (row) {
              case "invokeAll(0 ns)" -> pool.invokeAll(List.of(task), 0, TimeUnit.NANOSECONDS);
              case "invokeAll(-1 s)" -> pool.invokeAll(List.of(task), -1, TimeUnit.SECONDS);
              default ->
                  assertThrows(
                      TimeoutException.class,
                      () -> pool.invokeAny(List.of(task), 0, TimeUnit.NANOSECONDS));
            }
            return null;
          });
    } finally {
      gate.countDown();
    }
    // The single worker runs this only once it has let go of the task it ran before, if any.
    pool.delegate().submit(() -> { }).get(10, TimeUnit.SECONDS);
    call.cancel();
    return refs;
  }
}
