package io.ctx4j.servlet;

import jakarta.servlet.AsyncContext;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Found by review of 31adbca ("It now asks the writer written to last"): the AsyncContext's writer (over
 * the container's) writes 256 KiB to a client reset before (the loss swallowed, no flush); then
 * the chain's writer is taken (nothing written to it) over a wrapper in front that buffers what
 * its writer gets (as Spring's ContentCachingResponseWrapper / ShallowEtagHeaderFilter do); then
 * complete() in the dispatch. WatchedWriter's constructor still sets scope.writer, so the check at
 * the dispatch's return asks the writer taken last (the buffer's, no error), not the one written to
 * last: the context ends "response completed" for a lost client.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TakenAfterWrittenTest {
  static final String TAKEN_AFTER = "async writer written, then the chain's (buffered) writer taken";
  static final String CONTROL = "control: async writer written, no other writer taken";

  static java.util.stream.Stream<Arguments> rows() {
    return Containers.eachWith(TAKEN_AFTER, CONTROL);
  }

  private static final String BIG = Http.BIG_TEXT;

  /** A wrapper in front whose writer buffers (copied to the container's at its end, or never). */
  static final class Buffering extends HttpServletResponseWrapper {
    private PrintWriter w;

    Buffering(HttpServletResponse r) {
      super(r);
    }

    @Override
    public PrintWriter getWriter() {
      if (w == null) {
        w = new PrintWriter(new StringWriter());
      }
      return w;
    }
  }

  static Filter inFront() {
    ContextServletFilter filter = ContextServletFilter.create();
    return (rq, rs, chain) -> filter.doFilter(rq, new Buffering((HttpServletResponse) rs), chain);
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void aLossInTheWriterWrittenToLastIsReported(Containers c, String how) throws Exception {
    LostInTheDispatch.assertReported(
        c,
        inFront(),
        how,
        LostInTheDispatch.NOTHING,
        (res, async, a) -> {
          a.print(BIG);
          if (how.equals(TAKEN_AFTER)) {
            res.getWriter(); // taken, nothing written to it
          }
        });
  }
}
