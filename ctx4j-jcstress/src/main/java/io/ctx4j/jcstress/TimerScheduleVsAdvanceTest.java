package io.ctx4j.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.ctx4j.internal.TimerWheel;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * A timer is scheduled (due at tick 70, a level-1 slot seen from tick 0) while the wheel advances
 * past it to tick 130, which enters the next level-1 block. The insert must not land in a slot the
 * advance has already decided to skip: whichever comes first, the timer fires exactly once, by the
 * racing advance or by the arbiter's advance to tick 131, and nothing stays pending. Results: r1
 * tasks run by the racing advance, r2 tasks run in all, r3 timers still pending.
 */
@JCStressTest
@Outcome(id = "1, 1, 0", expect = ACCEPTABLE, desc = "the racing advance saw the timer and fired it")
@Outcome(id = "0, 1, 0", expect = ACCEPTABLE, desc = "scheduled after the advance: fired at the next")
@Outcome(expect = FORBIDDEN, desc = "stranded (never fired), fired twice, or left pending")
@State
public class TimerScheduleVsAdvanceTest {
  private final TimerWheel wheel = new TimerWheel(0, 1, 1);
  private final AtomicInteger runs = new AtomicInteger();

  /** Schedules a timer due at tick 70. */
  @Actor
  public void schedule() {
    wheel.schedule(0, 70, runs::incrementAndGet);
  }

  /**
   * Advances to tick 130.
   *
   * @param r the result
   */
  @Actor
  public void advance(III_Result r) {
    r.r1 = wheel.advance(130);
  }

  /**
   * Advances one tick more and counts.
   *
   * @param r the result
   */
  @Arbiter
  public void arbiter(III_Result r) {
    wheel.advance(131);
    r.r2 = runs.get();
    r.r3 = wheel.pendingCount();
  }
}
