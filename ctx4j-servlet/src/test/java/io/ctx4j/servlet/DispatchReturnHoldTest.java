package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.Filter;
import java.io.PrintWriter;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The README's limit, measured: the check at the return of a dispatch during which complete() was
 * called flushes the writer on the dispatch's thread, so with the body's tail still in the
 * response's buffer (6 MiB here, in a buffer of 8 MiB) and a client that reads nothing yet, the
 * dispatch returns only once the client has read enough. Without the filter both containers let the
 * dispatch return at once. The client then reads the whole answer, and the context ends "response
 * completed". A change that stops flushing there (and the limit with it) fails the filter's rows:
 * then update the README.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DispatchReturnHoldTest {
  static final String WITHOUT = "without the filter: the dispatch returns at once";
  static final String WITH = "with the filter: the dispatch returns once the client reads";

  static java.util.stream.Stream<Arguments> rows() {
    return Containers.eachWith(WITHOUT, WITH);
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void theCheckAtTheDispatchsReturnWaitsForTheClient(Containers c, String how) throws Exception {
    boolean ctx4j = how.equals(WITH);
    CountDownLatch returned = new CountDownLatch(1);
    CountDownLatch completing = new CountDownLatch(1);
    Probe probe = new Probe();
    ContextServletFilter filter = ContextServletFilter.create();
    Filter inFront =
        (rq, rs, chain) -> {
          try {
            if (ctx4j) {
              filter.doFilter(rq, rs, chain);
            } else {
              chain.doFilter(rq, rs);
            }
          } finally {
            returned.countDown();
          }
        };
    int tail = 6 << 20;
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              res.setBufferSize(8 << 20);
              AsyncContext async = req.startAsync();
              async.setTimeout(0);
              if (ctx4j) {
                probe.enter(ContextServletFilter.contextOf(req), true);
              }
              PrintWriter w = async.getResponse().getWriter();
              w.print("x".repeat(1024));
              w.flush();
              w.print("y".repeat(tail));
              completing.countDown();
              async.complete();
            });
    Http.LateRead read;
    try (Containers.Running server = c.start(inFront, servlet)) {
      read = Http.getReadingLate(server.port, completing, returned, 1000);
      assertTrue(returned.await(30, TimeUnit.SECONDS), "the dispatch never returned");
      assertTrue(read.bytes() > tail + 1024, "the client got " + read.bytes() + " bytes");
      if (ctx4j) {
        assertEquals(Reason.RESPONSE_COMPLETED, Probe.reasonAtEnd(probe.ctx, 10, how));
      }
    }
    assertEquals(!ctx4j, read.eventWhileNotReading(), c + ", " + how);
  }
}
