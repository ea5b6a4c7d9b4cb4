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
 * <h2>The sentinels are locked</h2>
 *
 * The sentinels are shared by every context in the JVM, so no code can change them: on {@link
 * Context#CANCELED} and {@link Context#DEADLINE_EXCEEDED}, {@link #addSuppressed} and {@link
 * #setStackTrace} do nothing, {@link #fillInStackTrace()} leaves no stack trace and {@link
 * #initCause} throws {@code IllegalStateException}, as on a {@code Throwable} built with suppression
 * disabled and a non-writable stack trace. So Go's {@code return ctx.Err()}, written {@code throw
 * ctx.err()}, is safe: a try-with-resources whose {@code close()} fails cannot attach its exception
 * to the sentinel that every other context returns. Serializing a sentinel and reading it back gives
 * the same canonical instance, so {@code ==} holds across a stream too.
 *
 * <p>Compatibility trade-offs, against an ordinary exception: a thrown sentinel has no stack trace,
 * and a failure that try-with-resources would record as suppressed on it is <em>dropped</em> (it has
 * nowhere to go that would not be shared). Where either matters, throw a fresh copy instead: {@link
 * Context#throwIfDone()}, or {@code throw ctx.err().copy(ctx.cause())}. The sentinels are still
 * {@code CancellationException}s, so {@code catch (CancellationException e)} and {@code e ==
 * Context.CANCELED} work as before. (The lock comes from {@code Throwable}'s serialized form, read
 * once when {@code Context} initializes; on a runtime that cannot do that round trip the sentinels
 * are plain instances without a stack trace.)
 *
 * <p>Thread safety: the sentinels are immutable and safe to share between threads. A fresh
 * instance is an ordinary exception: it takes suppressed exceptions and a cause like any other, and
 * belongs to whoever caught it.
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

  /**
   * A sentinel is written as its kind only and read back as the canonical instance of the reading
   * JVM; any other instance is written as itself.
   *
   * @return what to serialize in place of this exception
   */
  final Object writeReplace() {
    return SentinelErrors.isSentinel(this) ? new SentinelErrors.Ref(isTimeout()) : this;
  }
}
