package io.ctx4j.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * Go's rule "after Err returns non-nil, it returns the same error" under the worst race: a parent
 * (cause A) and its child (cause B) are cancelled at once, and the parent's canceller then reads the
 * child's cause. Whatever it saw, the child must keep: seeing A (through the parent) and then having
 * the child's own late cancel replace it with B is forbidden. Results: r1 the cause read after
 * cancelling the parent, r2 the child's cause at the end.
 */
@JCStressTest
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "the parent's cancellation reached the child first")
@Outcome(id = "2, 2", expect = ACCEPTABLE, desc = "the child cancelled itself first")
@Outcome(
    id = "1, 2",
    expect = FORBIDDEN,
    desc = "the child showed A, then its own late cancel replaced it with B")
@Outcome(expect = FORBIDDEN, desc = "no cause after both cancels, or another cause")
@State
public class CauseStaysPutTest {
  private final CancelableContext parent = Context.withCancel(Context.background());
  private final CancelableContext child = Context.withCancel(parent);

  /**
   * Cancels the parent, then reads the child's cause.
   *
   * @param r the cause read
   */
  @Actor
  public void cancelParentThenRead(II_Result r) {
    parent.cancel(Causes.A);
    r.r1 = Causes.code(child.cause());
  }

  /**
   * Cancels the child.
   *
   * @param r unused
   */
  @Actor
  public void cancelChild(II_Result r) {
    child.cancel(Causes.B);
  }

  /**
   * Reads the child's final cause.
   *
   * @param r the result
   */
  @Arbiter
  public void arbiter(II_Result r) {
    r.r2 = Causes.code(child.cause());
  }
}
