package io.ctx4j.smoke.concurrent;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Key;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.concurrent.Tasks;

/**
 * Module-path smoke test of io.ctx4j.concurrent: its layers (virtual threads, ScopedValue), and the
 * core's internal accessor (io.ctx4j.internal.CoreInternals, exported to this module only), which
 * makes the fresh copy of a context's error that a task's future reports.
 */
public final class Main {
  public static void main(String[] args) throws Exception {
    Key<String> user = Key.named("user");
    Context ctx = Context.withValue(Context.background(), user, "ann");
    String seen = CurrentContext.call(ctx, () -> CurrentContext.get().value(user));
    if (!"ann".equals(seen)) throw new AssertionError(seen);
    boolean layer = Tasks.virtualThreads();
    if (layer != (Runtime.version().feature() >= 21)) throw new AssertionError("JDK 21 layer: " + layer);
    Tasks.start(ctx, () -> { }).get();
    CancelableContext ended = Context.withCancel(ctx);
    ended.cancel();
    try {
      Tasks.start(ended, () -> { }).get();
      throw new AssertionError("a task ran under an ended context");
    } catch (ContextException e) {
      if (e == Context.CANCELED || e.getClass() != Context.CANCELED.getClass()) {
        throw new AssertionError("not a fresh copy of the context's error: " + e);
      }
    }
    System.out.println("io.ctx4j.concurrent ok: virtual threads " + layer);
  }
}
