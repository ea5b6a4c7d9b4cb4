package io.ctx4j.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * A lazily registered child registers (its first {@code onDone}) while its parent is cancelled,
 * and the cancelling thread asks the child as soon as {@code cancel()} returns: when it returns the
 * whole subtree is done (Go), so the child must already answer done, registered or not, and its
 * callback runs exactly once. On the core before issue 16 the child's registration was claimed
 * (its link field set) before its link was on the parent's stack, and a claimed link made the
 * child's own state authoritative: in that window the child answered "live" although its parent
 * was done and its cancel had returned. Results: r1 1 if the child was done when the parent's
 * {@code cancel()} returned, r2 runs of the callback.
 */
@JCStressTest
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "the child was done and its callback ran once")
@Outcome(expect = FORBIDDEN, desc = "cancel() returned with the child live, or a callback lost")
@State
public class RegisterVsParentCancelTest {
  private final CancelableContext parent = Context.withCancel(Context.background());
  private final CancelableContext child = Context.withCancel(parent);
  private final AtomicInteger runs = new AtomicInteger();

  /** Registers on the child, which registers it with the parent. */
  @Actor
  public void register() {
    child.onDone(runs::incrementAndGet);
  }

  /**
   * Cancels the parent, then asks the child.
   *
   * @param r the result
   */
  @Actor
  public void cancelAndAsk(II_Result r) {
    parent.cancel();
    r.r1 = child.isDone() ? 1 : 0;
  }

  /**
   * Counts the runs.
   *
   * @param r the result
   */
  @Arbiter
  public void arbiter(II_Result r) {
    r.r2 = runs.get();
  }
}
