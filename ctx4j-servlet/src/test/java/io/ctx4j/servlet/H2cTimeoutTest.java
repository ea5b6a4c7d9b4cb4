package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.servlet.RequestCanceledException.Reason;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.catalina.startup.Tomcat;
import org.apache.coyote.UpgradeProtocol;
import org.apache.coyote.http2.Http2Protocol;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The container's timeouts over h2c (prior knowledge, raw socket): a blocking read of a body that
 * never comes, the container's read of a form body for getParameter, a ReadListener waiting past
 * the timeout, and a blocking write to a client that never opens its flow-control window, its
 * socket open. Each is the container giving up, not the client going: README, "REQUEST_FAILED | a
 * timeout of the container's even when it reports one as an I/O error". Found by a review of the
 * README's promises: Tomcat 11 reports its h2 stream timeouts as a ClientAbortException of a
 * CloseNowException of its own StreamException, with no SocketTimeoutException, and the read, form
 * and write rows ended "client disconnected" on Tomcat (the tests of these rows ran over HTTP/1.1
 * only). The write row stays so on Tomcat, a documented limit: its write timeout and a client gone
 * during the wait give the same exception.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class H2cTimeoutTest {
  private static final int TIMEOUT_MS = 1000;

  /** Sets the h2 stream timeouts: Tomcat's Http2Protocol, Jetty's connector idle timeout. */
  private static void timeouts(Containers c, Containers.Running server) {
    if (c == Containers.JETTY) {
      Containers.idleTimeout(server, TIMEOUT_MS);
      return;
    }
    boolean found = false;
    for (UpgradeProtocol p : ((Tomcat) server.server).getConnector().findUpgradeProtocols()) {
      if (p instanceof Http2Protocol) {
        ((Http2Protocol) p).setStreamReadTimeout(TIMEOUT_MS);
        ((Http2Protocol) p).setStreamWriteTimeout(TIMEOUT_MS);
        found = true;
      }
    }
    assertTrue(found, "Tomcat's Http2Protocol");
  }

  /** A handler blocked in a read of a body that never comes over h2c: the read times out. */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void anH2cReadThatTimesOutIsARequestFailure(Containers c) throws Exception {
    Probe probe = new Probe();
    AtomicReference<IOException> readFailure = new AtomicReference<>();
    TestServlet servlet =
        TestServlet.readsTheBody(probe, false, readFailure, new AtomicReference<>());
    overH2c(c, servlet, JettyConnectionCloseTest.h2cPostWithPartialBody(), probe, false, true);
    String what = "read failed: " + H2cClient.described(readFailure.get())
        + "; cause: " + probe.cause.getMessage();
    assertNotNull(readFailure.get(), what);
    assertEquals(Reason.REQUEST_FAILED, probe.reason(), what);
  }

  /**
   * README: "The call ends the context before the caller sees that exception ...: `REQUEST_FAILED`
   * when the chain holds a timeout": a form POST over h2c whose body never comes, read by the
   * container for getParameter.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void anH2cFormReadThatTimesOutIsARequestFailure(Containers c) throws Exception {
    Probe probe = new Probe();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (TestServlet.answeredWarm(req, res)) {
                return;
              }
              probe.enterCurrent(req);
              try {
                req.getParameter("a");
              } catch (RuntimeException e) {
                thrown.set(e);
              }
              probe.finished.countDown();
            });
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.writeBytes(H2cClient.connectionStart());
    b.writeBytes(H2cClient.headersFrame(1, "POST", "/x",
        Map.of("content-length", "10", "content-type", "application/x-www-form-urlencoded"), false));
    b.writeBytes(H2cClient.dataFrame(1, new byte[] {'a'}, false));
    overH2c(c, servlet, b.toByteArray(), probe, false, true);
    String what = "getParameter threw: " + H2cClient.described(thrown.get())
        + "; cause: " + probe.cause.getMessage();
    assertEquals(Reason.REQUEST_FAILED, probe.reason(), what);
  }

  /**
   * The async form of the read timeout over h2c: a ReadListener waits for a body that never comes
   * (README matrix row "idle timeout ... while an async request's ReadListener waits", measured on
   * HTTP/1.1 only). Whatever the container reports, it is no lost client.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void anH2cReadListenerThatWaitsPastTheTimeoutIsNoLostClient(Containers c) throws Exception {
    Probe probe = new Probe();
    AtomicReference<Throwable> listenerError = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (TestServlet.answeredWarm(req, res)) {
                return;
              }
              jakarta.servlet.AsyncContext async = req.startAsync();
              async.setTimeout(5000);
              async.addListener(new TimeoutListener() {
                @Override
                public void onTimeout(jakarta.servlet.AsyncEvent e) {
                  async.complete();
                }
              });
              probe.enterCurrent(req);
              jakarta.servlet.ServletInputStream in = req.getInputStream();
              in.setReadListener(
                  new jakarta.servlet.ReadListener() {
                    @Override
                    public void onDataAvailable() throws IOException {
                      while (in.isReady() && in.read() >= 0) {
                        // drain
                      }
                    }

                    @Override
                    public void onAllDataRead() {
                      async.complete();
                    }

                    @Override
                    public void onError(Throwable t) {
                      listenerError.set(t);
                      async.complete();
                    }
                  });
            });
    overH2c(c, servlet, JettyConnectionCloseTest.h2cPostWithPartialBody(), probe, false, false);
    String what = "ReadListener.onError: " + H2cClient.described(listenerError.get())
        + "; cause: " + probe.cause.getMessage();
    org.junit.jupiter.api.Assertions.assertNotEquals(Reason.CLIENT_DISCONNECTED, probe.reason(), what);
  }

  /**
   * A handler writing a large answer over h2c to a client that never opens its flow-control
   * window (it is still there, its socket open): the write times out.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void anH2cWriteThatTimesOutIsARequestFailure(Containers c) throws Exception {
    Probe probe = new Probe();
    AtomicReference<IOException> writeFailure = new AtomicReference<>();
    TestServlet servlet =
        TestServlet.writesUntilTheContextEnds(probe, writeFailure, new AtomicReference<>());
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.writeBytes(H2cClient.connectionStart());
    b.writeBytes(H2cClient.headersFrame(1, "GET", "/x", Map.of(), true));
    // The client reads what comes (its socket open, it is there) but never sends WINDOW_UPDATE:
    // the server's 64 KiB window runs out.
    overH2c(c, servlet, b.toByteArray(), probe, true, true);
    String what = "write failed: " + H2cClient.described(writeFailure.get())
        + "; cause: " + probe.cause.getMessage();
    // Tomcat fails a write waiting for window with the same error whether its timeout passed or
    // the client went away meanwhile (H2cResetInABlockedWriteTest): the README's limit, a lost
    // client rather than a lost client taken for a timeout.
    assertEquals(
        c == Containers.TOMCAT ? Reason.CLIENT_DISCONNECTED : Reason.REQUEST_FAILED,
        probe.reason(),
        what);
  }

  /**
   * Starts {@code c} with the filter and {@code servlet}, sets the timeouts, sends {@code sent} on
   * a new connection and waits for the handler to enter, for it to finish if {@code finishes}, and
   * for its context to end; the connection stays open until then. If {@code reads}, a thread reads
   * and drops what the server sends.
   */
  private static void overH2c(
      Containers c, TestServlet servlet, byte[] sent, Probe probe, boolean reads, boolean finishes)
      throws Exception {
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      H2cClient.warm(server.port);
      timeouts(c, server);
      try (Socket socket = new Socket("127.0.0.1", server.port)) {
        OutputStream o = socket.getOutputStream();
        o.write(sent);
        o.flush();
        if (reads) {
          H2cClient.drain(socket);
        }
        assertTrue(probe.entered.await(10, TimeUnit.SECONDS), "the handler was called");
        if (finishes) {
          assertTrue(probe.finished.await(60, TimeUnit.SECONDS), "the handler finished");
        }
        assertTrue(probe.ended.await(20, TimeUnit.SECONDS), "the context ended");
      }
    }
  }

}
