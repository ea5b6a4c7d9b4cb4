package io.ctx4j.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Registration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * Go's {@code AfterFunc} contract under a race: one thread registers a function with {@code
 * afterFunc} and calls {@code stop()} at once while another cancels the context. Either {@code
 * stop()} returns true and the function never runs, or it returns false and the function runs
 * exactly once. The function runs on a thread of its own, so when {@code stop()} lost the arbiter
 * waits for it (up to 10 s; a missing run shows as r2 = 0). Results: r1 what {@code stop()}
 * returned, r2 how many runs were seen.
 */
@JCStressTest
@Outcome(id = "1, 0", expect = ACCEPTABLE, desc = "stop() prevented the function")
@Outcome(id = "0, 1", expect = ACCEPTABLE, desc = "the function ran once; stop() came too late")
@Outcome(expect = FORBIDDEN, desc = "lost run, double run, or stop() lied")
@State
public class AfterFuncVsCancelTest {
  private final CancelableContext ctx = Context.withCancel(Context.background());
  /** Counts down on each run; a second run shows as a count of -1 in the arbiter. */
  private final CountDownLatch ran = new CountDownLatch(1);
  private volatile int runs;

  /** Cancels. */
  @Actor
  public void cancel() {
    ctx.cancel();
  }

  /**
   * Registers, then stops.
   *
   * @param r the result
   */
  @Actor
  public void registerAndStop(II_Result r) {
    Registration reg = Context.afterFunc(ctx, this::run);
    r.r1 = reg.stop() ? 1 : 0;
  }

  private synchronized void run() {
    runs = runs + 1;
    ran.countDown();
  }

  /**
   * Waits for the run when one is due, then counts.
   *
   * @param r the result
   */
  @Arbiter
  public void arbiter(II_Result r) {
    if (r.r1 == 0) {
      try {
        ran.await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    r.r2 = runs;
  }
}
