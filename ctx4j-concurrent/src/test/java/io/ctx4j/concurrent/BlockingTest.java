package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class BlockingTest {
  private static final Duration SHORT = Duration.ofMillis(30);
  private static final long GENEROUS_NANOS = Duration.ofSeconds(10).toNanos();

  @AfterEach
  void noInterruptLeftOnTheTestThread() {
    assertFalse(Thread.interrupted(), "stray interrupt on the test thread");
  }

  private static CancelableContext soon() {
    return Context.withTimeout(Context.background(), SHORT);
  }

  private static void assertQuick(long start) {
    long took = System.nanoTime() - start;
    assertTrue(took < GENEROUS_NANOS, "took " + took / 1_000_000 + " ms");
  }

  @Test
  void sleepRunsItsCourseInALiveContext() throws Exception {
    try (CancelableContext ctx = Context.withCancel(Context.background())) {
      long start = System.nanoTime();
      Blocking.sleep(ctx, Duration.ofMillis(20));
      assertTrue(System.nanoTime() - start >= Duration.ofMillis(20).toNanos());
    }
  }

  @Test
  void sleepEndsWithTheDeadline() {
    try (CancelableContext ctx = soon()) {
      long start = System.nanoTime();
      assertThrows(DeadlineExceededException.class, () -> Blocking.sleep(ctx, Duration.ofHours(1)));
      assertQuick(start);
    }
  }

  @Test
  void takeReturnsAnElement() throws Exception {
    BlockingQueue<String> q = new LinkedBlockingQueue<>();
    q.add("x");
    assertEquals("x", Blocking.take(Context.background(), q));
  }

  @Test
  void takeEndsWithTheContextAndCarriesTheCause() throws Exception {
    BlockingQueue<String> q = new LinkedBlockingQueue<>();
    IllegalStateException why = new IllegalStateException("shutting down");
    try (CancelableContext ctx = Context.withCancel(Context.background())) {
      Context.afterFunc(Context.withTimeout(Context.background(), SHORT), () -> ctx.cancel(why));
      long start = System.nanoTime();
      CanceledException e = assertThrows(CanceledException.class, () -> Blocking.take(ctx, q));
      assertSame(why, e.getCause());
      assertQuick(start);
    }
  }

  @Test
  void aDoneContextThrowsWithoutTouchingTheQueue() {
    BlockingQueue<String> q = new LinkedBlockingQueue<>();
    q.add("keep");
    CancelableContext ctx = Context.withCancel(Context.background());
    ctx.cancel();
    assertThrows(CanceledException.class, () -> Blocking.take(ctx, q));
    assertEquals(1, q.size());
  }

  @Test
  void pollTimesOutWithNullAndEndsWithTheContext() throws Exception {
    BlockingQueue<String> q = new LinkedBlockingQueue<>();
    assertNull(Blocking.poll(Context.background(), q, Duration.ofMillis(5)));
    try (CancelableContext ctx = soon()) {
      assertThrows(
          DeadlineExceededException.class, () -> Blocking.poll(ctx, q, Duration.ofHours(1)));
    }
  }

  @Test
  void putEndsWithTheContextWhenTheQueueIsFull() throws Exception {
    BlockingQueue<String> q = new ArrayBlockingQueue<>(1);
    Blocking.put(Context.background(), q, "a");
    try (CancelableContext ctx = soon()) {
      assertThrows(DeadlineExceededException.class, () -> Blocking.put(ctx, q, "b"));
    }
    assertEquals("a", q.peek());
    assertEquals(1, q.size());
  }

  @Test
  void lockEndsWithTheContextAndIsNotHeld() throws Exception {
    ReentrantLock lock = new ReentrantLock();
    CompletableFuture<Void> holder = new CompletableFuture<>();
    CompletableFuture<Void> release = new CompletableFuture<>();
    Thread t =
        new Thread(
            () -> {
              lock.lock();
              holder.complete(null);
              release.join();
              lock.unlock();
            });
    t.start();
    holder.get();
    try (CancelableContext ctx = soon()) {
      assertThrows(DeadlineExceededException.class, () -> Blocking.lock(ctx, lock));
      assertFalse(lock.isHeldByCurrentThread());
    } finally {
      release.complete(null);
      t.join();
    }
    Blocking.lock(Context.background(), lock);
    assertTrue(lock.isHeldByCurrentThread());
    lock.unlock();
  }

  @Test
  void acquireEndsWithTheContextAndTakesNoPermit() throws Exception {
    Semaphore sem = new Semaphore(1);
    try (CancelableContext ctx = soon()) {
      assertThrows(DeadlineExceededException.class, () -> Blocking.acquire(ctx, sem, 2));
    }
    assertEquals(1, sem.availablePermits());
    Blocking.acquire(Context.background(), sem);
    assertEquals(0, sem.availablePermits());
  }

  @Test
  void getAndAwaitReturnResultsAndFailures() throws Exception {
    assertEquals(
        "v", Blocking.get(Context.background(), CompletableFuture.completedFuture("v")));
    FutureTask<String> task = new FutureTask<>(() -> "w");
    task.run();
    assertEquals("w", Blocking.get(Context.background(), task));
    CompletableFuture<String> failed = CompletableFuture.failedFuture(new IllegalStateException("no"));
    ExecutionException e =
        assertThrows(
            ExecutionException.class,
            () -> Blocking.await(Context.background(), failed.thenApply(s -> s)));
    assertInstanceOf(IllegalStateException.class, e.getCause());
  }

  @Test
  void getAndAwaitEndWithTheContext() {
    CompletableFuture<String> never = new CompletableFuture<>();
    try (CancelableContext ctx = soon()) {
      assertThrows(DeadlineExceededException.class, () -> Blocking.get(ctx, never));
    }
    try (CancelableContext ctx = soon()) {
      assertThrows(DeadlineExceededException.class, () -> Blocking.await(ctx, never));
    }
    assertFalse(never.isDone(), "waiting gave up; the future itself is untouched");
  }

  @Test
  void aForeignInterruptIsReportedAsSuch() {
    try (CancelableContext ctx = Context.withCancel(Context.background())) {
      Thread.currentThread().interrupt();
      assertThrows(
          InterruptedException.class, () -> Blocking.take(ctx, new LinkedBlockingQueue<>()));
      assertFalse(Thread.currentThread().isInterrupted());
    }
  }

  @Test
  void badArgumentsAreNamed() {
    assertEquals(
        "ctx",
        assertThrows(NullPointerException.class, () -> Blocking.take(null, new LinkedBlockingQueue<>()))
            .getMessage());
    assertEquals(
        "queue",
        assertThrows(NullPointerException.class, () -> Blocking.take(Context.background(), null))
            .getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () -> Blocking.sleep(Context.background(), Duration.ofMillis(-1)));
    assertThrows(
        IllegalArgumentException.class,
        () -> Blocking.acquire(Context.background(), new Semaphore(0), -1));
  }

  @Test
  void aPermitReleasedAsTheContextEndsIsEitherHeldOrLeftBehind() throws Exception {
    int[] outcomes = new int[2];
    Races.run(
        Races.ITERATIONS,
        new Races.Round() {
          CancelableContext ctx;
          Semaphore sem;
          boolean acquired;

          @Override
          public Races.Action setUp() {
            ctx = Context.withCancel(Context.background());
            sem = new Semaphore(0);
            // The helper releases a permit and cancels: which one the waiter sees first is the race.
            return () -> {
              sem.release();
              ctx.cancel();
            };
          }

          @Override
          public void mine() throws Exception {
            try {
              Blocking.acquire(ctx, sem);
              acquired = true;
            } catch (CanceledException e) {
              acquired = false;
            }
          }

          @Override
          public void check() {
            assertFalse(Thread.interrupted(), "stray interrupt");
            assertEquals(acquired ? 0 : 1, sem.availablePermits(), "a permit was lost");
            outcomes[acquired ? 0 : 1]++;
          }
        });
    assertEquals(Races.ITERATIONS, outcomes[0] + outcomes[1]);
  }

  @Test
  void anElementOfferedAsTheContextEndsIsEitherTakenOrLeftInTheQueue() throws Exception {
    Races.run(
        Races.ITERATIONS,
        new Races.Round() {
          CancelableContext ctx;
          BlockingQueue<Integer> q;
          Integer got;

          @Override
          public Races.Action setUp() {
            ctx = Context.withCancel(Context.background());
            q = new LinkedBlockingQueue<>();
            got = null;
            return () -> {
              ctx.cancel();
              q.add(7);
            };
          }

          @Override
          public void mine() throws Exception {
            try {
              got = Blocking.take(ctx, q);
            } catch (CanceledException e) {
              got = null;
            }
          }

          @Override
          public void check() {
            assertFalse(Thread.interrupted(), "stray interrupt");
            assertEquals(got == null ? 1 : 0, q.size(), "an element was lost");
          }
        });
  }

  @Test
  void awaitOnADoneContextAttachesNothingToTheStage() {
    CompletableFuture<String> longLived = new CompletableFuture<>();
    CancelableContext ctx = Context.withCancel(Context.background());
    ctx.cancel();
    for (int i = 0; i < 10_000; i++) {
      assertThrows(CanceledException.class, () -> Blocking.await(ctx, longLived));
    }
    assertEquals(0, longLived.getNumberOfDependents());
    assertEquals(0, longLived.thenApply(s -> s).toCompletableFuture().getNumberOfDependents());
  }

  @Test
  void awaitEndedByTheContextOrAnInterruptLeavesNoDependentBehind() throws Exception {
    CompletableFuture<String> longLived = new CompletableFuture<>();
    for (int i = 0; i < 100; i++) {
      CancelableContext ctx = Context.withCancel(Context.background());
      Thread waiter = Thread.currentThread();
      boolean byInterrupt = (i & 1) == 1;
      Thread ender =
          new Thread(
              () -> {
                // the waiter is attached once the stage has a dependent
                while (longLived.getNumberOfDependents() == 0) {
                  Thread.onSpinWait();
                }
                if (byInterrupt) {
                  waiter.interrupt();
                } else {
                  ctx.cancel();
                }
              });
      ender.start();
      if (byInterrupt) {
        assertThrows(InterruptedException.class, () -> Blocking.await(ctx, longLived));
      } else {
        assertThrows(CanceledException.class, () -> Blocking.await(ctx, longLived));
      }
      ender.join();
      ctx.cancel();
      assertEquals(0, longLived.getNumberOfDependents(), "round " + i);
    }
    longLived.complete("v");
    assertEquals("v", Blocking.await(Context.background(), longLived));
  }

  @Test
  void awaitWorksOnAStageThatIsNotAFuture() throws Exception {
    CompletableFuture<String> source = new CompletableFuture<>();
    java.util.concurrent.CompletionStage<String> minimal = source.minimalCompletionStage();
    int before = source.getNumberOfDependents(); // the minimal stage's own relay
    CancelableContext ctx = Context.withCancel(Context.background());
    ctx.cancel();
    assertThrows(CanceledException.class, () -> Blocking.await(ctx, minimal));
    assertEquals(before, source.getNumberOfDependents(), "checked before attaching");
    source.complete("m");
    assertEquals("m", Blocking.await(Context.background(), minimal));
  }
}
