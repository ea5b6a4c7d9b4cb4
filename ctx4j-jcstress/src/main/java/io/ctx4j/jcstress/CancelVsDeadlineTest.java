package io.ctx4j.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ManualTimeSource;
import java.time.Duration;
import java.time.Instant;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIIII_Result;

/**
 * A context is cancelled by hand (cause A) while its deadline fires on another thread (deadline
 * cause B). One of the two wins and decides error and cause for the context and its child; the
 * timer is gone either way. Results: r1 whether {@code cancel} won, r2 the error, r3 the cause, r4
 * the child's cause, r5 timers still pending.
 */
@JCStressTest
@Outcome(id = "1, 3, 1, 1, 0", expect = ACCEPTABLE, desc = "cancel won")
@Outcome(id = "0, 4, 2, 2, 0", expect = ACCEPTABLE, desc = "the deadline won")
@Outcome(expect = FORBIDDEN, desc = "mixed error and cause, lost child, or a timer left behind")
@State
public class CancelVsDeadlineTest {
  private final ManualTimeSource time = ManualTimeSource.startingAt(Instant.EPOCH);
  private final CancelableContext ctx =
      Context.withDeadlineCause(
          Context.withTimeSource(Context.background(), time), Instant.EPOCH.plusSeconds(1), Causes.B);
  private final CancelableContext child = Context.withCancel(ctx);

  /**
   * Cancels by hand.
   *
   * @param r the result
   */
  @Actor
  public void cancel(IIIII_Result r) {
    r.r1 = ctx.cancel(Causes.A) ? 1 : 0;
  }

  /** Moves time to the deadline, which fires it on this thread. */
  @Actor
  public void expire() {
    time.advance(Duration.ofSeconds(1));
  }

  /**
   * Reads the final state.
   *
   * @param r the result
   */
  @Arbiter
  public void arbiter(IIIII_Result r) {
    r.r2 = Causes.errCode(ctx.err());
    r.r3 = Causes.code(ctx.cause());
    r.r4 = Causes.code(child.cause());
    r.r5 = time.pendingCount();
  }
}
