package io.ctx4j.servlet;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.testing.ContextProbe;
import jakarta.servlet.ServletRequest;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** What a handler saw of its request context, and when the context ended. */
final class Probe extends ContextProbe {
  /** Released by the test when the handler may go on (write, return). */
  final CountDownLatch go = new CountDownLatch(1);
  /** Counted down by a handler when it is about to return. */
  final CountDownLatch finished = new CountDownLatch(1);
  volatile boolean currentIsRequestContext;

  /** Called by the handler, in the dispatch thread or not. */
  void enter(Context ctx, boolean currentIsRequestContext) {
    this.currentIsRequestContext = currentIsRequestContext;
    enter(ctx);
  }

  /**
   * Called by a handler in its dispatch thread: enters with {@code CurrentContext.get()}, noting
   * whether it is the request's attribute.
   */
  Context enterCurrent(ServletRequest req) {
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
