package io.ctx4j.jcstress.canary;

/**
 * A cancellation token with the classic check-then-act bug: {@code onDone} reads "not done" and
 * then stores its callback, while {@code cancel} may set "done" and read the (still empty) callback
 * slot in between, so the callback is never run. Never use it; it exists to be caught.
 */
public final class BrokenToken {
  private volatile boolean done;
  private volatile Runnable callback;

  /** Marks the token done and runs the callback registered so far, if any. */
  public void cancel() {
    done = true;
    Runnable c = callback;
    if (c != null) {
      c.run();
    }
  }

  /**
   * Runs {@code c} now if done, else stores it for {@link #cancel()}: the racy part.
   *
   * @param c the callback
   */
  public void onDone(Runnable c) {
    if (done) {
      c.run();
    } else {
      callback = c;
    }
  }
}
