package io.ctx4j.http.internal;

import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.http.ContextHttp;
import io.ctx4j.internal.CoreInternals;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.ref.WeakReference;

/**
 * What the HTTP client integrations that report failures as {@code IOException} (ctx4j-okhttp,
 * ctx4j-httpclient5) do with a context at the two points where they meet it: before a request goes
 * out, and when an exchange fails. Not API: exported only to those modules, so that the rule lives
 * in one place.
 *
 * <p>Both treat a deadline that has passed as an end even before ctx4j's timer has ended the
 * context (a tick; longer on a loaded timer thread; for ever with a custom context that lags): a
 * request sent then would carry a budget of 0, and a failure then is most likely the deadline's
 * doing, so the caller gets one error for one cause, whichever side noticed first.
 *
 * <p>Thread safety: stateless.
 */
public final class ClientFailures {
  private ClientFailures() {}

  /**
   * Fails a request, unsent, whose context has ended or whose deadline has passed. The context is
   * asked once: a custom context may answer differently the next time (a clock set back), and the
   * request is refused, or not, on the answer it gave.
   *
   * @param ctx the request's context
   * @throws java.io.InterruptedIOException {@link ContextHttp#ioErrorOf}{@code (ctx, null)} if the
   *     request must not go out
   */
  public static void requireLive(Context ctx) throws IOException {
    ContextException end = CoreInternals.endOf(ctx);
    if (end != null) {
      throw ioError(ctx, end, null);
    }
  }

  /**
   * Returns what the caller gets for an exchange or a body read that failed with {@code failure}:
   * {@link ContextHttp#ioErrorOf}{@code (ctx, failure)} (the failure suppressed on it) if the
   * context has ended or its deadline has passed, otherwise {@code failure} itself.
   *
   * @param ctx the request's context
   * @param failure what the client library threw
   * @return the exception to throw
   */
  public static IOException failed(Context ctx, IOException failure) {
    IOException end = endedWith(ctx, failure);
    return end != null ? end : failure;
  }

  /**
   * Returns the context's end for work under {@code ctx} that failed with {@code failure} (any
   * throwable: an interceptor's), {@link ContextHttp#ioErrorOf}{@code (ctx, failure)}, if the
   * context has ended or its deadline has passed; {@code failure} itself if it is such an end
   * already ({@link #isEnd}: made for this very context); {@code null} if the context may go on, for
   * the caller to throw {@code failure}. The context is asked once, as in {@link #requireLive}.
   *
   * @param ctx the request's context
   * @param failure what the work failed with
   * @return the end to throw, or {@code null}
   */
  public static InterruptedIOException endedWith(Context ctx, Throwable failure) {
    if (isEnd(ctx, failure)) {
      return (InterruptedIOException) failure; // mapped already, below: made once
    }
    ContextException end = CoreInternals.endOf(ctx);
    return end != null ? ioError(ctx, end, failure) : null;
  }

  /**
   * The end as these integrations report it: an {@code InterruptedIOException} with {@code end}'s
   * message, {@code end} as its cause and {@code failure}, if not null, suppressed on it. What {@link
   * ContextHttp#ioErrorOf} returns, made from one answer of the context. Its class is a private
   * subclass that remembers {@code ctx}, for {@link #isEnd}.
   *
   * @param ctx the context that ended
   * @param end a fresh copy of its end
   * @param failure what the work failed with, or {@code null}
   * @return a new exception
   */
  public static InterruptedIOException ioError(Context ctx, ContextException end, Throwable failure) {
    InterruptedIOException e = new End(ctx, end);
    if (failure != null) {
      e.addSuppressed(failure);
    }
    return e;
  }

  /**
   * Whether {@code failure} is {@code ctx}'s end as these integrations report it, made by a layer
   * below (the check of a redirect hop or retry, a mapped failure of one): what {@link #ioError}
   * made for this very context. Such a failure goes on as is: mapped again it would be made twice,
   * the first suppressed on the second, which says the same thing.
   *
   * <p>Not any {@code InterruptedIOException} caused by a {@code ContextException}: one of that
   * shape may be another context's end (a user's interceptor or exec handler that made a nested
   * ctx4j call under a context of its own, or wrapped some {@code ctx.err()} itself). Passed on as
   * is, it would stand for this call's end, the wrong context's error to the caller; it is mapped
   * instead, suppressed on this context's end if that has come, and goes on as it is otherwise.
   * Hence the test by the context that the end was made for, not by the shape, nor by the marker
   * class alone (a nested ctx4j call makes an instance of it too).
   *
   * @param ctx the call's context
   * @param failure what the call failed with
   * @return whether it is already {@code ctx}'s end
   */
  public static boolean isEnd(Context ctx, Throwable failure) {
    return failure instanceof End && ((End) failure).madeFor.get() == ctx;
  }

  /**
   * A context's end as ContextHttp.ioErrorOf makes it, knowing the context it was made for. The
   * reference is weak: the caller may keep the exception long after the call (logged, in a future,
   * a circuit breaker's last failure) and must not keep the context, its values and its parents
   * with it. {@link #isEnd} compares it with a context its caller holds, so a reference made for
   * that context has not been cleared. Serialized as a plain {@code InterruptedIOException} (its
   * form before this class): the reader needs no ctx4j-http, and a copy is no call's end.
   */
  private static final class End extends InterruptedIOException {
    private static final long serialVersionUID = 1L;

    private final transient WeakReference<Context> madeFor;

    End(Context ctx, ContextException end) {
      super(end.getMessage());
      initCause(end);
      this.madeFor = new WeakReference<>(ctx);
    }

    private Object writeReplace() {
      InterruptedIOException plain = new InterruptedIOException(getMessage());
      plain.initCause(getCause());
      plain.bytesTransferred = bytesTransferred;
      plain.setStackTrace(getStackTrace());
      for (Throwable s : getSuppressed()) {
        plain.addSuppressed(s);
      }
      return plain;
    }
  }
}
