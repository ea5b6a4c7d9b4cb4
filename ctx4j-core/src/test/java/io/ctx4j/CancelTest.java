package io.ctx4j;

import static io.ctx4j.blackbox.Fixtures.BOUND;
import static io.ctx4j.blackbox.Fixtures.FOREVER;
import static io.ctx4j.blackbox.Fixtures.awaitDone;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.blackbox.Fixtures;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** withCancel: Go's TestWithCancel, the XTest linkage tests and the born-cancelled cases. */
class CancelTest {
  private static final Key<String> KEY = Key.named("key");

  @Test
  void cancelIsSynchronousAndReachesDescendantsThroughEveryLayer() {
    CancelableContext c1 = Context.withCancel(Context.background());
    Context o = new Fixtures.Wrapper(c1);
    CancelableContext c2 = Context.withCancel(o);
    Context value = Context.withValue(c1, KEY, "v");
    CancelableContext underValue = Context.withTimeout(value, FOREVER);
    Context[] all = {c1, o, c2, value, underValue};
    for (Context c : all) {
      assertFalse(c.isDone(), c::toString);
      assertNull(c.err(), c::toString);
    }
    assertTrue(c1.cancel());
    for (Context c : all) {
      assertTrue(c.isDone(), c::toString);
      assertSame(Context.CANCELED, c.err(), c::toString);
      assertSame(Context.CANCELED, c.cause(), c::toString);
    }
  }

  @Test
  void cancelIsIdempotent() {
    CancelableContext c = Context.withCancel(Context.background());
    assertTrue(c.cancel());
    assertFalse(c.cancel());
    assertFalse(c.cancel(new IllegalStateException("late")));
    c.close();
    assertSame(Context.CANCELED, c.err());
    assertSame(Context.CANCELED, c.cause());
  }

  @Test
  void closeCancelsSoTryWithResourcesReplacesDeferCancel() {
    CancelableContext escaped;
    try (CancelableContext c = Context.withCancel(Context.background())) {
      assertFalse(c.isDone());
      escaped = c;
    }
    assertSame(Context.CANCELED, escaped.err());
  }

  @Test
  void exactlyOneOfManyConcurrentCancelsWins() throws Exception {
    int threads = 8;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      for (int round = 0; round < 200; round++) {
        CancelableContext c = Context.withCancel(Context.background());
        CancelableContext child = Context.withCancel(c);
        CyclicBarrier start = new CyclicBarrier(threads);
        List<Future<Boolean>> results = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
          Throwable cause = new Exception("canceller " + i);
          results.add(
              pool.submit(
                  () -> {
                    start.await();
                    return c.cancel(cause);
                  }));
        }
        int winners = 0;
        Throwable winningCause = null;
        for (Future<Boolean> f : results) {
          if (f.get(BOUND.toSeconds(), TimeUnit.SECONDS)) {
            winners++;
          }
        }
        winningCause = c.cause();
        assertEquals(1, winners, "round " + round);
        assertSame(winningCause, child.cause(), "the child must carry the winner's cause");
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /** XTestParentFinishesChild. */
  @Test
  void parentFinishesEveryKindOfChild() {
    CancelableContext parent = Context.withCancel(Context.background());
    CancelableContext cancelChild = registered(Context.withCancel(parent));
    Context valueChild = Context.withValue(parent, KEY, "value");
    CancelableContext timerChild = Context.withTimeout(valueChild, FOREVER);
    AtomicInteger afterFuncRuns = new AtomicInteger();
    Context.afterFunc(parent, afterFuncRuns::incrementAndGet);

    CancelStateMachine p = (CancelStateMachine) parent;
    assertEquals(3, p.registrationCount(), "cancel child, timer child (through the value layer), afterFunc");
    for (Context c : List.of(parent, cancelChild, valueChild, timerChild)) {
      assertFalse(c.isDone(), c::toString);
    }
    parent.cancel();
    assertEquals(0, p.registrationCount());
    assertEquals(0, p.nodeCount(), "a cancelled parent drops every child at once");
    for (Context c : List.of(parent, cancelChild, valueChild, timerChild)) {
      assertSame(Context.CANCELED, c.err(), c::toString);
    }
    Context late = Context.withValue(parent, KEY, "late");
    assertSame(Context.CANCELED, late.err());
  }

  /** XTestChildFinishesFirst. */
  @Test
  void aChildThatFinishesFirstLeavesItsParentAlone() {
    for (Context parent :
        List.<Context>of(Context.background(), Context.withCancel(Context.background()))) {
      CancelableContext child = registered(Context.withCancel(parent));
      if (parent instanceof CancelStateMachine) {
        assertEquals(1, ((CancelStateMachine) parent).registrationCount());
      }
      assertTrue(child.cancel());
      if (parent instanceof CancelStateMachine) {
        assertEquals(0, ((CancelStateMachine) parent).registrationCount());
      }
      assertSame(Context.CANCELED, child.err());
      assertFalse(parent.isDone());
      assertNull(parent.err());
    }
  }

  /** XTestCancelRemoves: a child that cancels itself drops out of its parent's registrations. */
  @Test
  void cancellingAChildRemovesItFromItsParent() {
    CancelableContext root = Context.withCancel(Context.background());
    CancelStateMachine r = (CancelStateMachine) root;
    assertEquals(0, r.registrationCount());

    CancelableContext child = registered(Context.withCancel(root));
    assertEquals(1, r.registrationCount());
    child.cancel();
    assertEquals(0, r.registrationCount());

    Fixtures.assertTimeoutAndAfterFuncGiveTheirRegistrationBack(root, r::registrationCount);
    assertFalse(root.isDone());
  }

  /** Detached links must not pile up in a long-lived parent (golang/go#47806 style leak). */
  @Test
  void churningChildrenDoesNotGrowTheParent() {
    CancelableContext root = Context.withCancel(Context.background());
    CancelStateMachine r = (CancelStateMachine) root;
    ArrayDeque<CancelableContext> live = new ArrayDeque<>();
    int window = 100;
    int maxNodes = 0;
    for (int i = 0; i < 100_000; i++) {
      live.add(registered(Context.withCancel(root)));
      if (live.size() > window) {
        live.poll().cancel();
      }
      maxNodes = Math.max(maxNodes, r.nodeCount());
    }
    assertEquals(window, r.registrationCount());
    assertTrue(maxNodes <= 4 * window + 64, "parent held " + maxNodes + " nodes for " + window + " live children");
    live.forEach(CancelableContext::cancel);
    assertEquals(0, r.registrationCount());
  }

  /**
   * Sweeps unlink dead links while other threads push and detach: no live child may be lost, which
   * would leave it running after its parent is cancelled.
   */
  @Test
  void concurrentChurnNeverLosesALiveChild() throws Exception {
    for (int round = 0; round < 5; round++) {
      CancelableContext parent = Context.withCancel(Context.background());
      int threads = 4;
      ExecutorService pool = Executors.newFixedThreadPool(threads);
      try {
        CyclicBarrier start = new CyclicBarrier(threads);
        List<Future<List<CancelableContext>>> kept = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
          kept.add(
              pool.submit(
                  () -> {
                    start.await();
                    List<CancelableContext> live = new ArrayList<>();
                    ArrayDeque<CancelableContext> window = new ArrayDeque<>();
                    for (int i = 0; i < 20_000; i++) {
                      CancelableContext c = registered(Context.withCancel(parent));
                      if (i % 97 == 0) {
                        live.add(c); // kept to the end
                      } else {
                        window.add(c);
                        if (window.size() > 8) {
                          window.poll().cancel();
                        }
                      }
                    }
                    live.addAll(window);
                    return live;
                  }));
        }
        List<CancelableContext> live = new ArrayList<>();
        for (Future<List<CancelableContext>> f : kept) {
          live.addAll(f.get(BOUND.toSeconds(), TimeUnit.SECONDS));
        }
        assertEquals(live.size(), ((CancelStateMachine) parent).registrationCount(), "round " + round);
        parent.cancel();
        for (CancelableContext c : live) {
          assertSame(Context.CANCELED, c.err(), "a live child was lost in round " + round);
        }
      } finally {
        pool.shutdownNow();
      }
    }
  }

  /** TestWithCancelCanceledParent. */
  @Test
  void aChildOfACancelledParentIsBornCancelledWithItsErrAndCause() {
    Throwable cause = new Exception("Because!");
    CancelableContext parent = Context.withCancelCause(Context.background());
    parent.cancel(cause);
    Context value = Context.withValue(parent, KEY, "v");
    for (CancelableContext child :
        List.of(
            Context.withCancel(parent),
            Context.withCancel(value),
            Context.withTimeout(parent, FOREVER),
            Context.withTimeoutCause(value, FOREVER, new Exception("unused")))) {
      assertTrue(child.isDone(), child::toString);
      assertSame(Context.CANCELED, child.err());
      assertSame(cause, child.cause());
      assertFalse(child.cancel(), "a born-cancelled child cannot be cancelled again");
      assertSame(cause, child.cause());
    }
    assertEquals(0, ((CancelStateMachine) parent).registrationCount());
  }

  /** TestWithCancelSimultaneouslyCanceledParent. */
  @Test
  void aChildCreatedDuringItsParentsCancellationGetsTheParentsCause() throws Exception {
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      for (int i = 0; i < 100; i++) {
        CancelableContext parent = Context.withCancelCause(Context.background());
        Throwable cause = new Exception("cause " + i);
        CountDownLatch go = new CountDownLatch(1);
        Future<?> canceller =
            pool.submit(
                () -> {
                  go.await();
                  return parent.cancel(cause);
                });
        go.countDown();
        CancelableContext child = Context.withCancel(parent);
        awaitDone(child);
        assertSame(Context.CANCELED, child.err(), "iteration " + i);
        assertSame(cause, child.cause(), "iteration " + i);
        canceller.get(BOUND.toSeconds(), TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void cancellingWithANullCauseMeansCanceled() {
    CancelableContext c = Context.withCancelCause(Context.background());
    assertTrue(c.cancel(null));
    assertSame(Context.CANCELED, c.cause());
  }

  @Test
  void cancellingAChildDoesNotTouchItsSiblings() {
    CancelableContext parent = Context.withCancel(Context.background());
    CancelableContext a = Context.withCancel(parent);
    CancelableContext b = Context.withCancel(parent);
    CancelableContext grandchild = Context.withCancel(a);
    a.cancel();
    assertTrue(grandchild.isDone());
    assertFalse(b.isDone());
    assertFalse(parent.isDone());
    parent.cancel();
    assertTrue(b.isDone());
  }

  /** Makes {@code c} register with its parent now, as a waiter or a child of its own would. */
  static CancelableContext registered(CancelableContext c) {
    ((CancelStateMachine) c).ensureRegistered();
    return c;
  }

  @Test
  void aPlainChildTouchesNothingInItsParentUntilSomethingWaitsOnIt() {
    CancelableContext parent = Context.withCancel(Context.background());
    CancelStateMachine p = (CancelStateMachine) parent;
    CancelableContext child = Context.withCancel(parent);
    assertEquals(0, p.nodeCount(), "creating a plain child writes nothing to its parent");
    assertTrue(child.cancel());
    assertEquals(0, p.nodeCount(), "nor does cancelling it");

    CancelableContext waited = Context.withCancel(parent);
    AtomicInteger runs = new AtomicInteger();
    waited.onDone(runs::incrementAndGet);
    assertEquals(1, p.registrationCount(), "a callback on the child registers the child");
    CancelableContext middle = Context.withCancel(parent);
    CancelableContext grandchild = Context.withCancel(middle);
    assertEquals(1, p.registrationCount(), "nor does deriving a grandchild");
    AtomicInteger grandchildRuns = new AtomicInteger();
    grandchild.onDone(grandchildRuns::incrementAndGet);
    assertEquals(2, p.registrationCount(), "a callback on the grandchild registers the chain");
    assertEquals(1, ((CancelStateMachine) middle).registrationCount());
    parent.cancel(new IllegalStateException("stop"));
    assertEquals(1, runs.get());
    assertEquals(1, grandchildRuns.get());
    assertEquals("stop", grandchild.cause().getMessage());
    assertSame(Context.CANCELED, waited.err());
    assertEquals("stop", waited.cause().getMessage());
  }

  @Test
  void anUnregisteredChildIsDoneWithItsParentAndTheParentsCauseWins() {
    CancelableContext parent = Context.withCancel(Context.background());
    CancelableContext child = Context.withCancel(parent);
    IllegalStateException first = new IllegalStateException("first");
    parent.cancel(first);
    assertTrue(child.isDone());
    assertSame(Context.CANCELED, child.err());
    assertSame(first, child.cause());
    assertFalse(child.cancel(new IllegalStateException("late")), "the parent's cancellation came first");
    assertSame(first, child.cause());
    CancelableContext grandchild = Context.withCancel(child);
    assertSame(first, grandchild.cause(), "born done with the inherited cause");
  }

  /** A chain of plain children of an open root: nothing registers, and cancellation still flows. */
  @Test
  void aLazyChainIsDoneWithTheNearestCancelledAncestor() {
    CancelableContext root = Context.withCancel(Context.background());
    List<CancelableContext> chain = new ArrayList<>();
    CancelableContext c = root;
    for (int i = 0; i < 100; i++) {
      c = Context.withCancel(c);
      chain.add(c);
    }
    assertEquals(0, ((CancelStateMachine) root).nodeCount(), "building a chain registers nothing");
    IllegalStateException middle = new IllegalStateException("middle");
    assertTrue(chain.get(49).cancel(middle));
    IllegalStateException top = new IllegalStateException("root");
    assertTrue(root.cancel(top));
    for (int i = 0; i < chain.size(); i++) {
      assertSame(i < 49 ? top : middle, chain.get(i).cause(), "link " + i);
      assertFalse(chain.get(i).cancel(), "link " + i + " is already done");
    }
  }

  /** A question asked from deep in a lazy chain registers it, so the next one costs one read. */
  @Test
  void aDeepQuestionRegistersTheChainOnce() {
    CancelableContext root = Context.withCancel(Context.background());
    CancelableContext c = root;
    for (int i = 0; i < 100; i++) {
      c = Context.withCancel(c);
    }
    assertNull(c.err());
    assertEquals(1, ((CancelStateMachine) root).registrationCount(), "the chain hangs off the root now");
    CancelableContext leaf = c;
    AtomicInteger runs = new AtomicInteger();
    leaf.onDone(runs::incrementAndGet);
    root.cancel();
    assertEquals(1, runs.get());
    assertSame(Context.CANCELED, leaf.err());
  }

  /** The children of a cancelled context are born done, with its error and cause. */
  @Test
  void childrenOfACancelledLazyChainAreBornDone() {
    CancelableContext root = Context.withCancel(Context.background());
    CancelableContext a = Context.withCancel(root);
    CancelableContext b = Context.withCancel(a);
    IllegalStateException why = new IllegalStateException("why");
    root.cancel(why);
    CancelableContext late = Context.withCancel(b);
    assertSame(Context.CANCELED, late.err());
    assertSame(why, late.cause());
    AtomicInteger runs = new AtomicInteger();
    late.onDone(runs::incrementAndGet);
    assertEquals(1, runs.get(), "a callback on a done context runs at once");
  }
}
