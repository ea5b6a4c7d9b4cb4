package io.ctx4j;

import java.util.ArrayList;
import java.util.Objects;
import java.util.Optional;
import java.time.Instant;

/**
 * Base of every context ctx4j makes: the inherited {@link Env}, the value bindings, the parent, and
 * the iterative {@code toString} that prints the chain the way Go's {@code String()} does.
 */
abstract sealed class Ctx implements Context permits RootCtx, DerivedCtx, CancelableContext {
  /** Chains longer than this print their two ends only. */
  private static final int MAX_PRINTED_LAYERS = 64;

  final Env env;

  /**
   * The nearest {@code withValue} binding above this context's own: for a {@link ValueCtx}, the one
   * before it; for any other context, the newest one it inherits. Null if none (or if the nearest
   * bindings belong to a custom ancestor, which {@link Env#valueFallback} then answers for).
   */
  final ValueCtx values;

  Ctx(Env env, ValueCtx values) {
    this.env = env;
    this.values = values;
  }

  /** The newest binding visible from {@code c}, for a child to inherit; null for custom contexts. */
  static ValueCtx bindingsOf(Context c) {
    if (c instanceof ValueCtx) {
      return (ValueCtx) c;
    }
    return c instanceof Ctx ? ((Ctx) c).values : null;
  }

  /** The context this one was derived from; null for a root. */
  abstract Context parent();

  /** The context that children must register with to hear of cancellation; null if none can come. */
  abstract Context canceler();

  /** Appends this layer's part of the name, e.g. {@code .WithCancel}. */
  abstract void appendLayer(StringBuilder sb);

  @Override
  public final <T> T value(Key<T> key) {
    Objects.requireNonNull(key, "key");
    ValueCtx head = bindingsOf(this);
    Object v = head == null ? ValueCtx.ABSENT : ValueCtx.find(head, key);
    if (v == ValueCtx.ABSENT) {
      Context fallback = env.valueFallback;
      return fallback == null ? null : fallback.value(key);
    }
    @SuppressWarnings("unchecked")
    T t = (T) v;
    return t;
  }

  @Override
  public final Optional<Instant> deadline() {
    return Optional.ofNullable(env.deadline);
  }

  @Override
  public final String toString() {
    // Walk up without recursion: chains may be a million deep.
    ArrayList<Ctx> layers = new ArrayList<>();
    Context c = this;
    while (c instanceof Ctx) {
      Ctx x = (Ctx) c;
      layers.add(x);
      c = x.parent();
    }
    StringBuilder sb = new StringBuilder();
    if (c != null) {
      sb.append(Names.of(c));
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

