package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A filter in front wraps the response with a plain delegating stream or writer (metrics,
 * logging): the chain's wrapper then watches that stream, {@code AsyncContext.getResponse()} (the
 * container's own response) the container's. A reset or a {@code sendError} through either reaches
 * both (the request keeps every watched stream and writer). Before (found by a review), the request
 * kept the last one only: a {@code resetBuffer} through {@code AsyncContext.getResponse()} left the
 * chain's count, and a lost client was hidden as "written past the length"; a {@code sendError}
 * there left the chain's stream reporting Jetty's refusal as a lost client.
 */
class SharedCountInFrontTest {

  /** A wrapper of an application's filter in front: its stream only delegates. */
  static final class Tee extends HttpServletResponseWrapper {
    private ServletOutputStream tee;
    private java.io.PrintWriter teeWriter;

    @Override
    public java.io.PrintWriter getWriter() throws IOException {
      if (teeWriter == null) {
        teeWriter = new java.io.PrintWriter(super.getWriter()); // delegates, no buffer of its own
      }
      return teeWriter;
    }

    Tee(HttpServletResponse r) {
      super(r);
    }

    @Override
    public ServletOutputStream getOutputStream() throws IOException {
      if (tee == null) {
        tee = delegating(super.getOutputStream());
      }
      return tee;
    }
  }

  /** A stream that passes every call to {@code s}, as an application's wrapper's stream does. */
  static ServletOutputStream delegating(ServletOutputStream s) {
    return new ServletOutputStream() {
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
      public void close() throws IOException {
        s.close();
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

  /** A new filter, alone for a control row, else behind a filter in front that wraps in a Tee. */
  private static Filter chainStart(String how) {
    ContextServletFilter filter = ContextServletFilter.create();
    return how.contains("control")
        ? filter
        : (rq, rs, chain) -> filter.doFilter(rq, new Tee((HttpServletResponse) rs), chain);
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> rows() {
    return Containers.eachWith(
        "control: no wrapper in front",
        "a delegating stream wrapper in front",
        "writer control: no wrapper in front",
        "writer: a delegating writer wrapper in front");
  }

  /**
   * The chain's stream or writer writes 16 bytes (buffered); the client resets; the async thread
   * takes {@code AsyncContext.getResponse()}'s stream or writer, discards the body through it, and
   * the chain's stream or writer writes exactly the 10 bytes declared then: a lost client.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void aResetThroughAsyncGetResponseForgetsTheChainsCount(Containers c, String how)
      throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    boolean writer = how.startsWith("writer");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              probe.enter(CurrentContext.get(), true);
              java.io.PrintWriter w = writer ? res.getWriter() : null;
              ServletOutputStream out = writer ? null : res.getOutputStream();
              if (writer) {
                w.print("partial output: "); // 16, buffered
              } else {
                out.write("partial output: ".getBytes(StandardCharsets.US_ASCII));
              }
              AsyncContext async = req.startAsync();
              async.setTimeout(0);
              async.start(
                  () -> {
                    try {
                      probe.awaitGo();
                      ServletResponse r2 = async.getResponse();
                      if (writer) {
                        r2.getWriter(); // the async wrapper takes the writer
                      } else {
                        r2.getOutputStream(); // the async wrapper takes the stream
                      }
                      r2.resetBuffer(); // the 16 bytes are discarded
                      r2.setContentLength(10);
                      if (writer) {
                        w.print("helloworld");
                        w.flush();
                        thrown.set("checkError() " + w.checkError());
                      } else {
                        out.write("helloworld".getBytes(StandardCharsets.US_ASCII)); // exactly 10
                        out.flush(); // the client is gone: fails
                      }
                    } catch (Exception e) {
                      thrown.set(e.toString());
                    }
                    async.complete();
                  });
            });
    Filter chainStart = chainStart(how);
    HostileUseTest.assertLostAfterItsReset(
        c, chainStart, servlet, probe, () -> how + ": the last call threw " + thrown.get());
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> answerRows() {
    return Containers.eachWith(
        "control: no wrapper in front", "a delegating stream wrapper in front");
  }

  /**
   * The same for a {@code sendError}: the async wrapper takes the stream, then {@code
   * sendError(409)} through it; the handler writes late through the stream the chain gave it, which
   * must report nothing (the README: "Neither the stream nor the writer reports anything once the
   * application answered with sendError").
   */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("answerRows")
  void anAnswerThroughAsyncGetResponseStopsTheChainsReports(Containers c, String how)
      throws Exception {
    AtomicReference<io.ctx4j.Context> seen = new AtomicReference<>();
    AtomicReference<String> after = new AtomicReference<>();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    AtomicReference<String> completeRefused = new AtomicReference<>("no");
    java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              io.ctx4j.Context ctx = CurrentContext.get();
              seen.set(ctx);
              ServletOutputStream out = res.getOutputStream();
              AsyncContext async = req.startAsync();
              async.start(
                  () -> {
                    try {
                      HttpServletResponse r2 = (HttpServletResponse) async.getResponse();
                      r2.getOutputStream();
                      r2.sendError(409);
                      out.write("late".getBytes(StandardCharsets.US_ASCII));
                      out.flush();
                    } catch (IOException | IllegalStateException e) {
                      thrown.set(e.toString());
                    }
                    after.set(ctx.isDone() ? "done: " + ctx.cause() : "live");
                    try {
                      async.complete();
                    } catch (IllegalStateException e) {
                      // Jetty may have ended the cycle after the sendError already: not what this
                      // test is about, and it must not keep the latch from counting down.
                      completeRefused.set(e.toString());
                    } finally {
                      done.countDown();
                    }
                  });
            });
    Filter chainStart = chainStart(how);
    String answer;
    try (Containers.Running server =
        c.start(chainStart, servlet, Map.of(), EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC))) {
      java.net.http.HttpResponse<String> r =
          java.net.http.HttpClient.newBuilder()
              .version(java.net.http.HttpClient.Version.HTTP_1_1)
              .build()
              .send(
                  java.net.http.HttpRequest.newBuilder(
                          java.net.URI.create("http://127.0.0.1:" + server.port + "/x"))
                      .build(),
                  java.net.http.HttpResponse.BodyHandlers.ofString());
      answer = String.valueOf(r.statusCode());
      assertTrue(done.await(20, TimeUnit.SECONDS), how + ": the application thread never ended");
    }
    assertEquals(
        "live",
        after.get(),
        how + ": the late write threw " + thrown.get() + "; the client got " + answer
            + "; complete() refused: " + completeRefused.get());
  }
}
