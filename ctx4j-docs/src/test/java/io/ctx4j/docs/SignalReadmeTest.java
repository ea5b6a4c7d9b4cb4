package io.ctx4j.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import io.ctx4j.signal.SignalContext;
import io.ctx4j.signal.Signals;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The snippet of ctx4j-signal/README.md, run with a real SIGTERM to this JVM. */
@Timeout(120)
class SignalReadmeTest {
  final CountDownLatch serving = new CountDownLatch(1);
  final AtomicReference<String> drained = new AtomicReference<>();

  final class Server {
    void serve(Context ctx) throws InterruptedException {
      serving.countDown();
      ctx.await();
    }

    void drain() {
      drained.set("drained");
    }
  }

  final Server server = new Server();

  void run() throws Exception {
    // snippet:start notify-context
    try (SignalContext ctx = Signals.notifyContext(Context.background(), "INT", "TERM")) {
      server.serve(ctx);                         // runs until Ctrl-C or SIGTERM
      System.out.println(ctx.cause().getMessage()); // "interrupt signal received"
      server.drain();                            // finish in-flight work; a second Ctrl-C now exits as usual
    }
    // snippet:end notify-context
  }

  @Test
  void servesUntilSigtermThenDrains() throws Exception {
    Background main = new Background(this::run);
    assertTrue(serving.await(60, TimeUnit.SECONDS));
    Background.signalSelf("TERM");
    main.joinCleanly();
    assertEquals("drained", drained.get());
  }
}
