package io.ctx4j.servlet;

import io.ctx4j.concurrent.CurrentContext;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A close that may not reach the container's stream or writer: through a wrapper in front whose
 * stream or writer ignores close() (Spring's StreamUtils.nonClosing, ContentCachingResponseWrapper's
 * stream), or through an application's wrapper given to startAsync. The request's other watched
 * streams and writers (the AsyncContext's, the ASYNC dispatch's, the chain's kept from before, over
 * the container's own, still open) and flushBuffer() must still report a client lost after it
 * (found by review of 4ec088b, where the close silenced them all).
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class SharedCloseTest {

  /** A wrapper in front whose stream and writer pass everything on except close (a no-op). */
  static final class NonClosing extends HttpServletResponseWrapper {
    private ServletOutputStream out;
    private PrintWriter w;

    NonClosing(HttpServletResponse r) {
      super(r);
    }

    @Override
    public ServletOutputStream getOutputStream() throws IOException {
      if (out == null) {
        ServletOutputStream s = super.getOutputStream();
        out =
            new ServletOutputStream() {
              @Override
              public void write(int b) throws IOException {
                s.write(b);
              }

              @Override
              public void write(byte[] b, int off, int len) throws IOException {
                s.write(b, off, len);
              }

              @Override
              public void flush() throws IOException {
                s.flush();
              }

              @Override
              public void close() {
                // keeps the container's stream open (the filter in front writes after the chain)
              }

              @Override
              public boolean isReady() {
                return s.isReady();
              }

              @Override
              public void setWriteListener(WriteListener l) {
                s.setWriteListener(l);
              }
            };
      }
      return out;
    }

    @Override
    public PrintWriter getWriter() throws IOException {
      if (w == null) {
        w =
            new PrintWriter(super.getWriter()) {
              @Override
              public void close() {
                flush(); // keeps the container's writer open
              }
            };
      }
      return w;
    }
  }

  private static Filter nonClosingInFront() {
    ContextServletFilter filter = ContextServletFilter.create();
    return (rq, rs, chain) -> {
      ServletResponse given =
          rq.getDispatcherType() == DispatcherType.REQUEST
              ? new NonClosing((HttpServletResponse) rs)
              : rs;
      filter.doFilter(rq, given, chain);
    };
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> rows() {
    return Containers.eachWith(
        "stream: the chain's closed, then AsyncContext.getResponse()'s stream writes",
        "stream, control: the chain's not closed, then AsyncContext.getResponse()'s stream writes",
        "writer: the chain's closed, then AsyncContext.getResponse()'s writer prints",
        "writer, control: the chain's not closed, then AsyncContext.getResponse()'s writer prints",
        "stream: the chain's closed, then AsyncContext.getResponse()'s flushBuffer()",
        "stream, control: the chain's not closed, then AsyncContext.getResponse()'s flushBuffer()",
        "stream: the chain's closed, then the ASYNC dispatch's stream writes");
  }

  /**
   * HIDDEN LOST CLIENT? The chain writes "hello" and closes its stream or writer (the wrapper in
   * front keeps the container's open); the client resets; the rest of the body (8 MB) goes through
   * another watched stream over the container's, which fails.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void aCloseThatKeptTheContainersStreamOpenHidesNoLostClient(Containers c, String how)
      throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    boolean writer = how.startsWith("writer");
    boolean closed = !how.contains("control");
    boolean dispatch = how.contains("ASYNC dispatch");
    boolean same = how.contains("same stream");
    boolean flushBuffer = how.contains("flushBuffer");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() == DispatcherType.ASYNC) {
                probe.awaitGo();
                rest(res, false, false, thrown);
                return;
              }
              if (writer) {
                PrintWriter w = res.getWriter();
                w.print("hello");
                if (closed) {
                  w.close();
                }
              } else {
                ServletOutputStream o = res.getOutputStream();
                o.write("hello".getBytes(StandardCharsets.US_ASCII));
                if (closed) {
                  o.close();
                }
              }
              if (same) {
                probe.enter(CurrentContext.get(), true);
                probe.awaitGo();
                rest(res, false, false, thrown);
                return;
              }
              AsyncContext async = req.startAsync();
              async.setTimeout(0);
              probe.enter(CurrentContext.get(), true);
              if (dispatch) {
                async.dispatch();
                return;
              }
              async.start(
                  () -> {
                    try {
                      probe.awaitGo();
                      rest(async.getResponse(), writer, flushBuffer, thrown);
                    } catch (Exception e) {
                      thrown.set(e.toString());
                    } finally {
                      async.complete();
                    }
                  });
            });
    HostileUseTest.assertLostAfterItsReset(
        c, nonClosingInFront(), servlet, probe, () -> how + ": the last call threw " + thrown.get());
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> ownWrapperRows() {
    return Containers.eachWith(
        "stream: the ASYNC dispatch's closed, then the chain's kept stream writes",
        "stream, control: the ASYNC dispatch's not closed, then the chain's kept stream writes");
  }

  /**
   * HIDDEN LOST CLIENT? No wrapper in front: the application gives startAsync(req, res) a
   * wrapper of its own over the filter's response whose stream keeps the filter's open on close.
   * The ASYNC dispatch closes that stream (the filter's watched stream over it, which counts
   * nothing); the client resets; the dispatch writes the rest through the chain's stream, kept from
   * the first dispatch, which fails.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("ownWrapperRows")
  void aCloseThroughTheApplicationsWrapperHidesNoLostClient(Containers c, String how)
      throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    AtomicReference<HttpServletResponse> chainRes = new AtomicReference<>();
    boolean closed = !how.contains("control");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() == DispatcherType.ASYNC) {
                ServletOutputStream o = res.getOutputStream(); // over the application's wrapper
                o.write("hello".getBytes(StandardCharsets.US_ASCII));
                if (closed) {
                  o.close();
                }
                probe.enter(CurrentContext.get(), true);
                probe.awaitGo();
                rest(chainRes.get(), false, false, thrown);
                return;
              }
              chainRes.set(res);
              res.getOutputStream(); // kept
              AsyncContext async = req.startAsync(req, new NonClosing(res));
              async.setTimeout(0);
              async.dispatch();
            });
    HostileUseTest.assertLostAfterItsReset(
        c, ContextServletFilter.create(), servlet, probe, () -> how + ": the last call threw " + thrown.get());
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> moreRows() {
    return Containers.eachWith(
        "writer: the ASYNC dispatch's (the application's wrapper's) closed, then the chain's kept writer prints",
        "writer, control: the ASYNC dispatch's not closed, then the chain's kept writer prints");
    // Held (not rows): an include whose target closes the stream, then the including servlet
    // writes to a reset client: Jetty's include keeps the close from the filter's stream (reported),
    // Tomcat closes for real ("The response may not be written to once it has been closed").
  }

  /** HIDDEN LOST CLIENT? As above, the writer; and an include whose target closes the stream. */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("moreRows")
  void moreClosesThatHideNoLostClient(Containers c, String how) throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    AtomicReference<HttpServletResponse> chainRes = new AtomicReference<>();
    boolean closed = !how.contains("control");
    boolean include = how.startsWith("include");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() == DispatcherType.INCLUDE) {
                ServletOutputStream o = res.getOutputStream();
                o.write("hello".getBytes(StandardCharsets.US_ASCII));
                if (closed) {
                  o.close();
                }
                return;
              }
              if (include) {
                req.getRequestDispatcher("/included").include(req, res);
                probe.enter(CurrentContext.get(), true);
                probe.awaitGo();
                rest(res, false, false, thrown);
                return;
              }
              if (req.getDispatcherType() == DispatcherType.ASYNC) {
                PrintWriter w = res.getWriter(); // over the application's wrapper
                w.print("hello");
                if (closed) {
                  w.close();
                }
                probe.enter(CurrentContext.get(), true);
                probe.awaitGo();
                rest(chainRes.get(), true, false, thrown);
                return;
              }
              chainRes.set(res);
              res.setCharacterEncoding("UTF-8");
              res.getWriter(); // kept
              AsyncContext async = req.startAsync(req, new NonClosing(res));
              async.setTimeout(0);
              async.dispatch();
            });
    HostileUseTest.assertLostAfterItsReset(
        c, ContextServletFilter.create(), servlet, probe, () -> how + ": the last call threw " + thrown.get());
  }

  private static void rest(
      ServletResponse r, boolean writer, boolean flushBuffer, AtomicReference<String> thrown) {
    try {
      if (flushBuffer) {
        r.getOutputStream().write("world".getBytes(StandardCharsets.US_ASCII));
        r.flushBuffer();
        thrown.set("flushBuffer() returned");
        return;
      }
      String chunk = "x".repeat(8192);
      if (writer) {
        PrintWriter w = r.getWriter();
        for (int n = 0; n < (8 << 20); n += 8192) {
          w.print(chunk);
        }
        w.flush();
        thrown.set("checkError() " + w.checkError());
      } else {
        ServletOutputStream o = r.getOutputStream();
        byte[] b = chunk.getBytes(StandardCharsets.US_ASCII);
        for (int n = 0; n < (8 << 20); n += 8192) {
          o.write(b);
        }
        o.flush();
        thrown.set("nothing");
      }
    } catch (IOException | RuntimeException e) {
      thrown.set(e.toString());
    }
  }
}
