package io.ctx4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Depth and breadth that would overflow a recursive implementation: surefire runs these with
 * {@code -Xss512k}, where a recursive walk of a few thousand levels already fails.
 */
class DeepTreeTest {
  private static final int MILLION = 1_000_000;

  /** A chain of a million cancelable contexts under {@code root}, with its middle and its leaf. */
  private record Chain(CancelableContext root, CancelableContext middle, CancelableContext leaf) {}

  private static Chain chainOfAMillion() {
    CancelableContext root = Context.withCancel(Context.background());
    CancelableContext leaf = root;
    CancelableContext middle = null;
    for (int i = 0; i < MILLION; i++) {
      leaf = Context.withCancel(leaf);
      if (i == MILLION / 2) {
        middle = leaf;
      }
    }
    return new Chain(root, middle, leaf);
  }

  @Test
  void aChainAMillionDeepCancelsFromTheRoot() {
    Chain chain = chainOfAMillion();
    Throwable why = new Exception("from the root");
    chain.root().cancel(why);
    assertSame(Context.CANCELED, chain.leaf().err());
    assertSame(why, chain.leaf().cause());
    assertSame(why, chain.middle().cause());
  }

  @Test
  void aCallbackAtTheBottomOfAMillionLazyLinksRegistersThemWithoutRecursion() {
    Chain chain = chainOfAMillion();
    CancelableContext root = chain.root();
    CancelableContext leaf = chain.leaf();
    AtomicInteger runs = new AtomicInteger();
    leaf.onDone(runs::incrementAndGet);
    assertEquals(1, ((CancelStateMachine) root).registrationCount());
    root.cancel();
    assertEquals(1, runs.get());
    assertTrue(leaf.isDone());
  }

  @Test
  void aChainAMillionDeepCancelsFromTheMiddleAndPrintsBriefly() {
    Chain chain = chainOfAMillion();
    CancelableContext root = chain.root();
    CancelableContext leaf = chain.leaf();
    String s = leaf.toString();
    assertTrue(s.startsWith("context.Background.WithCancel.WithCancel"), () -> s.substring(0, 100));
    assertTrue(s.endsWith(".WithCancel"));
    assertTrue(s.contains("more layers"), "a million layers must not print in full");
    assertTrue(s.length() < 10_000, "printed " + s.length() + " characters");
    chain.middle().cancel();
    assertTrue(leaf.isDone());
    assertFalse(root.isDone());
    assertEquals(1, ((CancelStateMachine) root).registrationCount(), "the root keeps its one live child");
  }

  @Test
  void aDeepChainOfValueAndCancelLayersKeepsTheNearestValue() {
    Key<Integer> key = Key.named("depth");
    CancelableContext root = Context.withCancel(Context.background());
    Context ctx = root;
    for (int i = 0; i < 200_000; i++) {
      ctx = Context.withValue(ctx, key, i);
      if (i % 2 == 0) {
        ctx = Context.withCancel(ctx);
      }
    }
    assertEquals(199_999, ctx.value(key));
    root.cancel();
    assertTrue(ctx.isDone());
    assertEquals(199_999, ctx.value(key));
    assertTrue(ctx.toString().length() < 10_000);
  }

  @Test
  void aParentWithAMillionChildrenCancelsThemAll() {
    CancelableContext parent = Context.withCancel(Context.background());
    List<CancelableContext> children = new ArrayList<>(MILLION);
    for (int i = 0; i < MILLION; i++) {
      // Registered, as children that someone waits on are: the parent must reach each one.
      children.add(CancelTest.registered(Context.withCancel(parent)));
    }
    assertEquals(MILLION, ((CancelStateMachine) parent).registrationCount());
    parent.cancel();
    for (CancelableContext c : children) {
      if (c.err() != Context.CANCELED) {
        throw new AssertionError("a child was missed: " + c.err());
      }
    }
    assertEquals(0, ((CancelStateMachine) parent).nodeCount());
  }
}
