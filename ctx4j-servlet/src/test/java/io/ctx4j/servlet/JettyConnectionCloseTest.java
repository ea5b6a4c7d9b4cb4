package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Connections that close while a request is in flight on Jetty 12.1 (ee11), each asserting that the
 * request context ends, and why: the cases a connection close listener would be there for. Every
 * one is reported by Jetty's core failure listener (or the filter's wrappers of the response and of
 * the request body) alone, which
 * is why the filter registers no listener on the connection (see the module README, "Resources").
 *
 * <p>Raw sockets play the client, so that the test decides when the TCP connection closes. Over
 * HTTP/2 the client speaks h2c with prior knowledge (the connection preface on a fresh connection,
 * which Jetty's HTTP/1.1 connection hands to its h2c factory).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class JettyConnectionCloseTest {
  /** How long Jetty may take to notice: generous, the VM is shared with other builds. */
  private static final long BOUND_S = 20;

  /** One h2c request on stream 1: preface, empty SETTINGS, HEADERS GET http://127.0.0.1/. */
  static byte[] h2cRequest() {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.writeBytes(H2cClient.connectionStart());
    b.writeBytes(H2cClient.headersFrame(1, "GET", "/", Map.of(), true));
    return b.toByteArray();
  }

  /** An h2c POST on stream 1 that announces 10 bytes and sends one, leaving the stream open. */
  static byte[] h2cPostWithPartialBody() {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.writeBytes(H2cClient.connectionStart());
    b.writeBytes(H2cClient.headersFrame(1, "POST", "/", Map.of("content-length", "10"), false));
    b.writeBytes(H2cClient.dataFrame(1, new byte[] {'a'}, false));
    return b.toByteArray();
  }

  static byte[] http11PostWithPartialBody() {
    return "POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\na"
        .getBytes(StandardCharsets.US_ASCII);
  }

  /** Sends the request, waits until the handler has entered, then closes the TCP connection. */
  private static void closeOnceEntered(int port, byte[] request, Probe probe) throws Exception {
    try (Socket socket = new Socket("127.0.0.1", port)) {
      OutputStream o = socket.getOutputStream();
      o.write(request);
      o.flush();
      assertTrue(probe.entered.await(BOUND_S, TimeUnit.SECONDS), "the handler was called");
    }
  }

  /** A synchronous handler that waits (bounded) for its context to end, without any I/O. */
  private static TestServlet syncWaiter(Probe probe) {
    return new TestServlet(
        (req, res) -> {
          probe.enterCurrent(req).await(Duration.ofSeconds(60));
        });
  }

  private static void assertDisconnected(Probe probe, String what) throws InterruptedException {
    assertTrue(probe.ended.await(BOUND_S, TimeUnit.SECONDS), what + ": the context must end");
    assertEquals(Reason.CLIENT_DISCONNECTED, probe.reason(), String.valueOf(probe.cause));
    assertTrue(probe.currentIsRequestContext);
  }

  /**
   * An h2c client closes its TCP connection while the handler waits without I/O: synchronously, or
   * in an async cycle with no timeout. Jetty fails the streams of the closed connection, which its
   * core failure listener reports (and, for async, {@code AsyncListener.onError}); without the
   * failure listener the synchronous case is not seen.
   */
  @ParameterizedTest
  @ValueSource(strings = {"sync", "async"})
  void h2cClientClosesTheSocketWhileTheHandlerWaits(String mode) throws Exception {
    Probe probe = new Probe();
    ContextServletFilter filter = ContextServletFilter.create();
    TestServlet servlet = mode.equals("sync") ? syncWaiter(probe) : TestServlet.asyncUntilTheContextEnds(probe);
    try (Containers.Running server = Containers.JETTY.start(filter, servlet)) {
      closeOnceEntered(server.port, h2cRequest(), probe);
      assertDisconnected(probe, "h2c TCP close, " + mode);
    }
  }

  /**
   * Jetty's idle timeout (300 ms) expires while the handler is blocked reading a request body that
   * the client never finishes (one byte of ten sent, the socket left open). Jetty 12.1 treats it as
   * a failure of the read only: the handler's read throws ({@code IOException: TimeoutException}),
   * the connection stays open, and neither the failure listener nor a connection close reports
   * it, with or without a connection listener. The filter's watched stream sees it: the context
   * ends inside the read, as {@code request failed} (a timeout of the container's, not a lost
   * client), with the read's exception as cause. A matrix cell of the module README.
   */
  @ParameterizedTest
  @ValueSource(strings = {"http/1.1", "h2c"})
  void idleTimeoutOfABlockedReadIsReportedToTheReadOnly(String protocol) throws Exception {
    Probe probe = new Probe();
    AtomicReference<IOException> readFailure = new AtomicReference<>();
    AtomicReference<Boolean> doneWhenThrown = new AtomicReference<>();
    ContextServletFilter filter = ContextServletFilter.create();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (TestServlet.answeredWarm(req, res)) {
                return;
              }
              Context ctx = probe.enterCurrent(req);
              try {
                req.getInputStream().readAllBytes();
              } catch (IOException e) {
                readFailure.set(e);
                doneWhenThrown.set(ctx.isDone());
              }
              probe.finished.countDown();
            });
    try (Containers.Running server = Containers.JETTY.start(filter, servlet)) {
      // A first request loads the classes of the request path, so that a cold JVM dispatches the
      // request well within the idle timeout.
      try (Socket warm = new Socket("127.0.0.1", server.port)) {
        warm.getOutputStream()
            .write(
                "GET /warm HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
        String answer = new String(warm.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
        assertTrue(answer.endsWith("warm"), answer);
      }
      for (Connector c : ((Server) server.server).getConnectors()) {
        ((ServerConnector) c).setIdleTimeout(300);
      }
      try (Socket socket = new Socket("127.0.0.1", server.port)) {
        long sent = System.nanoTime();
        OutputStream o = socket.getOutputStream();
        o.write(protocol.equals("h2c") ? h2cPostWithPartialBody() : http11PostWithPartialBody());
        o.flush();
        assertTrue(probe.entered.await(BOUND_S, TimeUnit.SECONDS));
        assertTrue(probe.finished.await(BOUND_S, TimeUnit.SECONDS), "the read ends");
        assertNotNull(readFailure.get(), "the idle timeout fails the read");
        assertEquals(Boolean.TRUE, doneWhenThrown.get(), "ended inside the read");
        assertTrue(probe.ended.await(BOUND_S, TimeUnit.SECONDS));
        assertEquals(Reason.REQUEST_FAILED, probe.reason(), String.valueOf(probe.cause));
        assertSame(readFailure.get(), probe.cause.getCause());
        System.out.println("IDLE|" + protocol + "|read failed: " + readFailure.get()
            + "|context ended " + Probe.millisBetween(sent, probe.endedNanos)
            + " ms after the last bytes were sent: " + probe.cause.getMessage());
      }
    }
  }

  /** Neither end closes: nothing ends the request but the test (no false disconnect). */
  @Test
  void anOpenConnectionDoesNotEndTheRequest() throws Exception {
    Probe probe = new Probe();
    ContextServletFilter filter = ContextServletFilter.create();
    try (Containers.Running server = Containers.JETTY.start(filter, syncWaiter(probe));
        Socket socket = new Socket("127.0.0.1", server.port)) {
      OutputStream o = socket.getOutputStream();
      o.write(h2cRequest());
      o.flush();
      assertTrue(probe.entered.await(BOUND_S, TimeUnit.SECONDS));
      assertFalse(probe.ended.await(500, TimeUnit.MILLISECONDS), String.valueOf(probe.cause));
      filter.shutdown();
      assertTrue(probe.ended.await(BOUND_S, TimeUnit.SECONDS));
      assertEquals(Reason.SERVER_SHUTDOWN, probe.reason());
    }
  }
}
