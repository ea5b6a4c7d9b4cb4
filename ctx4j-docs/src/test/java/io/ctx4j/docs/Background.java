package io.ctx4j.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/** A snippet run on its own thread, for the tests that signal this JVM while it waits. */
final class Background {
  interface Body {
    void run() throws Exception;
  }

  private final AtomicReference<Throwable> failure = new AtomicReference<>();
  private final Thread thread;

  Background(Body body) {
    thread = new Thread(() -> {
      try {
        body.run();
      } catch (Throwable t) {
        failure.set(t);
      }
    });
    thread.start();
  }

  /** Sends a real signal (INT, TERM) to this JVM, as Ctrl-C or `kill` would. */
  static void signalSelf(String signal) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(ProcessHandle.current().pid()))
        .inheritIO().start();
    assertEquals(0, kill.waitFor(), "kill -" + signal);
  }

  /** Waits (up to 60 s) for the body to end, and fails if it did not or if it threw. */
  void joinCleanly() throws InterruptedException {
    thread.join(TimeUnit.SECONDS.toMillis(60));
    assertTrue(!thread.isAlive(), "the snippet did not end after the signal");
    assertEquals(null, failure.get());
  }
}
