package io.ctx4j;

import java.util.ArrayList;

/**
 * {@code withValue}: one binding, and a link in the chain of bindings that lookups search.
 *
 * <p><b>Cost model.</b> Binding a value allocates this object and nothing else (no copy of the
 * parent's bindings), as in Go. A lookup walks the chain like Go's, but never more than {@link
 * BaseContext#MAX_WALK} links: a longer walk builds a snapshot of every binding visible from where
 * it started, and leaves snapshots on the way at every {@code MAX_WALK}-th link, so that any later
 * lookup from anywhere in that stretch reaches a snapshot within {@code MAX_WALK} links and then
 * costs one lookup in it, however many values there are. A snapshot is a flat {@link ValueTable}
 * for up to {@value ValueTable#MAX_ENTRIES} bindings (a miss reads one or two slots) and a {@link
 * ValueTrie} above that (snapshots share structure, so building them stays O(log n) a link however
 * long the chain). Each link gets at most one snapshot (two racing lookups may both build one; they
 * build equal maps), so the work is amortised over the links.
 *
 * <p><b>Publication.</b> {@link #snap} is volatile: a table is an array filled before it is
 * stored, and the volatile store and load carry its contents to the reader. A thread that does not
 * see a snapshot yet just walks and builds one of its own.
 */
final class ValueContext extends ForwardingContext {
  /** What {@link #find} returns for a key bound nowhere in the chain (null is a bound value). */
  static final Object ABSENT = new Object();

  private final Key<?> key;
  private final Object value;
  /**
   * Every binding visible from here, once a lookup has needed it: a {@link ValueTable} array or a
   * {@link ValueTrie}; see the class notes. Volatile so that a table's slots, written before it is
   * stored here, are visible to whoever reads it.
   */
  private volatile Object snap;

  ValueContext(
      Context parent, InheritedSettings settings, Context cancelSource, Key<?> key, Object value) {
    super(parent, settings, cancelSource);
    this.key = key;
    this.value = value;
  }

  /**
   * The value bound to {@code key} nearest to {@code start}, walking towards the root.
   *
   * @return the value (possibly a bound null), or {@link #ABSENT}
   */
  static Object find(ValueContext start, Key<?> key) {
    ValueContext n = start;
    for (int steps = 0; n != null; steps++) {
      Object s = n.snap;
      if (s != null) {
        return lookUp(s, key);
      }
      if (n.key == key) {
        return n.value;
      }
      if (steps == MAX_WALK) {
        return lookUp(start.snapshot(), key);
      }
      n = n.values;
    }
    return ABSENT;
  }

  private static Object lookUp(Object snapshot, Key<?> key) {
    Object v =
        snapshot instanceof Object[]
            ? ValueTable.get((Object[]) snapshot, key)
            : ValueTrie.get((ValueTrie) snapshot, key);
    if (v == null) {
      return ABSENT;
    }
    return v == ValueTrie.NULL ? null : v;
  }

  /**
   * Builds (iteratively: chains may be a million deep) the snapshot of every binding visible from
   * here, on top of the nearest snapshot above, and stores it here and at every {@code MAX_WALK}-th
   * link: a {@link ValueTable} while they are few enough, else a {@link ValueTrie}.
   */
  private Object snapshot() {
    ArrayList<ValueContext> path = new ArrayList<>();
    Object base = null;
    for (ValueContext n = this; n != null; n = n.values) {
      Object s = n.snap;
      if (s != null) {
        base = s;
        break;
      }
      path.add(n);
    }
    if (path.isEmpty()) {
      return base; // another thread built ours meanwhile
    }
    // Oldest first, so that a nearer binding of the same key replaces an outer one.
    if (!(base instanceof ValueTrie)) {
      int known = base == null ? 0 : ValueTable.size((Object[]) base);
      if (known + path.size() <= ValueTable.MAX_ENTRIES) {
        Object[] table = ValueTable.withRoomFor(known + path.size());
        if (base != null) {
          ValueTable.putAll(table, (Object[]) base);
        }
        for (int i = path.size() - 1; i >= 0; i--) {
          ValueContext x = path.get(i);
          ValueTable.put(table, x.key, x.value);
          if (i == 0) {
            x.snap = table;
          } else if (i % MAX_WALK == 0) {
            x.snap = table.clone(); // a copy: the table goes on filling for the links below
          }
        }
        return table;
      }
    }
    ValueTrie trie =
        base instanceof Object[] ? ValueTable.toTrie((Object[]) base) : (ValueTrie) base;
    for (int i = path.size() - 1; i >= 0; i--) {
      ValueContext x = path.get(i);
      trie = ValueTrie.put(trie, x.key, x.value);
      if (i % MAX_WALK == 0) {
        x.snap = trie;
      }
    }
    return trie;
  }

  @Override
  void appendLayer(StringBuilder sb) {
    sb.append(".WithValue(").append(key).append(", ");
    sb.append(DisplayNames.ofValue(value)).append(')');
  }
}
