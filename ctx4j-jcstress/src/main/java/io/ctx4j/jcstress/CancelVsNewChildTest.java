package io.ctx4j.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Key;
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
 * A parent is cancelled while another thread derives children from it (a cancelable child behind a
 * value layer, and a child with a timeout): whoever wins, both children end cancelled with the
 * parent's cause, and the timeout child leaves no timer behind. Results: r1/r2 error and cause of the
 * cancelable child, r3/r4 those of the timeout child, r5 timers still pending.
 */
@JCStressTest
@Outcome(id = "3, 1, 3, 1, 0", expect = ACCEPTABLE, desc = "both children cancelled with cause A")
@Outcome(expect = FORBIDDEN, desc = "a child missed the cancellation, or a timer leaked")
@State
public class CancelVsNewChildTest {
  private static final Key<String> KEY = Key.named("k");

  private final ManualTimeSource time = ManualTimeSource.startingAt(Instant.EPOCH);
  private final CancelableContext parent =
      Context.withCancel(Context.withTimeSource(Context.background(), time));
  private CancelableContext child;
  private CancelableContext timed;

  /** Cancels the parent with cause A. */
  @Actor
  public void cancel() {
    parent.cancel(Causes.A);
  }

  /** Derives the two children. */
  @Actor
  public void derive() {
    child = Context.withCancel(Context.withValue(parent, KEY, "v"));
    timed = Context.withTimeout(parent, Duration.ofHours(1));
  }

  /**
   * Reads both children once everything has settled.
   *
   * @param r the result
   */
  @Arbiter
  public void arbiter(IIIII_Result r) {
    r.r1 = Causes.errCode(child.err());
    r.r2 = Causes.code(child.cause());
    r.r3 = Causes.errCode(timed.err());
    r.r4 = Causes.code(timed.cause());
    r.r5 = time.pendingCount();
  }
}
