package io.ctx4j;

import io.ctx4j.internal.TimerThread;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/** The default source; deadlines below it go straight to the wheel without an {@code Instant} trip. */
final class SystemTimeSource implements TimeSource {
  static final SystemTimeSource INSTANCE = new SystemTimeSource();

  private SystemTimeSource() {}

  @Override
  public Instant now() {
    return Instant.now();
  }

  @Override
  public Registration schedule(Instant deadline, Runnable action) {
    Objects.requireNonNull(deadline, "deadline");
    Objects.requireNonNull(action, "action");
    return TimerThread.get().schedule(Durations.saturatedNanos(Instant.now(), deadline), action);
  }

  Registration scheduleAfter(long nanos, Runnable action) {
    return TimerThread.get().schedule(nanos, action);
  }

  @Override
  public String toString() {
    return "TimeSource.system()";
  }
}
