package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.servlet.internal.IncomingDeadline;
import io.ctx4j.servlet.internal.IncomingDeadlines;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The filter's cache of deadline causes gives the first requests with one header value one cause,
 * even when they arrive together: a second cause would take a second shared-deadline slot, and the
 * server would keep two shared deadlines for one budget (seen in ServletRegistrationLeakTest, whose
 * four connections start with the same header at once).
 */
@Timeout(120)
class DeadlineCauseCacheTest {
  private static final int TRIALS = 100_000;

  @Test
  void requestsWithTheSameHeaderValueArrivingTogetherGetOneCause() throws Exception {
    CyclicBarrier start = new CyclicBarrier(2);
    CyclicBarrier end = new CyclicBarrier(2);
    AtomicReference<ContextServletFilter> filter = new AtomicReference<>();
    AtomicReference<Object> other = new AtomicReference<>();
    AtomicReference<Throwable> failed = new AtomicReference<>();
    Thread second =
        new Thread(
            () -> {
              try {
                for (int i = 0; i < TRIALS; i++) {
                  start.await(30, TimeUnit.SECONDS);
                  other.set(filter.get().deadlineCauseOf(IncomingDeadlines.ctx4jTimeoutMs("30000")));
                  end.await(30, TimeUnit.SECONDS);
                }
              } catch (Exception e) {
                failed.set(e);
              }
            });
    second.start();
    int distinct = 0;
    for (int i = 0; i < TRIALS; i++) {
      filter.set(ContextServletFilter.create());
      IncomingDeadline mine = IncomingDeadlines.ctx4jTimeoutMs("30000");
      start.await(30, TimeUnit.SECONDS);
      Object cause = filter.get().deadlineCauseOf(mine);
      end.await(30, TimeUnit.SECONDS);
      if (cause != other.get()) {
        distinct++;
      }
      filter.get().destroy();
    }
    second.join();
    assertEquals(null, failed.get());
    assertEquals(0, distinct, "trials in which two requests with one header value got two causes");
  }
}
