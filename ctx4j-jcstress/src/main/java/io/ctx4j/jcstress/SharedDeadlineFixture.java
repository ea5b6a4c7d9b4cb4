package io.ctx4j.jcstress;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.servlet.internal.SharedDeadlines;
import java.time.Duration;
import java.time.Instant;
import org.openjdk.jcstress.infra.results.IIII_Result;

/** What the shared-deadline tests start from: a root on a manual clock, so no deadline fires. */
final class SharedDeadlineFixture {
  // An 8 ms window: deadlines from 1,000 to 1,008 ms (taken at 0 to 8 ms) are one window.
  static final Duration TIMEOUT = Duration.ofSeconds(1);
  /** When the replacing request arrives: its window (from 1,040 ms) is after the fillers'. */
  static final long LATER_NANOS = 40_000_000;
  static final Throwable CAUSE = new IllegalStateException("deadline");

  private SharedDeadlineFixture() {}

  /**
   * Takes the entry of the first window (deadlines from 1,000 ms), held once, and then takes and
   * gives back an entry in each of the windows from 1,008, 1,016 and 1,024 ms, so that all four
   * slots of the cause are in use and a request of a later window replaces the earliest entry,
   * the one returned. The other three stay current: with it, four registrations.
   *
   * @return the first window's entry, held once by the caller
   */
  static SharedDeadlines.Entry takeTheEarliest(SharedDeadlines shared) {
    SharedDeadlines.Entry earliest = shared.take(0, TIMEOUT, CAUSE, 0);
    for (long at : new long[] {8_000_000, 16_000_000, 24_000_000}) {
      shared.take(at, TIMEOUT, CAUSE, 0).release();
    }
    return earliest;
  }

  /**
   * A request of the first window (at 5 ms) arrives and then ends: r1 is whether its deadline had
   * ended when it got it or just before it gave it back (it must not have: nothing may close an
   * entry that a request holds), r2 whether it got {@code old}.
   */
  static void takeFirstWindowAndEnd(
      SharedDeadlines shared, SharedDeadlines.Entry old, IIII_Result r) {
    SharedDeadlines.Entry e = shared.take(5_000_000, TIMEOUT, CAUSE, 0);
    boolean doneAtTake = e.context().isDone();
    r.r2 = e == old ? 1 : 0;
    r.r1 = doneAtTake || e.context().isDone() ? 1 : 0;
    e.release();
  }

  static CancelableContext root() {
    return Context.withCancel(
        Context.withTimeSource(
            Context.background(), ManualTimeSource.startingAt(Instant.parse("2030-01-01T00:00:00Z"))));
  }
}
