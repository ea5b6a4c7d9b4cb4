package io.ctx4j;

import static io.ctx4j.blackbox.Fixtures.BOUND;
import static io.ctx4j.blackbox.Fixtures.FOREVER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;

/** Go's concurrency tests (TestSimultaneousCancels, TestInterlockedCancels, TestLayers*) and examples. */
class GoConformanceTest {

  /** TestSimultaneousCancels: a tree of 100+ contexts, every cancel at once, no deadlock. */
  @RepeatedTest(5)
  void simultaneousCancels() throws Exception {
    CancelableContext root = Context.withCancel(Context.background());
    List<CancelableContext> all = new ArrayList<>(List.of(root));
    for (int next = 0; all.size() < 101; next++) {
      for (int i = 0; i < 4; i++) {
        all.add(Context.withCancel(all.get(next)));
      }
    }
    List<CancelableContext> order = new ArrayList<>(all);
    Collections.shuffle(order);
    int threads = 8;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      CyclicBarrier start = new CyclicBarrier(threads);
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int first = t;
        done.add(
            pool.submit(
                () -> {
                  start.await();
                  for (int i = first; i < order.size(); i += threads) {
                    order.get(i).cancel();
                  }
                  return null;
                }));
      }
      for (Future<?> f : done) {
        f.get(BOUND.toMillis(), TimeUnit.MILLISECONDS); // a deadlock fails here
      }
    } finally {
      pool.shutdownNow();
    }
    for (CancelableContext c : all) {
      assertTrue(c.await(BOUND), c::toString);
      assertSame(Context.CANCELED, c.err());
    }
    assertEquals(0, ((CancelStateMachine) root).registrationCount());
  }

  /** TestInterlockedCancels: a child cancelled from its parent's done callback. */
  @Test
  void interlockedCancels() throws Exception {
    CancelableContext parent = Context.withCancel(Context.background());
    CancelableContext child = Context.withCancel(parent);
    Thread t =
        new Thread(
            () -> {
              try {
                parent.await();
                child.cancel();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    t.start();
    parent.onDone(child::cancel); // inside the cancellation, on the cancelling thread
    parent.cancel();
    assertTrue(child.await(BOUND));
    t.join(BOUND.toMillis());
    assertFalse(t.isAlive());
  }

  @Test
  void layersCancel() throws Exception {
    testLayers(System.nanoTime(), false);
  }

  @Test
  void layersTimeout() throws Exception {
    testLayers(System.nanoTime(), true);
  }

  /**
   * Go's testLayers: a random chain of value, cancel and timeout layers; cancelling any cancelable
   * layer (or its timer firing) must finish the leaf, and every value must stay readable.
   */
  private static void testLayers(long seed, boolean timeout) throws Exception {
    Random r = new Random(seed);
    String where = "seed " + seed;
    Duration d = timeout ? Duration.ofMillis(1) : FOREVER;
    for (int round = 0; round < 20; round++) {
      Context ctx = Context.background();
      List<Key<Object>> keys = new ArrayList<>();
      List<CancelableContext> cancels = new ArrayList<>();
      int kinds = 0;
      for (int i = 0; i < 30 || kinds != 7; i++) {
        int kind = r.nextInt(3);
        kinds |= 1 << kind;
        switch (kind) {
          case 0:
            Key<Object> k = Key.named("layer" + i);
            keys.add(k);
            ctx = Context.withValue(ctx, k, k);
            break;
          case 1:
            CancelableContext c = Context.withCancel(ctx);
            cancels.add(c);
            ctx = c;
            break;
          default:
            CancelableContext t = Context.withTimeout(ctx, d);
            cancels.add(t);
            ctx = t;
            break;
        }
      }
      assertTrue(ctx.toString().startsWith("context.Background."), where);
      for (Key<Object> k : keys) {
        assertSame(k, ctx.value(k), where);
      }
      if (timeout) {
        assertTrue(ctx.await(BOUND), where + ": leaf never timed out");
        assertSame(Context.DEADLINE_EXCEEDED, ctx.err(), where);
      } else {
        assertFalse(ctx.isDone(), where);
        cancels.get(r.nextInt(cancels.size())).cancel();
        assertTrue(ctx.isDone(), where + ": cancellation must reach the leaf synchronously");
        assertSame(Context.CANCELED, ctx.err(), where);
      }
      for (Key<Object> k : keys) {
        assertSame(k, ctx.value(k), where);
      }
      cancels.forEach(CancelableContext::cancel); // release every timer
    }
  }

  /** ExampleAfterFunc_merge: Go's answer to "merge two contexts", built from afterFunc. */
  @Test
  void exampleMergeCancel() throws Exception {
    CancelableContext ctx1 = Context.withCancelCause(Context.background());
    CancelableContext ctx2 = Context.withCancelCause(Context.background());
    CancelableContext merged = Context.withCancelCause(ctx1);
    CountDownLatch forwarded = new CountDownLatch(1);
    Registration stop =
        Context.afterFunc(
            ctx2,
            () -> {
              merged.cancel(Context.cause(ctx2));
              forwarded.countDown();
            });
    Exception why = new Exception("ctx2 canceled");
    ctx2.cancel(why);
    assertTrue(forwarded.await(BOUND.toMillis(), TimeUnit.MILLISECONDS));
    assertSame(why, Context.cause(merged));
    assertFalse(stop.stop());
    assertFalse(ctx1.isDone());
  }

  /** ExampleWithValue. */
  @Test
  void exampleWithValue() {
    Key<String> favorite = Key.named("language");
    Context ctx = Context.withValue(Context.background(), favorite, "Go");
    assertEquals("Go", ctx.value(favorite));
    assertEquals(null, ctx.value(Key.<String>named("color")));
  }

  /** ExampleWithTimeout: a 1 ms deadline against work that never finishes. */
  @Test
  void exampleWithTimeout() {
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMillis(1))) {
      ContextException e =
          org.junit.jupiter.api.Assertions.assertThrows(
              ContextException.class,
              () -> ctx.await(new java.util.concurrent.CompletableFuture<String>()));
      assertEquals("context deadline exceeded", e.getMessage());
    }
  }
}
