package io.ctx4j.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Registration;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * The plain {@code Node.next} field of the core's registration stack under its heaviest race: two
 * threads each register a callback on a context whose stack is due for a sweep (so both push and
 * then sweep, unlinking dead nodes with plain writes, over the same nodes), each then stops one of
 * the older callbacks (making nodes dead while the other sweeps), and the second thread cancels
 * the context as soon as its push and stop are done (so the canceller's walk races the first
 * thread's sweep). Every callback must run exactly once, unless its {@code stop()} returned true,
 * then never: a sweep that linked past a live node would lose one, a walk that met a node twice
 * would run one twice.
 *
 * <p>The stack is set up with 15 registrations, then every other one is stopped: the core sweeps on
 * every 16th push, so both actors' pushes are due to sweep, and each finds dead nodes to unlink.
 * Results: r1 callbacks lost (should have run, did not), r2 callbacks run twice or run although
 * stopped.
 */
@JCStressTest
@Outcome(id = "0, 0", expect = ACCEPTABLE, desc = "every live callback ran exactly once")
@Outcome(expect = FORBIDDEN, desc = "a sweep lost a callback, or one ran twice or after stop()")
@State
public class SweepVsCancelTest {
  private static final int PREFILLED = 15;

  private final CancelableContext ctx = Context.withCancel(Context.background());
  /** Runs per callback: the prefilled ones, then the two actors'. */
  private final AtomicIntegerArray runs = new AtomicIntegerArray(PREFILLED + 2);

  private final Registration[] prefilled = new Registration[PREFILLED];
  /** Whether a stop() withdrew the callback: 1 if it did. */
  private final int[] stopped = new int[PREFILLED + 2];

  /** Registers the prefilled callbacks, then stops every other one: dead nodes among live ones. */
  public SweepVsCancelTest() {
    for (int i = 0; i < PREFILLED; i++) {
      int id = i;
      prefilled[i] = ctx.onDone(() -> runs.incrementAndGet(id));
    }
    // Stopped after all the pushes: a push skips dead nodes at the top, so only these stay inside.
    for (int i = 0; i < PREFILLED; i += 2) {
      if (prefilled[i].stop()) {
        stopped[i] = 1;
      }
    }
  }

  /** Pushes (and sweeps), then stops the newest live prefilled callback. */
  @Actor
  public void pushStop() {
    ctx.onDone(() -> runs.incrementAndGet(PREFILLED));
    if (prefilled[PREFILLED - 2].stop()) {
      stopped[PREFILLED - 2] = 1;
    }
  }

  /** Pushes (and sweeps), stops the oldest live prefilled callback, then cancels. */
  @Actor
  public void pushStopCancel() {
    ctx.onDone(() -> runs.incrementAndGet(PREFILLED + 1));
    if (prefilled[1].stop()) {
      stopped[1] = 1;
    }
    ctx.cancel();
  }

  /**
   * Counts lost and extra runs; the callbacks run synchronously, so all have run by now.
   *
   * @param r the result
   */
  @Arbiter
  public void arbiter(II_Result r) {
    int lost = 0;
    int extra = 0;
    for (int i = 0; i < runs.length(); i++) {
      int expected = stopped[i] == 1 ? 0 : 1;
      int n = runs.get(i);
      if (n < expected) {
        lost++;
      } else if (n > expected) {
        extra++;
      }
    }
    r.r1 = lost;
    r.r2 = extra;
  }
}
