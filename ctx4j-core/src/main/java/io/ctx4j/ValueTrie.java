package io.ctx4j;

/**
 * The persistent map behind {@link Context#value}: a hash array mapped trie keyed by {@link
 * Key#hash}, five bits a level.
 *
 * <p>Each {@code withValue} copies one path (at most seven small arrays, in practice one or two) and
 * shares the rest with the parent, so a lookup, hit or miss, costs the same at any depth and with any
 * number of values, where Go walks the whole chain. Key hashes are distinct for the first 2^32 keys
 * (see {@link Key}); beyond that, equal hashes land in a {@link Collision} leaf. Nodes are immutable
 * and published through final fields.
 */
final class ValueTrie {
  /** Stands for a bound {@code null}, which must hide outer bindings of the same key. */
  static final Object NULL = new Object();

  final int bitmap;
  /** Pairs: {@code [key, value]} for a leaf, {@code [null, ValueTrie]} for a sub-trie. */
  final Object[] slots;

  private ValueTrie(int bitmap, Object[] slots) {
    this.bitmap = bitmap;
    this.slots = slots;
  }

  /** Returns the bound value ({@link #NULL} for a bound null), or null if the key is absent. */
  static Object get(ValueTrie t, Key<?> key) {
    int h = key.hash;
    for (int shift = 0; t != null; shift += 5) {
      int bit = 1 << ((h >>> shift) & 31);
      if ((t.bitmap & bit) == 0) {
        return null;
      }
      int i = Integer.bitCount(t.bitmap & (bit - 1)) << 1;
      Object k = t.slots[i];
      if (k == key) {
        return t.slots[i + 1];
      }
      if (k != null) {
        return k instanceof Collision ? ((Collision) k).get(key) : null;
      }
      t = (ValueTrie) t.slots[i + 1];
    }
    return null;
  }

  static ValueTrie put(ValueTrie t, Key<?> key, Object value) {
    return put(t, key, key.hash, value == null ? NULL : value, 0);
  }

  private static ValueTrie put(ValueTrie t, Key<?> key, int h, Object value, int shift) {
    int bit = 1 << ((h >>> shift) & 31);
    if (t == null) {
      return new ValueTrie(bit, new Object[] {key, value});
    }
    int i = Integer.bitCount(t.bitmap & (bit - 1)) << 1;
    if ((t.bitmap & bit) == 0) {
      Object[] s = new Object[t.slots.length + 2];
      System.arraycopy(t.slots, 0, s, 0, i);
      s[i] = key;
      s[i + 1] = value;
      System.arraycopy(t.slots, i, s, i + 2, t.slots.length - i);
      return new ValueTrie(t.bitmap | bit, s);
    }
    Object[] s = t.slots.clone();
    Object k = s[i];
    if (k == null) {
      s[i + 1] = put((ValueTrie) s[i + 1], key, h, value, shift + 5);
    } else if (k == key) {
      s[i + 1] = value;
    } else if (k instanceof Collision) {
      s[i] = ((Collision) k).with(key, value);
    } else {
      Key<?> other = (Key<?>) k;
      if (other.hash == h) {
        s[i] = new Collision(new Key<?>[] {other}, new Object[] {s[i + 1]}).with(key, value);
        s[i + 1] = null;
      } else {
        s[i] = null;
        s[i + 1] = pair(other, s[i + 1], key, value, shift + 5);
      }
    }
    return new ValueTrie(t.bitmap, s);
  }

  /** A sub-trie holding two keys whose hashes agree below {@code shift} and differ above. */
  private static ValueTrie pair(Key<?> a, Object av, Key<?> b, Object bv, int shift) {
    int ia = (a.hash >>> shift) & 31;
    int ib = (b.hash >>> shift) & 31;
    if (ia == ib) {
      return new ValueTrie(1 << ia, new Object[] {null, pair(a, av, b, bv, shift + 5)});
    }
    Object[] s = ia < ib ? new Object[] {a, av, b, bv} : new Object[] {b, bv, a, av};
    return new ValueTrie((1 << ia) | (1 << ib), s);
  }

  /** Keys whose 32-bit hashes are equal: only after 2^32 keys have been created. */
  static final class Collision {
    final Key<?>[] keys;
    final Object[] values;

    Collision(Key<?>[] keys, Object[] values) {
      this.keys = keys;
      this.values = values;
    }

    Object get(Key<?> key) {
      for (int i = 0; i < keys.length; i++) {
        if (keys[i] == key) {
          return values[i];
        }
      }
      return null;
    }

    Collision with(Key<?> key, Object value) {
      for (int i = 0; i < keys.length; i++) {
        if (keys[i] == key) {
          Object[] v = values.clone();
          v[i] = value;
          return new Collision(keys, v);
        }
      }
      Key<?>[] k = java.util.Arrays.copyOf(keys, keys.length + 1);
      Object[] v = java.util.Arrays.copyOf(values, values.length + 1);
      k[keys.length] = key;
      v[values.length] = value;
      return new Collision(k, v);
    }
  }
}
