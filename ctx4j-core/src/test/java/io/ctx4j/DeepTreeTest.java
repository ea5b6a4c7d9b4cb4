package io.ctx4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.blackbox.Fixtures;
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

  /**
   * Every other link a user's own context (Go's {@code otherContext}), so each cancelable child
   * hears of its parent through the custom context's {@code onDone} callback rather than through
   * ctx4j's work list: the root's cancel still reaches the leaf, synchronously, and nothing is
   * reported. Each hand-over used to nest a cancellation inside the callback of the one above, and
   * the StackOverflowError a few thousand levels down was swallowed with the callback's report,
   * leaving every context below it live for ever.
   */
  @Test
  void aChainThroughAHundredThousandCustomContextsCancelsFromTheRoot() throws Exception {
    CancelableContext root = Context.withCancel(Context.background());
    List<CancelableContext> chain = new ArrayList<>();
    Context c = root;
    for (int i = 0; i < 100_000; i++) {
      CancelableContext x =
          i % 2 == 0
              ? Context.withCancel(new Fixtures.Wrapper(c))
              : Context.withTimeout(new Fixtures.Wrapper(c), Fixtures.FOREVER);
      chain.add(x);
      c = x;
    }
    CancelableContext leaf = chain.get(chain.size() - 1);
    AtomicInteger runs = new AtomicInteger();
    leaf.onDone(runs::incrementAndGet);
    Throwable why = new Exception("from the root");
    try (Fixtures.Uncaught uncaught = Fixtures.Uncaught.onCurrentThread()) {
      assertTrue(root.cancel(why));
      long live = chain.stream().filter(x -> !x.isDone()).count();
      assertEquals(0, live, "contexts still live after the root's cancel returned");
      assertEquals(List.of(), new ArrayList<>(uncaught.errors), "reported while cancelling");
    }
    assertSame(why, leaf.cause());
    assertEquals(1, runs.get(), "the leaf's callback");
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
