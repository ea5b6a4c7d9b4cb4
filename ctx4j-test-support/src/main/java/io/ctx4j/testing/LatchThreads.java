package io.ctx4j.testing;

import java.util.concurrent.CountDownLatch;

/**
 * Threads that hold an action back until a latch opens: for tests that race the action against
 * what the test thread does once it has opened the latch.
 *
 * <p>Thread safety: stateless; call from any thread.
 */
public final class LatchThreads {
  private LatchThreads() {}

  /**
   * Starts a thread that waits for {@code go} to open, then runs {@code action}. Memory consistency
   * effects: actions of a thread before it counts {@code go} down happen-before {@code action} runs.
   *
   * @param go the latch the thread waits for
   * @param action what it runs then; not run if the thread is interrupted while waiting
   * @return the started thread, for the test to join
   */
  public static Thread startAfter(CountDownLatch go, Runnable action) {
    Thread t =
        new Thread(
            () -> {
              try {
                go.await();
              } catch (InterruptedException e) {
                return; // a test that gave up on the race; nothing to run
              }
              action.run();
            });
    t.start();
    return t;
  }
}
