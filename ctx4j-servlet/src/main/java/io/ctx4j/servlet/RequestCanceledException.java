package io.ctx4j.servlet;

import java.util.Objects;

/**
 * The cause of a request context's end, as set by {@link ContextServletFilter}: it says why the
 * request context ended ({@link #reason()}) and, where the container reported a failure, carries it
 * as its {@linkplain #getCause() cause}. Read it with {@code ctx.cause()} or {@code
 * Context.cause(ctx)}:
 *
 * <pre>{@code
 * if (ctx.cause() instanceof RequestCanceledException e
 *     && e.reason() == RequestCanceledException.Reason.CLIENT_DISCONNECTED) {
 *   metrics.clientGone();
 * }
 * }</pre>
 *
 * <p>The context's {@code err()} is still one of ctx4j's two sentinels: {@code
 * Context.DEADLINE_EXCEEDED} for {@link Reason#DEADLINE_EXCEEDED}, {@code Context.CANCELED} for the
 * others. Instances are immutable, carry no stack trace (they are values, not thrown by the filter)
 * and refuse suppressed exceptions, so one instance may be shared by many contexts; they are safe to
 * read from any thread.
 *
 * @since 0.1
 */
public final class RequestCanceledException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Why a request context ended. */
  public enum Reason {
    /** The handler returned (synchronous) or the async cycle completed: the request is over. */
    RESPONSE_COMPLETED("response completed"),
    /** The handler threw: the request is over, failed; the cause is what it threw. */
    HANDLER_FAILED("handler failed"),
    /**
     * The client went away (closed the connection, reset the HTTP/2 stream) or reading or writing
     * the exchange failed, other than by a timeout; the cause is the container's exception where it
     * gave one.
     */
    CLIENT_DISCONNECTED("client disconnected"),
    /**
     * The container reported a failure of the request other than a disconnect (a timeout of its
     * own, such as an idle timeout, included, even one it reports as an {@code IOException}), or a
     * request wrapper in front of the filter threw when asked whether async goes on (cause
     * attached).
     */
    REQUEST_FAILED("request failed"),
    /** The async timeout ({@code AsyncContext.setTimeout}) fired. */
    ASYNC_TIMEOUT("async timeout"),
    /** The deadline the caller sent (or the server's maximum) passed. */
    DEADLINE_EXCEEDED("deadline exceeded"),
    /** The server root was cancelled: {@link ContextServletFilter#shutdown} or {@code destroy()}. */
    SERVER_SHUTDOWN("server shutdown");

    private final String text;

    Reason(String text) {
      this.text = text;
    }

    /**
     * Returns the short text used in messages, for example {@code "client disconnected"}.
     *
     * @return the text
     */
    public String text() {
      return text;
    }
  }

  /** Why the request context ended. */
  private final Reason reason;

  /** More about it, or null. */
  private final String detail;

  /**
   * Creates a cause with the given reason and detail.
   *
   * @param reason why the request context ended
   * @param detail more about it, or null; appended to the message after a colon
   * @param cause the container's or handler's exception, or null
   * @throws NullPointerException if {@code reason} is null
   */
  public RequestCanceledException(Reason reason, String detail, Throwable cause) {
    // No message, suppression or stack trace: a cause is a value that many contexts may share.
    super(null, cause, false, false);
    this.reason = Objects.requireNonNull(reason, "reason");
    this.detail = detail;
  }

  /**
   * Returns why the request context ended.
   *
   * @return the reason, never null
   */
  public Reason reason() {
    return reason;
  }

  /**
   * Returns the reason's text, followed by a colon and the detail when there is one, for example
   * {@code "deadline exceeded: set by the caller's grpc-timeout"}.
   *
   * @return the message
   */
  @Override
  public String getMessage() {
    return detail == null ? reason.text() : reason.text() + ": " + detail;
  }
}
