package io.ctx4j.testing;

import io.ctx4j.ContextException;
import java.io.InterruptedIOException;

/**
 * Checks on a context's end as the integrations that report failures as {@code IOException}
 * (ctx4j-okhttp, ctx4j-httpclient5) make it: an {@code InterruptedIOException} whose cause is a
 * {@code ContextException}.
 *
 * <p>Thread safety: stateless.
 */
public final class IoEnds {
  private IoEnds() {}

  /**
   * Fails unless {@code e}'s end was made once: none of its suppressed exceptions is itself such an
   * end (a lower layer's, mapped again above it instead of passed on).
   *
   * @param e what a call failed with
   * @throws AssertionError if the end was made twice
   * @throws NullPointerException if {@code e} is null
   */
  public static void assertMadeOnce(Throwable e) {
    for (Throwable s : e.getSuppressed()) {
      if (s instanceof InterruptedIOException && s.getCause() instanceof ContextException) {
        throw new AssertionError("the end was made twice, the first suppressed on the second: " + s, e);
      }
    }
  }
}
