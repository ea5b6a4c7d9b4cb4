package io.ctx4j.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Registration;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * One thread registers an {@code onDone} callback and at once tries to {@code stop()} it while
 * another cancels: the callback runs exactly once or {@code stop()} returns true, never both, never
 * neither. The callback is synchronous, so by the arbiter it has run if it ever will. Results: r1
 * what {@code stop()} returned, r2 how many times the callback ran.
 */
@JCStressTest
@Outcome(id = "1, 0", expect = ACCEPTABLE, desc = "stop() withdrew the callback")
@Outcome(id = "0, 1", expect = ACCEPTABLE, desc = "the callback ran once; stop() came too late")
@Outcome(expect = FORBIDDEN, desc = "lost callback, double run, or stop() lied")
@State
public class OnDoneVsCancelTest {
  private final CancelableContext ctx = Context.withCancel(Context.background());
  private final AtomicInteger runs = new AtomicInteger();

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
    Registration reg = ctx.onDone(runs::incrementAndGet);
    r.r1 = reg.stop() ? 1 : 0;
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
