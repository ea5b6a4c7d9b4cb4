package io.ctx4j.servlet;

import io.ctx4j.concurrent.CurrentContext;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The check at the return of a dispatch during which the application called complete() asks the
 * writer written to last. Here the application takes AsyncContext.getResponse()'s writer (over the
 * container's), then the chain's, over a wrapper in front whose writer keeps the container's open
 * at close(); it closes the chain's, then, after the client's reset, writes 256 KiB through the
 * other (no flush) and calls complete() while the dispatch runs: a lost client (WatchedResponse: "a
 * client lost after it must still be reported through them"). Found by review of 69b7ec2, whose
 * check asked the writer taken last, closed, and ended the context "response completed".
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class LastWrittenWriterTest {
  static final String CONTROL = "control: the async writer only";
  static final String CHAIN_CLOSED = "the chain's writer taken last and closed (kept open in front)";

  static java.util.stream.Stream<Arguments> rows() {
    return Containers.eachWith(CONTROL, CHAIN_CLOSED);
  }

  private static final String BIG = Http.BIG_TEXT;

  /** A wrapper in front whose writer only flushes at close(): the container's stays open. */
  static final class KeepOpen extends HttpServletResponseWrapper {
    private PrintWriter w;

    KeepOpen(HttpServletResponse r) {
      super(r);
    }

    @Override
    public PrintWriter getWriter() throws IOException {
      if (w == null) {
        PrintWriter inner = super.getWriter();
        w =
            new PrintWriter(inner) {
              @Override
              public void close() {
                flush();
              }
            };
      }
      return w;
    }
  }

  static Filter inFront() {
    ContextServletFilter filter = ContextServletFilter.create();
    return (rq, rs, chain) -> filter.doFilter(rq, new KeepOpen((HttpServletResponse) rs), chain);
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void aLostClientAfterTheOtherWritersCloseIsReported(Containers c, String how) throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              AsyncContext async = req.startAsync();
              async.setTimeout(0);
              PrintWriter a = async.getResponse().getWriter();
              if (how.equals(CHAIN_CLOSED)) {
                PrintWriter chain = res.getWriter();
                chain.print("head ");
                chain.close();
              }
              probe.enter(CurrentContext.get(), true);
              CountDownLatch done = new CountDownLatch(1);
              new Thread(
                      () -> {
                        try {
                          probe.awaitGo();
                          a.print(BIG);
                        } catch (Throwable t) {
                          thrown.set(t.toString());
                        } finally {
                          try {
                            async.complete();
                          } catch (RuntimeException e) {
                            thrown.set(thrown.get() + "; complete threw " + e);
                          }
                          done.countDown();
                        }
                      })
                  .start();
              if (!done.await(20, TimeUnit.SECONDS)) {
                thrown.set(thrown.get() + "; the application thread took over 20 s");
              }
            });
    HostileUseTest.assertLostAfterItsReset(
        c, inFront(), servlet, probe, () -> c + ", " + how + ": " + thrown.get());
  }
}
