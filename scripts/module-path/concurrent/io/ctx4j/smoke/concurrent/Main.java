package io.ctx4j.smoke.concurrent;

import io.ctx4j.Context;
import io.ctx4j.Key;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.concurrent.Tasks;

/** Module-path smoke test of io.ctx4j.concurrent: its layers (virtual threads, ScopedValue). */
public final class Main {
  public static void main(String[] args) throws Exception {
    Key<String> user = Key.named("user");
    Context ctx = Context.withValue(Context.background(), user, "ann");
    String seen = CurrentContext.call(ctx, () -> CurrentContext.get().value(user));
    if (!"ann".equals(seen)) throw new AssertionError(seen);
    boolean layer = Tasks.virtualThreads();
    if (layer != (Runtime.version().feature() >= 21)) throw new AssertionError("JDK 21 layer: " + layer);
    Tasks.start(ctx, () -> { }).get();
    System.out.println("io.ctx4j.concurrent ok: virtual threads " + layer);
  }
}
