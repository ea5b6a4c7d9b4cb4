package io.ctx4j.smoke.signal;

import io.ctx4j.Context;
import io.ctx4j.signal.SignalContext;
import io.ctx4j.signal.Signals;

/** Module-path smoke test of io.ctx4j.signal: sun.misc.Signal reached through jdk.unsupported. */
public final class Main {
  public static void main(String[] args) throws Exception {
    try (SignalContext ctx = Signals.notifyContext(Context.background(), "TERM")) {
      if (ctx.isDone()) throw new AssertionError("done before any signal");
    }
    System.out.println("io.ctx4j.signal ok");
  }
}
