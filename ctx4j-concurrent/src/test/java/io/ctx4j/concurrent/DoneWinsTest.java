package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The project's rule for interrupts: once the context is done (on entry or on wake-up), a blocking
 * helper throws the context's error even if the thread is also interrupted, and leaves that interrupt
 * set; only while the context is live does an interrupt end the wait with InterruptedException.
 */
@Timeout(300)
class DoneWinsTest {
  static final int ROUNDS = 200;
  private static final ReentrantLock HELD = new ReentrantLock();
  private static final ExecutorService HOLDER = Executors.newSingleThreadExecutor();
  private static final ContextExecutorService POOL =
      ContextExecutorService.wrap(Executors.newCachedThreadPool());

  @BeforeAll
  static void holdTheLock() throws Exception {
    CountDownLatch held = new CountDownLatch(1);
    HOLDER.execute(
        () -> {
          HELD.lock();
          held.countDown();
          // held for the whole class; the thread parks until shutdownNow
          try {
            new CountDownLatch(1).await();
          } catch (InterruptedException e) {
            HELD.unlock();
          }
        });
    assertTrue(held.await(30, TimeUnit.SECONDS));
  }

  @AfterAll
  static void shutDown() throws Exception {
    HOLDER.shutdownNow();
    POOL.shutdownNow();
    assertTrue(POOL.awaitTermination(30, TimeUnit.SECONDS));
  }

  @AfterEach
  void noInterruptLeft() {
    Thread.interrupted();
  }

  /** One blocking call under a context. */
  @FunctionalInterface
  interface Wait {
    void run(Context ctx) throws Exception;
  }

  /** A wait that only the context's end (or an interrupt) can finish. */
  enum Helper {
    SLEEP(ctx -> Blocking.sleep(ctx, Duration.ofHours(1))),
    TAKE(ctx -> Blocking.take(ctx, new LinkedBlockingQueue<>())),
    POLL(ctx -> Blocking.poll(ctx, new LinkedBlockingQueue<>(), Duration.ofHours(1))),
    PUT(
        ctx -> {
          ArrayBlockingQueue<String> full = new ArrayBlockingQueue<>(1);
          full.add("x");
          Blocking.put(ctx, full, "y");
        }),
    LOCK(ctx -> Blocking.lock(ctx, HELD)),
    ACQUIRE(ctx -> Blocking.acquire(ctx, new Semaphore(0))),
    GET(ctx -> Blocking.get(ctx, new CompletableFuture<>())),
    AWAIT(ctx -> Blocking.await(ctx, new CompletableFuture<>())),
    AWAIT_MINIMAL_STAGE(ctx -> Blocking.await(ctx, new CompletableFuture<>().minimalCompletionStage())),
    TASK_GET(ctx -> blockedTask(ctx).get()),
    TASK_TIMED_GET(ctx -> blockedTask(ctx).get(1, TimeUnit.HOURS));

    final Wait wait;

    Helper(Wait wait) {
      this.wait = wait;
    }
  }

  private static CompletableFuture<Object> blockedTask(Context ctx) {
    return POOL.submit(
        ctx,
        () -> {
          new CountDownLatch(1).await();
          return null;
        });
  }

  @ParameterizedTest
  @EnumSource(Helper.class)
  void aDoneContextWinsOverAnInterruptOnEntryAndTheInterruptStays(Helper helper) {
    CancelableContext ctx = Context.withCancel(Context.background());
    IllegalStateException why = new IllegalStateException("closing");
    ctx.cancel(why);
    Thread.currentThread().interrupt();
    Throwable t = outcome(helper, ctx);
    boolean interrupted = Thread.interrupted();
    assertInstanceOf(CanceledException.class, t, () -> "got " + t);
    assertSame(why, t.getCause());
    assertTrue(interrupted, "the interrupt status is left set");
  }

  @ParameterizedTest
  @EnumSource(Helper.class)
  void aLiveContextLetsAnInterruptEndTheWait(Helper helper) {
    try (CancelableContext ctx = Context.withCancel(Context.background())) {
      Thread.currentThread().interrupt();
      Throwable t = outcome(helper, ctx);
      assertInstanceOf(InterruptedException.class, t, () -> "got " + t);
      assertFalse(Thread.interrupted(), "reported as InterruptedException, so cleared as the JDK does");
    }
  }

  /**
   * What a task group's close does to a task blocked in a helper: it cancels the context and, from a
   * callback registered before the task started waiting, interrupts the task's thread. The helper must
   * report the context's error every time, whichever of the two wakes it.
   */
  @ParameterizedTest
  @EnumSource(Helper.class)
  void aGroupCloseThatCancelsAndInterruptsAlwaysGivesTheContextError(Helper helper) throws Exception {
    ExecutorService waiterPool = Executors.newSingleThreadExecutor();
    try {
      int[] counts = new int[3];
      CyclicBarrier barrier = new CyclicBarrier(2);
      for (int i = 0; i < ROUNDS; i++) {
        CancelableContext ctx = Context.withCancel(Context.background());
        AtomicReference<Thread> waiter = new AtomicReference<>();
        ctx.onDone(
            () -> {
              Thread w = waiter.get();
              if (w != null) {
                w.interrupt();
              }
            });
        CompletableFuture<Throwable> result =
            CompletableFuture.supplyAsync(
                () -> {
                  waiter.set(Thread.currentThread());
                  try {
                    barrier.await(30, TimeUnit.SECONDS);
                  } catch (Exception e) {
                    return e;
                  }
                  Throwable t = outcome(helper, ctx);
                  Thread.interrupted(); // the group clears its own interrupt after the task
                  return t;
                },
                waiterPool);
        barrier.await(30, TimeUnit.SECONDS);
        if ((i & 1) == 0) {
          // every other round, cancel once the waiter is parked: the wake-up path
          Thread w = waiter.get();
          long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
          while (w.getState() == Thread.State.RUNNABLE && System.nanoTime() < deadline) {
            Thread.onSpinWait();
          }
        }
        ctx.cancel();
        Throwable t = result.get(60, TimeUnit.SECONDS);
        counts[t instanceof CanceledException ? 0 : t instanceof InterruptedException ? 1 : 2]++;
        if (!(t instanceof CanceledException) && !(t instanceof InterruptedException)) {
          throw new AssertionError("unexpected outcome", t);
        }
      }
      assertEquals(
          ROUNDS,
          counts[0],
          helper + ": CanceledException " + counts[0] + ", InterruptedException " + counts[1]);
    } finally {
      waiterPool.shutdownNow();
    }
  }

  private static Throwable outcome(Helper helper, Context ctx) {
    try {
      helper.wait.run(ctx);
      return new AssertionError("returned normally");
    } catch (Throwable t) {
      return t;
    }
  }
}
