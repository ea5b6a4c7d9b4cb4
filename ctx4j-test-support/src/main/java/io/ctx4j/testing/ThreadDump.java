package io.ctx4j.testing;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.util.Objects;

/**
 * Every live thread's name, state, lock and whole stack, as text: for a test to print when
 * something it waits for takes far longer than it should, so that a rare hang leaves a trace in the
 * report instead of only a timeout.
 *
 * <p>Thread safety: stateless; call from any thread.
 */
public final class ThreadDump {
  private ThreadDump() {}

  /**
   * The dump, under a first line naming {@code title}.
   *
   * @param title what was waited for
   * @return the text, one line per thread and per frame
   * @throws NullPointerException if {@code title} is null
   */
  public static String of(String title) {
    Objects.requireNonNull(title, "title");
    StringBuilder dump = new StringBuilder("== ").append(title).append(": every thread\n");
    for (ThreadInfo t : ManagementFactory.getThreadMXBean().dumpAllThreads(true, true)) {
      dump.append('"').append(t.getThreadName()).append("\" ").append(t.getThreadState());
      if (t.getLockName() != null) {
        dump.append(" on ").append(t.getLockName());
      }
      dump.append('\n');
      for (StackTraceElement e : t.getStackTrace()) {
        dump.append("    at ").append(e).append('\n');
      }
    }
    return dump.toString();
  }
}
