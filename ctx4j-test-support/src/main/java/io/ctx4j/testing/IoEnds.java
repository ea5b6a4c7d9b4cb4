package io.ctx4j.testing;

import io.ctx4j.ContextException;
import java.io.InterruptedIOException;

/**
 * Checks on a context's end as the integrations that report failures as {@code IOException}
 * (ctx4j-okhttp, ctx4j-httpclient5) make it ({@code ContextHttp.ioErrorOf}): an instance of a
 * subclass of {@code InterruptedIOException} that is not API, whose cause is a {@code
 * ContextException}.
 *
 * <p>Thread safety: stateless.
 */
public final class IoEnds {
  private IoEnds() {}

  /**
   * Fails unless {@code e} is an end ctx4j made, and made once: none of its suppressed exceptions is
   * that same end made again (a lower layer's, mapped again above it instead of passed on). Made
   * again means: an end ctx4j made too (of {@code e}'s class), caused by the same kind of {@code
   * ContextException} with the same cause (the context's, one object for every copy of its end).
   * The end of another context, suppressed on {@code e} (a user's interceptor failed with it), is
   * not; this check cannot tell it apart, though, from the same end if both contexts ended the same
   * way with the same cause (two deadlines, say): a test that mixes contexts gives them different
   * ones.
   *
   * @param e what a call failed with
   * @throws AssertionError if {@code e} is not an end ctx4j made, or if it was made twice
   * @throws NullPointerException if {@code e} is null
   */
  public static void assertMadeOnce(Throwable e) {
    // ctx4j's end is of a private subclass; an InterruptedIOException itself is someone else's.
    if (!(e instanceof InterruptedIOException)
        || e.getClass() == InterruptedIOException.class
        || !(e.getCause() instanceof ContextException)) {
      throw new AssertionError("not a context's end made by ctx4j: " + e, e);
    }
    Throwable end = e.getCause();
    for (Throwable s : e.getSuppressed()) {
      if (s.getClass() == e.getClass()
          && s.getCause() != null
          && s.getCause().getClass() == end.getClass()
          && s.getCause().getCause() == end.getCause()) {
        throw new AssertionError("the end was made twice, the first suppressed on the second: " + s, e);
      }
    }
  }
}
