package io.ctx4j.servlet;

import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * An application's buffering wrapper (as a gzip or caching wrapper: a stream that keeps what it
 * is handed until flushed, and a flushBuffer() that flushes it) given to startAsync(req, res).
 * Declared 16, exactly 16 written, the client gone: a lost client. Found by review of 3878f53,
 * which counted the bytes where the outermost watched stream was handed them: in the ASYNC
 * dispatch's stream, and again in the chain's when the wrapper's flushBuffer() pushed them there
 * (or before they were delivered at all), so the lost client read as a refusal past the length.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class BufferingWrapperGivenTest {

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> rows() {
    return Containers.eachWith(
        "stream, res.flushBuffer() (the wrapper flushes its stream)",
        "stream, control: res.getOutputStream().flush()",
        "writer, res.flushBuffer() (the wrapper flushes its writer)",
        "writer, control: res.getWriter().flush()");
  }

  static final class Buffering extends HttpServletResponseWrapper {
    private ServletOutputStream own;

    Buffering(HttpServletResponse res) {
      super(res);
    }

    @Override
    public ServletOutputStream getOutputStream() throws IOException {
      if (own == null) {
        ServletOutputStream under = super.getOutputStream();
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        own =
            new ServletOutputStream() {
              @Override
              public void write(int b) {
                buf.write(b);
              }

              @Override
              public void write(byte[] b, int off, int len) {
                buf.write(b, off, len);
              }

              @Override
              public void flush() throws IOException {
                byte[] b = buf.toByteArray();
                buf.reset();
                under.write(b, 0, b.length);
                under.flush();
              }

              @Override
              public void close() throws IOException {
                flush();
                under.close();
              }

              @Override
              public boolean isReady() {
                return under.isReady();
              }

              @Override
              public void setWriteListener(WriteListener l) {
                under.setWriteListener(l);
              }
            };
      }
      return own;
    }

    private java.io.PrintWriter ownWriter;

    @Override
    public java.io.PrintWriter getWriter() throws IOException {
      if (ownWriter == null) {
        java.io.PrintWriter under = super.getWriter();
        StringBuilder buf = new StringBuilder();
        ownWriter =
            new java.io.PrintWriter(
                new java.io.Writer() {
                  @Override
                  public void write(char[] c, int off, int len) {
                    buf.append(c, off, len);
                  }

                  @Override
                  public void flush() {
                    under.write(buf.toString());
                    buf.setLength(0);
                    under.flush();
                  }

                  @Override
                  public void close() {
                    flush();
                    under.close();
                  }
                });
      }
      return ownWriter;
    }

    @Override
    public void flushBuffer() throws IOException {
      if (own != null) {
        own.flush();
      }
      if (ownWriter != null) {
        ownWriter.flush();
      }
      super.flushBuffer();
    }
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void exactlyTheLengthThroughABufferingWrapperIsALostClient(Containers c, String how)
      throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    boolean writer = how.startsWith("writer");
    boolean viaFlushBuffer = !how.contains("control");
    TestServlet servlet =
        TestServlet.declareThenDispatch(
            16,
            res -> new Buffering((HttpServletResponse) res),
            probe,
            res -> {
              java.io.Flushable out;
              if (writer) {
                java.io.PrintWriter w = res.getWriter();
                w.print("12345678abcdefgh");
                out = w;
              } else {
                ServletOutputStream o = res.getOutputStream();
                o.write("12345678abcdefgh".getBytes(StandardCharsets.US_ASCII));
                out = o;
              }
              if (viaFlushBuffer) {
                res.flushBuffer();
              } else {
                out.flush();
              }
              return writer ? "checkError " + ((java.io.PrintWriter) out).checkError() : null;
            },
            thrown);
    HostileUseTest.assertLostAfterItsReset(
        c,
        ContextServletFilter.create(),
        servlet,
        probe,
        () -> how + ": the last call threw " + thrown.get());
  }
}
