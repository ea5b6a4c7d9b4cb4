package io.ctx4j.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.ctx4j.Context;
import io.ctx4j.Key;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * Contexts are immutable: a context handed to another thread through a data race (a plain field, no
 * cancellation, no lock) still shows its values and its deadline-free state intact, because
 * everything in it is reached through final fields. Results: r1 0 if the reader saw no context, 1
 * if it saw both values right, 2 if a value was missing or wrong; r2 1 if it saw a deadline.
 */
@JCStressTest
@Outcome(id = "0, 0", expect = ACCEPTABLE, desc = "the context was not seen yet")
@Outcome(id = "1, 0", expect = ACCEPTABLE, desc = "the context was seen whole")
@Outcome(expect = FORBIDDEN, desc = "a racily published context was seen half-built")
@State
public class RacyValuePublicationTest {
  private static final Key<String> K1 = Key.named("k1");
  private static final Key<Integer> K2 = Key.of("k2", Integer.class);

  private Context shared;

  /** Builds and publishes through a plain field. */
  @Actor
  public void writer() {
    shared = Context.withValue(Context.withValue(Context.background(), K1, "one"), K2, 2);
  }

  /**
   * Reads through the plain field.
   *
   * @param r the result
   */
  @Actor
  public void reader(II_Result r) {
    Context c = shared;
    if (c == null) {
      return;
    }
    Integer two = c.value(K2);
    r.r1 = "one".equals(c.value(K1)) && two != null && two == 2 ? 1 : 2;
    r.r2 = c.deadline().isPresent() ? 1 : 0;
  }
}
