package io.ctx4j.jcstress.canary;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.I_Result;

/**
 * The shape of {@code OnDoneVsCancelTest} applied to {@link BrokenToken}: jcstress must report the
 * forbidden outcome "0" (callback lost), i.e. this test must FAIL. Result: r1 how many times the
 * callback ran.
 */
@JCStressTest
@Outcome(id = "1", expect = ACCEPTABLE, desc = "the callback ran once")
@Outcome(expect = FORBIDDEN, desc = "the callback was lost (the planted bug)")
@State
public class CanaryLostCallbackTest {
  private final BrokenToken token = new BrokenToken();
  private int runs;

  /** Cancels. */
  @Actor
  public void cancel() {
    token.cancel();
  }

  /** Registers a callback. */
  @Actor
  public void register() {
    token.onDone(this::ran);
  }

  private synchronized void ran() {
    runs++;
  }

  /**
   * Counts the runs.
   *
   * @param r the result
   */
  @Arbiter
  public synchronized void arbiter(I_Result r) {
    r.r1 = runs;
  }
}
