package io.ctx4j;

/**
 * The snapshot of a small set of bindings: a flat, open-addressed table of {@code [key, value]}
 * pairs in one {@code Object[]}, at most half full, probed linearly from slot {@code hash &
 * (capacity - 1)}.
 *
 * <p>Why a second map beside {@link ValueTrie}: a lookup here reads the array and then one slot (a
 * miss usually ends at an empty slot at once), where a trie reads a node, its slot array and often
 * a second level. Keys made one after another have consecutive sequence numbers, and the low bits
 * of {@link Key#hash} (a sequence number times an odd constant) then form a permutation, so such
 * keys land in distinct slots. A table is copied whole for every snapshot, so it is used only up to
 * {@link #MAX_ENTRIES} bindings; larger sets use the trie, whose snapshots share structure.
 *
 * <p>A table is filled by the thread that builds it and never changed once published. Unlike a trie
 * it has no final field to publish its contents, so it is published through a volatile write, and
 * read through a volatile read, of {@link ValueContext}'s snapshot field (on x86 that read is a
 * plain load).
 */
final class ValueTable {
  /** Bindings a table may hold; above this, snapshots are tries. */
  static final int MAX_ENTRIES = 128;

  private ValueTable() {}

  /** Returns the bound value ({@link ValueTrie#NULL} for a bound null), or null if absent. */
  static Object get(Object[] t, Key<?> key) {
    int mask = t.length - 2;
    int i = (key.hash << 1) & mask;
    for (; ; ) {
      Object k = t[i];
      if (k == key) {
        return t[i + 1];
      }
      if (k == null) {
        return null;
      }
      i = (i + 2) & mask;
    }
  }

  /** An empty table with room for {@code entries} bindings at most half full. */
  static Object[] withRoomFor(int entries) {
    int slots = Integer.highestOneBit(Math.max(4, entries) * 2 - 1) << 1; // >= 2 * entries, power of 2
    return new Object[slots * 2];
  }

  /** Binds {@code key} in {@code t} (which must have room), replacing an earlier binding of it. */
  static void put(Object[] t, Key<?> key, Object value) {
    int mask = t.length - 2;
    int i = (key.hash << 1) & mask;
    while (t[i] != null && t[i] != key) {
      i = (i + 2) & mask;
    }
    t[i] = key;
    t[i + 1] = value == null ? ValueTrie.NULL : value;
  }

  /** Copies every binding of {@code from} into {@code to}. */
  static void putAll(Object[] to, Object[] from) {
    for (int i = 0; i < from.length; i += 2) {
      if (from[i] != null) {
        put(to, (Key<?>) from[i], from[i + 1]);
      }
    }
  }

  /** The number of bindings in {@code t}. */
  static int size(Object[] t) {
    int n = 0;
    for (int i = 0; i < t.length; i += 2) {
      if (t[i] != null) {
        n++;
      }
    }
    return n;
  }

  /** The same bindings as a trie, to grow beyond {@link #MAX_ENTRIES}. */
  static ValueTrie toTrie(Object[] t) {
    ValueTrie trie = null;
    for (int i = 0; i < t.length; i += 2) {
      if (t[i] != null) {
        trie = ValueTrie.put(trie, (Key<?>) t[i], t[i + 1]);
      }
    }
    return trie;
  }
}
