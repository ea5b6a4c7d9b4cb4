package io.ctx4j.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Mode;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.Signal;
import org.openjdk.jcstress.annotations.State;

/**
 * No lost wake-up: a thread that starts {@code await()} while another cancels always returns. A
 * thread still parked when jcstress gives up is reported as {@code STALE}.
 */
@JCStressTest(Mode.Termination)
@Outcome(id = "TERMINATED", expect = ACCEPTABLE, desc = "the waiter woke up")
@Outcome(id = "STALE", expect = FORBIDDEN, desc = "lost wake-up: the waiter is still parked")
@State
public class AwaitVsCancelTest {
  private final CancelableContext ctx = Context.withCancel(Context.background());

  /** Waits for the context. */
  @Actor
  public void waiter() {
    try {
      ctx.await();
    } catch (InterruptedException e) {
      // jcstress interrupts only threads it has already judged stale; just leave.
      Thread.currentThread().interrupt();
    }
  }

  /** Cancels. */
  @Signal
  public void cancel() {
    ctx.cancel();
  }
}
