package io.ctx4j.servlet;

import jakarta.servlet.AsyncContext;
import java.io.PrintWriter;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The check at a dispatch's return asks every writer written to, not only the last (found by the
 * review of 6c44c12, where it asked the last alone). The AsyncContext's writer (over the
 * container's) writes 256 KiB to a client reset before (the loss swallowed, no flush); then the
 * chain's writer, over a wrapper in front whose writer does not pass the container's error on (it
 * buffers, shields the close, or is a new one per call), is written; then complete() in the
 * dispatch. The AsyncContext's writer must be asked, and the context end "client disconnected".
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class WrittenAfterTheLossTest {
  static final String WRITTEN_AFTER = "async writer written, then the chain's (buffered) writer written";
  static final String PRINTLN_AFTER = "async writer written, then chain's (buffered) println()";
  static final String CONTROL = "control: async writer written, the chain's only taken";

  static java.util.stream.Stream<Arguments> rows() {
    return Containers.eachWith(WRITTEN_AFTER, PRINTLN_AFTER, CONTROL);
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void aLossInAWriterWrittenBeforeTheLastIsReported(Containers c, String how) throws Exception {
    LostInTheDispatch.assertReported(
        c,
        TakenAfterWrittenTest.inFront(),
        how,
        LostInTheDispatch.NOTHING,
        (res, async, a) -> {
          a.print(Http.BIG_TEXT);
          PrintWriter chain = res.getWriter();
          if (how.equals(WRITTEN_AFTER)) {
            chain.print("x");
          } else if (how.equals(PRINTLN_AFTER)) {
            chain.println();
          }
        });
  }

  static final String SHIELD_CLOSED = "async writer written, then the chain's (close-shielded) written and closed";
  static final String SHIELD_CONTROL = "control: async writer written, the chain's (close-shielded) only taken";

  static java.util.stream.Stream<Arguments> shieldRows() {
    return Containers.eachWith(SHIELD_CLOSED, SHIELD_CONTROL);
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("shieldRows")
  void aLossBeforeTheCloseOfAShieldedWriterIsReported(Containers c, String how) throws Exception {
    LostInTheDispatch.assertReported(
        c,
        CloseThroughAWrapperTest.shieldInFront(),
        how,
        LostInTheDispatch.NOTHING,
        (res, async, a) -> {
          a.print(Http.BIG_TEXT);
          PrintWriter chain = res.getWriter();
          if (how.equals(SHIELD_CLOSED)) {
            chain.print("x");
            chain.close();
          }
        });
  }

  static final String PER_CALL_MANY = "async writer written, then 20 new writers of the chain's each written";
  static final String PER_CALL_CONTROL = "control: async writer written, no writer of the chain's taken";

  static java.util.stream.Stream<Arguments> perCallRows() {
    return Containers.eachWith(PER_CALL_MANY, PER_CALL_CONTROL);
  }

  /**
   * A wrapper in front that hands out a new writer per call, over a plain Writer over the
   * container's (so its checkError() does not see the container's error). The request keeps a
   * bounded number of writers (RequestScope.WRITERS_KEPT, 8): 20 new ones must not push out the
   * first one written, which holds the loss.
   */
  static jakarta.servlet.Filter perCallInFront() {
    ContextServletFilter filter = ContextServletFilter.create();
    return (rq, rs, chain) ->
        filter.doFilter(
            rq,
            new jakarta.servlet.http.HttpServletResponseWrapper(
                (jakarta.servlet.http.HttpServletResponse) rs) {
              @Override
              public PrintWriter getWriter() throws java.io.IOException {
                return new PrintWriter(new java.io.FilterWriter(super.getWriter()) {});
              }
            },
            chain);
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("perCallRows")
  void manyLaterWritersDoNotHideTheFirstOnesLoss(Containers c, String how) throws Exception {
    LostInTheDispatch.assertReported(
        c,
        perCallInFront(),
        how,
        LostInTheDispatch.NOTHING,
        (res, async, a) -> {
          a.print(Http.BIG_TEXT);
          if (how.equals(PER_CALL_MANY)) {
            for (int i = 0; i < 20; i++) {
              res.getWriter().print("x");
            }
          }
        });
  }
}
