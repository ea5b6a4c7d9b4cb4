package io.ctx4j.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ManualTimeSource;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * Go's guarantee that when {@code cancel} returns, the whole subtree is done: a thread cancels a
 * parent and at once looks at a child made beforehand (and at the child's {@code onDone}
 * callback), while another thread registers a callback on the parent at the same moment. Results:
 * r1 what {@code cancel} returned, r2 whether the child was done when it returned, r3 how many times
 * the child's callback had run by then.
 */
@JCStressTest
@Outcome(id = "1, 1, 1", expect = ACCEPTABLE, desc = "cancel returned with the subtree done")
@Outcome(
    expect = FORBIDDEN,
    desc = "cancel returned before its subtree was done: the racing registration took over the walk")
@State
public class CancelReturnsAfterSubtreeTest {
  /**
   * A parent with a timer and a parent of its own, so that its cancel has work to do (detach, stop
   * the timer) between marking itself done and notifying its stack: the window the racing
   * registration could fall into.
   */
  private final CancelableContext parent =
      Context.withTimeout(
          Context.withCancel(
              Context.withTimeSource(Context.background(), ManualTimeSource.startingAt(Instant.EPOCH))),
          Duration.ofHours(1));
  private final CancelableContext child = Context.withCancel(parent);
  private final AtomicInteger childCallbackRuns = new AtomicInteger();

  {
    child.onDone(childCallbackRuns::incrementAndGet);
  }

  /**
   * Cancels the parent and inspects the child at once.
   *
   * @param r the result
   */
  @Actor
  public void cancel(III_Result r) {
    r.r1 = parent.cancel() ? 1 : 0;
    r.r2 = child.isDone() ? 1 : 0;
    r.r3 = childCallbackRuns.get();
  }

  /** Registers on the parent while it is being cancelled. */
  @Actor
  public void register() {
    parent.onDone(() -> {});
  }
}
