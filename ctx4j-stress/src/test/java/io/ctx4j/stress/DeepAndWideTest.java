package io.ctx4j.stress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Key;
import io.ctx4j.internal.CoreInternals;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Chains a million deep and parents with a million children, on the 512 KiB thread stacks Surefire
 * gives this module: no {@code StackOverflowError} anywhere (cancel, propagation, callbacks, {@code
 * toString}, value lookup), and the whole tree ends cancelled with the right cause.
 */
class DeepAndWideTest {
  private static final int MILLION = 1_000_000;
  private static final Key<Integer> DEPTH = Key.of("depth", Integer.class);

  @Test
  void millionDeepChainCancelsFromTheRoot() {
    CancelableContext root = Context.withCancel(Context.background());
    Context leaf = root;
    Context middle = null;
    for (int i = 1; i <= MILLION; i++) {
      // Mix the kinds: plain cancel layers, value layers (one key, so the trie stays small) and a
      // deadline layer now and then (it turns into a plain cancel under the earlier deadline above).
      if (i % 3 == 0) {
        leaf = Context.withValue(leaf, DEPTH, i);
      } else if (i % 1000 == 1) {
        leaf = Context.withTimeout(leaf, Duration.ofHours(1));
      } else {
        leaf = Context.withCancel(leaf);
      }
      if (i == MILLION / 2) {
        middle = leaf;
      }
    }
    AtomicInteger leafCallback = new AtomicInteger();
    leaf.onDone(leafCallback::incrementAndGet);
    assertEquals(MILLION, (int) leaf.value(DEPTH) + 1, "nearest value");
    String s = leaf.toString();
    assertTrue(s.startsWith("context.Background.WithCancel") && s.contains("more layers"), s);
    RuntimeException cause = new RuntimeException("root cancelled");
    long t0 = System.nanoTime();
    assertTrue(root.cancel(cause));
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertSame(Context.CANCELED, leaf.err());
    assertSame(cause, leaf.cause());
    assertSame(cause, middle.cause());
    assertEquals(1, leafCallback.get());
    System.out.printf(java.util.Locale.ROOT, "DeepAndWideTest: chain of %,d layers cancelled from the root in %d ms%n", MILLION, ms);
  }

  @Test
  void millionDeepChainCancelledFromTheMiddleThenTheRoot() throws InterruptedException {
    CancelableContext root = Context.withCancel(Context.background());
    List<CancelableContext> chain = new ArrayList<>(MILLION);
    CancelableContext c = root;
    for (int i = 0; i < MILLION; i++) {
      c = Context.withCancel(c);
      chain.add(c);
    }
    CancelableContext middle = chain.get(MILLION / 2);
    RuntimeException midCause = new RuntimeException("middle");
    assertTrue(middle.cancel(midCause));
    chain.get(MILLION - 1).await(); // already done: returns at once
    assertSame(midCause, chain.get(MILLION - 1).cause());
    assertTrue(!chain.get(MILLION / 2 - 1).isDone(), "the upper half must be untouched");
    assertTrue(root.cancel());
    assertSame(Context.CANCELED, chain.get(0).cause());
    assertSame(midCause, chain.get(MILLION - 1).cause(), "the first cancellation's cause stays");
    assertEquals(0, CoreInternals.registrationCount(root));
  }

  @Test
  void parentWithAMillionChildren() {
    CancelableContext parent = Context.withCancel(Context.background());
    CancelableContext[] children = new CancelableContext[MILLION];
    AtomicInteger callbacks = new AtomicInteger();
    for (int i = 0; i < MILLION; i++) {
      children[i] = Context.withCancel(parent);
      if (i % 10 == 0) {
        children[i].onDone(callbacks::incrementAndGet);
      } else {
        CoreInternals.register(children[i]); // as a child of its own would: the parent must reach it
      }
    }
    assertEquals(MILLION, CoreInternals.registrationCount(parent));
    // Cancel every other child first: the parent's stack must shed them.
    for (int i = 0; i < MILLION; i += 2) {
      children[i].cancel();
    }
    for (int i = 0; i < 1000; i++) {
      Context.withCancel(parent).cancel(); // pushes that trigger sweeps
    }
    assertEquals(MILLION / 2, CoreInternals.registrationCount(parent));
    int nodes = CoreInternals.nodeCount(parent);
    assertTrue(nodes <= 2 * (MILLION / 2) + 64, "dead links kept: " + nodes);
    RuntimeException cause = new RuntimeException("parent");
    long t0 = System.nanoTime();
    parent.cancel(cause);
    long ms = (System.nanoTime() - t0) / 1_000_000;
    for (int i = 0; i < MILLION; i++) {
      assertSame(i % 2 == 0 ? Context.CANCELED : cause, children[i].cause(), "child " + i);
    }
    assertEquals(MILLION / 10, callbacks.get());
    assertEquals(0, CoreInternals.nodeCount(parent));
    System.out.printf(
        java.util.Locale.ROOT,
        "DeepAndWideTest: parent with %,d children (%,d nodes after half cancelled) cancelled in %d ms%n",
        MILLION, nodes, ms);
  }

  @Test
  void wideAndDeepTreeOfTimeouts() {
    // 200 chains of 1,000: 200,000 timer contexts whose timers go when the root is cancelled.
    CancelableContext root = Context.withCancel(Context.background());
    int pendingBefore = CoreInternals.pendingTimers();
    List<Context> leaves = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      Context c = root;
      for (int d = 0; d < 1000; d++) {
        // Deadlines shrink going down, so each layer gets a timer of its own.
        c = Context.withTimeout(c, Duration.ofHours(2000 - d));
      }
      leaves.add(c);
    }
    int pendingDuring = CoreInternals.pendingTimers();
    root.cancel();
    for (Context leaf : leaves) {
      assertSame(Context.CANCELED, leaf.err());
    }
    assertEquals(pendingBefore + 200_000, pendingDuring);
    assertEquals(pendingBefore, CoreInternals.pendingTimers());
  }
}
