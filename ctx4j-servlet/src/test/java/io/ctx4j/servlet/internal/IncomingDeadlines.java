package io.ctx4j.servlet.internal;

/** Makes {@link IncomingDeadline}s as the filter reads them, for tests outside this package. */
public final class IncomingDeadlines {
  private IncomingDeadlines() {}

  /**
   * Returns the budget a {@code Ctx4j-Timeout-Ms} header with {@code value} states.
   *
   * @param value the header's value
   * @return a new IncomingDeadline
   */
  public static IncomingDeadline ctx4jTimeoutMs(String value) {
    return IncomingDeadline.consider(null, IncomingDeadline.headerIndex("Ctx4j-Timeout-Ms"), value);
  }
}
