package io.ctx4j.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIIII_Result;

/**
 * Two threads cancel the same context with different causes: exactly one {@code cancel} returns
 * true, and the cause each thread reads right after its own cancel, as well as the final one, is the
 * winner's. Results: r1/r2 whether actor 1/2 won, r3/r4 the cause each read afterwards, r5 the final
 * cause, all as {@link Causes#code} numbers.
 */
@JCStressTest
@Outcome(id = "1, 0, 1, 1, 1", expect = ACCEPTABLE, desc = "actor 1 won; everyone sees cause A")
@Outcome(id = "0, 1, 2, 2, 2", expect = ACCEPTABLE, desc = "actor 2 won; everyone sees cause B")
@Outcome(expect = FORBIDDEN, desc = "two winners, no winner, or a cause that changed")
@State
public class CancelVsCancelTest {
  private final CancelableContext ctx = Context.withCancel(Context.background());

  /**
   * Cancels with cause A.
   *
   * @param r the result
   */
  @Actor
  public void first(IIIII_Result r) {
    r.r1 = ctx.cancel(Causes.A) ? 1 : 0;
    r.r3 = Causes.code(ctx.cause());
  }

  /**
   * Cancels with cause B.
   *
   * @param r the result
   */
  @Actor
  public void second(IIIII_Result r) {
    r.r2 = ctx.cancel(Causes.B) ? 1 : 0;
    r.r4 = Causes.code(ctx.cause());
  }

  /**
   * Reads the final cause, which must be the winner's, with {@code CANCELED} as the error.
   *
   * @param r the result
   */
  @Arbiter
  public void arbiter(IIIII_Result r) {
    r.r5 = ctx.err() == Context.CANCELED ? Causes.code(ctx.cause()) : -1;
  }
}
