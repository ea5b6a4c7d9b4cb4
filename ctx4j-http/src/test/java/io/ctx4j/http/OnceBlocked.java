package io.ctx4j.http;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Runs an action once a thread is parked in a read of a streamed response body (the JDK's {@code
 * HttpResponseInputStream}, which waits on a queue for the client's next buffer): the state a test
 * that ends a context "while the caller reads" needs, told from the thread's own state and stack
 * rather than guessed from a fixed delay.
 */
final class OnceBlocked {
  private OnceBlocked() {}

  /**
   * Starts a thread that waits, up to 30 s, until {@code reader} waits inside the JDK's body stream,
   * then runs {@code action}. The returned future fails if the reader never got there.
   */
  static CompletableFuture<Void> run(Thread reader, Runnable action) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    Thread watcher =
        new Thread(
            () -> {
              long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
              while (!waitsInTheBodyStream(reader)) {
                if (System.nanoTime() - giveUp > 0) {
                  done.completeExceptionally(
                      new AssertionError("the reader never waited in the body stream: " + reader.getState()));
                  return;
                }
                Thread.yield();
              }
              try {
                action.run();
                done.complete(null);
              } catch (Throwable e) {
                done.completeExceptionally(e);
              }
            },
            "once-blocked");
    watcher.setDaemon(true);
    watcher.start();
    return done;
  }

  private static boolean waitsInTheBodyStream(Thread reader) {
    Thread.State state = reader.getState();
    if (state != Thread.State.WAITING && state != Thread.State.TIMED_WAITING) {
      return false;
    }
    for (StackTraceElement frame : reader.getStackTrace()) {
      if (frame.getClassName().endsWith("HttpResponseInputStream")) {
        return true;
      }
    }
    return false;
  }
}
