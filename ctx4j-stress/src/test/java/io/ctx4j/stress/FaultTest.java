package io.ctx4j.stress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Registration;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.testing.ForeignContext;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Faults in user code and in the environment: callbacks that throw, block, or cancel other contexts,
 * and threads interrupted while cancelling or waiting. Every wait is bounded so that a deadlock
 * fails the test instead of hanging it.
 */
class FaultTest {
  private static final long BOUND_S = 20;

  @Test
  void throwingCallbackIsReportedAndStopsNoOther() {
    CancelableContext ctx = Context.withCancel(Context.background());
    AtomicInteger ran = new AtomicInteger();
    RuntimeException boom = new IllegalStateException("boom");
    for (int i = 0; i < 10; i++) {
      ctx.onDone(ran::incrementAndGet);
      ctx.onDone(() -> {
        throw boom;
      });
    }
    CancelableContext child = Context.withCancel(ctx);
    child.onDone(ran::incrementAndGet);
    List<Throwable> reported = new CopyOnWriteArrayList<>();
    Thread me = Thread.currentThread();
    Thread.UncaughtExceptionHandler old = me.getUncaughtExceptionHandler();
    me.setUncaughtExceptionHandler((t, e) -> reported.add(e));
    try {
      assertTrue(ctx.cancel());
    } finally {
      me.setUncaughtExceptionHandler(old);
    }
    assertEquals(11, ran.get(), "callbacks run besides the throwing ones");
    assertEquals(Collections.nCopies(10, boom), reported);
    assertTrue(child.isDone());
  }

  @Test
  void throwingAndBlockingCallbacksOnTheTimerDoNotStallDeadlines() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch blocked = new CountDownLatch(1);
    List<Throwable> reported = new CopyOnWriteArrayList<>();
    CountDownLatch reportedLatch = new CountDownLatch(1);
    Thread.UncaughtExceptionHandler old = Thread.getDefaultUncaughtExceptionHandler();
    Thread.setDefaultUncaughtExceptionHandler(
        (t, e) -> {
          reported.add(e);
          reportedLatch.countDown();
        });
    Thread testThread = Thread.currentThread();
    try {
      RuntimeException boom = new IllegalStateException("timer boom");
      // The callbacks must be registered before the deadline fires, so that the timer thread fires
      // them. If a stalled test thread registers too late, onDone runs the callback right here: it
      // must not block then (nothing would release it); try again with a longer timeout.
      for (long ms = 5; ; ms *= 4) {
        assertTrue(ms < 100_000, "could not register a callback before a deadline fired");
        AtomicBoolean late = new AtomicBoolean();
        CancelableContext first = Context.withTimeout(Context.background(), Duration.ofMillis(ms));
        first.onDone(
            () -> {
              if (Thread.currentThread() == testThread) {
                late.set(true);
                return;
              }
              blocked.countDown();
              try {
                release.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
        if (late.get()) {
          continue;
        }
        first.onDone(() -> {
          throw boom;
        });
        break;
      }
      assertTrue(blocked.await(BOUND_S, TimeUnit.SECONDS), "the first deadline never fired");
      // While a callback of the first deadline blocks, later deadlines still fire.
      for (int i = 0; i < 20; i++) {
        CancelableContext later = Context.withTimeout(Context.background(), Duration.ofMillis(2));
        assertTrue(later.await(Duration.ofSeconds(BOUND_S)), "deadline " + i + " stalled");
        assertSame(Context.DEADLINE_EXCEEDED, later.err());
      }
      assertTrue(reportedLatch.await(BOUND_S, TimeUnit.SECONDS), "the exception was not reported");
      assertSame(boom, reported.get(0));
    } finally {
      release.countDown();
      Thread.setDefaultUncaughtExceptionHandler(old);
    }
  }

  @Test
  void blockingAfterFuncDoesNotStopOthers() throws InterruptedException {
    CancelableContext ctx = Context.withCancel(Context.background());
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch others = new CountDownLatch(50);
    Context.afterFunc(
        ctx,
        () -> {
          try {
            release.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
    for (int i = 0; i < 50; i++) {
      Context.afterFunc(ctx, others::countDown);
    }
    ctx.cancel();
    try {
      assertTrue(others.await(BOUND_S, TimeUnit.SECONDS), "a blocked afterFunc held up the others");
    } finally {
      release.countDown();
    }
  }

  @Test
  void callbacksThatCancelParentsAndOtherBranchesDoNotDeadlock() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      for (int round = 0; round < 2_000; round++) {
        CancelableContext root = Context.withCancel(Context.background());
        CancelableContext a = Context.withCancel(root);
        CancelableContext b = Context.withCancel(root);
        CancelableContext a1 = Context.withCancel(a);
        CancelableContext b1 = Context.withCancel(b);
        a1.onDone(root::cancel); // a grandchild cancels the root
        b1.onDone(a::cancel); // one branch cancels the other
        a.onDone(b1::cancel);
        root.onDone(a1::cancel); // the parent's callback cancels the child (Go's interlocked case)
        CyclicBarrier start = new CyclicBarrier(2);
        Future<?> f1 = pool.submit(() -> { start.await(); return a1.cancel(); });
        Future<?> f2 = pool.submit(() -> { start.await(); return b1.cancel(); });
        f1.get(BOUND_S, TimeUnit.SECONDS);
        f2.get(BOUND_S, TimeUnit.SECONDS);
        for (Context c : List.of(root, a, b, a1, b1)) {
          assertTrue(c.isDone(), "round " + round + ": " + c + " not done");
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void simultaneousCancelsOfABigTreeFinishAndAgree() throws Exception {
    // Go's TestSimultaneousCancels: every node of a 3-level tree cancelled from its own task at once.
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      for (int round = 0; round < 50; round++) {
        CancelableContext root = Context.withCancel(Context.background());
        List<CancelableContext> all = new ArrayList<>();
        all.add(root);
        for (int i = 0; i < 5; i++) {
          CancelableContext c = Context.withCancel(root);
          all.add(c);
          for (int j = 0; j < 5; j++) {
            CancelableContext g = Context.withTimeout(c, Duration.ofHours(1));
            all.add(g);
            for (int k = 0; k < 4; k++) {
              all.add(Context.withCancel(g));
            }
          }
        }
        Collections.shuffle(all);
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Boolean>> results = new ArrayList<>();
        for (CancelableContext c : all) {
          results.add(pool.submit(() -> { go.await(); return c.cancel(); }));
        }
        go.countDown();
        int winners = 0;
        for (Future<Boolean> r : results) {
          winners += r.get(BOUND_S, TimeUnit.SECONDS) ? 1 : 0;
        }
        assertTrue(winners >= 1 && winners <= all.size());
        for (CancelableContext c : all) {
          assertSame(Context.CANCELED, c.err());
          assertEquals(0, CoreInternals.registrationCount(c));
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void interruptedCancellersLoseNothing() throws Exception {
    int threads = 4;
    int perThread = 20_000;
    CancelableContext root = Context.withCancel(Context.background());
    List<List<CancelableContext>> made = new ArrayList<>();
    AtomicInteger callbacks = new AtomicInteger();
    List<Thread> workers = new ArrayList<>();
    AtomicInteger interruptedSeen = new AtomicInteger();
    CountDownLatch done = new CountDownLatch(threads);
    for (int t = 0; t < threads; t++) {
      List<CancelableContext> mine = new ArrayList<>();
      made.add(mine);
      Thread w = new Thread(() -> {
        try {
          for (int i = 0; i < perThread; i++) {
            CancelableContext c = Context.withCancel(root);
            Context.withCancel(c).onDone(callbacks::incrementAndGet);
            mine.add(c);
            if (i % 2 == 0) {
              c.cancel(new RuntimeException("by worker"));
            }
            if (Thread.interrupted()) {
              interruptedSeen.incrementAndGet();
              Thread.currentThread().interrupt(); // cancel with the flag set too
            }
          }
        } finally {
          done.countDown();
        }
      });
      workers.add(w);
      w.start();
    }
    // Interrupt the workers while they derive and cancel.
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_S);
    while (done.getCount() > 0 && System.nanoTime() < until) {
      for (Thread w : workers) {
        w.interrupt();
      }
      Thread.yield();
    }
    assertTrue(done.await(BOUND_S, TimeUnit.SECONDS));
    Thread.currentThread().interrupt();
    try {
      assertTrue(root.cancel(), "cancel with the interrupt flag set");
      assertTrue(Thread.currentThread().isInterrupted(), "cancel must not swallow the interrupt");
    } finally {
      Thread.interrupted();
    }
    for (List<CancelableContext> mine : made) {
      assertEquals(perThread, mine.size());
      for (CancelableContext c : mine) {
        assertTrue(c.isDone());
      }
    }
    assertEquals(threads * perThread, callbacks.get(), "callbacks lost");
    assertTrue(interruptedSeen.get() > 0, "the interrupts never landed");
  }

  @Test
  void interruptedWaitersLeaveAndTheOthersWake() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    int n = 8;
    CountDownLatch parked = new CountDownLatch(n);
    List<CompletableFuture<String>> outcomes = new ArrayList<>();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      CompletableFuture<String> outcome = new CompletableFuture<>();
      outcomes.add(outcome);
      Thread t = new Thread(() -> {
        parked.countDown();
        try {
          ctx.await();
          outcome.complete("woken");
        } catch (InterruptedException e) {
          outcome.complete("interrupted");
        }
      });
      threads.add(t);
      t.start();
    }
    assertTrue(parked.await(BOUND_S, TimeUnit.SECONDS));
    for (int i = 0; i < n; i += 2) {
      threads.get(i).interrupt();
    }
    for (int i = 0; i < n; i += 2) {
      assertEquals("interrupted", outcomes.get(i).get(BOUND_S, TimeUnit.SECONDS));
    }
    assertFalse(ctx.isDone());
    ctx.cancel();
    for (int i = 1; i < n; i += 2) {
      assertEquals("woken", outcomes.get(i).get(BOUND_S, TimeUnit.SECONDS), "waiter " + i);
    }
    assertEquals(0, CoreInternals.registrationCount(ctx));
  }

  @Test
  void foreignParentWhoseStopThrowsStillLetsTheChildCancel() {
    RuntimeException boom = new IllegalStateException("stop failed");
    Context foreign = new ForeignContext() {
      @Override
      public Registration onDone(Runnable callback) {
        return () -> {
          throw boom;
        };
      }
    };
    CancelableContext child = Context.withCancel(foreign);
    List<Throwable> reported = new CopyOnWriteArrayList<>();
    Thread me = Thread.currentThread();
    Thread.UncaughtExceptionHandler old = me.getUncaughtExceptionHandler();
    me.setUncaughtExceptionHandler((t, e) -> reported.add(e));
    try {
      assertTrue(child.cancel());
    } finally {
      me.setUncaughtExceptionHandler(old);
    }
    assertSame(Context.CANCELED, child.err());
    assertEquals(List.of(boom), reported);
    assertThrows(ContextException.class, child::throwIfDone);
  }
}
