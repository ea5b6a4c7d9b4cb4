package io.ctx4j;

import java.util.ArrayList;
import java.util.Objects;
import java.util.Optional;
import java.time.Instant;

/**
 * Base of every context ctx4j makes: the inherited {@link InheritedSettings}, the value bindings,
 * the parent, and the iterative {@code toString} that prints the chain the way Go's {@code
 * String()} does.
 */
abstract sealed class BaseContext implements Context
    permits RootContext, ForwardingContext, CancelableContext {
  /**
   * How many links a question may walk up a chain before it leaves a shortcut so that the next one
   * does not walk again: a value lookup builds a snapshot of the bindings ({@link ValueContext}), a
   * done-ness question about an unregistered cancelable context registers it ({@link
   * CancelStateMachine}). One bound for both, so a check stays O(1) amortised however deep the
   * chain.
   */
  static final int MAX_WALK = 8;

  /** Chains longer than this print their two ends only. */
  private static final int MAX_PRINTED_LAYERS = 64;

  final InheritedSettings settings;

  /**
   * The nearest {@code withValue} binding above this context's own: for a {@link ValueContext}, the
   * one before it; for any other context, the newest one it inherits. Null if none (or if the
   * nearest bindings belong to a custom ancestor, which {@link InheritedSettings#valueFallback}
   * then answers for).
   */
  final ValueContext values;

  BaseContext(InheritedSettings settings, ValueContext values) {
    this.settings = settings;
    this.values = values;
  }

  /** The newest binding visible from {@code c}, for a child to inherit; null for custom ones. */
  static ValueContext bindingsOf(Context c) {
    if (c instanceof ValueContext) {
      return (ValueContext) c;
    }
    return c instanceof BaseContext ? ((BaseContext) c).values : null;
  }

  /** The context this one was derived from; null for a root. */
  abstract Context parent();

  /**
   * The context a child of this one must listen to for cancellation: this context if it is
   * cancelable, else its own cancel source; null if nothing can cancel it.
   */
  abstract Context cancelSourceForChildren();

  /** Appends this layer's part of the name, e.g. {@code .WithCancel}. */
  abstract void appendLayer(StringBuilder sb);

  @Override
  public final <T> T value(Key<T> key) {
    Objects.requireNonNull(key, "key");
    ValueContext head = bindingsOf(this);
    Object v = head == null ? ValueContext.ABSENT : ValueContext.find(head, key);
    if (v == ValueContext.ABSENT) {
      Context fallback = settings.valueFallback;
      return fallback == null ? null : fallback.value(key);
    }
    @SuppressWarnings("unchecked")
    T t = (T) v;
    return t;
  }

  @Override
  public final Optional<Instant> deadline() {
    return Optional.ofNullable(settings.deadline);
  }

  @Override
  public final String toString() {
    // Walk up without recursion: chains may be a million deep.
    ArrayList<BaseContext> layers = new ArrayList<>();
    Context c = this;
    while (c instanceof BaseContext) {
      BaseContext x = (BaseContext) c;
      layers.add(x);
      c = x.parent();
    }
    StringBuilder sb = new StringBuilder();
    if (c != null) {
      sb.append(DisplayNames.of(c));
    }
    int n = layers.size();
    for (int i = n - 1; i >= 0; i--) {
      if (n > MAX_PRINTED_LAYERS && i == n - 1 - MAX_PRINTED_LAYERS / 2) {
        int skipped = n - MAX_PRINTED_LAYERS;
        sb.append("...(").append(skipped).append(" more layers)...");
        i -= skipped - 1;
        continue;
      }
      layers.get(i).appendLayer(sb);
    }
    return sb.toString();
  }
}

