package io.ctx4j;

/**
 * The context was cancelled: by its own {@link CancelableContext#cancel()}, by closing it, or
 * because an ancestor was cancelled. Its message is Go's, {@code "context canceled"}.
 *
 * <p>{@link Context#CANCELED} is the shared instance that {@link Context#err()} returns; see {@link
 * ContextException} for when a fresh instance is thrown instead.
 *
 * @since 0.1
 */
public final class CanceledException extends ContextException {
  private static final long serialVersionUID = 1L;

  /** The message, the same text as Go's {@code context.Canceled}. */
  public static final String MESSAGE = "context canceled";

  /** Creates an instance with Go's message and a stack trace; prefer the sentinel for comparisons. */
  public CanceledException() {
    super(MESSAGE);
  }

  /**
   * Creates an instance with Go's message, a stack trace and the given cause.
   *
   * @param cause why the context was cancelled; may be {@code null}
   */
  public CanceledException(Throwable cause) {
    super(MESSAGE);
    if (cause != null) {
      initCause(cause);
    }
  }

  /** {@inheritDoc} Always {@code false}. */
  @Override
  public boolean isTimeout() {
    return false;
  }

  @Override
  public ContextException sentinel() {
    return Context.CANCELED;
  }

  @Override
  public ContextException copy(Throwable cause) {
    return new CanceledException(attachable(cause));
  }
}
