package io.ctx4j.servlet;

import jakarta.servlet.AsyncContext;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.PrintWriter;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A plain HttpServletResponseWrapper in front of the filter (or one that hands out a new
 * PrintWriter over the container's on every getWriter(), as Spring Security's does); the
 * application takes the chain's writer (over the wrapper in front) and AsyncContext.getResponse()'s
 * writer (over the container's), which lead to one container writer; closes the chain's, then
 * calls complete() in the dispatch (or flushes the other first). The client gets the whole answer:
 * the context must end "response completed". Found by review of 69b7ec2: on Jetty, whose writer is
 * in error for every check once closed, the check at the dispatch's return asked the other writer
 * and ended the context "client disconnected" (the rows with a second writer; a flush of it did
 * the same before 69b7ec2). The rows with a wrapper that makes a PrintWriter of its own over the
 * container's (per call, or one it keeps) and a write on both, or a flush of the other, failed on
 * Jetty until the close was seen to reach the container's writer (it now sets RequestScope
 * .writerClosed): the identity closedThroughAWrapper cannot match a writer the wrapper made. Found
 * by the review of 6c44c12. The rows that flush a second chain writer never written (not kept for
 * the end of the cycle) or call flushBuffer() after the close held before that, and guard it.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TwoWritersOverOneTest {
  static final String CHAIN_THEN_ASYNC_CLOSE_CHAIN = "chain writer, then async writer, close chain's";
  static final String ASYNC_THEN_CHAIN_CLOSE_CHAIN = "async writer, then chain writer, close chain's";
  static final String CHAIN_THEN_ASYNC_WRITE_BOTH_CLOSE_CHAIN =
      "chain writer, then async writer, write on both, close chain's";
  static final String PER_CALL = " (in front: a new delegating PrintWriter per getWriter())";
  static final String CACHED = " (in front: one delegating PrintWriter, kept)";
  static final String CONTROL_NO_SECOND = "control: chain writer only, close it";
  static final String FLUSH_OTHER = "chain writer, then async writer, close chain's, flush async's";
  static final String FLUSH_UNWRITTEN =
      "chain writer, then async writer, then chain writer again (never written), close the first,"
          + " flush the unwritten one";
  static final String FLUSH_BUFFER = "chain writer, then async writer, close chain's, flushBuffer()";

  /** Marks a row whose chain's writer first writes 256 KiB: the response is committed at the close. */
  static final String COMMITTED = " [committed first]";

  static java.util.stream.Stream<Arguments> rows() {
    java.util.stream.Stream<Arguments> both =
        Containers.eachWith(
            CHAIN_THEN_ASYNC_CLOSE_CHAIN,
            ASYNC_THEN_CHAIN_CLOSE_CHAIN,
            CHAIN_THEN_ASYNC_WRITE_BOTH_CLOSE_CHAIN,
            CONTROL_NO_SECOND,
            FLUSH_OTHER,
            CHAIN_THEN_ASYNC_CLOSE_CHAIN + PER_CALL,
            CHAIN_THEN_ASYNC_WRITE_BOTH_CLOSE_CHAIN + COMMITTED + PER_CALL,
            FLUSH_OTHER + COMMITTED + PER_CALL,
            CHAIN_THEN_ASYNC_CLOSE_CHAIN + CACHED,
            CHAIN_THEN_ASYNC_WRITE_BOTH_CLOSE_CHAIN + COMMITTED + CACHED,
            FLUSH_OTHER + COMMITTED + CACHED,
            CONTROL_NO_SECOND + CACHED,
            FLUSH_UNWRITTEN + COMMITTED + PER_CALL,
            FLUSH_BUFFER + COMMITTED + PER_CALL,
            FLUSH_BUFFER + COMMITTED + CACHED);
    // On Jetty, the README's limit: a close through such a wrapper while the response is not yet
    // committed is not asked about (the asks flush, which would commit it), and Jetty's closed
    // writer then fails the other writer's check.
    java.util.stream.Stream<Arguments> tomcatOnly =
        java.util.stream.Stream.of(
                CHAIN_THEN_ASYNC_WRITE_BOTH_CLOSE_CHAIN + PER_CALL,
                FLUSH_OTHER + PER_CALL,
                CHAIN_THEN_ASYNC_WRITE_BOTH_CLOSE_CHAIN + CACHED,
                FLUSH_OTHER + CACHED)
            .map(how -> Arguments.of(Containers.TOMCAT, how));
    return java.util.stream.Stream.concat(both, tomcatOnly);
  }

  static Filter inFront(String how) {
    ContextServletFilter filter = ContextServletFilter.create();
    return (rq, rs, chain) ->
        filter.doFilter(
            rq,
            how.endsWith(PER_CALL)
                ? new HttpServletResponseWrapper((HttpServletResponse) rs) {
                  @Override
                  public PrintWriter getWriter() throws java.io.IOException {
                    return new PrintWriter(super.getWriter()); // as Spring Security's wrapper
                  }
                }
                : how.endsWith(CACHED)
                    ? keepingOneWriter((HttpServletResponse) rs)
                    : new HttpServletResponseWrapper((HttpServletResponse) rs),
            chain);
  }

  /** A wrapper that makes one PrintWriter of its own over {@code r}'s, closed with it. */
  static HttpServletResponseWrapper keepingOneWriter(HttpServletResponse r) {
    return new HttpServletResponseWrapper(r) {
      private PrintWriter w;

      @Override
      public PrintWriter getWriter() throws java.io.IOException {
        if (w == null) {
          w = new PrintWriter(super.getWriter()); // made once, closed with ours
        }
        return w;
      }
    };
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void closingOneOfTwoWritersIsNoDisconnect(Containers c, String how) throws Exception {
    String body =
        (how.contains(COMMITTED) ? Http.BIG_TEXT : "")
            + (how.contains("write on both") ? "hello world" : "hello");
    WholeAnswer.assertCompleted(
        c,
        inFront(how),
        how,
        "200 " + body,
        (req, res, probe) -> {
          AsyncContext async = req.startAsync();
          async.setTimeout(0);
          probe.enter(ContextServletFilter.contextOf(req), true);
          PrintWriter chain;
          PrintWriter other = null;
          if (how.startsWith("async")) {
            other = async.getResponse().getWriter();
            chain = res.getWriter();
          } else {
            chain = res.getWriter();
            if (!how.startsWith("control")) {
              other = async.getResponse().getWriter();
            }
          }
          if (how.contains(COMMITTED)) {
            chain.print(Http.BIG_TEXT);
          }
          chain.print("hello");
          if (how.contains("write on both")) {
            other.print(" world");
          }
          PrintWriter unwritten = how.startsWith(FLUSH_UNWRITTEN) ? res.getWriter() : null;
          chain.close();
          if (how.startsWith(FLUSH_OTHER)) {
            other.flush();
          }
          if (unwritten != null) {
            unwritten.flush();
          }
          if (how.startsWith(FLUSH_BUFFER)) {
            res.flushBuffer();
          }
          async.complete();
        });
  }
}
