package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.ServletOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The matrix of the module README: one test per cell, {what happens} x {Jetty 12.1 ee11, Tomcat 11},
 * each asserting when the handler's context ends and with what cause. Times printed as {@code
 * MATRIX|container|cell|...} lines are the README's measurements.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ContainerMatrixTest {
  /** How long a cell waits to show that a container does NOT report something. */
  private static final long QUIET_MS = 1500;


  private static void report(Containers c, String cell, String what) {
    System.out.println("MATRIX|" + c + "|" + cell + "|" + what);
  }

  /** A handler that enters the probe, waits for its context to end, then answers. */
  private static TestServlet waitForEnd(Probe probe) {
    return new TestServlet(
        (req, res) -> {
          Context ctx = probe.enterCurrent(req);
          ctx.await(Duration.ofSeconds(30));
          res.getWriter().print("done");
        });
  }

  /** The deadline cells: each header alone, and two at once (the smallest wins). */
  static Stream<Arguments> deadlineHeaders() {
    return Stream.of(Containers.values())
        .flatMap(
            c ->
                Stream.of(
                    Arguments.of(c, "Ctx4j-Timeout-Ms: 300", "set by the caller's Ctx4j-Timeout-Ms",
                        new String[] {"Ctx4j-Timeout-Ms", "300"}),
                    Arguments.of(c, "Connect-Timeout-Ms: 300", "set by the caller's Connect-Timeout-Ms",
                        new String[] {"Connect-Timeout-Ms", "300"}),
                    Arguments.of(c, "grpc-timeout: 300m", "set by the caller's grpc-timeout",
                        new String[] {"grpc-timeout", "300m"}),
                    Arguments.of(c, "Ctx4j-Timeout-Ms: 60000 + grpc-timeout: 300m", "set by the caller's grpc-timeout",
                        new String[] {"Ctx4j-Timeout-Ms", "60000", "grpc-timeout", "300m"})));
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("deadlineHeaders")
  void aTimeoutHeaderSetsTheDeadline(Containers c, String cell, String expectedSource, String[] headers)
      throws Exception {
    long expectedMillis = 300;
    Probe probe = new Probe();
    ContextServletFilter filter = ContextServletFilter.create();
    try (Containers.Running server = c.start(filter, waitForEnd(probe))) {
      long sent = System.nanoTime();
      HttpResponse<String> r = Http.get(server.port, "/work", headers);
      assertEquals(200, r.statusCode(), r.body());
      assertTrue(probe.ended.await(10, TimeUnit.SECONDS));
      assertTrue(probe.currentIsRequestContext, "CurrentContext.get() is the request attribute");
      assertSame(Context.DEADLINE_EXCEEDED, probe.err);
      assertEquals(Reason.DEADLINE_EXCEEDED, probe.reason(), String.valueOf(probe.cause));
      assertTrue(probe.cause.getMessage().contains(expectedSource), probe.cause.getMessage());
      Duration left = probe.remainingAtEntry;
      assertNotNull(left);
      assertTrue(left.toMillis() <= expectedMillis && !left.isNegative(), "remaining at entry " + left);
      long afterSend = Probe.millisBetween(sent, probe.endedNanos);
      // The budget starts when the filter sees the request, after it was sent.
      assertTrue(afterSend >= expectedMillis, "ended " + afterSend + " ms after sending");
      assertTrue(afterSend < expectedMillis + 10_000, "ended " + afterSend + " ms after sending");
      report(c, cell, "ended " + afterSend + " ms after the request was sent (budget " + expectedMillis
          + " ms, " + left.toMillis() + " ms left at handler entry); cause: " + probe.cause.getMessage());
    }
  }

  @ParameterizedTest
  @EnumSource(Containers.class)
  void malformedHeaderIsAnswered400AndTheHandlerIsNotCalled(Containers c) throws Exception {
    AtomicInteger calls = new AtomicInteger();
    ContextServletFilter filter = ContextServletFilter.create();
    try (Containers.Running server =
        c.start(filter, new TestServlet((req, res) -> calls.incrementAndGet()))) {
      HttpResponse<String> r = Http.get(server.port, "/x", "grpc-timeout", "5X");
      assertEquals(400, r.statusCode());
      assertTrue(r.body().contains("grpc-timeout") && r.body().contains("\"5X\""), r.body());
      assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
      assertEquals("nosniff", r.headers().firstValue("X-Content-Type-Options").orElse(""));
      HttpResponse<String> r2 = Http.get(server.port, "/x", "Ctx4j-Timeout-Ms", "300", "Ctx4j-Timeout-Ms", "-1");
      assertEquals(400, r2.statusCode());
      assertTrue(r2.body().contains("Ctx4j-Timeout-Ms"), r2.body());
      assertEquals(0, calls.get());
      assertEquals(200, Http.get(server.port, "/x").statusCode(), "a request without header passes");
      assertEquals(1, calls.get());
      report(c, "malformed header", "400 text/plain: " + r.body().strip());
    }
  }

  @ParameterizedTest
  @EnumSource(Containers.class)
  void handlerReturnsEndsTheContext(Containers c) throws Exception {
    Probe probe = new Probe();
    AtomicReference<Long> returned = new AtomicReference<>();
    ContextServletFilter filter = ContextServletFilter.create();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = probe.enterCurrent(req);
              res.getWriter().print("ok");
              assertFalse(ctx.isDone(), "live while the handler runs");
              returned.set(System.nanoTime());
            });
    try (Containers.Running server = c.start(filter, servlet)) {
      assertEquals("ok", Http.get(server.port, "/x").body());
      assertTrue(probe.ended.await(10, TimeUnit.SECONDS));
      assertTrue(probe.currentIsRequestContext);
      assertSame(Context.CANCELED, probe.err);
      assertEquals(Reason.RESPONSE_COMPLETED, probe.reason());
      long micros = TimeUnit.NANOSECONDS.toMicros(probe.endedNanos - returned.get());
      assertTrue(micros >= 0);
      report(c, "handler returns", "ended " + micros + " us after the servlet returned; cause: " + probe.cause.getMessage());
    }
  }

  @ParameterizedTest
  @EnumSource(Containers.class)
  void asyncDispatchSeesTheSameContextAndItEndsWhenTheCycleEnds(Containers c) throws Exception {
    Probe probe = new Probe();
    AtomicReference<Context> inAsyncDispatch = new AtomicReference<>();
    ContextServletFilter filter = ContextServletFilter.create();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() == jakarta.servlet.DispatcherType.ASYNC) {
                inAsyncDispatch.set(CurrentContext.get());
                assertFalse(CurrentContext.get().isDone(), "live in the async dispatch");
                res.getWriter().print("dispatched");
                return;
              }
              probe.enterCurrent(req);
              AsyncContext async = req.startAsync();
              async.start(async::dispatch);
            });
    try (Containers.Running server = c.start(filter, servlet)) {
      assertEquals("dispatched", Http.get(server.port, "/x").body());
      assertTrue(probe.ended.await(10, TimeUnit.SECONDS));
      assertSame(probe.ctx, inAsyncDispatch.get());
      assertEquals(Reason.RESPONSE_COMPLETED, probe.reason());
      report(c, "async dispatch, then return", "same context in the async dispatch; ended "
          + Probe.millisBetween(probe.enteredNanos, probe.endedNanos) + " ms after entry; cause: " + probe.cause.getMessage());
    }
  }

  @ParameterizedTest
  @EnumSource(Containers.class)
  void asyncCompleteFromAnotherThreadEndsTheContext(Containers c) throws Exception {
    Probe probe = new Probe();
    AtomicReference<Boolean> liveAfterDispatch = new AtomicReference<>();
    AtomicReference<Long> completed = new AtomicReference<>();
    ContextServletFilter filter = ContextServletFilter.create();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = probe.enterCurrent(req);
              AsyncContext async = req.startAsync();
              // Not started from the container's pool: a thread of the application's own.
              Thread worker =
                  new Thread(
                      () -> {
                        try {
                          probe.awaitGo();
                          liveAfterDispatch.set(!ctx.isDone());
                          async.getResponse().getWriter().print("completed");
                          completed.set(System.nanoTime());
                          async.complete();
                        } catch (Exception e) {
                          throw new IllegalStateException(e);
                        }
                      });
              worker.start();
            });
    try (Containers.Running server = c.start(filter, servlet)) {
      CompletableFuture<HttpResponse<String>> r = Http.getAsync(server.port, "/x");
      assertTrue(probe.entered.await(10, TimeUnit.SECONDS));
      // The dispatch returns with async started: the request is not over.
      assertFalse(probe.ended.await(300, TimeUnit.MILLISECONDS), "ended early: " + probe.cause);
      probe.go.countDown();
      assertEquals("completed", r.get(10, TimeUnit.SECONDS).body());
      assertTrue(probe.ended.await(10, TimeUnit.SECONDS));
      assertEquals(Boolean.TRUE, liveAfterDispatch.get(), "live until complete()");
      assertSame(Context.CANCELED, probe.err);
      assertEquals(Reason.RESPONSE_COMPLETED, probe.reason(), String.valueOf(probe.cause));
      long micros = TimeUnit.NANOSECONDS.toMicros(probe.endedNanos - completed.get());
      assertTrue(micros >= 0, micros + " us");
      report(c, "async complete() from an application thread",
          "live after the dispatch returned; ended " + micros + " us after complete() was called; cause: "
              + probe.cause.getMessage());
    }
  }

  @ParameterizedTest
  @EnumSource(Containers.class)
  void asyncTimeoutEndsTheContext(Containers c) throws Exception {
    Probe probe = new Probe();
    ContextServletFilter filter = ContextServletFilter.create();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              AsyncContext async = req.startAsync();
              async.setTimeout(300);
              async.addListener(
                  new TimeoutListener() {
                    @Override
                    public void onTimeout(AsyncEvent e) throws IOException {
                      ((jakarta.servlet.http.HttpServletResponse) async.getResponse()).setStatus(504);
                      async.complete();
                    }
                  });
              Context ctx = ContextServletFilter.contextOf(req);
              probe.enter(ctx, ctx == CurrentContext.get());
            });
    try (Containers.Running server = c.start(filter, servlet)) {
      assertEquals(504, Http.get(server.port, "/x").statusCode());
      assertTrue(probe.ended.await(10, TimeUnit.SECONDS));
      assertEquals(Reason.ASYNC_TIMEOUT, probe.reason(), String.valueOf(probe.cause));
      long ms = Probe.millisBetween(probe.enteredNanos, probe.endedNanos);
      // The async timeout starts when the dispatch returns: not before 300 ms.
      assertTrue(ms >= 300, ms + " ms");
      report(c, "async timeout 300 ms", "ended " + ms + " ms after startAsync; cause: " + probe.cause.getMessage());
    }
  }

  /**
   * The handler calls {@code sendError(503)} in async mode and never {@code complete()}: in the
   * dispatch that started async, or from another thread ({@code AsyncContext.start}). The filter
   * does not end the context at {@code sendError}, as it does not in a synchronous request (where
   * the handler's return does): the request is over when the container ends the cycle. Jetty ends
   * it when the dispatch returns if {@code sendError} came before (503, {@code response
   * completed}); from another thread once the dispatch has returned, and with Tomcat in either
   * case, the containers keep the cycle, and the client waiting, until the async timeout (Tomcat
   * then sends the 503, Jetty a 500 of its own timeout), and the context ends as {@code async
   * timeout}.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("sendErrorPlaces")
  void asyncSendErrorWithoutComplete(Containers c, String where) throws Exception {
    long timeoutMs = 500;
    Probe probe = new Probe();
    AtomicReference<Long> sent = new AtomicReference<>();
    boolean inDispatch = where.equals("in the dispatch");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              AsyncContext async = req.startAsync();
              async.setTimeout(timeoutMs);
              Context ctx = ContextServletFilter.contextOf(req);
              probe.enter(ctx, ctx == CurrentContext.get());
              if (inDispatch) {
                sent.set(System.nanoTime());
                res.sendError(503);
              } else {
                async.start(
                    () -> {
                      try {
                        if (c == Containers.JETTY) {
                          // Jetty handles a sendError made before the dispatch returned as one made
                          // in it: wait until the cycle waits.
                          awaitJettyWaiting(req);
                        }
                        sent.set(System.nanoTime());
                        ((jakarta.servlet.http.HttpServletResponse) async.getResponse()).sendError(503);
                      } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                      }
                    });
              }
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      long answered = System.nanoTime();
      assertTrue(probe.ended.await(10, TimeUnit.SECONDS));
      long ms = Probe.millisBetween(sent.get(), probe.endedNanos);
      String when =
          "ended " + ms + " ms after sendError, answered " + r.statusCode() + " "
              + Probe.millisBetween(sent.get(), answered) + " ms after it; cause: "
              + probe.cause.getMessage();
      if (c == Containers.JETTY && inDispatch) {
        assertEquals(Reason.RESPONSE_COMPLETED, probe.reason(), when);
        assertEquals(503, r.statusCode(), when);
      } else {
        assertEquals(Reason.ASYNC_TIMEOUT, probe.reason(), when);
        // The async timeout runs from the dispatch's return, after the handler entered.
        assertTrue(Probe.millisBetween(probe.enteredNanos, probe.endedNanos) >= timeoutMs, when);
        assertEquals(c == Containers.JETTY ? 500 : 503, r.statusCode(), when);
      }
      report(c, "async sendError(503), no complete(), " + where, when);
    }
  }

  static Stream<Arguments> sendErrorPlaces() {
    return Containers.eachWith("in the dispatch", "from another thread");
  }

  /**
   * Returns once Jetty's cycle of {@code req} waits (its dispatch has returned), or throws after
   * 10 s. The condition itself, polled: Jetty has no notice of it.
   */
  private static void awaitJettyWaiting(jakarta.servlet.ServletRequest req) {
    jakarta.servlet.ServletRequest r = req;
    while (r instanceof jakarta.servlet.ServletRequestWrapper) {
      r = ((jakarta.servlet.ServletRequestWrapper) r).getRequest();
    }
    org.eclipse.jetty.ee11.servlet.ServletChannelState state =
        org.eclipse.jetty.ee11.servlet.ServletContextRequest.getServletContextRequest(r)
            .getServletRequestState();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (state.getState() != org.eclipse.jetty.ee11.servlet.ServletChannelState.State.WAITING) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("Jetty's cycle never waited: " + state);
      }
      Thread.yield();
    }
  }

  @ParameterizedTest
  @EnumSource(Containers.class)
  void serverShutdownEndsRequestsInFlight(Containers c) throws Exception {
    Probe probe = new Probe();
    ContextServletFilter filter = ContextServletFilter.create();
    try (Containers.Running server = c.start(filter, waitForEnd(probe))) {
      CompletableFuture<HttpResponse<String>> r = Http.getAsync(server.port, "/x");
      assertTrue(probe.entered.await(10, TimeUnit.SECONDS));
      long shut = System.nanoTime();
      assertTrue(filter.shutdown("test shutdown", null));
      assertTrue(probe.ended.await(10, TimeUnit.SECONDS));
      assertEquals("done", r.get(10, TimeUnit.SECONDS).body());
      assertEquals(Reason.SERVER_SHUTDOWN, probe.reason());
      assertTrue(probe.cause.getMessage().contains("test shutdown"));
      assertTrue(filter.root().isDone());
      long micros = TimeUnit.NANOSECONDS.toMicros(probe.endedNanos - shut);
      report(c, "server shutdown", "ended " + micros + " us after shutdown(); cause: " + probe.cause.getMessage());
    }
  }

  /**
   * A handler that, once released, writes and flushes 8 KiB at a time until a write fails, and
   * what it recorded: how many writes it took, what failed, and when it was released.
   */
  static final class WriteUntilFailure {
    final AtomicInteger writes = new AtomicInteger();
    final AtomicReference<IOException> failure = new AtomicReference<>();
    final AtomicReference<Long> released = new AtomicReference<>();

    /** The servlet; it answers "warm" on /warm (the h2c upgrade) and enters {@code probe} elsewhere. */
    TestServlet servlet(Probe probe) {
      return new TestServlet(
          (req, res) -> {
            if (req.getRequestURI().equals("/warm")) {
              res.getWriter().print("warm");
              return;
            }
            probe.enterCurrent(req);
            probe.awaitGo();
            released.set(System.nanoTime());
            ServletOutputStream out = res.getOutputStream();
            byte[] chunk = new byte[8192];
            try {
              for (int i = 0; i < 10_000; i++) {
                writes.incrementAndGet();
                out.write(chunk);
                out.flush();
              }
            } catch (IOException e) {
              failure.set(e);
            } finally {
              probe.finished.countDown();
            }
          });
    }

    /**
     * Asserts that the container does not report the lost client to the idle handler within
     * {@link #QUIET_MS}, then releases the handler and asserts that its failing write ends the
     * context as a client disconnect.
     *
     * @return the measurements, for {@link #report}
     */
    String assertSeenOnlyAtTheNextWrite(Probe probe, String notExpected) throws InterruptedException {
      assertFalse(probe.ended.await(QUIET_MS, TimeUnit.MILLISECONDS), notExpected + ": " + probe.cause);
      probe.go.countDown();
      assertTrue(probe.ended.await(20, TimeUnit.SECONDS), "the failed write must end the context");
      assertEquals(Reason.CLIENT_DISCONNECTED, probe.reason(), String.valueOf(probe.cause));
      // The context ends inside the failing write, before the handler sees the exception.
      assertTrue(probe.finished.await(20, TimeUnit.SECONDS));
      assertNotNull(failure.get(), "the handler's write failed");
      return "not seen in " + QUIET_MS + " ms; ended " + Probe.millisBetween(released.get(), probe.endedNanos)
          + " ms after the handler started writing (write #" + writes.get() + " failed: "
          + failure.get() + "); cause: " + probe.cause.getMessage();
    }
  }


  /**
   * Sends a GET over HTTP/1.1 on a raw socket, waits until its handler has entered the probe, and
   * closes the connection.
   *
   * @return System.nanoTime() of the close
   */
  private static long closeOnceEntered(int port, Probe probe) throws Exception {
    try (Socket socket = new Socket("127.0.0.1", port)) {
      OutputStream o = socket.getOutputStream();
      o.write("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      o.flush();
      assertTrue(probe.entered.await(10, TimeUnit.SECONDS));
      return System.nanoTime();
    }
  }

  @ParameterizedTest
  @EnumSource(Containers.class)
  void http11ClientDisconnectWhileTheHandlerWaitsIsSeenOnlyAtTheNextWrite(Containers c) throws Exception {
    Probe probe = new Probe();
    WriteUntilFailure handler = new WriteUntilFailure();
    ContextServletFilter filter = ContextServletFilter.create();
    try (Containers.Running server = c.start(filter, handler.servlet(probe))) {
      long closed = closeOnceEntered(server.port, probe);
      // Neither container keeps a read pending while a synchronous handler runs.
      String seen = handler.assertSeenOnlyAtTheNextWrite(
          probe, "not expected to be detected while the handler neither reads nor writes");
      assertSame(Context.CANCELED, probe.err);
      report(c, "HTTP/1.1 client closes, sync handler idle",
          seen + "; total " + Probe.millisBetween(closed, probe.endedNanos) + " ms after close");
    }
  }

  @ParameterizedTest
  @EnumSource(Containers.class)
  void http11ClientDisconnectDuringAsync(Containers c) throws Exception {
    Probe probe = new Probe();
    ContextServletFilter filter = ContextServletFilter.create();
    try (Containers.Running server = c.start(filter, TestServlet.asyncUntilTheContextEnds(probe))) {
      long closed = closeOnceEntered(server.port, probe);
      // Neither container reports it: Tomcat 11 registers no read interest for an async request
      // without a ReadListener, Jetty 12.1 sets no fill interest; the context ends only with the
      // cycle (timeout, complete, or here the server root).
      assertFalse(probe.ended.await(QUIET_MS, TimeUnit.MILLISECONDS),
          "not expected to be detected: " + probe.cause);
      report(c, "HTTP/1.1 client closes, async, no I/O pending", "not seen in " + QUIET_MS + " ms");
      long shut = System.nanoTime();
      filter.shutdown("end of test", null);
      assertTrue(probe.ended.await(10, TimeUnit.SECONDS));
      assertEquals(Reason.SERVER_SHUTDOWN, probe.reason());
      assertTrue(Probe.millisBetween(closed, shut) >= QUIET_MS);
    }
  }

  /**
   * Over h2c (the JDK client upgrades on a first request to /warm, answered "warm"), starts a
   * request to /x, waits until its handler has entered the probe, and resets the stream by
   * cancelling the client's future (JDK 16+: RST_STREAM CANCEL).
   *
   * @return System.nanoTime() of the reset
   */
  static long resetOnceEntered(int port, Probe probe) throws Exception {
    HttpClient h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
    URI base = URI.create("http://127.0.0.1:" + port);
    HttpResponse<String> warm = h2.send(HttpRequest.newBuilder(base.resolve("/warm")).build(), BodyHandlers.ofString());
    assertEquals("warm", warm.body());
    assertEquals(HttpClient.Version.HTTP_2, warm.version(), "h2c upgrade");
    CompletableFuture<HttpResponse<InputStream>> r =
        h2.sendAsync(HttpRequest.newBuilder(base.resolve("/x")).build(), BodyHandlers.ofInputStream());
    assertTrue(probe.entered.await(10, TimeUnit.SECONDS));
    long reset = System.nanoTime();
    r.cancel(true);
    return reset;
  }

  @ParameterizedTest
  @EnumSource(Containers.class)
  void http2ResetOfASyncHandler(Containers c) throws Exception {
    Probe probe = new Probe();
    WriteUntilFailure handler = new WriteUntilFailure();
    ContextServletFilter filter = ContextServletFilter.create();
    try (Containers.Running server = c.start(filter, handler.servlet(probe))) {
      long reset = resetOnceEntered(server.port, probe);
      if (c == Containers.JETTY) {
        assertTrue(probe.ended.await(10, TimeUnit.SECONDS), "Jetty's failure listener reports the reset");
        assertEquals(Reason.CLIENT_DISCONNECTED, probe.reason(), String.valueOf(probe.cause));
        long ms = Probe.millisBetween(reset, probe.endedNanos);
        probe.go.countDown();
        report(c, "HTTP/2 reset, sync handler idle", "ended " + ms + " ms after the reset; cause: " + probe.cause.getMessage());
      } else {
        report(c, "HTTP/2 reset, sync handler idle", handler.assertSeenOnlyAtTheNextWrite(
            probe, "Tomcat is not expected to report a reset to an idle sync handler"));
      }
    }
  }

  @ParameterizedTest
  @EnumSource(Containers.class)
  void http2ResetDuringAsync(Containers c) throws Exception {
    Probe probe = new Probe();
    ContextServletFilter filter = ContextServletFilter.create();
    try (Containers.Running server = c.start(filter, TestServlet.asyncUntilTheContextEnds(probe))) {
      long reset = resetOnceEntered(server.port, probe);
      // Both report it: Jetty through the core failure listener, Tomcat through AsyncListener.onError
      // (an async stream that is reset is failed by Tomcat's HTTP/2 stream processor).
      assertTrue(probe.ended.await(10, TimeUnit.SECONDS), "the reset of an async request is reported");
      assertEquals(Reason.CLIENT_DISCONNECTED, probe.reason(), String.valueOf(probe.cause));
      report(c, "HTTP/2 reset, async, no I/O pending",
          "ended " + Probe.millisBetween(reset, probe.endedNanos) + " ms after the reset; cause: " + probe.cause.getMessage());
    }
  }

  /**
   * Tomcat's column of the h2c TCP close row (Jetty's is JettyConnectionCloseTest): an h2c client
   * (prior knowledge, raw socket) closes its connection while the handler waits without I/O. As for
   * a reset, Tomcat tells a synchronous handler nothing (its next write fails), and fails an async
   * cycle, whose AsyncListener.onError ends the context.
   */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"sync", "async"})
  void h2cTcpCloseOnTomcat(String mode) throws Exception {
    Probe probe = new Probe();
    ContextServletFilter filter = ContextServletFilter.create();
    TestServlet servlet =
        mode.equals("sync")
            ? new TestServlet((req, res) -> probe.enterCurrent(req).await(Duration.ofSeconds(60)))
            : TestServlet.asyncUntilTheContextEnds(probe);
    try (Containers.Running server = Containers.TOMCAT.start(filter, servlet)) {
      long closed;
      try (Socket socket = new Socket("127.0.0.1", server.port)) {
        OutputStream o = socket.getOutputStream();
        o.write(JettyConnectionCloseTest.h2cRequest());
        o.flush();
        assertTrue(probe.entered.await(10, TimeUnit.SECONDS), "the handler was called");
        closed = System.nanoTime();
      }
      String cell = "h2c: client closes the TCP connection, " + mode;
      if (mode.equals("sync")) {
        assertFalse(probe.ended.await(QUIET_MS, TimeUnit.MILLISECONDS),
            "Tomcat is not expected to report it to a sync handler: " + probe.cause);
        report(Containers.TOMCAT, cell, "not seen in " + QUIET_MS + " ms");
        filter.shutdown("end of test", null);
      } else {
        assertTrue(probe.ended.await(10, TimeUnit.SECONDS), "Tomcat fails the async cycle");
        assertEquals(Reason.CLIENT_DISCONNECTED, probe.reason(), String.valueOf(probe.cause));
        report(Containers.TOMCAT, cell, "ended " + Probe.millisBetween(closed, probe.endedNanos)
            + " ms after the close; cause: " + probe.cause.getMessage());
      }
    }
  }
  /** The connector's idle timeout in the cells that wait for it. */
  private static final int IDLE_MS = 1000;

  /**
   * The connector's idle timeout (1 s) expires while an async request's {@code ReadListener}
   * waits for a body the client never finishes (HTTP/1.1, 10 bytes announced, 1 sent, the socket
   * left open). Jetty reports it to the {@code ReadListener}'s {@code onError} alone (a {@code
   * TimeoutException}; no {@code AsyncListener.onError}), where the filter's wrapper of the
   * listener ends the context; Tomcat to both (a {@code SocketTimeoutException}, after its poller's
   * next timeout check, about once a second). Either way the context ends as {@code request
   * failed}: the container gave up waiting, the client did not go away.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void idleTimeoutWhileAReadListenerWaitsForTheBody(Containers c) throws Exception {
    Probe probe = new Probe();
    AtomicReference<Throwable> listenerError = new AtomicReference<>();
    AtomicReference<Throwable> asyncError = new AtomicReference<>();
    AtomicReference<String> endedIn = new AtomicReference<>();
    CountDownLatch completed = new CountDownLatch(1);
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (TestServlet.answeredWarm(req, res)) {
                return;
              }
              AsyncContext async = req.startAsync();
              async.setTimeout(0);
              async.addListener(
                  new jakarta.servlet.AsyncListener() {
                    @Override
                    public void onError(AsyncEvent e) {
                      asyncError.set(e.getThrowable());
                    }

                    @Override
                    public void onTimeout(AsyncEvent e) {}

                    @Override
                    public void onStartAsync(AsyncEvent e) {}

                    @Override
                    public void onComplete(AsyncEvent e) {
                      completed.countDown();
                    }
                  });
              Context ctx = probe.enterCurrent(req);
              // Runs in the thread that ends the context, inside the call that ends it.
              ctx.onDone(() -> endedIn.set(reporter(Thread.currentThread().getStackTrace())));
              ServletInputStream in = req.getInputStream();
              in.setReadListener(
                  new ReadListener() {
                    @Override
                    public void onDataAvailable() throws IOException {
                      while (in.isReady() && in.read() >= 0) {
                        // drain what came
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
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      // A first request loads the classes of the request path: on a cold, loaded JVM the dispatch
      // could otherwise take longer than the idle timeout, which would then fail the request
      // before the handler runs.
      assertEquals("warm", Http.get(server.port, "/warm").body());
      Containers.idleTimeout(server, IDLE_MS);
      try (Socket socket = new Socket("127.0.0.1", server.port)) {
        long sent = System.nanoTime();
        OutputStream o = socket.getOutputStream();
        o.write(JettyConnectionCloseTest.http11PostWithPartialBody());
        o.flush();
        assertTrue(probe.entered.await(10, TimeUnit.SECONDS), "the handler was called");
        assertTrue(probe.ended.await(20, TimeUnit.SECONDS), "the idle timeout must end the context");
        assertEquals(Reason.REQUEST_FAILED, probe.reason(), String.valueOf(probe.cause));
        Throwable reported = probe.cause.getCause();
        assertTrue(
            reported instanceof java.util.concurrent.TimeoutException
                || reported instanceof java.net.SocketTimeoutException,
            String.valueOf(reported));
        long ms = Probe.millisBetween(sent, probe.endedNanos);
        assertTrue(ms >= IDLE_MS, "ended " + ms + " ms after the last bytes were sent");
        assertTrue(completed.await(20, TimeUnit.SECONDS), "the listener's onError completes");
        assertSame(reported, listenerError.get(), "the ReadListener is told");
        if (c == Containers.JETTY) {
          assertEquals("ReadListener.onError", endedIn.get());
          assertNull(asyncError.get(), "Jetty tells the ReadListener alone");
        } else {
          assertNotNull(asyncError.get(), "Tomcat tells the AsyncListener too");
        }
        report(c, "idle timeout " + IDLE_MS + " ms, async ReadListener waiting for the body",
            "ended " + ms + " ms after the last bytes were sent, through " + endedIn.get()
                + " (AsyncListener.onError " + (asyncError.get() == null ? "not called" : "called")
                + "); cause: " + probe.cause.getMessage());
      }
    }
  }

  /** Which of the filter's hooks a stack of the thread that ended a context runs in. */
  private static String reporter(StackTraceElement[] stack) {
    for (StackTraceElement e : stack) {
      if (e.getClassName().endsWith("WatchedInput$Listener") && e.getMethodName().equals("onError")) {
        return "ReadListener.onError";
      }
      if (e.getClassName().endsWith("RequestScope")
          && (e.getMethodName().equals("onError") || e.getMethodName().equals("accept"))) {
        return e.getMethodName().equals("onError") ? "AsyncListener.onError" : "Jetty's failure listener";
      }
    }
    return "another path";
  }
}
