package io.ctx4j.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Key;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * Happens-before from cancel to "observed done": the cancelling thread writes plain fields (a field
 * of the state, a mutable field of the cause, a mutable field of a value bound in a context it
 * derives and publishes through a plain field), then cancels. A thread that sees the child done must
 * see all of it. Results: r1 whether done was seen, r2 the plain field, r3 the cause's field, r4 the
 * value's field (all 0 when done was not seen).
 */
@JCStressTest
@Outcome(id = "0, 0, 0, 0", expect = ACCEPTABLE, desc = "not done yet; nothing read")
@Outcome(id = "1, 42, 43, 44", expect = ACCEPTABLE, desc = "done, and every earlier write visible")
@Outcome(expect = FORBIDDEN, desc = "done was seen but an earlier write was not")
@State
public class CausePublicationTest {
  private static final Key<Box> KEY = Key.of("box", Box.class);

  /** A mutable holder, written with plain stores on purpose. */
  public static final class Box {
    /** The payload. */
    public int value;
  }

  /** An exception with a mutable field, so that its publication depends on the context. */
  public static final class PayloadException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The payload. */
    public int payload;

    /** Creates one without a stack trace: cheap enough for millions of samples. */
    public PayloadException() {
      super("payload", null, false, false);
    }
  }

  private final CancelableContext root = Context.withCancel(Context.background());
  private final Context child = Context.withCancel(root);
  private int plain;
  private Context published;

  /** Writes, then cancels the root. */
  @Actor
  public void writer() {
    plain = 42;
    PayloadException cause = new PayloadException();
    cause.payload = 43;
    Box box = new Box();
    box.value = 44;
    published = Context.withValue(root, KEY, box);
    root.cancel(cause);
  }

  /**
   * Reads everything if the child is done.
   *
   * @param r the result
   */
  @Actor
  public void reader(IIII_Result r) {
    if (child.isDone()) {
      r.r1 = 1;
      r.r2 = plain;
      Throwable c = child.cause();
      r.r3 = c instanceof PayloadException ? ((PayloadException) c).payload : -1;
      Context p = published;
      Box b = p == null ? null : p.value(KEY);
      r.r4 = b == null ? -1 : b.value;
    }
  }
}
