package io.ctx4j;

/**
 * The context's deadline passed, or one of its ancestors' did. Its message is Go's, {@code "context
 * deadline exceeded"}, and {@link #isTimeout()} answers {@code true}.
 *
 * <p>{@link Context#DEADLINE_EXCEEDED} is the shared instance that {@link Context#err()} returns;
 * see {@link ContextException} for when a fresh instance is thrown instead.
 *
 * @since 0.1
 */
public final class DeadlineExceededException extends ContextException {
  private static final long serialVersionUID = 1L;

  /** The message, the same text as Go's {@code context.DeadlineExceeded}. */
  public static final String MESSAGE = "context deadline exceeded";

  /** Creates an instance with Go's message and a stack trace; prefer the sentinel for comparisons. */
  public DeadlineExceededException() {
    super(MESSAGE);
  }

  /**
   * Creates an instance with Go's message, a stack trace and the given cause.
   *
   * @param cause why the deadline was set, as given to {@link Context#withDeadlineCause}; may be
   *     {@code null}
   */
  public DeadlineExceededException(Throwable cause) {
    super(MESSAGE);
    if (cause != null) {
      initCause(cause);
    }
  }

  /** {@inheritDoc} Always {@code true}. */
  @Override
  public boolean isTimeout() {
    return true;
  }

  @Override
  public ContextException sentinel() {
    return Context.DEADLINE_EXCEEDED;
  }

  @Override
  public ContextException copy(Throwable cause) {
    return new DeadlineExceededException(attachable(cause));
  }
}
