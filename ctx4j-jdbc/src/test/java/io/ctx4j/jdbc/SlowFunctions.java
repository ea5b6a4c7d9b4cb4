package io.ctx4j.jdbc;

/** Java functions that H2 calls per row, to make a deliberately slow query. */
public final class SlowFunctions {
  private SlowFunctions() {}

  /** Returns {@code x} after about a millisecond: 100,000 rows take well over a minute. */
  public static long slowRow(long x) throws InterruptedException {
    Thread.sleep(1);
    return x;
  }
}
