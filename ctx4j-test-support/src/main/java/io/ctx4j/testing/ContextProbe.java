package io.ctx4j.testing;

import io.ctx4j.Context;
import io.ctx4j.ContextException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;

/**
 * What a request handler saw of its context: the time left when it entered, and when and how the
 * context ended. Server tests give one to a handler, which calls {@link #enter}, and then wait on
 * {@link #entered} and {@link #ended}.
 *
 * <p>Thread safety: {@link #enter} is called once, by the handler, in any thread; the fields are
 * volatile and set before the latch that announces them is counted down, so a thread that has seen
 * {@link #entered} (or {@link #ended}) reach zero sees the values set before it.
 */
public class ContextProbe {
  /** Reaches zero when the handler has entered. */
  public final CountDownLatch entered = new CountDownLatch(1);
  /** Reaches zero when the handler's context has ended. */
  public final CountDownLatch ended = new CountDownLatch(1);
  /** The handler's context. */
  public volatile Context ctx;
  /** {@code System.nanoTime()} when the handler entered. */
  public volatile long enteredNanos;
  /** {@code System.nanoTime()} when the context ended. */
  public volatile long endedNanos;
  /** The context's error once ended. */
  public volatile ContextException err;
  /** The context's cause once ended. */
  public volatile Throwable cause;
  /** The time the context had left when the handler entered; null without a deadline. */
  public volatile Duration remainingAtEntry;

  /** Creates a probe no handler has entered. */
  public ContextProbe() {}

  /**
   * Records {@code ctx} as the handler's context and its time left, watches it end, then counts
   * {@link #entered} down. Set any field of a subclass before calling this.
   *
   * @param ctx the handler's context
   */
  public void enter(Context ctx) {
    this.ctx = ctx;
    remainingAtEntry = ctx.remaining().orElse(null);
    enteredNanos = System.nanoTime();
    ctx.onDone(
        () -> {
          endedNanos = System.nanoTime();
          err = ctx.err();
          cause = ctx.cause();
          ended.countDown();
        });
    entered.countDown();
  }
}
