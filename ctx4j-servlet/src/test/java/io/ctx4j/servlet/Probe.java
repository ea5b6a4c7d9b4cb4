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
    return reasonOf(cause);
  }

  /** The reason of a request context's cause, or null if the cause is another (or none). */
  static RequestCanceledException.Reason reasonOf(Throwable cause) {
    return cause instanceof RequestCanceledException ? ((RequestCanceledException) cause).reason() : null;
  }

  /**
   * Waits for {@code ctx} to end, at most {@code seconds}, and returns the reason of its cause.
   *
   * @throws AssertionError naming {@code what} if it did not end in time
   */
  static RequestCanceledException.Reason reasonAtEnd(Context ctx, long seconds, String what)
      throws InterruptedException {
    CountDownLatch ended = new CountDownLatch(1);
    ctx.onDone(ended::countDown);
    if (!ended.await(seconds, TimeUnit.SECONDS)) {
      throw new AssertionError(what + ": the request context did not end within " + seconds + " s");
    }
    return reasonOf(ctx.cause());
  }

  /**
   * Waits for {@code ctx} to end, at most 10 s.
   *
   * @throws AssertionError if it did not
   */
  static void awaitEnd(Context ctx) throws InterruptedException {
    reasonAtEnd(ctx, 10, "the request");
  }

  /** "live", or "done: " and the cause: what a handler saw, for a test's failure message. */
  static String state(Context ctx) {
    return ctx.isDone() ? "done: " + ctx.cause() : "live";
  }

  static long millisBetween(long fromNanos, long toNanos) {
    return TimeUnit.NANOSECONDS.toMillis(toNanos - fromNanos);
  }
}
