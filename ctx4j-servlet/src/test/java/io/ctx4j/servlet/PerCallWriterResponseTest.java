package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.PrintWriter;
import java.net.http.HttpResponse;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Behind a wrapper in front that makes a new PrintWriter per getWriter() (Spring Security's shape),
 * the filter changes nothing the client sees: a body written through one writer and closed through
 * another keeps its Content-Length (sync and async, with and without a declared length), and a
 * writer closed after the container recycled the request (a try-with-resources around complete())
 * throws nothing where the container's own close would not. Found by the review of 97db9a6, whose
 * close through a wrapper flushed (committed) an uncommitted response: 6 of 12 rows failed.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PerCallWriterResponseTest {

  /** Spring Security's shape: a new PrintWriter over the container's per getWriter() call. */
  static HttpServletResponseWrapper perCall(HttpServletResponse r) {
    return new HttpServletResponseWrapper(r) {
      @Override
      public PrintWriter getWriter() throws java.io.IOException {
        return new PrintWriter(super.getWriter());
      }
    };
  }

  static Filter wrapperOnly() {
    return (rq, rs, chain) -> chain.doFilter(rq, perCall((HttpServletResponse) rs));
  }

  static Filter withCtx4j() {
    ContextServletFilter filter = ContextServletFilter.create();
    return (rq, rs, chain) -> filter.doFilter(rq, perCall((HttpServletResponse) rs), chain);
  }

  static final String SYNC = "sync: print via one getWriter(), try-with-resources on another";
  static final String ASYNC = "async: same, complete() in the dispatch";
  static final String SYNC_CL = "sync, Content-Length 11 declared and written exactly";
  static final String ASYNC_CL = "async, Content-Length 11 declared and written exactly";

  static java.util.stream.Stream<Arguments> rows() {
    return Containers.eachWith(SYNC, ASYNC, SYNC_CL, ASYNC_CL);
  }

  static TestServlet servlet(String how, Probe probe, AtomicReference<String> thrown) {
    return new TestServlet(
        (req, res) -> {
          try {
            AsyncContext async = null;
            if (how.startsWith("async")) {
              async = req.startAsync();
              async.setTimeout(0);
            }
            if (probe != null) {
              probe.enter(ContextServletFilter.contextOf(req), true);
            }
            if (how.contains("Content-Length")) {
              res.setContentLength(11);
            }
            res.getWriter().print("hello ");
            try (PrintWriter w = res.getWriter()) {
              w.print("world");
            }
            if (async != null) {
              async.complete();
            }
          } catch (Throwable t) {
            thrown.set(t.toString());
          }
        });
  }

  static String seen(HttpResponse<String> r) {
    return Http.withHeaders(r, "Content-Length", "Transfer-Encoding");
  }

  /** The response's framing is the one the application gets without the filter. */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void theFilterKeepsTheContentLength(Containers c, String how) throws Exception {
    AtomicReference<String> thrown0 = new AtomicReference<>("nothing");
    String without;
    try (Containers.Running server = c.start(wrapperOnly(), servlet(how, null, thrown0))) {
      without = seen(Http.get(server.port, "/x"));
    }
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    Probe probe = new Probe();
    String with;
    Reason end;
    try (Containers.Running server = c.start(withCtx4j(), servlet(how, probe, thrown))) {
      with = seen(Http.get(server.port, "/x"));
      end = Probe.reasonAtEnd(probe.ctx, 10, how);
    }
    assertEquals("200 hello world", without.substring(0, 15), "without the filter: " + without);
    assertEquals(without, with, c + ", " + how + ": with the filter; " + thrown.get());
    assertEquals(Reason.RESPONSE_COMPLETED, end, c + ", " + how + ": " + probe.ctx.cause());
  }

  static java.util.stream.Stream<Arguments> lateRows() {
    return Containers.eachWith(
        "per-call in front, two writers written, the second closed after complete() and the recycle",
        "no wrapper in front, the writer closed after complete() and the recycle");
  }

  /** A writer closed after the request was recycled (a try-with-resources around complete()). */
  static String lateClose(Containers c, boolean ctx4j, boolean wrapped) throws Exception {
    AtomicReference<PrintWriter> kept = new AtomicReference<>();
    AtomicReference<HttpServletResponse> raw = new AtomicReference<>();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    ContextServletFilter filter = ContextServletFilter.create();
    Filter inFront =
        (rq, rs, chain) -> {
          raw.set((HttpServletResponse) rs);
          if (ctx4j) {
            filter.doFilter(rq, wrapped ? perCall((HttpServletResponse) rs) : rs, chain);
          } else {
            chain.doFilter(rq, wrapped ? perCall((HttpServletResponse) rs) : rs);
          }
        };
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              try {
                AsyncContext async = req.startAsync();
                async.setTimeout(0);
                res.getWriter().print("a");
                PrintWriter w = res.getWriter();
                w.print("b");
                kept.set(w);
                async.complete();
              } catch (Throwable t) {
                thrown.set(t.toString());
              }
            });
    String answer;
    String atClose = "nothing";
    try (Containers.Running server = c.start(inFront, servlet)) {
      answer = Http.answer(Http.get(server.port, "/x"));
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      boolean recycled = false;
      while (!recycled && System.nanoTime() < end) {
        try {
          raw.get().isCommitted();
          Thread.onSpinWait();
        } catch (RuntimeException e) {
          recycled = true;
        }
      }
      try {
        kept.get().close();
      } catch (Throwable t) {
        atClose = t.toString() + " at " + t.getStackTrace()[0] + " / " + java.util.Arrays.stream(t.getStackTrace()).filter(f -> f.getClassName().startsWith("io.ctx4j")).findFirst().map(Object::toString).orElse("-");
      }
      answer += " recycled=" + recycled;
    }
    return answer + "; handler: " + thrown.get() + "; close: " + atClose;
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("lateRows")
  void aLateCloseThrowsNothingTheContainerDoesNot(Containers c, String how) throws Exception {
    boolean wrapped = how.startsWith("per-call");
    String without = lateClose(c, false, wrapped);
    String with = lateClose(c, true, wrapped);
    if (without.endsWith("close: nothing")) {
      assertEquals(without, with, c + ", " + how);
    }
  }
}
