package io.ctx4j.blackbox;

import static io.ctx4j.blackbox.Fixtures.FOREVER;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Key;
import io.ctx4j.ManualTimeSource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** withValue and lookup: Go's TestValues and more. */
class ValueTest {
  // Go's key1(1), key2(1), key2(3): keys that print alike or hold equal data are still distinct.
  private static final Key<String> K1 = Key.named("key1");
  private static final Key<String> K2 = Key.named("key2");
  private static final Key<String> K3 = Key.named("key2");

  private static void check(Context c, String v1, String v2, String v3) {
    assertEquals(v1, c.value(K1), () -> c + " k1");
    assertEquals(v2, c.value(K2), () -> c + " k2");
    assertEquals(v3, c.value(K3), () -> c + " k3");
  }

  @Test
  void goTestValues() {
    Context c0 = Context.background();
    check(c0, null, null, null);

    Context c1 = Context.withValue(Context.background(), K1, "c1k1");
    check(c1, "c1k1", null, null);
    assertEquals("context.Background.WithValue(key1, c1k1)", c1.toString());

    Context c2 = Context.withValue(c1, K2, "c2k2");
    check(c2, "c1k1", "c2k2", null);
    assertEquals("context.Background.WithValue(key1, c1k1).WithValue(key2, c2k2)", c2.toString());

    Context c3 = Context.withValue(c2, K3, "c3k3");
    check(c3, "c1k1", "c2k2", "c3k3");

    Context c4 = Context.withValue(c3, K1, null);
    check(c4, null, "c2k2", "c3k3");
    assertTrue(c4.toString().endsWith(".WithValue(key2, c3k3).WithValue(key1, <nil>)"), c4::toString);

    Context o0 = new Fixtures.Wrapper(Context.background());
    check(o0, null, null, null);

    Context o1 = new Fixtures.Wrapper(Context.withValue(Context.background(), K1, "c1k1"));
    check(o1, "c1k1", null, null);

    Context o2 = Context.withValue(o1, K2, "o2k2");
    check(o2, "c1k1", "o2k2", null);

    Context o3 = new Fixtures.Wrapper(c4);
    check(o3, null, "c2k2", "c3k3");

    Context o4 = Context.withValue(o3, K3, null);
    check(o4, null, "c2k2", null);
  }

  @Test
  void valuesAreFoundThroughEveryKindOfDerivedContext() {
    ManualTimeSource time = Fixtures.manualTime();
    Context base = Context.withValue(Context.background(), K1, "v");
    CancelableContext cancel = Context.withCancel(base);
    List<Context> derived =
        List.of(
            cancel,
            Context.withCancelCause(base),
            Context.withTimeout(base, FOREVER),
            Context.withTimeoutCause(base, FOREVER, new Exception()),
            Context.withDeadline(base, java.time.Instant.now().plus(FOREVER)),
            Context.withTimeout(base, java.time.Duration.ZERO),
            Context.withoutCancel(base),
            Context.withTimeSource(base, time),
            Context.withValue(base, K2, "other"),
            Context.withCancel(new Fixtures.Wrapper(base)),
            Context.withCancel(Context.withoutCancel(Context.withTimeSource(cancel, time))));
    cancel.cancel();
    for (Context c : derived) {
      assertEquals("v", c.value(K1), c::toString);
      assertNull(c.value(K3), c::toString);
      if (c instanceof CancelableContext) {
        ((CancelableContext) c).cancel();
      }
      assertEquals("v", c.value(K1), "values outlive cancellation: " + c);
    }
  }

  @Test
  void aCustomParentsValuesAreFoundUnderValueLayers() {
    Key<Integer> custom = Key.named("custom");
    Context parent = new Fixtures.CustomContext().with(custom, 7).with(K1, "from custom");
    Context c = Context.withValue(Context.withCancel(parent), K1, "shadow");
    assertEquals(7, c.value(custom));
    assertEquals("shadow", c.value(K1));
    assertEquals("from custom", Context.withCancel(parent).value(K1));
    Context nulled = Context.withValue(parent, K1, null);
    assertNull(nulled.value(K1), "a bound null hides the custom parent's value too");
  }

  @Test
  void typedKeysRejectValuesOfTheWrongType() {
    Key<Number> number = Key.of("number", Number.class);
    assertEquals(3, Context.withValue(Context.background(), number, 3).value(number));
    assertNull(Context.withValue(Context.background(), number, null).value(number));
    @SuppressWarnings({"unchecked", "rawtypes"})
    Key<Object> raw = (Key) number;
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> Context.withValue(Context.background(), raw, "3"));
    assertTrue(e.getMessage().contains("number"), e::getMessage);
    assertTrue(e.getMessage().contains("java.lang.String"), e::getMessage);
  }

  @Test
  void aKeyOfAPrimitiveTypeTakesItsWrapper() {
    Key<Integer> count = Key.of("count", int.class);
    assertEquals(7, Context.withValue(Context.background(), count, 7).value(count));
    @SuppressWarnings({"unchecked", "rawtypes"})
    Key<Object> raw = (Key) count;
    assertThrows(
        IllegalArgumentException.class, () -> Context.withValue(Context.background(), raw, 7L));
  }

  /**
   * Binds keys {@code k0} to {@code k<n-1>} to their index, one layer each under background, with a
   * cancel layer after every {@code cancelEvery}-th binding (none if 0); adds the keys to {@code
   * keys} and returns the leaf.
   */
  private static Context chainOfValues(List<Key<Integer>> keys, int n, int cancelEvery) {
    Context c = Context.background();
    for (int i = 0; i < n; i++) {
      Key<Integer> k = Key.named("k" + i);
      keys.add(k);
      c = Context.withValue(c, k, i);
      if (cancelEvery > 0 && i % cancelEvery == 0) {
        c = Context.withCancel(c);
      }
    }
    return c;
  }

  @Test
  void aThousandValuesInOneChainAreAllFound() {
    List<Key<Integer>> keys = new ArrayList<>();
    Context c = chainOfValues(keys, 1000, 100);
    for (int i = 0; i < keys.size(); i++) {
      assertEquals(i, c.value(keys.get(i)));
    }
    assertNull(c.value(Key.named("k5")), "a key with the same name is another key");
  }

  @Test
  void keysInsertedInRandomOrderAreFoundAndShadowed() {
    long seed = System.nanoTime();
    Random random = new Random(seed);
    List<Key<Integer>> keys = new ArrayList<>();
    for (int i = 0; i < 5000; i++) {
      keys.add(Key.named("k" + i));
    }
    List<Key<Integer>> order = new ArrayList<>(keys);
    Collections.shuffle(order, random);
    Context c = Context.background();
    List<Context> snapshots = new ArrayList<>();
    for (Key<Integer> k : order) {
      c = Context.withValue(c, k, keys.indexOf(k));
      snapshots.add(c);
    }
    for (Key<Integer> k : keys) {
      assertEquals(keys.indexOf(k), c.value(k), "seed " + seed);
    }
    // Rebind a random half: the new values win below, the old ones are intact above.
    Context before = c;
    List<Key<Integer>> rebound = order.subList(0, order.size() / 2);
    for (Key<Integer> k : rebound) {
      c = Context.withValue(c, k, -1);
    }
    for (Key<Integer> k : keys) {
      Integer expected = rebound.contains(k) ? -1 : keys.indexOf(k);
      assertEquals(expected, c.value(k), "seed " + seed);
      assertEquals(keys.indexOf(k), before.value(k), "seed " + seed);
    }
    // Earlier snapshots see exactly the keys inserted before them.
    int mid = snapshots.size() / 2;
    Context half = snapshots.get(mid);
    for (int i = 0; i < order.size(); i++) {
      Integer v = half.value(order.get(i));
      if (i <= mid) {
        assertEquals(keys.indexOf(order.get(i)), v, "seed " + seed);
      } else {
        assertNull(v, "seed " + seed);
      }
    }
  }

  @Test
  void valueLayersShareTheParentsCancellation() {
    CancelableContext parent = Context.withCancel(Context.background());
    Context v = Context.withValue(parent, K1, "v");
    assertSame(parent.isDone(), v.isDone());
    parent.cancel(new Exception("x"));
    assertSame(parent.err(), v.err());
    assertSame(parent.cause(), v.cause());
  }

  /**
   * Lookups walk a few links and then build snapshots wherever they happen to start; whatever the
   * order of lookups, every context must see exactly the bindings of its own ancestry. Checked
   * against a plain map per context, with shadowing, bound nulls and every kind of layer mixed in.
   */
  @Test
  void lookupsFromAnyPointOfALongChainMatchAPlainMap() {
    long seed = System.nanoTime();
    Random random = new Random(seed);
    for (int round = 0; round < 20; round++) {
      List<Key<Integer>> keys = new ArrayList<>();
      // Few keys (flat snapshot tables, much shadowing) or many (tables that turn into tries).
      int keyCount = 1 + random.nextInt(round % 2 == 0 ? 40 : 300);
      for (int i = 0; i < keyCount; i++) {
        keys.add(Key.named("k" + i));
      }
      List<Context> chain = new ArrayList<>();
      List<Map<Key<Integer>, Integer>> expected = new ArrayList<>();
      Context c = Context.background();
      Map<Key<Integer>, Integer> model = new HashMap<>();
      int length = 1 + random.nextInt(300);
      for (int i = 0; i < length; i++) {
        int kind = random.nextInt(10);
        if (kind < 7) {
          Key<Integer> k = keys.get(random.nextInt(keyCount));
          Integer v = random.nextInt(8) == 0 ? null : i;
          c = Context.withValue(c, k, v);
          model = new HashMap<>(model);
          model.put(k, v);
        } else if (kind == 7) {
          c = Context.withCancel(c);
        } else if (kind == 8) {
          c = Context.withoutCancel(c);
        } else {
          c = Context.withTimeout(c, FOREVER);
        }
        chain.add(c);
        expected.add(model);
      }
      // Several passes in random order: the first builds snapshots, later ones read them.
      for (int pass = 0; pass < 3; pass++) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < length; i++) {
          order.add(i);
        }
        Collections.shuffle(order, random);
        for (int i : order) {
          Key<Integer> k = keys.get(random.nextInt(keyCount));
          assertEquals(
              expected.get(i).get(k),
              chain.get(i).value(k),
              "seed " + seed + ", round " + round + ", context " + i + ", " + k);
        }
      }
    }
  }

  /** Threads racing to build the same snapshots all get the right answers. */
  @Test
  void concurrentFirstLookupsOnALongChainAgree() throws Exception {
    int threads = 4;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      for (int round = 0; round < 50; round++) {
        List<Key<Integer>> keys = new ArrayList<>();
        Context leaf = chainOfValues(keys, 500, 0);
        Key<Integer> missing = Key.named("missing");
        CyclicBarrier start = new CyclicBarrier(threads);
        List<Future<Integer>> results = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
          results.add(
              pool.submit(
                  () -> {
                    start.await();
                    int found = 0;
                    for (int i = keys.size() - 1; i >= 0; i--) {
                      if (Integer.valueOf(i).equals(leaf.value(keys.get(i)))) {
                        found++;
                      }
                    }
                    return leaf.value(missing) == null ? found : -1;
                  }));
        }
        for (Future<Integer> r : results) {
          assertEquals(keys.size(), r.get(30, TimeUnit.SECONDS));
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /** A first lookup at the bottom of a million bindings builds its snapshot without recursion. */
  @Test
  void aFirstLookupUnderAMillionBindingsNeitherRecursesNorMisses() {
    Key<Integer> first = Key.named("first");
    Key<Integer> other = Key.named("other");
    Context c = Context.withValue(Context.background(), first, -1);
    for (int i = 0; i < 1_000_000; i++) {
      c = Context.withValue(c, other, i);
    }
    assertEquals(-1, c.value(first));
    assertEquals(999_999, c.value(other));
    assertNull(c.value(Key.named("missing")));
  }
}
