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
 * A pending timer (due at tick 100, a level-1 slot seen from tick 0) is stopped while another
 * thread advances the wheel to tick 150, which cascades it and fires it in one go; the clock wraps
 * past {@code Long.MAX_VALUE} on the way. Exactly one of the two takes it: {@code stop()} returns
 * true and the task never runs, or it returns false and the task runs exactly once; never both,
 * never neither, and nothing stays pending. Results: r1 {@code stop()}, r2 tasks run (after the
 * arbiter's own advance), r3 timers still pending.
 */
@JCStressTest
@Outcome(id = "1, 0, 0", expect = ACCEPTABLE, desc = "stopped before it fired")
@Outcome(id = "0, 1, 0", expect = ACCEPTABLE, desc = "fired before the stop")
@Outcome(expect = FORBIDDEN, desc = "fired and stopped, neither, twice, or left pending")
@State
public class TimerStopVsFireTest {
  private static final long ORIGIN = Long.MAX_VALUE - 50;
  private final TimerWheel wheel = new TimerWheel(ORIGIN, 1, 1);
  private final AtomicInteger runs = new AtomicInteger();
  private final TimerWheel.Timer timer = wheel.schedule(ORIGIN, 100, runs::incrementAndGet);

  /**
   * Stops the timer.
   *
   * @param r the result
   */
  @Actor
  public void stop(III_Result r) {
    r.r1 = timer.stop() ? 1 : 0;
  }

  /** Advances past the due tick. */
  @Actor
  public void advance() {
    wheel.advance(ORIGIN + 150);
  }

  /**
   * Advances further, then counts.
   *
   * @param r the result
   */
  @Arbiter
  public void arbiter(III_Result r) {
    wheel.advance(ORIGIN + 1_000);
    r.r2 = runs.get();
    r.r3 = wheel.pendingCount();
  }
}
