package io.ctx4j;

import java.util.ArrayList;

/**
 * {@code withValue}: one binding, and a link in the chain of bindings that lookups search.
 *
 * <p><b>Cost model.</b> Binding a value allocates this object and nothing else (no copy of the
 * parent's bindings), as in Go. A lookup walks the chain like Go's, but never more than {@link
 * #WALK} links: a longer walk builds a {@link ValueTrie} snapshot of every binding visible from where
 * it started, and leaves snapshots on the way at every {@code WALK}-th link, so that any later lookup
 * from anywhere in that stretch reaches a snapshot within {@code WALK} links and then costs one trie
 * lookup, however many values there are. Each link gets at most one snapshot (two racing lookups may
 * both build it; they build equal tries), so the work is amortised over the links.
 *
 * <p><b>Publication.</b> {@link #snap} is written without synchronisation on purpose: a trie is
 * immutable and reachable only through final fields, so a thread that sees the reference sees the
 * whole trie; a thread that does not see it just walks and builds one of its own.
 */
final class ValueCtx extends DerivedCtx {
  /** What {@link #find} returns for a key bound nowhere in the chain (null is a bound value). */
  static final Object ABSENT = new Object();

  /** Links a lookup may walk before it builds a snapshot. */
  static final int WALK = 8;

  private final Key<?> key;
  private final Object value;
  /** Every binding visible from here, once a lookup has needed it; see the class notes. */
  private ValueTrie snap;

  ValueCtx(Context parent, Env env, Context canceler, Key<?> key, Object value) {
    super(parent, env, canceler);
    this.key = key;
    this.value = value;
  }

  /**
   * The value bound to {@code key} nearest to {@code start}, walking towards the root.
   *
   * @return the value (possibly a bound null), or {@link #ABSENT}
   */
  static Object find(ValueCtx start, Key<?> key) {
    ValueCtx n = start;
    for (int steps = 0; n != null; steps++) {
      ValueTrie s = n.snap;
      if (s != null) {
        return fromTrie(ValueTrie.get(s, key));
      }
      if (n.key == key) {
        return n.value;
      }
      if (steps == WALK) {
        return fromTrie(ValueTrie.get(start.snapshot(), key));
      }
      n = n.values;
    }
    return ABSENT;
  }

  private static Object fromTrie(Object v) {
    if (v == null) {
      return ABSENT;
    }
    return v == ValueTrie.NULL ? null : v;
  }

  /**
   * Builds (iteratively: chains may be a million deep) the trie of every binding visible from here,
   * on top of the nearest snapshot above, and stores it here and at every {@code WALK}-th link.
   */
  private ValueTrie snapshot() {
    ArrayList<ValueCtx> path = new ArrayList<>();
    ValueTrie base = null;
    for (ValueCtx n = this; n != null; n = n.values) {
      ValueTrie s = n.snap;
      if (s != null) {
        base = s;
        break;
      }
      path.add(n);
    }
    // Oldest first, so that a nearer binding of the same key replaces an outer one.
    for (int i = path.size() - 1; i >= 0; i--) {
      ValueCtx x = path.get(i);
      base = ValueTrie.put(base, x.key, x.value);
      if (i % WALK == 0) {
        x.snap = base;
      }
    }
    return base;
  }

  @Override
  void appendLayer(StringBuilder sb) {
    sb.append(".WithValue(").append(key).append(", ").append(Names.ofValue(value)).append(')');
  }
}
