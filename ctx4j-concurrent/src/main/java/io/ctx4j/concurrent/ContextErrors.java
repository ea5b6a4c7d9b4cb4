package io.ctx4j.concurrent;

import io.ctx4j.Context;
import io.ctx4j.ContextException;

/** Fresh, throwable copies of a context's error, for completing futures with it. */
final class ContextErrors {
  private ContextErrors() {}

  /**
   * Returns a fresh copy of the error of {@code ctx}, with its cause attached, or null if it is not
   * done. The core makes copies only by throwing them, so the copy is caught here.
   */
  static ContextException of(Context ctx) {
    try {
      ctx.throwIfDone();
      return null;
    } catch (ContextException e) {
      return e;
    }
  }
}
