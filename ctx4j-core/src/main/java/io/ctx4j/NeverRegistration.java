package io.ctx4j;

/**
 * The registration on a context that can never be done: the callback is dropped at once and
 * {@code stop()} reports true once, as Go's {@code AfterFunc} does for a nil {@code Done}.
 */
final class NeverRegistration implements Registration {
  private volatile boolean stopped;

  @Override
  public boolean stop() {
    if (stopped) {
      return false;
    }
    synchronized (this) {
      if (stopped) {
        return false;
      }
      stopped = true;
      return true;
    }
  }
}
