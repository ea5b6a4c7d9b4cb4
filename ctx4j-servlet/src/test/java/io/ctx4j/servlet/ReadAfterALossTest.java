package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.servlet.RequestCanceledException.Reason;
import java.io.IOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A client that sent part of a POST body and reset its connection (or its h2c stream) before the
 * handler wrote anything; the handler then writes an answer of its declared length, which does not
 * reach the client, and reads the body, which fails: a lost client. Found by the review of a83ecb6,
 * which took every read failure after an answer given in full for no news: the writer rows
 * (HTTP/1.1, both containers) failed there; the others held and guard. Left to the README's limits,
 * on Tomcat: the stream rows, whose read fails with Tomcat's own "Stream closed", as when the
 * client is there (ReadAfterTheAnswerTest); over h2c, a body Tomcat ends quietly
 * (BodyCutShortTest).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ReadAfterALossTest {
  static final String BUFFERED = "stream: CL 2, 'ok' buffered (not flushed), then read";
  static final String WRITER_BUFFERED = "writer: CL 2, 'ok' printed (not flushed), then read";
  static final String LONGER = "stream: CL 5, 'ok' buffered, then read";

  static java.util.stream.Stream<Arguments> rows() {
    return java.util.stream.Stream.concat(
        Containers.eachWith(WRITER_BUFFERED, LONGER),
        java.util.stream.Stream.of(Arguments.of(Containers.JETTY, BUFFERED)));
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void aClientLostBeforeTheAnswerIsALostClient(Containers c, String how) throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> read = new AtomicReference<>("not read");
    AtomicReference<String> seen = new AtomicReference<>("?");
    TestServlet servlet = answersThenReads(how, probe, read, seen);
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      int clientPort;
      try (Socket socket = new Socket("127.0.0.1", server.port)) {
        socket.setSoLinger(true, 0);
        clientPort = socket.getLocalPort();
        socket
            .getOutputStream()
            .write(
                ("POST /x HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\n"
                        + "Content-Length: 100\r\n\r\nabc")
                    .getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().flush();
        assertTrue(probe.entered.await(10, TimeUnit.SECONDS));
      }
      HostileUseTest.awaitConnectionGone(server.port, clientPort);
      probe.go.countDown();
      assertTrue(probe.ended.await(20, TimeUnit.SECONDS), how + ": never ended; " + read.get());
      assertEquals(
          Reason.CLIENT_DISCONNECTED,
          probe.reason(),
          what(c + ", " + how, read, seen, probe));
    }
  }

  /** The row, what the handler's read did, the context right after it, and the cause. */
  private static String what(
      String row, AtomicReference<String> read, AtomicReference<String> seen, Probe probe) {
    return String.format(
        "%s: %s; ctx right after the read: %s; cause %s", row, read.get(), seen.get(), probe.cause);
  }

  /**
   * A handler that, once the probe's go came, declares {@code Content-Length} 2 (5 for {@link
   * #LONGER}), hands over "ok" as {@code how} says, then reads the body; {@code read} gets what the
   * read did, {@code seen} the context right after it. Answers "warm" on /warm.
   */
  private static TestServlet answersThenReads(
      String how, Probe probe, AtomicReference<String> read, AtomicReference<String> seen) {
    return new TestServlet(
        (req, res) -> {
          if (TestServlet.answeredWarm(req, res)) {
            return;
          }
          probe.enter(ContextServletFilter.contextOf(req), true);
          probe.awaitGo();
          res.setContentLength(how.equals(LONGER) ? 5 : 2);
          if (how.equals(WRITER_BUFFERED)) {
            res.getWriter().print("ok");
          } else {
            res.getOutputStream().write("ok".getBytes(StandardCharsets.US_ASCII));
          }
          try {
            read.set("read " + req.getInputStream().readAllBytes().length + " bytes");
          } catch (IOException e) {
            read.set("read failed: " + e);
          }
          seen.set(Probe.state(ContextServletFilter.contextOf(req)));
        });
  }

  static java.util.stream.Stream<Arguments> h2Rows() {
    // Not Tomcat: after a reset before the read it ends the body quietly (BodyCutShortTest).
    return java.util.stream.Stream.of(WRITER_BUFFERED, BUFFERED)
        .map(how -> Arguments.of(Containers.JETTY, how));
  }

  /** As above over h2c: the client resets its stream (CANCEL) before the handler writes. */
  @ParameterizedTest(name = "h2c {0}: {1}")
  @MethodSource("h2Rows")
  void h2cAStreamResetBeforeTheAnswerIsALostClient(Containers c, String how) throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> read = new AtomicReference<>("not read");
    AtomicReference<String> seen = new AtomicReference<>("?");
    TestServlet servlet = answersThenReads(how, probe, read, seen);
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      H2cClient.warm(server.port);
      try (H2cClient client = new H2cClient(server.port)) {
        int id = client.postPartial("/x", 10, new byte[] {'a'});
        assertTrue(probe.entered.await(10, TimeUnit.SECONDS));
        client.reset(id);
        assertTrue(client.pingAcked(10), "no PING ACK");
        probe.go.countDown();
        assertTrue(probe.ended.await(20, TimeUnit.SECONDS), how + ": never ended; " + read.get());
      }
    }
    assertEquals(
        Reason.CLIENT_DISCONNECTED,
        probe.reason(),
        what("h2c " + c + ", " + how, read, seen, probe));
  }
}
