package io.ctx4j.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.ctx4j.CancelableContext;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.servlet.internal.SharedDeadlines;
import java.time.Duration;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * The servlet filter's shared deadlines, invariants 1 to 3 with the count striped: while a request
 * holds the entry, a request of a later window replaces it (its close finds a holder and leaves
 * the entry CLOSING), and then the holder ends, on that thread (jcstress makes each state on one of
 * the actors' threads, so in about half the samples the holder's +1 and -1 are on different
 * stripes). Meanwhile a request of the same window takes the entry and gives it back: it either
 * took it before the replacer's close (which must then leave it open), or found it CLOSING and
 * backs out (its add undone and a close tried in its place). Whoever touches the stripes last must
 * close it, never while the taker holds it. (Three actors, one per request, would not run on a
 * 2-CPU machine.) Results: r1 whether the taker's deadline had ended when it got it or just before
 * it gave it back (never), r2 whether it got the old entry (either), r3 whether the old entry's
 * context ended (always), r4 the root's registrations (four: the current entries). The time source
 * is manual, so no deadline fires.
 */
@JCStressTest
@Outcome(id = "0, 1, 1, 4", expect = ACCEPTABLE, desc = "took the old entry while it was open")
@Outcome(
    id = "0, 0, 1, 4",
    expect = ACCEPTABLE,
    desc = "found it closing or replaced, made its own")
@Outcome(expect = FORBIDDEN, desc = "a closed deadline handed out, or an entry left open")
@State
public class SharedDeadlineTakeReleaseReplaceTest {
  private static final Duration TIMEOUT = SharedDeadlineFixture.TIMEOUT;
  private static final Throwable CAUSE = SharedDeadlineFixture.CAUSE;
  private final CancelableContext root = SharedDeadlineFixture.root();
  private final SharedDeadlines shared = new SharedDeadlines(root);
  private final SharedDeadlines.Entry held = SharedDeadlineFixture.takeTheEarliest(shared);

  /**
   * A request of the same window arrives, then ends.
   *
   * @param r the result
   */
  @Actor
  public void take(IIII_Result r) {
    SharedDeadlineFixture.takeFirstWindowAndEnd(shared, held, r);
  }

  /**
   * A request of a later window (at 40 ms) arrives and ends; then the request that held the entry
   * ends, on this thread.
   */
  @Actor
  public void replaceThenRelease() {
    shared.take(SharedDeadlineFixture.LATER_NANOS, TIMEOUT, CAUSE, 0).release();
    held.release();
  }

  /**
   * Reads what is left.
   *
   * @param r the result
   */
  @Arbiter
  public void arbiter(IIII_Result r) {
    r.r3 = held.context().isDone() ? 1 : 0;
    r.r4 = CoreInternals.registrationCount(root);
  }
}
