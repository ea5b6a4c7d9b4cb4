package io.ctx4j.jcstress;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ManualTimeSource;
import java.time.Duration;
import java.time.Instant;

/** What the shared-deadline tests start from: a root on a manual clock, so no deadline fires. */
final class SharedDeadlineFixture {
  static final Duration TIMEOUT = Duration.ofSeconds(1); // a 10 ms window
  static final Throwable CAUSE = new IllegalStateException("deadline");

  private SharedDeadlineFixture() {}

  static CancelableContext root() {
    return Context.withCancel(
        Context.withTimeSource(
            Context.background(), ManualTimeSource.startingAt(Instant.parse("2030-01-01T00:00:00Z"))));
  }
}
