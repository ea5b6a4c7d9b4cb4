package io.ctx4j;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * The clock and timer that deadlines are measured and fired with.
 *
 * <p>Contexts use {@link #system()} unless an ancestor was made with {@link
 * Context#withTimeSource(Context, TimeSource)}; every deadline below such a context reads {@link
 * #now()} and {@link #schedule schedules} its expiry on that source. Tests pass a {@link
 * ManualTimeSource} and move time by hand instead of sleeping, the way Caffeine's {@code Ticker} and
 * grpc-java's {@code Deadline.Ticker} are used.
 *
 * <p>Implementations must be thread-safe.
 *
 * @since 0.1
 */
public interface TimeSource {

  /**
   * Returns the current instant, the time deadlines are compared with.
   *
   * @return now, never null
   */
  Instant now();

  /**
   * Arranges for {@code action} to run once, no sooner than {@code deadline}. The action must be
   * short and must not block: it cancels a context.
   *
   * @param deadline when to run; an instant already past means as soon as possible
   * @param action what to run
   * @return a registration, never null, whose {@link Registration#stop()} withdraws the action if
   *     it has not started, releasing everything it holds
   */
  Registration schedule(Instant deadline, Runnable action);

  /**
   * Returns the system time source: {@link Instant#now()} and a shared timing wheel on one daemon
   * thread, with a resolution of about one millisecond. A deadline never fires before it is due.
   *
   * @return the shared system time source
   */
  static TimeSource system() {
    return SystemTimeSource.INSTANCE;
  }
}

