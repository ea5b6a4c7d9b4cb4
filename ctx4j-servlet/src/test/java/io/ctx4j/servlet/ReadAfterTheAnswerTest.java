package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.servlet.RequestCanceledException.Reason;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A handler that answers in full (its declared Content-Length written, or its output closed) and
 * only then reads the request body, which the client sent whole: Tomcat 11 has ended the request's
 * input with the answer, and the read fails ("Stream closed"), which is no news of the client. The
 * context must end "response completed". Found by the review of c930518 (on Tomcat, the rows
 * with the stream, flushed, closed, and the reader failed on 1f73ed1 and before: "client
 * disconnected: java.io.IOException: Stream closed"); Jetty reads the body.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ReadAfterTheAnswerTest {
  static final String LENGTH = "stream: Content-Length 2 written, then readAllBytes";
  static final String LENGTH_FLUSHED = "stream: Content-Length 2 written and flushed, then readAllBytes";
  static final String WRITER = "writer: Content-Length 2 printed and flushed, then readAllBytes";
  static final String CLOSED = "stream: written and closed, then readAllBytes";
  static final String READER = "stream: Content-Length 2 written, then the reader read";

  static java.util.stream.Stream<Arguments> rows() {
    return Containers.eachWith(LENGTH, LENGTH_FLUSHED, WRITER, CLOSED, READER);
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void aReadAfterAWholeAnswerIsNoLostClient(Containers c, String how) throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> read = new AtomicReference<>("not read");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              probe.enter(ContextServletFilter.contextOf(req), true);
              if (!how.equals(CLOSED)) {
                res.setContentLength(2);
              }
              if (how.startsWith("writer")) {
                res.getWriter().print("ok");
                res.getWriter().flush();
              } else {
                res.getOutputStream().write("ok".getBytes(StandardCharsets.US_ASCII));
                if (how.equals(LENGTH_FLUSHED)) {
                  res.getOutputStream().flush();
                } else if (how.equals(CLOSED)) {
                  res.getOutputStream().close();
                }
              }
              try {
                read.set(
                    how.equals(READER)
                        ? "read " + req.getReader().lines().mapToInt(String::length).sum() + " chars"
                        : "read " + req.getInputStream().readAllBytes().length + " bytes");
              } catch (IOException | java.io.UncheckedIOException e) {
                read.set("read failed: " + e); // lines() wraps the reader's failure
              }
            });
    String answer;
    Reason end;
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      answer =
          Http.answer(
              Http.post(server.port, "/x", "0123456789abcd", "Content-Type", "text/plain"));
      end = Probe.reasonAtEnd(probe.ctx, 10, how);
    }
    assertEquals("200 ok", answer, c + ", " + how + ": " + read.get());
    assertEquals(
        Reason.RESPONSE_COMPLETED, end, c + ", " + how + ": " + read.get() + "; " + probe.ctx.cause());
  }
}
