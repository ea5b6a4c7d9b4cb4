package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorCompletionService;
import java.util.concurrent.Executors;
import java.util.concurrent.FutureTask;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.RejectedExecutionHandler;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
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

  /**
   * Guard (passes on the code before it was written): a thousand rounds of every way to run a task
   * on one long-lived context (submit with it and with a child, execute, invokeAll, invokeAny whose
   * losers are cancelled, a completion service, supplyAsync, and a running task whose future's
   * cancel(true) races its context's cancel) leave no registration on it, and no worker ever comes
   * out of a task with its interrupt status set (checked in afterExecute, before the pool's own
   * clearing at the next task could hide it).
   */
  @Test
  void aThousandRoundsOfEveryKindOfTaskLeaveNothingOnALongLivedContext() throws Exception {
    CancelableContext app = Context.withCancel(Context.background());
    AtomicInteger strayInterrupts = new AtomicInteger();
    ThreadPoolExecutor workers =
        new ThreadPoolExecutor(2, 2, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>()) {
          @Override
          protected void afterExecute(Runnable r, Throwable t) {
            if (Thread.currentThread().isInterrupted()) {
              strayInterrupts.incrementAndGet();
            }
          }
        };
    ContextExecutorService pool = ContextExecutorService.wrap(workers);
    List<Callable<String>> tasks = List.of(() -> "a", () -> "b", () -> "c");
    try {
      CurrentContext.call(
          app,
          () -> {
            for (int i = 0; i < 1_000; i++) {
              assertEquals("x", pool.submit(app, () -> "x").get(30, TimeUnit.SECONDS));
              assertEquals("y", pool.submit(() -> "y").get(30, TimeUnit.SECONDS));
              CountDownLatch executed = new CountDownLatch(1);
              pool.execute(executed::countDown);
              assertTrue(executed.await(30, TimeUnit.SECONDS));
              assertEquals(3, pool.invokeAll(tasks).size());
              assertTrue(List.of("a", "b", "c").contains(pool.invokeAny(tasks)));
              ExecutorCompletionService<String> ecs = new ExecutorCompletionService<>(pool);
              ecs.submit(() -> "e");
              assertEquals("e", ecs.take().get(30, TimeUnit.SECONDS));
              assertEquals(
                  "s",
                  CompletableFuture.supplyAsync(() -> "s", pool).get(30, TimeUnit.SECONDS));
              raceCancelAgainstTheContextsEnd(pool, app);
            }
            return null;
          });
      pool.shutdown();
      assertTrue(pool.awaitTermination(Duration.ofSeconds(60)));
      assertEquals(0, strayInterrupts.get(), "tasks that left their worker interrupted");
      assertEquals(0, CoreInternals.registrationCount(app), "registrations left on the context");
      assertFalse(app.isDone());
    } finally {
      pool.shutdownNow();
      app.cancel();
    }
  }

  /**
   * Guard (passes on the code before it was written): 100,000 submissions on one long-lived
   * context, ended every way a task ends in a busy service (run, cancelled while queued, its own
   * context ended while queued, executed, supplyAsync whose context ends while queued), leave no
   * registration on the context, and the service keeps none of them for shutdownNow.
   */
  @Test
  void aHundredThousandSubmissionsLeaveNothingOnALongLivedContextNorOnTheService()
      throws Exception {
    CancelableContext app = Context.withCancel(Context.background());
    ContextExecutorService pool =
        ContextExecutorService.wrap(
            new ThreadPoolExecutor(2, 2, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>()));
    try {
      List<CompletableFuture<?>> batch = new ArrayList<>();
      AtomicInteger executed = new AtomicInteger();
      for (int i = 0; i < 100_000; i++) {
        CancelableContext request = Context.withCancel(app);
        switch (i % 5) {
          case 0:
            batch.add(pool.submit(app, () -> "x"));
            break;
          case 1:
            batch.add(pool.submit(request, () -> "x"));
            break;
          case 2:
            CompletableFuture<String> cancelled = pool.submit(app, () -> "x");
            cancelled.cancel(true);
            batch.add(cancelled);
            break;
          case 3:
            batch.add(
                CurrentContext.call(request, () -> CompletableFuture.runAsync(() -> {}, pool)));
            break;
          default:
            CurrentContext.run(app, () -> pool.execute(executed::incrementAndGet));
        }
        request.cancel();
        if (batch.size() == 1_000) {
          for (CompletableFuture<?> f : batch) {
            f.handle((v, e) -> v).get(30, TimeUnit.SECONDS); // whichever way it ended
          }
          batch.clear();
        }
      }
      pool.shutdown();
      assertTrue(pool.awaitTermination(Duration.ofSeconds(60)));
      assertEquals(20_000, executed.get());
      assertEquals(0, CoreInternals.registrationCount(app), "registrations left on the context");
      assertEquals(0, pool.pendingTasks(), "tasks the service still holds");
      assertFalse(app.isDone());
    } finally {
      pool.shutdownNow();
      app.cancel();
    }
  }

  /**
   * An application's own rejection handler that logs a refused task and drops it (wrap cannot refuse
   * it, as it refuses the JDK's DiscardPolicy) leaves each dropped task's future pending; under
   * Context.background() the task is on no context's cancel tree, so nothing but the service could
   * hold it, and a long-lived pool under overload would hold one more per drop. Once nobody else
   * holds them they are collected; what is queued in the pool (held only by the pool's queue) is
   * still found and ended by shutdownNow.
   */
  @Test
  void tasksThePoolDropsWithoutAWordAreNotHeldByTheService() throws Exception {
    AtomicInteger logged = new AtomicInteger();
    // What an application's handler does: logs the refusal, neither runs the task nor throws.
    RejectedExecutionHandler logAndDrop = (task, executor) -> logged.incrementAndGet();
    ContextExecutorService pool =
        ContextExecutorService.wrap(
            new ThreadPoolExecutor(
                1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(1), logAndDrop));
    CountDownLatch busy = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    List<String> problems = new ArrayList<>();
    try {
      CompletableFuture<String> running =
          pool.submit(
              Context.background(),
              () -> {
                busy.countDown();
                release.await();
                return "ran";
              });
      assertTrue(busy.await(30, TimeUnit.SECONDS));
      // Its task (execute's wrapper) is held by the pool's queue alone.
      FutureTask<String> queued = new FutureTask<>(() -> "queued");
      pool.execute(queued);
      for (int i = 0; i < 100_000; i++) {
        if (i % 2 == 0) {
          pool.submit(Context.background(), () -> "dropped"); // the future let go of at once
        } else {
          pool.execute(() -> {});
        }
      }
      assertEquals(100_000, logged.get(), "tasks the handler dropped");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (pool.pendingTasks() > 2 && System.nanoTime() < deadline) {
        awaitCollection();
      }
      if (pool.pendingTasks() > 2) {
        problems.add(
            "after GC the service holds "
                + pool.pendingTasks()
                + " tasks, 2 of them running or queued");
      }
      pool.shutdownNow();
      if (!queued.isCancelled()) {
        problems.add("shutdownNow did not cancel the FutureTask queued in the pool");
      }
      running.handle((v, e) -> v).get(30, TimeUnit.SECONDS); // interrupted by shutdownNow
      if (pool.pendingTasks() != 0) {
        problems.add("after shutdownNow the service holds " + pool.pendingTasks() + " tasks");
      }
    } finally {
      release.countDown();
      pool.shutdownNow();
    }
    assertEquals(
        List.of(), problems, "a pool that drops refused tasks without a word, Context.background()");
  }

  /**
   * The service's entry for a task the pool dropped (its weak reference, in the set kept for
   * shutdownNow) outlived the task: it was let go of only by the next submission, so a service that
   * stops, and gets no more submissions, kept one per task collected since its last one. Ten
   * thousand tasks dropped under Context.background() and collected; the service's shutdown(),
   * shutdownNow() or close() must let go of every entry.
   */
  @Test
  void aServiceThatStopsLetsGoOfTheEntriesOfItsCollectedTasks() throws Exception {
    List<String> problems = new ArrayList<>();
    for (String how : List.of("shutdown", "shutdownNow", "close")) {
      CountDownLatch release = new CountDownLatch(1);
      ContextExecutorService pool = droppingService(release);
      try {
        dropAndCollect(pool, how);
        switch (how) {
          case "shutdown":
            pool.shutdown();
            break;
          case "shutdownNow":
            pool.shutdownNow();
            break;
          default:
            release.countDown();
            pool.close();
        }
        if (pool.heldEntries() != 0) {
          problems.add(how + ": " + pool.heldEntries() + " entries of collected tasks still held");
        }
      } finally {
        release.countDown();
        pool.shutdownNow();
        assertTrue(pool.awaitTermination(Duration.ofSeconds(30)));
      }
    }
    assertEquals(List.of(), problems, "a stopped service, 10,000 dropped tasks collected");
  }

  /**
   * Guard of what the README and wrap's Javadoc state (passes on the code it came with): the
   * service has no thread of its own (one would keep the class loader of an application that
   * carries ctx4j alive), so an idle service that is not stopped keeps the entries of its
   * collected tasks, and its next submission lets go of those the collector has queued.
   */
  @Test
  void anIdleServiceKeepsTheEntriesOfItsCollectedTasksUntilItsNextSubmission() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    ContextExecutorService pool = droppingService(release);
    try {
      dropAndCollect(pool, "idle");
      assertEquals(10_000, pool.heldEntries(), "entries of collected tasks in an idle service");
      // A submission takes out what the collector has queued; it clears a reference at once and
      // queues it later, on the reference handler's thread: submit again until it has.
      List<CompletableFuture<String>> next = new ArrayList<>();
      for (int round = 0; round < 30; round++) {
        next.add(pool.submit(Context.background(), () -> "dropped too"));
        if (pool.heldEntries() == next.size()) {
          break;
        }
        awaitCollection();
      }
      assertEquals(
          next.size(), pool.heldEntries(), "entries after the next submissions (their own held)");
    } finally {
      release.countDown();
      pool.shutdownNow();
      assertTrue(pool.awaitTermination(Duration.ofSeconds(30)));
    }
  }

  /**
   * A service whose one worker is held until {@code release} opens and whose queue of one is full,
   * and whose pool's handler drops every task it is handed from then on without a word.
   */
  private static ContextExecutorService droppingService(CountDownLatch release) throws Exception {
    RejectedExecutionHandler logAndDrop = (task, executor) -> {};
    ContextExecutorService pool =
        ContextExecutorService.wrap(
            new ThreadPoolExecutor(
                1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(1), logAndDrop));
    Stalls.worker(pool.delegate(), release);
    pool.delegate().execute(() -> {}); // the queue of one is full: every task now is dropped
    return pool;
  }

  /**
   * Submits 10,000 tasks under Context.background() to a {@link #droppingService}, lets go of their
   * futures and waits (boundedly) until the collector has cleared them: the service still has an
   * entry for each.
   */
  private static void dropAndCollect(ContextExecutorService pool, String how) throws Exception {
    List<CompletableFuture<String>> dropped = new ArrayList<>();
    List<WeakReference<Object>> watched = new ArrayList<>();
    for (int i = 0; i < 10_000; i++) {
      CompletableFuture<String> f = pool.submit(Context.background(), () -> "dropped");
      dropped.add(f);
      watched.add(new WeakReference<>(f));
    }
    assertEquals(10_000, pool.heldEntries(), how + ": entries while the tasks are held");
    dropped.clear(); // nothing holds them now
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (watched.stream().anyMatch(w -> !w.refersTo(null)) && System.nanoTime() - deadline < 0) {
      awaitCollection();
    }
    assertTrue(watched.stream().allMatch(w -> w.refersTo(null)), how + ": never collected");
  }

  /**
   * CompletableFuture.completeAsync completes the future past the task's own complete and
   * completeExceptionally (the JDK's AsyncSupply calls completeValue), and a task so completed
   * while it waited behind a busy worker stayed on its context, and in the service's set, until a
   * worker reached it; a running body went on, where complete() stops it. Two thousand queued
   * tasks on one long-lived context for each way to complete them from outside (completeAsync
   * with a value or a supplier's failure, on the calling thread: Runnable::run, so the completion
   * is over when completeAsync returns; complete, completeExceptionally and cancel as guards), then
   * a running task of the service and one of Tasks.start completed with completeAsync.
   */
  @Test
  void futuresCompletedWithCompleteAsyncLeaveNothingOnALongLivedContext() throws Exception {
    CancelableContext app = Context.withCancel(Context.background());
    ContextExecutorService pool = ContextExecutorService.wrap(Executors.newSingleThreadExecutor());
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch bodiesMayReturn = new CountDownLatch(1);
    List<String> problems = new ArrayList<>();
    try {
      Stalls.worker(pool.delegate(), release);
      IllegalStateException failure = new IllegalStateException("the supplier's");
      // complete, completeExceptionally and cancel are guards: they let go of the task already.
      Map<String, Consumer<CompletableFuture<String>>> ways = new LinkedHashMap<>();
      ways.put("completeAsync", f -> f.completeAsync(() -> "outside", Runnable::run));
      ways.put(
          "completeAsync failing",
          f ->
              f.completeAsync(
                  () -> {
                    throw failure;
                  },
                  Runnable::run));
      ways.put("complete", f -> f.complete("outside"));
      ways.put("completeExceptionally", f -> f.completeExceptionally(failure));
      ways.put("cancel", f -> f.cancel(false));
      for (Map.Entry<String, Consumer<CompletableFuture<String>>> way : ways.entrySet()) {
        // Counted per way: what an earlier way left must not be charged to this one.
        int registrationsBefore = CoreInternals.registrationCount(app);
        int entriesBefore = pool.heldEntries();
        for (int i = 0; i < 2_000; i++) {
          CompletableFuture<String> f = pool.submit(app, () -> "body");
          way.getValue().accept(f);
          assertTrue(f.isDone(), way.getKey());
          if (i == 0 && way.getKey().equals("completeAsync failing")) {
            // Stored as the JDK's completeAsync stores it: a failure, not a cancellation.
            assertFalse(f.isCancelled());
            assertSame(failure, assertThrows(CompletionException.class, f::join).getCause());
          }
        }
        int registrations = CoreInternals.registrationCount(app) - registrationsBefore;
        int entries = pool.heldEntries() - entriesBefore;
        if (registrations != 0 || entries != 0) {
          problems.add(
              "queued, "
                  + way.getKey()
                  + ": "
                  + registrations
                  + " registrations on the context, "
                  + entries
                  + " entries held by the service");
        }
      }
      release.countDown();
      for (String where : List.of("service", "Tasks.start")) {
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch interrupted = new CountDownLatch(1);
        Callable<String> body =
            () -> {
              running.countDown();
              try {
                bodiesMayReturn.await(60, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                interrupted.countDown();
                throw e;
              }
              return "body";
            };
        CompletableFuture<String> f =
            where.equals("service") ? pool.submit(app, body) : Tasks.start(app, body);
        assertTrue(running.await(30, TimeUnit.SECONDS), where + ": the body never ran");
        f.completeAsync(() -> "outside", Runnable::run);
        assertEquals("outside", f.getNow(null));
        if (CoreInternals.registrationCount(app) != 0) {
          problems.add(
              where
                  + ", running: "
                  + CoreInternals.registrationCount(app)
                  + " registrations on the context");
        }
        if (!interrupted.await(30, TimeUnit.SECONDS)) {
          problems.add(where + ", running: the body was not stopped");
        }
      }
      if (pool.heldEntries() != 0) {
        problems.add("running: " + pool.heldEntries() + " entries held by the service");
      }
      assertFalse(app.isDone());
    } finally {
      release.countDown();
      bodiesMayReturn.countDown();
      pool.shutdownNow();
      assertTrue(pool.awaitTermination(Duration.ofSeconds(30)));
      app.cancel();
    }
    assertEquals(List.of(), problems, "futures completed with completeAsync on a long-lived context");
  }

  /** Runs the collector and waits (boundedly) until it has cleared a fresh weak reference. */
  private static void awaitCollection() throws InterruptedException {
    ReferenceQueue<Object> cleared = new ReferenceQueue<>();
    WeakReference<Object> sentinel = new WeakReference<>(new Object(), cleared);
    System.gc();
    cleared.remove(1_000);
    sentinel.clear();
  }

  /** A running task whose future is cancelled on this thread as its context is cancelled on another. */
  private static void raceCancelAgainstTheContextsEnd(ContextExecutorService pool, Context app)
      throws Exception {
    CancelableContext request = Context.withCancel(app);
    CountDownLatch running = new CountDownLatch(1);
    CompletableFuture<String> f =
        pool.submit(
            request,
            () -> {
              running.countDown();
              Thread.sleep(60_000);
              return "never";
            });
    assertTrue(running.await(30, TimeUnit.SECONDS));
    CompletableFuture<Void> other = CompletableFuture.runAsync(request::cancel);
    f.cancel(true);
    other.get(30, TimeUnit.SECONDS);
    assertThrows(CancellationException.class, () -> f.get(30, TimeUnit.SECONDS));
  }
}
