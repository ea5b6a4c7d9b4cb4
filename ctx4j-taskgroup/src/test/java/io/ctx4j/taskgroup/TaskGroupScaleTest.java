package io.ctx4j.taskgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Many tasks in one group, on the default threads of the running JDK. */
// In a separate thread: a hang in the uninterruptible close() then fails the test, not the build.
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class TaskGroupScaleTest {
  private static final int TASKS = 100_000;

  @Test
  void hundredThousandTasksInOneGroup() throws Exception {
    boolean expectVirtual = Runtime.version().feature() >= 21;
    LongAdder ran = new LongAdder();
    AtomicInteger wrongKind = new AtomicInteger();
    ConcurrentHashMap<Thread, Boolean> platformThreads = new ConcurrentHashMap<>();
    long t0 = System.nanoTime();
    try (TaskGroup g = TaskGroup.open(Context.background())) {
      for (int i = 0; i < TASKS; i++) {
        g.go(
            ctx -> {
              Thread t = Thread.currentThread();
              if (isVirtual(t) != expectVirtual) {
                wrongKind.incrementAndGet();
              }
              if (!expectVirtual) {
                platformThreads.put(t, Boolean.TRUE);
              }
              ran.increment();
              return null;
            });
      }
      g.await();
    }
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    System.out.printf(
        java.util.Locale.ROOT,
        "%,d tasks on %s threads in %d ms (JDK %d)%n",
        TASKS, expectVirtual ? "virtual" : "pooled platform", ms, Runtime.version().feature());
    assertEquals(TASKS, ran.sum());
    assertEquals(
        0,
        wrongKind.get(),
        "tasks ran on the wrong kind of thread; on JDK 21+ ctx4j-concurrent must come as its"
            + " multi-release jar (a reactor build must reach the package phase: verify/install)");
    if (!expectVirtual) {
      assertTrue(
          platformThreads.size() <= TaskGroup.DEFAULT_PLATFORM_THREADS,
          "the JDK 17 pool is bounded: " + platformThreads.size() + " threads");
    }
  }

  @Test
  void platformPoolIsBoundedByItsSize() throws Exception {
    int tasks = 40;
    java.util.Set<Thread> threads = ConcurrentHashMap.newKeySet();
    try (TaskGroup g = TaskGroup.builder(Context.background()).platformThreads(3).build()) {
      for (int i = 0; i < tasks; i++) {
        g.go(
            ctx -> {
              threads.add(Thread.currentThread());
              return null;
            });
      }
      g.await();
    }
    if (Runtime.version().feature() >= 21) {
      // The option only sizes the JDK 17 pool; here every task has a virtual thread of its own.
      assertEquals(tasks, threads.size());
      assertTrue(threads.stream().allMatch(TaskGroupScaleTest::isVirtual));
    } else {
      assertTrue(threads.size() <= 3, threads.size() + " threads for a pool of 3");
      assertTrue(threads.stream().allMatch(Thread::isDaemon), "pool threads must be daemons");
    }
  }

  @Test
  void blockedTasksAreAllReleasedByOneFailure() throws Exception {
    // On JDK 17 at most the pool's threads can block at once: one more task would queue behind
    // them forever (the documented caveat), so the failing task needs a free thread.
    int n = Runtime.version().feature() >= 21 ? 10_000 : TaskGroup.DEFAULT_PLATFORM_THREADS - 1;
    CountDownLatch started = new CountDownLatch(n);
    AtomicInteger interrupted = new AtomicInteger();
    IllegalStateException boom = new IllegalStateException("one of many");
    try (TaskGroup g = TaskGroup.open(Context.background())) {
      for (int i = 0; i < n; i++) {
        g.go(
            ctx -> {
              started.countDown();
              try {
                new CountDownLatch(1).await();
              } catch (InterruptedException e) {
                interrupted.incrementAndGet();
                throw e;
              }
              return null;
            });
      }
      assertTrue(started.await(50, TimeUnit.SECONDS), "not all tasks started");
      g.go(
          ctx -> {
            throw boom;
          });
      TaskGroupException e = assertThrows(TaskGroupException.class, g::await);
      assertSame(boom, e.getCause());
      assertEquals(0, boom.getSuppressed().length, "echoes of the cancellation are not attached");
    }
    assertEquals(n, interrupted.get(), "every blocked task is released by the interrupt");
  }

  static boolean isVirtual(Thread t) {
    if (Runtime.version().feature() < 21) {
      return false;
    }
    try {
      return (Boolean) Thread.class.getMethod("isVirtual").invoke(t);
    } catch (ReflectiveOperationException e) {
      throw new AssertionError(e);
    }
  }
}
