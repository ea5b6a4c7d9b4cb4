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
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * A chain root - middle - leaf built lazily (nothing registered), then the root (cause A) and the
 * middle (cause B) are cancelled at once while the root's canceller reads the leaf. The leaf has no
 * cancel of its own, so it must end with the middle's cause, and must never show one cause and then
 * another. Results: r1 the leaf's cause read after cancelling the root, r2 the leaf's final cause,
 * r3 the middle's final cause.
 */
@JCStressTest
@Outcome(id = "1, 1, 1", expect = ACCEPTABLE, desc = "the root's cancellation came first")
@Outcome(id = "2, 2, 2", expect = ACCEPTABLE, desc = "the middle cancelled itself first")
@Outcome(id = "1, 2, 2", expect = FORBIDDEN, desc = "the leaf showed A, then B replaced it")
@Outcome(id = "1, 1, 2", expect = FORBIDDEN, desc = "the leaf disagrees with its parent")
@Outcome(expect = FORBIDDEN, desc = "any other mix")
@State
public class LazyChainCauseTest {
  private final CancelableContext root = Context.withCancel(Context.background());
  private final CancelableContext middle = Context.withCancel(root);
  private final CancelableContext leaf = Context.withCancel(middle);

  /**
   * Cancels the root, then reads the leaf's cause.
   *
   * @param r the cause read
   */
  @Actor
  public void cancelRootThenReadLeaf(III_Result r) {
    root.cancel(Causes.A);
    r.r1 = Causes.code(leaf.cause());
  }

  /**
   * Cancels the middle.
   *
   * @param r unused
   */
  @Actor
  public void cancelMiddle(III_Result r) {
    middle.cancel(Causes.B);
  }

  /**
   * Reads the final causes.
   *
   * @param r the results
   */
  @Arbiter
  public void arbiter(III_Result r) {
    r.r2 = Causes.code(leaf.cause());
    r.r3 = Causes.code(middle.cause());
  }
}
