package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.servlet.Filter;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.eclipse.jetty.ee11.servlet.ServletContextRequest;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The evidence behind the README's "HTTP/1.1: no background read" row for Jetty: Jetty 12 core's
 * own {@code Request.demand(Runnable)}, the one API that asks the connection to read for a request,
 * cannot keep a read pending once the request body is consumed (Go's trick). On a request whose
 * body is complete, {@code read()} gives the last chunk and {@code demand} runs its callback at
 * once, in the handler's thread, before the client has done anything; when the client then closes
 * its socket, neither a demand nor the failure listener fires. (Before the body is consumed, demand
 * does read, but then it takes the body from the application.) If a Jetty release changes this,
 * this test fails and the filter should start using it.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class JettyBackgroundReadTest {
  private static final long QUIET_MS = 1500;

  @Test
  void demandAfterTheBodyRunsAtOnceAndNoReadStaysPendingForAClose() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch demanded = new CountDownLatch(1);
    CountDownLatch demandedAgain = new CountDownLatch(1);
    CountDownLatch failed = new CountDownLatch(1);
    CountDownLatch go = new CountDownLatch(1);
    AtomicReference<Content.Chunk> first = new AtomicReference<>();
    AtomicReference<Content.Chunk> onDemand = new AtomicReference<>();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Request core = ServletContextRequest.getServletContextRequest(req);
              core.addFailureListener(
                  f -> {
                    failure.set(f);
                    failed.countDown();
                  });
              first.set(core.read());
              core.demand(
                  () -> {
                    onDemand.set(core.read());
                    demanded.countDown();
                    // A second demand: would a read be kept pending now?
                    core.demand(demandedAgain::countDown);
                  });
              entered.countDown();
              go.await(30, TimeUnit.SECONDS);
              res.getOutputStream().write('x');
            });
    Filter passThrough = (q, r, chain) -> chain.doFilter(q, r);
    try (Containers.Running server = Containers.JETTY.start(passThrough, servlet)) {
      try (Socket socket = new Socket("127.0.0.1", server.port)) {
        OutputStream o = socket.getOutputStream();
        o.write("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        o.flush();
        assertTrue(entered.await(10, TimeUnit.SECONDS));
        // Before the client does anything: the body (none) is complete, demand ran at once.
        assertTrue(first.get() != null && first.get().isLast(), "first read: " + first.get());
        assertEquals(0, demanded.getCount(), "demand on a complete body runs at once");
        assertTrue(onDemand.get() != null && onDemand.get().isLast(), "read on demand: " + onDemand.get());
        assertEquals(0, demandedAgain.getCount(), "a second demand runs at once too");
      }
      // The client has closed its socket: nothing in Jetty reads it while the handler waits.
      assertFalse(failed.await(QUIET_MS, TimeUnit.MILLISECONDS), "failure listener: " + failure.get());
      go.countDown();
    }
  }
}
