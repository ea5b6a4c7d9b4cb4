package io.ctx4j.concurrent.internal;

import java.util.concurrent.ThreadFactory;

/** Thread creation on JDK 21 and later: virtual threads. */
public final class Loom {
  private Loom() {}

  /**
   * Tells whether {@link #factory} makes virtual threads: always, on this JDK.
   *
   * @return {@code true} on JDK 21 and later
   */
  public static boolean virtualThreads() {
    return true;
  }

  /**
   * Returns a factory of virtual threads named {@code prefix-N}.
   *
   * @param prefix the start of the thread names
   * @return a new factory
   */
  public static ThreadFactory factory(String prefix) {
    return Thread.ofVirtual().name(prefix + "-", 1).factory();
  }
}
