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
 * A pending timer (due at tick 4,200: level 2 seen from tick 0) is stopped while the wheel advances
 * to tick 4,160, which moves it down to level 1 and then to level 0 without making it due. The stop
 * must find it wherever it is mid-move: it always succeeds, the task never runs, and nothing stays
 * pending. Results: r1 {@code stop()}, r2 tasks run (after the arbiter advances past the due tick),
 * r3 timers still pending.
 */
@JCStressTest
@Outcome(id = "1, 0, 0", expect = ACCEPTABLE, desc = "stopped, wherever the cascade had put it")
@Outcome(expect = FORBIDDEN, desc = "lost by the cascade, fired after a stop, or left pending")
@State
public class TimerStopVsCascadeTest {
  private final TimerWheel wheel = new TimerWheel(0, 1, 1);
  private final AtomicInteger runs = new AtomicInteger();
  private final TimerWheel.Timer timer = wheel.schedule(0, 4_200, runs::incrementAndGet);

  /**
   * Stops the timer.
   *
   * @param r the result
   */
  @Actor
  public void stop(III_Result r) {
    r.r1 = timer.stop() ? 1 : 0;
  }

  /** Advances through two cascades, short of the due tick. */
  @Actor
  public void advance() {
    wheel.advance(4_096);
    wheel.advance(4_160);
  }

  /**
   * Advances past the due tick and counts.
   *
   * @param r the result
   */
  @Arbiter
  public void arbiter(III_Result r) {
    wheel.advance(10_000);
    r.r2 = runs.get();
    r.r3 = wheel.pendingCount();
  }
}
