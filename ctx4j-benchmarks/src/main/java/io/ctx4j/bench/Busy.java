package io.ctx4j.bench;

/**
 * The dummy integer work inside Go's BenchmarkCommonParentCancel: one hundred {@code x /= x + 1}
 * steps. The value flows in and out through the caller's state so the JIT cannot fold it away.
 *
 * <p>Pure function; thread-safe.
 */
public final class Busy {
  private Busy() {}

  /**
   * Performs the hundred division steps of Go's benchmark on {@code x}.
   *
   * @param x the running value (Go starts it at 0 per goroutine)
   * @return the new value
   */
  public static int hundredDivisions(int x) {
    for (int i = 0; i < 100; i++) {
      x /= x + 1;
    }
    return x;
  }
}
