package io.ctx4j.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * The "done wins" rule under a race: an interrupted thread calls {@code await()} while another
 * cancels the context. Either the wait sees the context done, returns, and leaves the interrupt
 * status set; or it sees it live and throws {@code InterruptedException}, which clears the status.
 * Never a return with the interrupt lost, never an exception that leaves it set. Results: r1 1 for a
 * return, 2 for {@code InterruptedException}; r2 the interrupt status after the call (read and
 * cleared, so the harness thread goes on clean).
 */
@JCStressTest
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "done wins: returned, interrupt status kept")
@Outcome(id = "2, 0", expect = ACCEPTABLE, desc = "live: InterruptedException, status cleared")
@Outcome(expect = FORBIDDEN, desc = "interrupt lost, or kept alongside an exception")
@State
public class InterruptedAwaitVsCancelTest {
  private final CancelableContext ctx = Context.withCancel(Context.background());

  /** Cancels. */
  @Actor
  public void cancel() {
    ctx.cancel();
  }

  /**
   * Waits with the interrupt status set.
   *
   * @param r the result
   */
  @Actor
  public void interruptedAwait(II_Result r) {
    Thread.currentThread().interrupt();
    try {
      ctx.await();
      r.r1 = 1;
    } catch (InterruptedException e) {
      r.r1 = 2;
    }
    r.r2 = Thread.interrupted() ? 1 : 0;
  }
}
