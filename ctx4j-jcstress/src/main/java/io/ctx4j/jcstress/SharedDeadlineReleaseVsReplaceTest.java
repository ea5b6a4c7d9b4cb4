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
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * The servlet filter's shared deadlines, invariant 3: the last request of a window gives its
 * shared deadline back while a request of a later window replaces it. Whichever comes second
 * must close it (each writes, then reads what the other wrote); a deadline neither closes would stay
 * registered on the root until it fires. Results: r1 whether the later request got the old entry
 * (never: another window), r2 whether the old entry's context ended, r3 the root's
 * registrations (the new entry's and the three fillers'). The time source is manual, so no deadline fires.
 */
@JCStressTest
@Outcome(id = "0, 1, 4", expect = ACCEPTABLE, desc = "the old entry closed by the release or the replacer")
@Outcome(expect = FORBIDDEN, desc = "the old entry left open, or shared across windows")
@State
public class SharedDeadlineReleaseVsReplaceTest {
  private static final Duration TIMEOUT = SharedDeadlineFixture.TIMEOUT;
  private static final Throwable CAUSE = SharedDeadlineFixture.CAUSE;
  private final CancelableContext root = SharedDeadlineFixture.root();
  private final SharedDeadlines shared = new SharedDeadlines(root);
  private final SharedDeadlines.Entry held = SharedDeadlineFixture.takeTheEarliest(shared);

  /** The last request of the first window ends. */
  @Actor
  public void release() {
    held.release();
  }

  /**
   * A request of a later window arrives (at 40 ms).
   *
   * @param r the result
   */
  @Actor
  public void replace(III_Result r) {
    r.r1 = shared.take(SharedDeadlineFixture.LATER_NANOS, TIMEOUT, CAUSE, 0) == held ? 1 : 0;
  }

  /**
   * Reads what is left.
   *
   * @param r the result
   */
  @Arbiter
  public void arbiter(III_Result r) {
    r.r2 = held.context().isDone() ? 1 : 0;
    r.r3 = CoreInternals.registrationCount(root);
  }
}
