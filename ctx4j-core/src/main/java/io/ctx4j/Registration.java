package io.ctx4j;

/**
 * A callback registered on a context, as returned by {@link Context#onDone(Runnable)} and {@link
 * Context#afterFunc(Context, Runnable)}: Go's {@code stop func() bool}.
 *
 * <p>{@link #stop()} is the arbiter between the callback and its cancellation: for a given
 * registration exactly one of "the callback was started" and "a call to {@code stop()} returned
 * {@code true}" happens, never both, never neither once the context is done. {@code stop()} does not
 * wait for a callback that has already started. Closing a registration is the same as stopping it,
 * so try-with-resources unregisters a callback that is no longer wanted.
 *
 * <p>Implementations must be thread-safe; {@code stop()} may be called any number of times from any
 * thread. Custom {@link Context} implementations return their own registrations from {@code onDone}.
 *
 * @since 0.1
 */
@FunctionalInterface
public interface Registration extends AutoCloseable {

  /**
   * Unregisters the callback if it has not started yet.
   *
   * @return {@code true} if this call prevented the callback from running; {@code false} if it has
   *     already been started or an earlier call already stopped it
   */
  boolean stop();

  /** Same as {@link #stop()}, ignoring its result. */
  @Override
  default void close() {
    stop();
  }
}
