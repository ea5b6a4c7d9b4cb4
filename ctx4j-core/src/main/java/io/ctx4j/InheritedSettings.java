package io.ctx4j;

import java.time.Instant;

/**
 * What a context inherits and passes on unchanged to its children: the custom ancestor that answers
 * for values, the deadline, the time source. (Values bound by ctx4j are a chain of {@link
 * ValueContext} instead, so that {@code withValue} allocates one object.)
 * Shared by reference between a context and every descendant that changes none of them, so deriving
 * a cancelable child costs no copy. Immutable.
 */
final class InheritedSettings {
  static final InheritedSettings EMPTY = new InheritedSettings(null, null, null);

  /** A custom (non-ctx4j) ancestor to ask for keys the ctx4j bindings lack; null if none. */
  final Context valueFallback;
  /** The effective deadline (already the earliest of the chain), or null. */
  final Instant deadline;
  /** Null means {@link TimeSource#system()}. */
  final TimeSource timeSource;

  InheritedSettings(Context valueFallback, Instant deadline, TimeSource timeSource) {
    this.valueFallback = valueFallback;
    this.deadline = deadline;
    this.timeSource = timeSource;
  }

  InheritedSettings withDeadline(Instant d) {
    return new InheritedSettings(valueFallback, d, timeSource);
  }

  /** For {@code withoutCancel}: the same values and clock, no deadline. */
  InheritedSettings withoutDeadline() {
    return new InheritedSettings(valueFallback, null, timeSource);
  }

  InheritedSettings withTimeSource(TimeSource source) {
    return new InheritedSettings(valueFallback, deadline, source);
  }

  TimeSource timeSource() {
    TimeSource s = timeSource;
    return s == null ? SystemTimeSource.INSTANCE : s;
  }
}
