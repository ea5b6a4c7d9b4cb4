package io.ctx4j;

import java.time.Instant;

/**
 * What a context inherits and passes on unchanged to its children: values, deadline, time source.
 * Shared by reference between a context and every descendant that changes none of them, so deriving
 * a cancelable child costs no copy. Immutable.
 */
final class Env {
  static final Env EMPTY = new Env(null, null, null, null);

  /** Bindings made by ctx4j contexts, nearest first. */
  final ValueTrie values;
  /** A custom (non-ctx4j) ancestor to ask for keys the trie lacks; null if none. */
  final Context valueFallback;
  /** The effective deadline (already the earliest of the chain), or null. */
  final Instant deadline;
  /** Null means {@link TimeSource#system()}. */
  final TimeSource timeSource;

  Env(ValueTrie values, Context valueFallback, Instant deadline, TimeSource timeSource) {
    this.values = values;
    this.valueFallback = valueFallback;
    this.deadline = deadline;
    this.timeSource = timeSource;
  }

  Object lookup(Key<?> key) {
    Object v = ValueTrie.get(values, key);
    if (v != null) {
      return v == ValueTrie.NULL ? null : v;
    }
    Context f = valueFallback;
    return f == null ? null : f.value(key);
  }

  Env withValue(Key<?> key, Object value) {
    return new Env(ValueTrie.put(values, key, value), valueFallback, deadline, timeSource);
  }

  Env withDeadline(Instant d) {
    return new Env(values, valueFallback, d, timeSource);
  }

  Env withTimeSource(TimeSource source) {
    return new Env(values, valueFallback, deadline, source);
  }

  TimeSource timeSource() {
    TimeSource s = timeSource;
    return s == null ? SystemTimeSource.INSTANCE : s;
  }
}
