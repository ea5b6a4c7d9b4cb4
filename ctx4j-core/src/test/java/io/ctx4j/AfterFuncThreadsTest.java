package io.ctx4j;

import static io.ctx4j.blackbox.Fixtures.BOUND;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.blackbox.Fixtures;
import io.ctx4j.internal.Async;
import io.ctx4j.internal.TimerThread;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Which threads {@code afterFunc} functions run on (issue 14, item 3): never a platform thread per
 * pending function. On JDK 21+ (the jar's multi-release layer) each runs on a virtual thread, Go's
 * goroutine; on JDK 17 on a pool bounded while functions finish. And the overload that takes the
 * caller's {@code Executor}.
 */
@Timeout(180)
class AfterFuncThreadsTest {

  private static boolean isVirtual(Thread t) {
    return t.getClass().getName().contains("Virtual"); // Thread.isVirtual() is not in Java 17
  }

  /** Live platform threads that ctx4j runs functions on. */
  private static int platformCallbackThreads() {
    int n = 0;
    for (Thread t : Thread.getAllStackTraces().keySet()) { // platform threads only
      if (t.getName().startsWith("ctx4j-callback-")) {
        n++;
      }
    }
    return n;
  }

  /**
   * A function runs on a thread of its own, as Go runs it in a goroutine of its own: it carries
   * none of the inheritable thread-locals (a request's user, an MDC map) of whichever thread ended
   * the context, on JDK 17's pool and on JDK 21+'s virtual threads alike. Failed on ed04378 on JDK
   * 25 (the virtual thread inherited them).
   */
  @Test
  void aFunctionSeesNoThreadLocalOfTheThreadThatEndedTheContext() throws Exception {
    InheritableThreadLocal<String> user = new InheritableThreadLocal<>();
    CancelableContext ctx = Context.withCancel(Context.background());
    LinkedBlockingQueue<String> seen = new LinkedBlockingQueue<>();
    Context.afterFunc(ctx, () -> seen.add(String.valueOf(user.get())));
    Thread canceller =
        new Thread(
            () -> {
              user.set("alice");
              ctx.cancel();
            });
    canceller.start();
    canceller.join();
    assertEquals("null", seen.poll(BOUND.toMillis(), TimeUnit.MILLISECONDS));
  }

  /** The measurement: 2,000 blocked functions on a cancelled context made 2,000 threads. */
  @Test
  void blockedFunctionsDoNotTakeAPlatformThreadEach() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    ctx.cancel();
    int n = 2_000;
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch finished = new CountDownLatch(n);
    AtomicInteger started = new AtomicInteger();
    Set<Thread> ranOn = ConcurrentHashMap.newKeySet();
    // Threads an earlier test's stall made may still be alive (they retire after 5 s idle).
    int before = platformCallbackThreads();
    long t0 = System.nanoTime();
    for (int i = 0; i < n; i++) {
      Context.afterFunc(
          ctx,
          () -> {
            ranOn.add(Thread.currentThread());
            started.incrementAndGet();
            try {
              release.await(BOUND.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            finished.countDown();
          });
    }
    // Until the threads that may run are all blocked: every function with virtual threads, the
    // bound with the JDK 17 pool.
    int running = Async.virtualThreads() ? n : Math.min(n, Async.BOUND);
    long end = System.nanoTime() + BOUND.toNanos();
    while (started.get() < running && System.nanoTime() < end) {
      Thread.onSpinWait();
    }
    assertTrue(started.get() >= running, "only " + started.get() + " functions started");
    int platform = platformCallbackThreads();
    long stalls = (System.nanoTime() - t0) / Async.STALL.toNanos();
    release.countDown();
    assertTrue(finished.await(BOUND.toMillis() * 6, TimeUnit.MILLISECONDS), "not every function ran");
    if (Async.virtualThreads()) {
      assertEquals(0, platform, "a platform callback thread on a JDK with virtual threads");
      assertEquals(n, ranOn.size(), "a virtual thread per function, as Go starts a goroutine");
      assertTrue(ranOn.stream().allMatch(AfterFuncThreadsTest::isVirtual));
    } else {
      long allowed = Math.max(Async.BOUND, before) + stalls + 1;
      assertTrue(platform <= allowed, platform + " platform threads for " + n + " blocked functions; allowed " + allowed);
    }
  }

  /** Functions that wait for each other: more of them than the JDK 17 pool's bound. */
  @Test
  void functionsThatWaitForEachOtherAllComplete() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    int n = Async.BOUND * 2 + 4;
    CyclicBarrier all = new CyclicBarrier(n);
    CountDownLatch passed = new CountDownLatch(n);
    for (int i = 0; i < n; i++) {
      Context.afterFunc(
          ctx,
          () -> {
            try {
              all.await(BOUND.toMillis() * 3, TimeUnit.MILLISECONDS);
              passed.countDown();
            } catch (Exception e) {
              throw new AssertionError(e);
            }
          });
    }
    ctx.cancel();
    assertTrue(passed.await(BOUND.toMillis() * 3, TimeUnit.MILLISECONDS), "functions waiting for each other deadlocked");
  }

  @Test
  void theExecutorOverloadRunsTheFunctionOnTheExecutor() throws Exception {
    ExecutorService executor = Executors.newSingleThreadExecutor(r -> new Thread(r, "user-executor"));
    try {
      CancelableContext ctx = Context.withCancel(Context.background());
      LinkedBlockingQueue<String> ranOn = new LinkedBlockingQueue<>();
      Registration r = Context.afterFunc(ctx, () -> ranOn.add(Thread.currentThread().getName()), executor);
      Registration stopped = Context.afterFunc(ctx, () -> ranOn.add("stopped one ran"), executor);
      assertTrue(stopped.stop());
      assertTrue(ranOn.isEmpty(), "ran before the context was done");
      ctx.cancel();
      assertEquals("user-executor", ranOn.poll(BOUND.toMillis(), TimeUnit.MILLISECONDS));
      assertFalse(r.stop(), "handed over: too late to stop");
      // Already done: handed over at once.
      Context.afterFunc(ctx, () -> ranOn.add(Thread.currentThread().getName()), executor);
      assertEquals("user-executor", ranOn.poll(BOUND.toMillis(), TimeUnit.MILLISECONDS));
      // A never-cancelable context never runs it.
      Registration never = Context.afterFunc(Context.background(), () -> ranOn.add("never"), executor);
      assertTrue(never.stop());
      assertTrue(ranOn.isEmpty());
    } finally {
      executor.shutdownNow();
    }
  }

  /** A rejecting executor (here: shut down) must not lose the function: ctx4j's threads run it. */
  @Test
  void aRejectedFunctionStillRunsOnCtx4jsThreads() throws Exception {
    ExecutorService executor = Executors.newSingleThreadExecutor();
    executor.shutdown();
    try (Fixtures.Uncaught uncaught = Fixtures.Uncaught.onCurrentThread()) {
      CancelableContext ctx = Context.withCancel(Context.background());
      LinkedBlockingQueue<Thread> ranOn = new LinkedBlockingQueue<>();
      Registration r = Context.afterFunc(ctx, () -> ranOn.add(Thread.currentThread()), executor);
      ctx.cancel();
      Thread t = ranOn.poll(BOUND.toMillis(), TimeUnit.MILLISECONDS);
      assertTrue(t != null, "a rejected function was lost");
      assertNotSame(Thread.currentThread(), t);
      assertFalse(r.stop());
      assertTrue(uncaught.errors.isEmpty(), "a rejection is expected, not reported: " + uncaught.errors);
    }
  }

  /** An executor that throws something else is reported, and the function still runs. */
  @Test
  void aBrokenExecutorIsReportedAndTheFunctionStillRuns() throws Exception {
    IllegalStateException broken = new IllegalStateException("broken executor");
    try (Fixtures.Uncaught uncaught = Fixtures.Uncaught.onCurrentThread()) {
      CancelableContext ctx = Context.withCancel(Context.background());
      CountDownLatch ran = new CountDownLatch(1);
      Context.afterFunc(
          ctx,
          ran::countDown,
          task -> {
            throw broken;
          });
      ctx.cancel();
      assertTrue(ran.await(BOUND.toMillis(), TimeUnit.MILLISECONDS));
      assertSame(broken, uncaught.next());
    }
  }

  /**
   * A deadline fires on the timer thread; an executor that runs tasks in the caller (a direct
   * executor, or CallerRunsPolicy) must not make the function run, or block, there.
   */
  @Test
  void aCallerRunsExecutorNeverRunsTheFunctionOnTheTimerThread() throws Exception {
    CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMillis(1));
    LinkedBlockingQueue<Boolean> onTimer = new LinkedBlockingQueue<>();
    Context.afterFunc(ctx, () -> onTimer.add(TimerThread.isTimerThread()), Runnable::run);
    assertEquals(Boolean.FALSE, onTimer.poll(BOUND.toMillis(), TimeUnit.MILLISECONDS));
    ThreadPoolExecutor saturated =
        new ThreadPoolExecutor(
            1, 1, 0, TimeUnit.SECONDS, new java.util.concurrent.SynchronousQueue<>(),
            new ThreadPoolExecutor.CallerRunsPolicy());
    try {
      CountDownLatch hold = new CountDownLatch(1);
      saturated.execute(() -> awaitQuietly(hold));
      CancelableContext ctx2 = Context.withTimeout(Context.background(), Duration.ofMillis(1));
      Context.afterFunc(ctx2, () -> onTimer.add(TimerThread.isTimerThread()), saturated);
      assertEquals(Boolean.FALSE, onTimer.poll(BOUND.toMillis(), TimeUnit.MILLISECONDS));
      hold.countDown();
    } finally {
      saturated.shutdownNow();
    }
  }

  /**
   * The same for a custom context that ends from an action of the system time source (its own
   * deadline, kept with {@code TimeSource.system().schedule}), so that it runs its callbacks on
   * the timer thread: the executor is still handed the function from another thread.
   */
  @Test
  void aCallerRunsExecutorNeverRunsTheFunctionOnTheTimerThreadThroughACustomContext()
      throws Exception {
    Fixtures.CustomContext custom = new Fixtures.CustomContext();
    LinkedBlockingQueue<Boolean> onTimer = new LinkedBlockingQueue<>();
    Context.afterFunc(custom, () -> onTimer.add(TimerThread.isTimerThread()), Runnable::run);
    Context.afterFunc(
        Context.withValue(custom, Key.named("k"), "v"),
        () -> onTimer.add(TimerThread.isTimerThread()),
        Runnable::run);
    TimeSource.system()
        .schedule(java.time.Instant.now(), () -> custom.finish(Context.DEADLINE_EXCEEDED, null));
    for (int i = 0; i < 2; i++) {
      assertEquals(
          Boolean.FALSE,
          onTimer.poll(BOUND.toMillis(), TimeUnit.MILLISECONDS),
          "handed to the executor on the timer thread (false: elsewhere, null: never)");
    }
  }

  /** A direct executor on a cancel by hand runs the function in the cancelling thread. */
  @Test
  void aDirectExecutorRunsTheFunctionInTheCancellingThread() {
    CancelableContext ctx = Context.withCancel(Context.background());
    AtomicReference<Thread> ranOn = new AtomicReference<>();
    Context.afterFunc(ctx, () -> ranOn.set(Thread.currentThread()), Runnable::run);
    ctx.cancel();
    assertSame(Thread.currentThread(), ranOn.get());
  }

  /** A function that throws is reported on the executor's thread; the executor never sees it. */
  @Test
  void aThrowingFunctionIsReportedOnTheExecutorsThread() throws Exception {
    RuntimeException boom = new RuntimeException("boom");
    try (Fixtures.Uncaught uncaught = Fixtures.Uncaught.onCurrentThread()) {
      CancelableContext ctx = Context.withCancel(Context.background());
      Context.afterFunc(
          ctx,
          () -> {
            throw boom;
          },
          Runnable::run);
      assertTrue(ctx.cancel(), "the cancel itself must not throw");
      assertSame(boom, uncaught.next());
    }
  }

  /** An executor that runs a task twice must not make a function run twice: it runs once. */
  @Test
  void anExecutorThatRunsTasksTwiceStillRunsTheFunctionOnce() {
    CancelableContext ctx = Context.withCancel(Context.background());
    AtomicInteger runs = new AtomicInteger();
    Context.afterFunc(
        ctx,
        runs::incrementAndGet,
        task -> {
          task.run();
          task.run();
        });
    ctx.cancel();
    assertEquals(1, runs.get());
  }

  @Test
  void nullExecutorIsNamed() {
    NullPointerException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            NullPointerException.class,
            () -> Context.afterFunc(Context.background(), () -> {}, null));
    assertEquals("executor", e.getMessage());
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await(BOUND.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
