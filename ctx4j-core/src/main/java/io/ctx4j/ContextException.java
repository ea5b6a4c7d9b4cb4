package io.ctx4j;

import java.util.concurrent.CancellationException;

/**
 * Why a {@link Context} is done: the Java form of Go's {@code context.Canceled} and {@code
 * context.DeadlineExceeded}.
 *
 * <p>There are exactly two kinds, {@link CanceledException} and {@link DeadlineExceededException}.
 * {@link Context#err()} returns one of the two shared sentinels {@link Context#CANCELED} and {@link
 * Context#DEADLINE_EXCEEDED}, which carry no stack trace and are meant to be compared with {@code
 * ==}, as Go compares errors. Methods that <em>throw</em> (for example {@link Context#throwIfDone()}
 * or {@link Context#await(java.util.concurrent.CompletionStage)}) throw a fresh instance of the same
 * class, with a stack trace and with the context's {@linkplain Context#cause() cause} attached as
 * {@link #getCause()} when one was given. Use {@link #isTimeout()} or {@code instanceof} to tell
 * the kinds apart whichever instance you hold.
 *
 * <p>Do not throw the sentinels themselves: they are shared by every context in the JVM, and {@link
 * Throwable#addSuppressed} on a shared instance would accumulate. This class is immutable once
 * constructed and safe to share between threads.
 *
 * @since 0.1
 */
public abstract sealed class ContextException extends CancellationException
    permits CanceledException, DeadlineExceededException {
  private static final long serialVersionUID = 1L;

  ContextException(String message) {
    super(message);
  }

  /**
   * Tells whether this error means a deadline passed, as Go's {@code Timeout()} method on {@code
   * DeadlineExceeded} does.
   *
   * @return {@code true} for {@link DeadlineExceededException}, {@code false} for {@link
   *     CanceledException}
   */
  public abstract boolean isTimeout();

  /**
   * Returns the shared sentinel of this kind, the value {@link Context#err()} returns.
   *
   * @return {@link Context#CANCELED} or {@link Context#DEADLINE_EXCEEDED}
   */
  public abstract ContextException sentinel();

  /**
   * Makes a fresh, throwable copy of this kind with a stack trace taken here: what to throw, or to
   * complete a future with, when a context is done. {@code ctx.err().copy(ctx.cause())} is what
   * {@link Context#throwIfDone()} throws.
   *
   * @param cause the context's cause, attached as {@link #getCause()} unless it is {@code null} or
   *     itself a {@code ContextException} sentinel
   * @return a new exception of the same class
   */
  public abstract ContextException copy(Throwable cause);

  static Throwable attachable(Throwable cause) {
    return (cause == Context.CANCELED || cause == Context.DEADLINE_EXCEEDED) ? null : cause;
  }

  /** Turns a freshly built instance into a shared sentinel: no stack trace, cause locked to none. */
  static <E extends ContextException> E asSentinel(E e) {
    e.setStackTrace(new StackTraceElement[0]);
    e.initCause(null);
    return e;
  }
}
