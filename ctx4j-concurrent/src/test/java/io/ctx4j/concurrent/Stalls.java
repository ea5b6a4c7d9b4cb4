package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/** Stalls a worker or a context's end on a latch, and watches a get that may stall. */
final class Stalls {
  private Stalls() {}

  /** Keeps a worker of {@code executor} busy until {@code release} opens; returns once it is taken. */
  static void worker(Executor executor, CountDownLatch release) throws Exception {
    CountDownLatch busy = new CountDownLatch(1);
    executor.execute(
        () -> {
          busy.countDown();
          try {
            release.await(60, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
    assertTrue(busy.await(30, TimeUnit.SECONDS));
  }

  /**
   * Registers on {@code ctx} a callback that holds the thread ending it until {@code mayReturn}
   * opens. Registered before the tasks of a test, it runs before theirs: their contexts are done
   * (the core marks the whole subtree done first), their futures not yet completed.
   *
   * @return a latch that opens when the cancelling thread is in the callback
   */
  static CountDownLatch endOf(Context ctx, CountDownLatch mayReturn) {
    CountDownLatch inCallback = new CountDownLatch(1);
    ctx.onDone(
        () -> {
          inCallback.countDown();
          try {
            mayReturn.await(60, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
    return inCallback;
  }

  /**
   * {@code f.get(timeoutMs)} on a thread of its own, with the interrupt status set first if {@code
   * interrupted}: what it threw (or returned) and whether the interrupt is still set, or, if it has
   * not returned after 20 s, that it is still waiting (the thread is a daemon, left behind).
   */
  static String timedGet(Future<?> f, long timeoutMs, boolean interrupted) throws Exception {
    AtomicReference<String> outcome = new AtomicReference<>();
    CountDownLatch returned = new CountDownLatch(1);
    Thread getter =
        new Thread(
            () -> {
              if (interrupted) {
                Thread.currentThread().interrupt();
              }
              String what;
              try {
                what = "returned " + f.get(timeoutMs, TimeUnit.MILLISECONDS);
              } catch (ExecutionException e) {
                what = "ExecutionException(" + e.getCause().getClass().getSimpleName() + ")";
              } catch (Exception e) {
                what = e.getClass().getSimpleName();
              }
              outcome.set(what + (Thread.interrupted() ? ", interrupted" : ""));
              returned.countDown();
            });
    getter.setDaemon(true);
    getter.start();
    if (!returned.await(20, TimeUnit.SECONDS)) {
      return "get(" + timeoutMs + " ms) still waiting after 20 s";
    }
    return outcome.get();
  }
}
