package io.ctx4j.testing;

import io.ctx4j.Context;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Bounded waits for code that may not throw {@link InterruptedException}: a server handler, a
 * body subscriber, a task handed to an executor. The wait ends early on an interrupt, which is kept
 * as the thread's interrupt status for whoever runs the code to see.
 *
 * <p>Thread safety: stateless; call from any thread. Memory consistency: as {@link Context#await}
 * and {@link CountDownLatch#await} when they return {@code true}.
 */
public final class Quietly {
  private Quietly() {}

  /**
   * Waits up to {@code max} for {@code ctx} to end.
   *
   * @param ctx the context
   * @param max the longest wait
   * @return whether the context ended in time; {@code false} also if the thread was interrupted
   *     (its interrupt status is then set again)
   * @throws NullPointerException if an argument is null
   */
  public static boolean await(Context ctx, Duration max) {
    Objects.requireNonNull(ctx, "ctx");
    Objects.requireNonNull(max, "max");
    try {
      return ctx.await(max);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * Waits up to {@code max} for {@code latch} to reach zero.
   *
   * @param latch the latch
   * @param max the longest wait
   * @return whether the latch reached zero in time; {@code false} also if the thread was interrupted
   *     (its interrupt status is then set again)
   * @throws NullPointerException if an argument is null
   */
  public static boolean await(CountDownLatch latch, Duration max) {
    Objects.requireNonNull(latch, "latch");
    Objects.requireNonNull(max, "max");
    try {
      return latch.await(max.toNanos(), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * Waits up to {@code max} for {@code latch} to reach zero, as a call that ignores interrupts does
   * (a host name lookup by the JDK's resolver, socket I/O on a platform thread): an interrupt does
   * not end the wait, and is set again as the thread's interrupt status when the wait ends.
   *
   * @param latch the latch
   * @param max the longest wait
   * @return whether the latch reached zero in time
   * @throws NullPointerException if an argument is null
   */
  public static boolean awaitIgnoringInterrupts(CountDownLatch latch, Duration max) {
    Objects.requireNonNull(latch, "latch");
    Objects.requireNonNull(max, "max");
    long end = System.nanoTime() + max.toNanos();
    boolean interrupted = false;
    try {
      for (; ; ) {
        try {
          return latch.await(end - System.nanoTime(), TimeUnit.NANOSECONDS);
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
}
