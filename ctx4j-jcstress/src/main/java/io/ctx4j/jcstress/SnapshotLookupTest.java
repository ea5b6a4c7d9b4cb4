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
 * Two threads make the first lookups on a chain of value layers long enough that a lookup builds and
 * publishes a snapshot of the bindings (a flat table for a chain this size). Whichever thread builds
 * it, and whether the other sees the snapshot mid-build, after, or builds its own, both must find
 * exactly the bindings of the chain: the deepest and a middle binding found, a shadowed binding
 * hidden by the nearer one, and a missing key absent. Result per thread: 1 if every answer was
 * right, 0 if any was wrong.
 */
@JCStressTest
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "both threads saw exactly the chain's bindings")
@Outcome(expect = FORBIDDEN, desc = "a lookup racing a snapshot build gave a wrong answer")
@State
public class SnapshotLookupTest {
  private static final int LAYERS = 20;
  private static final Key<Integer>[] KEYS = keys();
  private static final Key<Integer> MISSING = Key.named("missing");

  /** Built anew for every sample, so every sample races on a chain nobody has looked up yet. */
  private final Context leaf = chain();

  @SuppressWarnings("unchecked")
  private static Key<Integer>[] keys() {
    Key<Integer>[] k = new Key[LAYERS];
    for (int i = 0; i < LAYERS; i++) {
      k[i] = Key.named("k" + i);
    }
    return k;
  }

  /** Layer i binds KEYS[i] to i; the last layer rebinds KEYS[1] to -1, shadowing layer 1. */
  private static Context chain() {
    Context c = Context.background();
    for (int i = 0; i < LAYERS; i++) {
      c = Context.withValue(c, KEYS[i], i);
    }
    return Context.withValue(c, KEYS[1], -1);
  }

  private int check() {
    Integer deepest = leaf.value(KEYS[0]);
    Integer middle = leaf.value(KEYS[LAYERS / 2]);
    Integer shadowed = leaf.value(KEYS[1]);
    Object missing = leaf.value(MISSING);
    boolean right =
        deepest != null
            && deepest == 0
            && middle != null
            && middle == LAYERS / 2
            && shadowed != null
            && shadowed == -1
            && missing == null;
    return right ? 1 : 0;
  }

  /**
   * First lookups from one thread.
   *
   * @param r the result
   */
  @Actor
  public void first(II_Result r) {
    r.r1 = check();
  }

  /**
   * First lookups from another thread.
   *
   * @param r the result
   */
  @Actor
  public void second(II_Result r) {
    r.r2 = check();
  }
}
