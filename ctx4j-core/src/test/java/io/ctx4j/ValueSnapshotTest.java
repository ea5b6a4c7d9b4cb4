package io.ctx4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The switch from a flat {@link ValueTable} snapshot to a {@link ValueTrie}, at its size limit. */
class ValueSnapshotTest {
  /**
   * A snapshot holds a flat table up to {@link ValueTable#MAX_ENTRIES} bindings and a trie above. A
   * chain looked up once below that size, then grown past it with new keys and with rebindings
   * (some to null) of old ones, must build its trie from the table and lose nothing.
   */
  @Test
  void aSnapshotTableThatOutgrowsItsLimitBecomesATrieWithEveryBinding() {
    int small = ValueTable.MAX_ENTRIES - 8;
    List<Key<Integer>> keys = new ArrayList<>();
    Map<Key<Integer>, Integer> model = new HashMap<>();
    Context c = Context.background();
    for (int i = 0; i < small; i++) {
      Key<Integer> k = Key.named("k" + i);
      keys.add(k);
      c = Context.withValue(c, k, i);
      model.put(k, i);
    }
    for (Key<Integer> k : keys) {
      assertEquals(model.get(k), c.value(k), "below the limit: " + k);
    }
    for (int i = 0; i < 2 * small; i++) {
      Key<Integer> k;
      Integer v;
      if (i % 3 == 0) {
        k = keys.get(i % small); // rebind an old key: the nearer binding must win
        v = i % 2 == 0 ? null : -i;
      } else {
        k = Key.named("n" + i);
        keys.add(k);
        v = i;
      }
      c = Context.withValue(c, k, v);
      model.put(k, v);
    }
    for (Key<Integer> k : keys) {
      assertEquals(model.get(k), c.value(k), "above the limit: " + k);
    }
    assertNull(c.value(Key.named("missing")));
  }
}
