package io.ctx4j;

import java.time.Instant;

/**
 * A cancelable context with a deadline of its own: Go's {@code timerCtx}. The timer is scheduled
 * only after the context is registered and still live; {@link #afterDone()} stops it whoever
 * finishes the context first. The two writes, {@code timer} here and the {@code DoneState} in the
 * canceller, are both volatile and each side re-reads the other's, so a timer is never left pending
 * behind a done context.
 */
final class DeadlineContext extends CancelStateMachine {
  private final DoneState expired;
  private volatile Registration timer;

  DeadlineContext(
      Context parent,
      InheritedSettings settings,
      ValueContext values,
      Context cancelSource,
      DoneState expired) {
    super(parent, settings, values, cancelSource);
    this.expired = expired;
  }

  void start(TimeSource source, Instant deadline, long nanos) {
    Runnable expire = this::expire;
    Registration t =
        source == SystemTimeSource.INSTANCE
            ? SystemTimeSource.INSTANCE.scheduleAfter(nanos, expire)
            : scheduleOn(source, deadline, expire);
    timer = t;
    if (isDone()) {
      stopQuietly(t);
    }
  }

  /**
   * A custom source's timer. One that returns no registration could never be withdrawn, so a
   * cancel would leave the source holding us until the deadline: refused, naming the class, and the
   * factory then cancels the context it does not return.
   */
  private static Registration scheduleOn(TimeSource source, Instant deadline, Runnable expire) {
    Registration t = source.schedule(deadline, expire);
    if (t == null) {
      throw new NullPointerException(
          "schedule() of "
              + source.getClass().getName()
              + " returned null instead of a Registration");
    }
    return t;
  }

  private void expire() {
    cancel(expired, true);
  }

  @Override
  void afterDone() {
    Registration t = timer;
    if (t != null) {
      stopQuietly(t);
    }
  }

  @Override
  void appendLayer(StringBuilder sb) {
    Instant d = settings.deadline;
    sb.append(".WithDeadline(").append(d).append(" [");
    String left;
    try {
      left = GoDuration.format(Durations.saturatedNanos(settings.timeSource().now(), d));
    } catch (RuntimeException e) {
      left = "?"; // a custom clock that fails must not make logging a context fail
    }
    sb.append(left).append("])");
  }
}

