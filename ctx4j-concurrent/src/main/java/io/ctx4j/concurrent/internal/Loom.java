package io.ctx4j.concurrent.internal;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Thread creation for the running JDK. This is the JDK 17 version, which has no virtual threads; the
 * jar's {@code META-INF/versions/21} layer replaces it on JDK 21 and later.
 */
public final class Loom {
  private Loom() {}

  /**
   * Tells whether {@link #factory} makes virtual threads.
   *
   * @return {@code true} on JDK 21 and later
   */
  public static boolean virtualThreads() {
    return false;
  }

  /**
   * Returns a factory of threads named {@code prefix-N}: virtual threads where the JDK has them,
   * daemon platform threads here.
   *
   * @param prefix the start of the thread names
   * @return a new factory
   */
  public static ThreadFactory factory(String prefix) {
    AtomicLong n = new AtomicLong();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
