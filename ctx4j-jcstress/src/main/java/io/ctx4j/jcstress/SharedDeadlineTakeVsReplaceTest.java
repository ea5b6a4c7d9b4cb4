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
 * The servlet filter's shared deadlines, invariants 2 and 3: an entry nobody holds is taken again
 * by a request of its window while a request of a later window replaces it (and may close
 * it). The taker must never get a closed deadline: it either takes the entry before the close, or
 * makes its own. Both requests then end. Results: r1 whether the taker's deadline had ended when
 * it got it or just before it gave it back (never), r2 whether it got the old entry (either), r3 whether the old entry's context
 * ended (always: at the end it is neither current nor held), r4 the root's registrations (four: the
 * current entries; a taker that made its own replaced the earliest filler). The time source is manual, so no deadline fires.
 */
@JCStressTest
@Outcome(id = "0, 1, 1, 4", expect = ACCEPTABLE, desc = "took the old entry before the replacer closed it")
@Outcome(id = "0, 0, 1, 4", expect = ACCEPTABLE, desc = "found it closed or replaced, made its own")
@Outcome(expect = FORBIDDEN, desc = "a closed deadline handed out, or an entry left open")
@State
public class SharedDeadlineTakeVsReplaceTest {
  private static final Duration TIMEOUT = SharedDeadlineFixture.TIMEOUT;
  private static final Throwable CAUSE = SharedDeadlineFixture.CAUSE;
  private final CancelableContext root = SharedDeadlineFixture.root();
  private final SharedDeadlines shared = new SharedDeadlines(root);
  private final SharedDeadlines.Entry idle = taken(SharedDeadlineFixture.takeTheEarliest(shared));

  private static SharedDeadlines.Entry taken(SharedDeadlines.Entry e) {
    e.release(); // current, held by nobody
    return e;
  }

  /**
   * A request of the first window arrives, then ends.
   *
   * @param r the result
   */
  @Actor
  public void take(IIII_Result r) {
    SharedDeadlineFixture.takeFirstWindowAndEnd(shared, idle, r);
  }

  /** A request of a later window (at 40 ms) arrives, then ends. */
  @Actor
  public void replace() {
    shared.take(SharedDeadlineFixture.LATER_NANOS, TIMEOUT, CAUSE, 0).release();
  }

  /**
   * Reads what is left.
   *
   * @param r the result
   */
  @Arbiter
  public void arbiter(IIII_Result r) {
    r.r3 = idle.context().isDone() ? 1 : 0;
    r.r4 = CoreInternals.registrationCount(root);
  }
}
