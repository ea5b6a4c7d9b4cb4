package io.ctx4j.spring.boot;

import io.ctx4j.Context;
import io.ctx4j.ContextException;

/** Fresh, throwable copies of a done context's error, for the client integrations. */
final class Errors {
  private Errors() {}

  /**
   * Returns a fresh copy of the error of {@code ctx} (its cause attached, its stack trace this
   * thread's), with {@code suppressed} added if not null. The core makes copies only by throwing.
   *
   * @throws IllegalStateException if {@code ctx} is not done
   */
  static ContextException copyOf(Context ctx, Throwable suppressed) {
    try {
      ctx.throwIfDone();
    } catch (ContextException e) {
      if (suppressed != null) {
        e.addSuppressed(suppressed);
      }
      return e;
    }
    throw new IllegalStateException("context is not done: " + ctx);
  }
}
