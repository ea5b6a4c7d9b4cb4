package io.ctx4j.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The JDK 17 pool behind {@code afterFunc}: bounded while functions finish, growing one thread per
 * stall while they do not, so that functions waiting for each other still run. The class is in the
 * base layer, so these run on every JDK.
 */
@Timeout(120)
class CallbackPoolTest {
  private static final long BOUND_MS = 10_000;
  private static final Duration NEVER = Duration.ofHours(1);

  /**
   * Hands the pool {@code n} functions that each count {@code started} down, block until {@code
   * release} opens, then run {@code then}.
   */
  private static void executeBlocked(
      CallbackPool pool, int n, CountDownLatch started, CountDownLatch release, Runnable then) {
    for (int i = 0; i < n; i++) {
      pool.execute(
          () -> {
            started.countDown();
            awaitQuietly(release);
            then.run();
          });
    }
  }

  @Test
  void runsNoMoreThreadsThanTheBoundWhileNothingStalls() throws Exception {
    CallbackPool pool = new CallbackPool("test-bounded-", 3, NEVER, NEVER);
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch started = new CountDownLatch(3);
    CountDownLatch finished = new CountDownLatch(50);
    executeBlocked(pool, 50, started, release, finished::countDown);
    assertTrue(started.await(BOUND_MS, TimeUnit.MILLISECONDS));
    assertEquals(3, pool.threadCount(), "50 blocked functions, a bound of 3");
    release.countDown();
    assertTrue(finished.await(BOUND_MS, TimeUnit.MILLISECONDS), "queued functions ran once threads freed up");
    assertEquals(3, pool.peakThreadCount());
  }

  /** Six functions that all wait for each other on a pool of two: a fixed pool would deadlock. */
  @Test
  void functionsThatWaitForEachOtherAllRunThanksToStallGrowth() throws Exception {
    CallbackPool pool = new CallbackPool("test-stall-", 2, Duration.ofMillis(20), NEVER);
    int n = 6;
    CyclicBarrier all = new CyclicBarrier(n);
    CountDownLatch passed = new CountDownLatch(n);
    for (int i = 0; i < n; i++) {
      pool.execute(
          () -> {
            try {
              all.await(BOUND_MS, TimeUnit.MILLISECONDS);
              passed.countDown();
            } catch (Exception e) {
              throw new AssertionError(e);
            }
          });
    }
    assertTrue(passed.await(2 * BOUND_MS, TimeUnit.MILLISECONDS), "functions waiting for each other deadlocked");
    assertEquals(n, pool.peakThreadCount(), "one extra thread per stall, no more than needed");
  }

  @Test
  void aFunctionsLeftoverInterruptDoesNotReachTheNext() throws Exception {
    CallbackPool pool = new CallbackPool("test-interrupt-", 1, NEVER, NEVER);
    AtomicReference<Thread> first = new AtomicReference<>();
    LinkedBlockingQueue<Object> seen = new LinkedBlockingQueue<>();
    pool.execute(
        () -> {
          first.set(Thread.currentThread());
          Thread.currentThread().interrupt();
        });
    pool.execute(() -> seen.add(new Object[] {Thread.currentThread(), Thread.currentThread().isInterrupted()}));
    Object[] second = (Object[]) seen.poll(BOUND_MS, TimeUnit.MILLISECONDS);
    assertSame(first.get(), second[0], "one thread, two functions");
    assertEquals(false, second[1], "the next function inherited an interrupt");
  }

  /**
   * A pool thread is made by whichever thread first hands it work; it must not carry that thread's
   * inheritable thread-locals (a request's user, an MDC map) into the functions of everyone else.
   */
  @Test
  void poolThreadsDoNotInheritTheSubmittersThreadLocals() throws Exception {
    InheritableThreadLocal<String> request = new InheritableThreadLocal<>();
    CallbackPool pool = new CallbackPool("test-locals-", 1, NEVER, NEVER);
    LinkedBlockingQueue<String> seen = new LinkedBlockingQueue<>();
    Thread first =
        new Thread(
            () -> {
              request.set("request A");
              pool.execute(() -> seen.add(String.valueOf(request.get())));
            });
    first.start();
    first.join();
    assertEquals("null", seen.poll(BOUND_MS, TimeUnit.MILLISECONDS), "request A's value leaked into the pool");
    request.set("request B");
    try {
      pool.execute(() -> seen.add(String.valueOf(request.get())));
      assertEquals("null", seen.poll(BOUND_MS, TimeUnit.MILLISECONDS), "a later submitter saw request A's value");
    } finally {
      request.remove();
    }
  }

  /**
   * Nor the first submitter's context class loader (on a servlet container, a webapp's, pinned by
   * the thread after that webapp is undeployed): every pool thread has ctx4j's own. Failed on
   * ed04378.
   */
  @Test
  void poolThreadsDoNotKeepTheSubmittersContextClassLoader() throws Exception {
    CallbackPool pool = new CallbackPool("test-loader-", 1, NEVER, NEVER);
    ClassLoader webapp = new ClassLoader(null) {};
    LinkedBlockingQueue<ClassLoader> seen = new LinkedBlockingQueue<>();
    Thread first =
        new Thread(() -> pool.execute(() -> seen.add(Thread.currentThread().getContextClassLoader())));
    first.setContextClassLoader(webapp);
    first.start();
    first.join();
    ClassLoader loader = seen.poll(BOUND_MS, TimeUnit.MILLISECONDS);
    assertTrue(loader != webapp, "the pool thread kept the submitter's context class loader");
    assertEquals(CallbackPool.class.getClassLoader(), loader);
  }

  @Test
  void aThrowingFunctionIsReportedAndTheThreadGoesOn() throws Exception {
    CallbackPool pool = new CallbackPool("test-throw-", 1, NEVER, NEVER);
    LinkedBlockingQueue<Throwable> reported = new LinkedBlockingQueue<>();
    Thread.UncaughtExceptionHandler previous = Thread.getDefaultUncaughtExceptionHandler();
    Thread.setDefaultUncaughtExceptionHandler((t, e) -> reported.add(e));
    try {
      RuntimeException boom = new RuntimeException("boom");
      pool.execute(
          () -> {
            throw boom;
          });
      CountDownLatch after = new CountDownLatch(1);
      pool.execute(after::countDown);
      assertSame(boom, reported.poll(BOUND_MS, TimeUnit.MILLISECONDS));
      assertTrue(after.await(BOUND_MS, TimeUnit.MILLISECONDS));
      assertEquals(1, pool.threadCount(), "the thread survived the throw");
    } finally {
      Thread.setDefaultUncaughtExceptionHandler(previous);
    }
  }

  @Test
  void idleThreadsRetire() throws Exception {
    CallbackPool pool = new CallbackPool("test-retire-", 4, NEVER, Duration.ofMillis(20));
    CountDownLatch ran = new CountDownLatch(4);
    CountDownLatch release = new CountDownLatch(1);
    executeBlocked(pool, 4, ran, release, () -> {});
    assertTrue(ran.await(BOUND_MS, TimeUnit.MILLISECONDS));
    assertEquals(4, pool.threadCount());
    release.countDown();
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(BOUND_MS);
    while (pool.threadCount() > 0 && System.nanoTime() < end) {
      Thread.sleep(5); // polling a count that the pool changes on its own schedule
    }
    assertEquals(0, pool.threadCount(), "idle threads must retire");
    AtomicInteger again = new AtomicInteger();
    CountDownLatch done = new CountDownLatch(1);
    pool.execute(
        () -> {
          again.incrementAndGet();
          done.countDown();
        });
    assertTrue(done.await(BOUND_MS, TimeUnit.MILLISECONDS), "a retired pool starts a thread again");
  }

  @Test
  void badArgumentsAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> new CallbackPool("x", 0, NEVER, NEVER));
    CallbackPool pool = new CallbackPool("x", 1, NEVER, NEVER);
    NullPointerException e = assertThrows(NullPointerException.class, () -> pool.execute(null));
    assertEquals("task", e.getMessage());
    assertFalse(pool.threadCount() > 0);
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await(BOUND_MS, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
