package io.ctx4j.servlet;

import jakarta.servlet.AsyncContext;
import java.io.PrintWriter;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Found by review of 31adbca: a wrapper in front whose writer ignores close() (LastWrittenWriterTest's
 * KeepOpen). The client is reset before the chain's writer is closed: the close's flush
 * (KeepOpen flushes at close) is the first write to the lost client and fails, so the close's
 * check (then closedBeneath()) read checkError() true and set scope.writerClosed, which silenced
 * every later check of the request: the AsyncContext's writer (over the container's) then writes 256 KiB to the lost client
 * and flushes (or the dispatch calls complete()), and the context must still end
 * CLIENT_DISCONNECTED (WatchedResponse: "a client lost after it must still be reported through
 * them").
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CloseThroughAWrapperTest {
  static final String FLUSH = "chain closed after the reset, then the async writer writes and flushes";
  static final String COMPLETE =
      "chain closed after the reset, then the async writer writes, complete() in the dispatch";
  static final String CONTROL_NO_CLOSE =
      "control: chain written, not closed, then the async writer writes and flushes";

  static java.util.stream.Stream<Arguments> rows() {
    return Containers.eachWith(FLUSH, COMPLETE, CONTROL_NO_CLOSE);
  }

  private static final String BIG = Http.BIG_TEXT;

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void aClientLostBeforeTheCloseOfAKeptOpenWriterIsReported(Containers c, String how)
      throws Exception {
    LostInTheDispatch.assertReported(
        c,
        LastWrittenWriterTest.inFront(),
        how,
        LostInTheDispatch.NOTHING,
        (res, async, a) -> {
          PrintWriter chain = res.getWriter();
          chain.print("head ");
          if (how.equals(CONTROL_NO_CLOSE)) {
            chain.flush();
          } else {
            chain.close(); // KeepOpen: only flushes, the first write to the lost client
          }
          a.print(BIG);
          if (!how.equals(COMPLETE)) {
            a.flush();
          }
        });
  }

  static final String SHIELD_FLUSH =
      "chain closed while the client is there, reset, then the async writer writes and flushes";
  static final String SHIELD_COMPLETE =
      "chain closed while the client is there, reset, then the async writer writes, complete()";

  static java.util.stream.Stream<Arguments> shieldRows() {
    return Containers.eachWith(SHIELD_FLUSH, SHIELD_COMPLETE);
  }

  /**
   * A wrapper in front that keeps the container's writer open the common way: a plain PrintWriter
   * over a Writer whose close() only flushes (commons-io's CloseShieldWriter does the same). The
   * PrintWriter's own close() marks it closed, so the flush of a close through a wrapper fails with its
   * "Stream closed" and checkError() is true, while the container's writer stays open.
   */
  static final class CloseShield extends jakarta.servlet.http.HttpServletResponseWrapper {
    private PrintWriter w;

    CloseShield(jakarta.servlet.http.HttpServletResponse r) {
      super(r);
    }

    @Override
    public PrintWriter getWriter() throws java.io.IOException {
      if (w == null) {
        w =
            new PrintWriter(
                new java.io.FilterWriter(super.getWriter()) {
                  @Override
                  public void close() throws java.io.IOException {
                    flush();
                  }
                });
      }
      return w;
    }
  }

  static jakarta.servlet.Filter shieldInFront() {
    ContextServletFilter filter = ContextServletFilter.create();
    return (rq, rs, chain) ->
        filter.doFilter(rq, new CloseShield((jakarta.servlet.http.HttpServletResponse) rs), chain);
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("shieldRows")
  void aClientLostAfterTheCloseOfAShieldedWriterIsReported(Containers c, String how)
      throws Exception {
    LostInTheDispatch.assertReported(
        c,
        shieldInFront(),
        how,
        (res, async, a) -> {
          PrintWriter chain = res.getWriter();
          chain.print("head ");
          chain.close(); // the client is there: flushed without error
        },
        (res, async, a) -> {
          a.print(BIG);
          if (how.equals(SHIELD_FLUSH)) {
            a.flush();
          }
        });
  }
}
