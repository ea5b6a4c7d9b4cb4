package io.ctx4j.jcstress;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ManualTimeSource;
import java.time.Duration;
import java.time.Instant;

/** What the shared-deadline tests start from: a root on a manual clock, so no deadline fires. */
final class SharedDeadlineFixture {
  // An 8 ms window: deadlines from 1,000 to 1,008 ms (taken at 0 to 8 ms) are one window, and the
  // one due at 1,016 to 1,024 ms (taken at 16 to 24 ms) has the same slot (an even number of
  // windows later), so it replaces the first.
  static final Duration TIMEOUT = Duration.ofSeconds(1);
  static final Throwable CAUSE = new IllegalStateException("deadline");

  private SharedDeadlineFixture() {}

  static CancelableContext root() {
    return Context.withCancel(
        Context.withTimeSource(
            Context.background(), ManualTimeSource.startingAt(Instant.parse("2030-01-01T00:00:00Z"))));
  }
}
