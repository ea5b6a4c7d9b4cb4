package io.ctx4j.servlet;

import java.io.PrintWriter;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A writer taken and written, then a forward (the container closes the output when the forward
 * returns), then the writer closed, behind Spring Security's per-call writer wrapper and others:
 * the client gets the forwarded answer, the context ends "response completed". Found by the review
 * of 4754946, whose close through the wrapper asked the forwarded servlet's writer and found
 * Jetty's closed output in error (14 of 14 runs). In the tee row the forwarded servlet's 'b' stays
 * in its own unflushed OutputStreamWriter, as without the filter: the body is empty.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ForwardAfterWritingTest {

  static java.util.stream.Stream<Arguments> rows() {
    return Containers.eachWith(
        "sync: 'a' through the writer, forward, the writer closed",
        "sync, per-call in front: 'a' through the writer, forward, the writer closed",
        "sync, per-call in front: 'a' through the writer, forward (writes nothing), the writer closed",
        "sync, kept in front: 'a' through the writer, forward, the writer closed",
        "sync, plain in front: 'a' through the writer, forward, the writer closed",
        "sync, tee in front: 'a' through the writer, forward, the writer closed",
        "async: 'a' through the writer, forward, complete() in the dispatch",
        "async, per-call in front: 'a' through the writer, forward, complete() in the dispatch",
        "async, per-call in front: 'a', forward, the writer closed, complete() in the dispatch");
  }

  /** Spring Security's shape (as PerCallWriterResponseTest): a new PrintWriter over the container's per call. */
  static jakarta.servlet.Filter perCallWithCtx4j() {
    ContextServletFilter filter = ContextServletFilter.create();
    return (rq, rs, chain) ->
        filter.doFilter(
            rq,
            new jakarta.servlet.http.HttpServletResponseWrapper((jakarta.servlet.http.HttpServletResponse) rs) {
              @Override
              public PrintWriter getWriter() throws java.io.IOException {
                return new PrintWriter(super.getWriter());
              }
            },
            chain);
  }

  static jakarta.servlet.Filter wrapped(String how) {
    ContextServletFilter filter = ContextServletFilter.create();
    return (rq, rs, chain) -> {
      jakarta.servlet.http.HttpServletResponse r = (jakarta.servlet.http.HttpServletResponse) rs;
      filter.doFilter(
          rq,
          how.contains("kept") ? TwoWritersOverOneTest.keepingOneWriter(r)
              : how.contains("tee") ? TeeWriterOrderTest.perCallOverStream(r)
              : new jakarta.servlet.http.HttpServletResponseWrapper(r),
          chain);
    };
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void noLostClient(Containers c, String how) throws Exception {
    WholeAnswer.assertCompleted(
        c,
        how.contains("per-call")
            ? perCallWithCtx4j()
            : how.contains("in front") ? wrapped(how) : ContextServletFilter.create(),
        how,
        how.contains("writes nothing") || how.contains("tee") ? "200 " : "200 b",
        (req, res, probe) -> {
          if (req.getAttribute("fwd") != null) {
            if (!how.contains("writes nothing")) {
              res.getWriter().print("b");
            }
            return;
          }
          jakarta.servlet.AsyncContext async = how.startsWith("async") ? req.startAsync() : null;
          if (async != null) {
            async.setTimeout(0);
          }
          probe.enter(ContextServletFilter.contextOf(req), true);
          PrintWriter a = res.getWriter();
          a.print("a");
          req.setAttribute("fwd", "1");
          String path = req.getServletPath() + (req.getPathInfo() == null ? "" : req.getPathInfo());
          req.getRequestDispatcher(path).forward(req, res);
          if (async == null || how.contains("closed")) {
            a.close();
          }
          if (async != null) {
            async.complete();
          }
        });
  }

}
