package io.ctx4j;

/**
 * A context that its owner can cancel: what Go's {@code WithCancel}, {@code WithDeadline} and
 * {@code WithTimeout} return as a context plus a {@code CancelFunc}, folded into one object.
 *
 * <p>It is {@link AutoCloseable}: closing cancels, so try-with-resources replaces Go's {@code defer
 * cancel()}. Cancel as soon as the work is over, even when it succeeded; that is what detaches the
 * context from its parent and releases its timer. Hand callees the context as a plain {@link
 * Context} when they should not be able to cancel it.
 *
 * <p>Cancelling is idempotent and thread-safe; the first cancellation of this context or of an
 * ancestor wins, and its error and cause never change afterwards.
 *
 * <p>A sealed abstract class rather than an interface: only ctx4j makes these, and a call through a
 * class type whose methods have a single implementation needs no receiver type check, so {@code
 * isDone()} and {@code err()} on a {@code CancelableContext} cost one load and one comparison.
 *
 * @since 0.1
 */
public abstract sealed class CancelableContext extends BaseContext implements Context, AutoCloseable
    permits CancelStateMachine {

  CancelableContext(InheritedSettings settings, ValueContext values) {
    super(settings, values);
  }

  /**
   * Cancels this context and all its descendants with {@link Context#CANCELED}, unless it is already
   * done. Does not wait for the work to stop.
   *
   * <p>Memory consistency effects: actions before this call happen-before anything another thread
   * does after observing this context, or a descendant, done.
   *
   * @return {@code true} if this call cancelled the context, {@code false} if it was already done
   */
  public abstract boolean cancel();

  /**
   * Cancels like {@link #cancel()} and records {@code cause}, which {@link Context#cause()} then
   * returns for this context and its descendants: Go's {@code CancelCauseFunc}. If the context is
   * already done, nothing changes.
   *
   * @param cause why; {@code null} means {@link Context#CANCELED}
   * @return {@code true} if this call cancelled the context
   */
  public abstract boolean cancel(Throwable cause);

  /** Cancels, as {@link #cancel()}; never throws. */
  @Override
  public abstract void close();
}
