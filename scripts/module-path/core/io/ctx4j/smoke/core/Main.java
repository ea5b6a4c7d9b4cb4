package io.ctx4j.smoke.core;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import java.time.Duration;

/** Module-path smoke test of io.ctx4j: a deadline fires through the timer thread. */
public final class Main {
  public static void main(String[] args) throws Exception {
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMillis(10))) {
      ctx.await();
      if (ctx.err() != Context.DEADLINE_EXCEEDED) throw new AssertionError(ctx.err());
    }
    System.out.println("io.ctx4j ok: " + Main.class.getModule() + " reads " + Context.class.getModule());
  }
}
