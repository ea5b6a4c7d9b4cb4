package io.ctx4j.servlet;

import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.concurrent.CurrentContext;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** What a handler saw of its request context, and when the context ended. */
final class Probe {
  final CountDownLatch entered = new CountDownLatch(1);
  final CountDownLatch ended = new CountDownLatch(1);
  /** Released by the test when the handler may go on (write, return). */
  final CountDownLatch go = new CountDownLatch(1);
  /** Counted down by a handler when it is about to return. */
  final CountDownLatch finished = new CountDownLatch(1);
  volatile Context ctx;
  volatile long enteredNanos;
  volatile long endedNanos;
  volatile ContextException err;
  volatile Throwable cause;
  volatile Duration remainingAtEntry;
  volatile boolean currentIsRequestContext;

  /** Called by the handler, in the dispatch thread or not. */
  void enter(Context ctx, boolean currentIsRequestContext) {
    this.ctx = ctx;
    this.currentIsRequestContext = currentIsRequestContext;
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

  /**
   * Called by a handler in the dispatch thread: enters the current context, noting whether it is
   * the request attribute too.
   */
  Context enterCurrent(jakarta.servlet.ServletRequest req) {
    Context ctx = CurrentContext.get();
    enter(ctx, ctx == ContextServletFilter.contextOf(req));
    return ctx;
  }

  void awaitGo() throws InterruptedException {
    if (!go.await(60, TimeUnit.SECONDS)) {
      throw new AssertionError("the test never released the handler");
    }
  }

  RequestCanceledException.Reason reason() {
    return cause instanceof RequestCanceledException ? ((RequestCanceledException) cause).reason() : null;
  }

  static long millisBetween(long fromNanos, long toNanos) {
    return TimeUnit.NANOSECONDS.toMillis(toNanos - fromNanos);
  }
}
