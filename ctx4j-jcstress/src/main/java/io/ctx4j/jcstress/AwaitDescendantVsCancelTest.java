package io.ctx4j.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Key;
import java.time.Duration;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Mode;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.Signal;
import org.openjdk.jcstress.annotations.State;

/**
 * No lost wake-up through propagation: a thread that derives a grandchild (behind a value layer) and
 * waits on it with a one-day timeout returns when the root is cancelled meanwhile.
 */
@JCStressTest(Mode.Termination)
@Outcome(id = "TERMINATED", expect = ACCEPTABLE, desc = "the waiter woke up")
@Outcome(id = "STALE", expect = FORBIDDEN, desc = "lost wake-up: the waiter is still parked")
@State
public class AwaitDescendantVsCancelTest {
  private static final Key<String> KEY = Key.named("k");
  private final CancelableContext root = Context.withCancel(Context.background());

  /** Derives a grandchild and waits on it. */
  @Actor
  public void waiter() {
    CancelableContext child = Context.withCancel(root);
    Context grandchild = Context.withValue(Context.withTimeout(child, Duration.ofDays(1)), KEY, "v");
    try {
      grandchild.await(Duration.ofDays(1));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Cancels the root. */
  @Signal
  public void cancel() {
    root.cancel();
  }
}
