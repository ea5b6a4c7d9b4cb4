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
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * A parent (cause A) and its child (cause B) are cancelled at the same time. The parent always wins
 * its own cancel; the child's {@code cancel} returns true exactly when its own cause B stuck, and
 * otherwise it inherited A. Results: r1/r2 what the parent's/child's {@code cancel} returned, r3 the
 * child's cause, r4 the parent's cause.
 */
@JCStressTest
@Outcome(id = "1, 1, 2, 1", expect = ACCEPTABLE, desc = "the child cancelled itself first")
@Outcome(id = "1, 0, 1, 1", expect = ACCEPTABLE, desc = "the parent reached the child first")
@Outcome(expect = FORBIDDEN, desc = "a cause that does not match who won")
@State
public class ParentVsChildCancelTest {
  private final CancelableContext parent = Context.withCancel(Context.background());
  private final CancelableContext child = Context.withCancel(parent);

  /**
   * Cancels the parent.
   *
   * @param r the result
   */
  @Actor
  public void cancelParent(IIII_Result r) {
    r.r1 = parent.cancel(Causes.A) ? 1 : 0;
  }

  /**
   * Cancels the child.
   *
   * @param r the result
   */
  @Actor
  public void cancelChild(IIII_Result r) {
    r.r2 = child.cancel(Causes.B) ? 1 : 0;
  }

  /**
   * Reads both causes.
   *
   * @param r the result
   */
  @Arbiter
  public void arbiter(IIII_Result r) {
    r.r3 = Causes.code(child.cause());
    r.r4 = Causes.code(parent.cause());
  }
}
