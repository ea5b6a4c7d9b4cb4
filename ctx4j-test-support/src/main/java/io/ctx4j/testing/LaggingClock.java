package io.ctx4j.testing;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Registration;
import io.ctx4j.TimeSource;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * A clock whose timers never fire: a ctx4j context on it stays, for as long as a test needs, in the
 * state every context passes through between its deadline and the moment its timer ends it (a tick
 * of ctx4j's timer, longer on a loaded timer thread, for ever with a custom context that lags):
 * {@code err()} is still {@code null} while {@code remaining()} is zero or negative. Unlike {@link
 * io.ctx4j.ManualTimeSource}, moving it runs nothing.
 *
 * <p>Thread safety: {@link #now()} and {@link #pass} may be called from any thread; a thread that
 * reads {@code now()} after a {@code pass} returned sees the new time.
 */
public final class LaggingClock implements TimeSource {
  private volatile Instant now = Instant.parse("2040-01-01T00:00:00Z");

  /**
   * The current time of this clock, moved only by {@link #pass}.
   *
   * @return now on this clock
   */
  @Override
  public Instant now() {
    return now;
  }

  /**
   * Schedules nothing: the action never runs, as a timer that has not fired yet.
   *
   * @param deadline ignored
   * @param action ignored, never run
   * @return a registration whose {@code stop()} reports the action withdrawn
   */
  @Override
  public Registration schedule(Instant deadline, Runnable action) {
    return () -> true;
  }

  /**
   * Moves this clock forward without firing any timer.
   *
   * @param d how far
   * @throws NullPointerException if {@code d} is null
   */
  public synchronized void pass(Duration d) {
    Objects.requireNonNull(d, "d");
    now = now.plus(d);
  }

  /**
   * Returns a context with a timeout of {@code timeout} on this clock, below {@link
   * Context#background()}.
   *
   * @param timeout the timeout
   * @return a new context; its deadline passes only when this clock is moved past it, and nothing
   *     ends it but {@code cancel}
   * @throws NullPointerException if {@code timeout} is null
   */
  public CancelableContext withTimeout(Duration timeout) {
    return Context.withTimeout(Context.withTimeSource(Context.background(), this), timeout);
  }
}
