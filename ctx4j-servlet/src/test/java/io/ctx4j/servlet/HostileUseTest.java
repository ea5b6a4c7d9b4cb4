package io.ctx4j.servlet;

import static io.ctx4j.servlet.Probe.awaitEnd;
import static io.ctx4j.servlet.Probe.state;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletRequestWrapper;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.lang.reflect.Proxy;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Uses of the filter that an adversarial review of its README found to break a promise: a writer
 * closed by the handler or by a forward, the context attribute changed on an ASYNC dispatch, a
 * second filter instance in the chain, throwables that are neither {@code Exception} nor {@code
 * Error}, sneaky checked exceptions, control characters in a rejected header, empty list elements.
 * Each test failed on the code before its fix, on at least one container: the writer and forward
 * cases on Jetty only (Tomcat's writer reports nothing once closed), the control characters with
 * the ctx4j-http of before.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class HostileUseTest {
  /** One malformed value of each timeout header: a bad unit, a negative, an overflow. */
  private static final String[][] MALFORMED_HEADERS = {
    {"grpc-timeout", "5X"}, {"Ctx4j-Timeout-Ms", "-1"}, {"Connect-Timeout-Ms", "99999999999"}
  };

  /** Waits for {@code ctx} (the handler's) to end, and asserts it failed with {@code thrown}. */
  private static void assertEndsAsAHandlerFailure(Context ctx, Throwable thrown)
      throws InterruptedException {
    assertNotNull(ctx, "the handler ran");
    awaitEnd(ctx);
    assertEquals(Reason.HANDLER_FAILED, reason(ctx), String.valueOf(ctx.cause()));
    assertSame(thrown, ctx.cause().getCause());
  }

  /**
   * Sends one request to {@code servlet} (a GET, or a POST of {@code body} if it is not null),
   * whose handler records its context in {@code seen} and sets a listener that throws {@code
   * thrown}; then asserts that the context failed with it.
   */
  private static void assertAListenerFailureEndsAsAHandlerFailure(
      Containers c, TestServlet servlet, String body, AtomicReference<Context> seen,
      Throwable thrown) throws Exception {
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpRequest.Builder request =
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port + "/x"));
      if (body != null) {
        request.POST(HttpRequest.BodyPublishers.ofString(body));
      }
      try {
        Http.HTTP1.send(request.build(), BodyHandlers.ofString());
      } catch (IOException closedByTheServer) {
        // Tomcat closes the connection after a failed listener: not the client's doing.
      }
      assertEndsAsAHandlerFailure(seen.get(), thrown);
    }
  }

  private static Reason reason(Context ctx) {
    Reason r = Probe.reasonOf(ctx.cause());
    if (r == null) {
      throw new AssertionError("the request context's cause is not the filter's: " + ctx.cause());
    }
    return r;
  }

  /** The container's own request under {@code req}'s wrappers. */
  private static ServletRequest containerOf(ServletRequest req) {
    ServletRequest r = req;
    while (r instanceof ServletRequestWrapper) {
      r = ((ServletRequestWrapper) r).getRequest();
    }
    return r;
  }

  /**
   * Starts async processing (which puts the context attribute in the container's request), then
   * removes the attribute there, as an application could through {@code AsyncContext.getRequest()}.
   */
  private static AsyncContext startAsyncWithoutTheAttribute(ServletRequest req) {
    AsyncContext async = req.startAsync();
    containerOf(req).removeAttribute(ContextServletFilter.ATTRIBUTE);
    return async;
  }

  /**
   * A handler that closes its writer (try-with-resources, as template engines do) and goes on with
   * its context: the close is not a disconnect. On Jetty, whose writer reports an error for any
   * check once closed, it ended the context as "client disconnected" while the client read the
   * whole answer; flushing or checking the closed writer must not either.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void closingTheWriterIsNotADisconnect(Containers c) throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> afterClose = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = CurrentContext.get();
              seen.set(ctx);
              PrintWriter w = res.getWriter();
              try (w) {
                w.print("hello");
              }
              w.flush();
              w.checkError();
              afterClose.set(state(ctx));
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      assertEquals("hello", r.body());
      // The close sent the answer whole, with its length: the check did not flush it first.
      assertEquals("5", r.headers().firstValue("content-length").orElse("none"));
      awaitEnd(seen.get());
    }
    assertEquals("live", afterClose.get(), "the context after the writer was closed");
    assertEquals(Reason.RESPONSE_COMPLETED, reason(seen.get()), String.valueOf(seen.get().cause()));
  }

  /**
   * The output stream's counterpart: once the application closed it (try-with-resources), a
   * write the container refuses for that ("Closed" on Jetty, "may not be written to once it has
   * been closed" on Tomcat) is the application's own mistake, not a lost client.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void writingToTheClosedStreamIsNotADisconnect(Containers c) throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> afterClose = new AtomicReference<>();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = CurrentContext.get();
              seen.set(ctx);
              ServletOutputStream out = res.getOutputStream();
              try (out) {
                out.write("hello".getBytes(StandardCharsets.US_ASCII));
              }
              try {
                out.write('!');
              } catch (IOException e) {
                thrown.set(e.toString());
              }
              afterClose.set(state(ctx));
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      assertEquals("hello", r.body());
      awaitEnd(seen.get());
    }
    assertEquals(
        "live", afterClose.get(), "the context after a write to the closed stream threw " + thrown.get());
    assertEquals(Reason.RESPONSE_COMPLETED, reason(seen.get()), String.valueOf(seen.get().cause()));
  }

  /**
   * A forward whose target writes through the output stream: the container closes that stream
   * when the forward returns (Jetty through the response it was given, the filter's), and what the
   * caller writes or flushes after it fails for that reason alone.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void writingAfterAStreamForwardIsNotADisconnect(Containers c) throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> afterForward = new AtomicReference<>();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() == DispatcherType.FORWARD) {
                res.getOutputStream().write("forwarded".getBytes(StandardCharsets.US_ASCII));
                return;
              }
              Context ctx = CurrentContext.get();
              seen.set(ctx);
              req.getRequestDispatcher("/forwarded").forward(req, res);
              try {
                res.getOutputStream().write('!');
                res.getOutputStream().flush();
              } catch (IOException e) {
                thrown.set(e.toString());
              }
              afterForward.set(state(ctx));
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      assertEquals("forwarded", r.body());
      awaitEnd(seen.get());
    }
    assertEquals(
        "live", afterForward.get(), "the context after a write past the forward threw " + thrown.get());
    assertEquals(Reason.RESPONSE_COMPLETED, reason(seen.get()), String.valueOf(seen.get().cause()));
  }

  /** A forward, which closes the response's writer when it returns, is not a disconnect either. */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void aForwardIsNotADisconnect(Containers c) throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> afterForward = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() == DispatcherType.FORWARD) {
                res.getWriter().print("forwarded");
                return;
              }
              Context ctx = CurrentContext.get();
              seen.set(ctx);
              req.getRequestDispatcher("/forwarded").forward(req, res);
              afterForward.set(state(ctx));
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      assertEquals("forwarded", r.body());
      assertEquals("9", r.headers().firstValue("content-length").orElse("none"));
      awaitEnd(seen.get());
    }
    assertEquals("live", afterForward.get(), "the context after the forward returned");
    assertEquals(Reason.RESPONSE_COMPLETED, reason(seen.get()), String.valueOf(seen.get().cause()));
  }

  /** The ways a handler touches its writer or stream after it answered with a redirect or an error. */
  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> answeredThenWritten() {
    return Containers.eachWith(
        "writer taken, sendRedirect, writer closed",
        "stream taken, sendRedirect, stream written",
        "writer taken, sendError, writer printed and flushed",
        "stream taken, sendError, stream written");
  }

  /**
   * A handler that answers with {@code sendRedirect} or {@code sendError} and then closes, writes
   * or flushes the writer or stream it took (a try-with-resources block around the redirect, a
   * framework that writes on): the client gets its whole 302 or 404, and the context stays live
   * until the handler returns ({@code sendError} does not end the context, the README says). The
   * specification lets nothing be written after either call; Tomcat ignores such writes, but Jetty
   * closes its output at {@code sendRedirect} and refuses writes after {@code sendError}, and the
   * filter's watched writer and stream took that refusal for a lost client.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @org.junit.jupiter.params.provider.MethodSource("answeredThenWritten")
  void writingAfterARedirectOrAnErrorAnswerIsNotADisconnect(Containers c, String how)
      throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> after = new AtomicReference<>();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    boolean redirect = how.contains("sendRedirect");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = CurrentContext.get();
              seen.set(ctx);
              try {
                if (how.startsWith("writer")) {
                  PrintWriter w = res.getWriter();
                  try (w) {
                    if (redirect) {
                      res.sendRedirect("/elsewhere");
                    } else {
                      res.sendError(404);
                      w.print("too late");
                      w.flush();
                    }
                  }
                } else {
                  ServletOutputStream out = res.getOutputStream();
                  if (redirect) {
                    res.sendRedirect("/elsewhere");
                  } else {
                    res.sendError(404);
                  }
                  out.write('!');
                }
              } catch (IOException e) {
                thrown.set(e.toString());
              }
              after.set(state(ctx));
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      assertEquals(redirect ? 302 : 404, r.statusCode(), how);
      awaitEnd(seen.get());
    }
    assertEquals(
        "live", after.get(), how + ": the context after the answer, the write threw " + thrown.get());
    assertEquals(Reason.RESPONSE_COMPLETED, reason(seen.get()), String.valueOf(seen.get().cause()));
  }

  /** The ways a handler writes more than the Content-Length it set. */
  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> pastTheLength() {
    return Containers.eachWith(
        "stream, one write past the length",
        "stream, one write past the length, then a flush",
        "stream, the length written, then one byte more",
        "stream, the length written and flushed, then one byte more",
        "stream, the length written, then flushBuffer()",
        "writer, printed past the length and flushed",
        "writer, the length printed and flushed, then one character more and flushed",
        "writer, the length and one character more printed, then closed",
        "writer, the length and one character more printed, then checkError()",
        "stream, the length and one byte more written, then a flush",
        "writer, a length of 0, then flushed",
        "writer, multi-byte, printed past the length and flushed",
        "writer, multi-byte, the length printed and flushed, then one character more and flushed",
        "writer, multi-byte, the length and one character more printed, then checkError()",
        "writer, 3- and 4-byte, the length printed and flushed, then one character more and flushed");
  }

  /**
   * A handler that writes more than the {@code Content-Length} it set, its own mistake, gets what
   * the container does about it: both close the output once the length is written (the client has
   * its whole answer) and refuse what comes after it (Jetty: "EofException: Closed"; Tomcat: "may
   * not be written to once it has been closed"; through the writer, Jetty's reports an error at
   * the next flush and Tomcat's drops it); a single write or print past the length Jetty refuses
   * with an exception of its own, and answers 500. None of that is news of the client: the request
   * context stays live until the handler returns. Before, the watched stream and writer took the
   * refusals for a lost client.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @org.junit.jupiter.params.provider.MethodSource("pastTheLength")
  void writingPastTheContentLengthIsNotADisconnect(Containers c, String how) throws Exception {
    AtomicReference<String> answer = new AtomicReference<>();
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> after = new AtomicReference<>();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    // In UTF-8: "hello" 5 bytes; "héllo" 6; "h€" and an emoji (a surrogate pair) 1 + 3 + 4
    String word =
        how.contains("multi-byte")
            ? "h\u00e9llo"
            : how.contains("4-byte") ? "h\u20ac\ud83d\ude00" : "hello";
    int length = word.getBytes(StandardCharsets.UTF_8).length;
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = CurrentContext.get();
              seen.set(ctx);
              res.setCharacterEncoding("UTF-8");
              res.setContentLength(length);
              try {
                if (how.contains("a length of 0")) {
                  res.setContentLength(0);
                  res.getWriter().flush();
                } else if (how.startsWith("writer")) {
                  PrintWriter w = res.getWriter();
                  if (how.contains("past")) {
                    w.print(word + ", world");
                    w.flush();
                  } else if (how.contains("and one character more printed")) {
                    w.print(word);
                    w.print('!');
                    if (how.endsWith("closed")) {
                      w.close();
                    } else {
                      thrown.set("checkError() " + w.checkError());
                    }
                  } else {
                    w.print(word);
                    w.flush();
                    w.print('!');
                    w.flush();
                  }
                } else {
                  ServletOutputStream out = res.getOutputStream();
                  if (how.contains("one write")) {
                    out.write("hello, world".getBytes(StandardCharsets.US_ASCII));
                    if (how.endsWith("then a flush")) {
                      out.flush();
                    }
                  } else {
                    out.write("hello".getBytes(StandardCharsets.US_ASCII));
                    if (how.contains("flushed")) {
                      out.flush();
                    }
                    if (how.endsWith("flushBuffer()")) {
                      res.flushBuffer();
                    } else {
                      out.write('!');
                    }
                    if (how.endsWith("then a flush")) {
                      out.flush();
                    }
                  }
                }
              } catch (IOException | IllegalStateException e) {
                thrown.set(e.toString());
              }
              after.set(state(ctx));
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      answer.set(
          r.statusCode() + " " + r.body().getBytes(StandardCharsets.UTF_8).length + " bytes");
      awaitEnd(seen.get());
    }
    assertEquals(
        "live",
        after.get(),
        how + ": the context after the writes, which threw " + thrown.get() + "; the client got "
            + answer.get());
    assertEquals(Reason.RESPONSE_COMPLETED, reason(seen.get()), String.valueOf(seen.get().cause()));
    boolean refusedWhole = c == Containers.JETTY && how.contains("past the length");
    assertEquals(
        refusedWhole ? "500" : "200 " + (how.contains("a length of 0") ? 0 : length) + " bytes",
        refusedWhole ? answer.get().substring(0, 3) : answer.get(),
        how + ": the client's answer");
  }

  /** An overrun written through another wrapper of the response than the body before it. */
  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> pastTheLengthLater() {
    return Containers.eachWith(
        "stream, through AsyncContext.getResponse()",
        "writer, through AsyncContext.getResponse()",
        "stream, in the ASYNC dispatch",
        "writer, in the ASYNC dispatch",
        "stream, through AsyncContext.getResponse(), an application's wrapper given",
        "writer, through AsyncContext.getResponse(), an application's wrapper given",
        "stream, in the ASYNC dispatch, an application's wrapper given",
        "writer, in the ASYNC dispatch, an application's wrapper given");
  }

  /**
   * The rule above, when the body and the write past its length go through two wrappers of the
   * response: the chain's, then the {@code AsyncContext}'s ({@code startAsync()} hands out the
   * container's own response, which the filter wraps again) or the ASYNC dispatch's. What was
   * written is counted once per request: before, each wrapper counted apart, and the second took
   * the container's refusal of its one byte for a lost client, while the client had its whole
   * answer. Also when the handler gives {@code startAsync(request, response)} a response wrapper of
   * its own over the filter's, which hands out the filter's watched stream and writer (3 rows
   * failed on the first version of the fix, found by a review).
   */
  @ParameterizedTest(name = "{0}: {1}")
  @org.junit.jupiter.params.provider.MethodSource("pastTheLengthLater")
  void writingPastTheContentLengthThroughAnotherWrapperIsNotADisconnect(Containers c, String how)
      throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> after = new AtomicReference<>();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    boolean writer = how.startsWith("writer");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() == DispatcherType.ASYNC) {
                overrun(res, writer, thrown);
                after.set(state(CurrentContext.get()));
                return;
              }
              Context ctx = CurrentContext.get();
              seen.set(ctx);
              res.setContentLength(5);
              if (writer) {
                res.getWriter().print("hello");
                res.getWriter().flush();
              } else {
                res.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
              }
              AsyncContext async =
                  how.endsWith("wrapper given")
                      ? req.startAsync(req, new jakarta.servlet.http.HttpServletResponseWrapper(res))
                      : req.startAsync();
              if (how.contains("dispatch")) {
                async.dispatch();
                return;
              }
              async.start(
                  () -> {
                    try {
                      overrun(async.getResponse(), writer, thrown);
                    } catch (IOException e) {
                      thrown.set("getting the output: " + e);
                    }
                    after.set(state(ctx));
                    async.complete();
                  });
            });
    assertTheOverrunLeftTheContextLive(
        c,
        servlet,
        seen,
        after,
        answer ->
            how + ": the context after the write past the length, which threw " + thrown.get()
                + "; the client got " + answer);
  }

  /**
   * Sends one GET of /x to {@code servlet}, whose handler declares a length of 5, writes "hello"
   * and then past it, recording its context in {@code seen} and the context's state after the
   * overrun in {@code after}; asserts that the context was live then, ended as a completed
   * response, and that the client got "200 hello".
   *
   * @param what the failure message, given the client's answer
   */
  private static void assertTheOverrunLeftTheContextLive(
      Containers c, TestServlet servlet, AtomicReference<Context> seen,
      AtomicReference<String> after, java.util.function.UnaryOperator<String> what)
      throws Exception {
    String answer;
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      answer = Http.answer(r);
      awaitEnd(seen.get());
    }
    assertEquals("live", after.get(), what.apply(answer));
    assertEquals(Reason.RESPONSE_COMPLETED, reason(seen.get()), String.valueOf(seen.get().cause()));
    assertEquals("200 hello", answer, what.apply(answer) + ": the client's answer");
  }

  /** Writes one byte or character more, and flushes, recording what the container threw. */
  private static void overrun(ServletResponse res, boolean writer, AtomicReference<String> thrown)
      throws IOException {
    try {
      if (writer) {
        PrintWriter w = res.getWriter();
        w.print('!');
        w.flush();
        thrown.set("checkError() " + w.checkError());
      } else {
        ServletOutputStream out = res.getOutputStream();
        out.write('!');
        out.flush();
      }
    } catch (IOException | IllegalStateException e) {
      thrown.set(e.toString());
    }
  }

  /**
   * The guard of the rule above: a client that leaves before the length the handler declared was
   * written is a lost client, through the stream (seen at the write that fails) and through the
   * writer (seen at a flush).
   */
  @ParameterizedTest(name = "{0}: {1}")
  @org.junit.jupiter.params.provider.MethodSource("streamOrWriter")
  void aClientThatLeavesBeforeTheDeclaredLengthIsLost(Containers c, String through)
      throws Exception {
    Probe probe = new Probe();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              probe.enter(CurrentContext.get(), true);
              probe.awaitGo();
              res.setContentLengthLong(100L << 20);
              byte[] chunk = new byte[8192];
              for (int i = 0; i < 12_800 && !CurrentContext.get().isDone(); i++) {
                if (through.equals("stream")) {
                  try {
                    res.getOutputStream().write(chunk);
                    res.getOutputStream().flush();
                  } catch (IOException expected) {
                    return;
                  }
                } else {
                  res.getWriter().print("x".repeat(chunk.length));
                  res.getWriter().flush();
                }
              }
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      try (Socket socket = new Socket("127.0.0.1", server.port)) {
        socket
            .getOutputStream()
            .write("GET /x HTTP/1.1\r\nHost: h\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        assertTrue(probe.entered.await(10, TimeUnit.SECONDS));
      }
      probe.go.countDown();
      assertTrue(probe.ended.await(20, TimeUnit.SECONDS));
      assertEquals(Reason.CLIENT_DISCONNECTED, probe.reason(), String.valueOf(probe.cause));
    }
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> streamOrWriter() {
    return Containers.eachWith("stream", "writer");
  }

  /** The last calls of a handler whose client is gone, with a declared length written whole. */
  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> wholeLengthWritten() {
    return java.util.stream.Stream.concat(
        Containers.eachWith(
            "writer: the whole length printed, then flush",
            "writer: the whole length printed, then close",
            "writer: the whole length printed, then checkError",
            "stream: the whole length written, then flush",
            "stream: a body reset away, the whole length written, then flush",
            "writer: a length of 0, then flush",
            "writer: a multi-byte whole length printed, then flush"),
        // Tomcat's close of an undeclared body fails for nobody: a limit of its own.
        java.util.stream.Stream.of(
            org.junit.jupiter.params.provider.Arguments.of(
                Containers.JETTY, "stream: no length declared, then close"),
            // Jetty refuses a write across the length before the socket sees it (an
            // IllegalStateException of its own); Tomcat writes up to the length, and fails.
            org.junit.jupiter.params.provider.Arguments.of(
                Containers.TOMCAT, "stream: one write across the whole length")));
  }

  /**
   * A client that is gone before the handler writes a body whose whole declared length it then
   * writes, and flushes or closes: lost, though what the stream or writer counted reaches the
   * length. The writer's characters are counted when handed over, also after the container's
   * writes failed; Tomcat keeps a body's last bytes until the flush; a body reset away does not
   * count; a container fills in the length of an undeclared body at its close. (Found by a review
   * of the fix for writes past the length, whose first version took each of these for the
   * container's refusal of what came after the body.) The handler writes only once the server's
   * kernel has the client's reset.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @org.junit.jupiter.params.provider.MethodSource("wholeLengthWritten")
  void aClientGoneBeforeTheWholeDeclaredLengthIsWrittenIsLost(Containers c, String how)
      throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              probe.enter(CurrentContext.get(), true);
              probe.awaitGo();
              try {
                if (how.contains("a length of 0")) {
                  res.setContentLength(0);
                  res.getWriter().flush();
                } else if (how.contains("across")) {
                  res.setContentLengthLong(8L << 20);
                  res.getOutputStream().write(new byte[(8 << 20) + 1]);
                } else if (how.startsWith("writer")) {
                  long declared = 8L << 20; // more than any socket buffer: printing it fails
                  res.setContentLengthLong(declared);
                  res.setCharacterEncoding("UTF-8");
                  PrintWriter w = res.getWriter();
                  // 8 KiB either way: 8,192 ASCII characters, or 4,096 of two bytes each
                  String chunk = how.contains("multi-byte") ? "\u00e9".repeat(4096) : "x".repeat(8192);
                  for (long n = 0; n < declared; n += 8192) {
                    w.print(chunk);
                  }
                  if (how.endsWith("flush")) {
                    w.flush();
                  } else if (how.endsWith("close")) {
                    w.close();
                  } else {
                    thrown.set("checkError() " + w.checkError());
                  }
                } else {
                  ServletOutputStream out = res.getOutputStream();
                  byte[] ten = "helloworld".getBytes(StandardCharsets.US_ASCII);
                  if (how.contains("reset away")) {
                    out.write(ten);
                    res.resetBuffer();
                  }
                  if (how.contains("no length")) {
                    out.write(ten);
                    out.close();
                  } else {
                    res.setContentLength(ten.length);
                    out.write(ten);
                    out.flush();
                  }
                }
              } catch (IOException e) {
                thrown.set(e.toString());
              }
            });
    assertLostAfterItsReset(c, servlet, probe, () -> how + ": the last call threw " + thrown.get());
  }

  /**
   * A handler that wrote part of a body, left in the buffer, then forwards (the forward discards
   * it) to a target that declares a length and writes exactly that, for a client gone by then: a
   * lost client. Jetty 12.1's forward clears its buffer without going through the filter's
   * response, whose count then still held the discarded part and took the target's failed write or
   * flush for the container refusing bytes past the length (found by a review).
   */
  @ParameterizedTest(name = "{0}: {1}")
  @org.junit.jupiter.params.provider.MethodSource("streamOrWriter")
  void aForwardDiscardsWhatWasWrittenBeforeIt(Containers c, String through) throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              try {
                if (req.getDispatcherType() == DispatcherType.FORWARD) {
                  res.setContentLength(10);
                  if (through.equals("stream")) {
                    res.getOutputStream().write("helloworld".getBytes(StandardCharsets.US_ASCII));
                    res.getOutputStream().flush();
                  } else {
                    res.getWriter().print("helloworld");
                    res.getWriter().flush();
                  }
                  return;
                }
                probe.enter(CurrentContext.get(), true);
                probe.awaitGo();
                if (through.equals("stream")) {
                  byte[] partial = "partial output: ".getBytes(StandardCharsets.US_ASCII);
                  res.getOutputStream().write(partial);
                } else {
                  res.getWriter().print("partial output: ");
                }
                req.getRequestDispatcher("/target").forward(req, res);
              } catch (IOException e) {
                thrown.set(e.toString());
              }
            });
    assertLostAfterItsReset(
        c, servlet, probe, () -> through + ": the last call threw " + thrown.get());
  }

  /**
   * Sends a GET to {@code servlet} behind the filter, resets the connection once the handler has
   * entered {@code probe}, lets the handler go once the server's kernel has the reset, and asserts
   * that the request's context ends as a lost client.
   */
  private static void assertLostAfterItsReset(
      Containers c, TestServlet servlet, Probe probe, java.util.function.Supplier<String> what)
      throws Exception {
    assertLostAfterItsReset(c, ContextServletFilter.create(), servlet, probe, what);
  }

  /** As above, with {@code chainStart} (the filter, or a filter in front of it) as the filter. */
  static void assertLostAfterItsReset(
      Containers c,
      Filter chainStart,
      TestServlet servlet,
      Probe probe,
      java.util.function.Supplier<String> what)
      throws Exception {
    assertEndsAfterItsReset(
        c, chainStart, servlet, probe, what, java.util.EnumSet.of(Reason.CLIENT_DISCONNECTED));
  }

  /**
   * As above, asserting only that the context ends with one of {@code reasons}: for a loss that
   * only the container may report, and does not always.
   */
  static void assertEndsAfterItsReset(
      Containers c,
      Filter chainStart,
      TestServlet servlet,
      Probe probe,
      java.util.function.Supplier<String> what,
      java.util.Set<Reason> reasons)
      throws Exception {
    try (Containers.Running server = c.start(chainStart, servlet)) {
      int clientPort;
      try (Socket socket = new Socket("127.0.0.1", server.port)) {
        socket.setSoLinger(true, 0); // the close resets the connection
        clientPort = socket.getLocalPort();
        socket
            .getOutputStream()
            .write("GET /x HTTP/1.1\r\nHost: h\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        assertTrue(probe.entered.await(10, TimeUnit.SECONDS));
      }
      awaitConnectionGone(server.port, clientPort);
      probe.go.countDown();
      assertTrue(probe.ended.await(20, TimeUnit.SECONDS));
      assertTrue(
          reasons.contains(probe.reason()),
          what.get() + ": expected one of " + reasons + " but was " + probe.reason() + "; "
              + probe.cause);
    }
  }

  /**
   * Waits (bounded) until the kernel lists no TCP connection from {@code clientPort} to {@code
   * serverPort} any more: a connection reset by its peer leaves the table at once, so the server's
   * next write on it fails. Linux's {@code /proc/net/tcp} and {@code tcp6}.
   */
  static void awaitConnectionGone(int serverPort, int clientPort) throws Exception {
    assertTrue(
        java.nio.file.Files.exists(java.nio.file.Path.of("/proc/net/tcp")),
        "no /proc/net/tcp: the wait for the reset needs Linux");
    String local = String.format(":%04X ", serverPort);
    String remote = String.format(":%04X ", clientPort);
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      boolean listed = false;
      for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
        java.nio.file.Path path = java.nio.file.Path.of(table);
        if (!java.nio.file.Files.exists(path)) {
          continue;
        }
        for (String line : java.nio.file.Files.readAllLines(path)) {
          String[] f = line.trim().split("\\s+");
          if (f.length > 2 && (f[1] + " ").endsWith(local) && (f[2] + " ").endsWith(remote)) {
            listed = true;
          }
        }
      }
      if (!listed) {
        return;
      }
      assertTrue(System.nanoTime() < end, "the server's kernel still lists the connection");
      java.util.concurrent.locks.LockSupport.parkNanos(1_000_000L);
    }
  }

  /**
   * A filter in front that runs the chain again when it throws (a retry), with a wrapper of its own
   * around the request or with the container's request itself: each run gets a live context of its
   * own, which ends when that run returns. The first run put its context, ended as a handler
   * failure, in the container's request for an error page; through the wrapper the second run
   * found it there and ran with it, so that all of its work would fail at once.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @org.junit.jupiter.params.provider.MethodSource("retriedThrough")
  void aFilterInFrontThatRunsTheChainAgainGetsALiveContextForEachRun(Containers c, String through)
      throws Exception {
    ContextServletFilter ctx4j = ContextServletFilter.create();
    List<Context> runs = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<String> states = new java.util.concurrent.CopyOnWriteArrayList<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = CurrentContext.get();
              runs.add(ctx);
              states.add(state(ctx));
              if (runs.size() == 1) {
                throw new IllegalStateException("the first run fails");
              }
              res.getWriter().print("ok");
            });
    jakarta.servlet.Filter retry =
        new jakarta.servlet.Filter() {
          @Override
          public void init(jakarta.servlet.FilterConfig config)
              throws jakarta.servlet.ServletException {
            ctx4j.init(config);
          }

          @Override
          public void doFilter(
              jakarta.servlet.ServletRequest req,
              jakarta.servlet.ServletResponse res,
              jakarta.servlet.FilterChain chain)
              throws IOException, jakarta.servlet.ServletException {
            jakarta.servlet.ServletRequest r =
                through.equals("a wrapper")
                    ? new jakarta.servlet.http.HttpServletRequestWrapper(
                        (jakarta.servlet.http.HttpServletRequest) req)
                    : req;
            try {
              ctx4j.doFilter(r, res, chain);
            } catch (IllegalStateException | jakarta.servlet.ServletException firstRunFailed) {
              ctx4j.doFilter(r, res, chain);
            }
          }
        };
    try (Containers.Running server = c.start(retry, servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      assertEquals("200 ok", Http.answer(r), through);
      assertEquals(2, runs.size(), through);
      awaitEnd(runs.get(1));
    }
    assertEquals(List.of("live", "live"), states, through + ": each run's context as it began");
    assertNotSame(runs.get(0), runs.get(1), through);
    assertEquals(Reason.HANDLER_FAILED, reason(runs.get(0)), through);
    assertEquals(Reason.RESPONSE_COMPLETED, reason(runs.get(1)), through);
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> retriedThrough() {
    return Containers.eachWith("a wrapper", "the container's request");
  }

  /**
   * On an ASYNC dispatch the attribute is read-only through the chain's request as on the first
   * one; removed from the container's own request, it is put back there by the next ASYNC dispatch,
   * which runs with the request's context, not a new one with the whole budget again. The second
   * cycle starts with {@code startAsync()} or with {@code startAsync(req, res)} of the chain's
   * request (as Spring MVC does), whose ASYNC dispatch carries that request.
   */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.MethodSource("containersAndStartAsyncForms")
  void anAsyncDispatchKeepsTheRequestsContextWhateverIsDoneToTheAttribute(
      Containers c, boolean withRequest) throws Exception {
    AtomicReference<Context> first = new AtomicReference<>();
    AtomicReference<Object> putBackOnFirstAsync = new AtomicReference<>();
    AtomicReference<Object> afterSetOnAsyncDispatch = new AtomicReference<>();
    AtomicReference<Context> secondAsyncDispatch = new AtomicReference<>();
    AtomicReference<Object> putBackOnSecond = new AtomicReference<>();
    AtomicReference<Integer> layersOnSecond = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              ServletRequest container = containerOf(req);
              if (req.getDispatcherType() == DispatcherType.REQUEST) {
                first.set(CurrentContext.get());
                startAsyncWithoutTheAttribute(req).dispatch();
              } else if (req.getAttribute("second") == null) {
                putBackOnFirstAsync.set(container.getAttribute(ContextServletFilter.ATTRIBUTE));
                req.setAttribute(ContextServletFilter.ATTRIBUTE, Context.background());
                afterSetOnAsyncDispatch.set(ContextServletFilter.contextOf(req));
                req.setAttribute("second", Boolean.TRUE);
                AsyncContext async = withRequest ? req.startAsync(req, res) : req.startAsync();
                container.removeAttribute(ContextServletFilter.ATTRIBUTE);
                async.dispatch();
              } else {
                secondAsyncDispatch.set(CurrentContext.get());
                putBackOnSecond.set(container.getAttribute(ContextServletFilter.ATTRIBUTE));
                int layers = 0;
                for (ServletRequest r = req;
                    r instanceof ServletRequestWrapper;
                    r = ((ServletRequestWrapper) r).getRequest()) {
                  if (r instanceof io.ctx4j.servlet.internal.ScopedRequest) {
                    layers++;
                  }
                }
                layersOnSecond.set(layers);
                res.getWriter().print("second");
              }
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x", "Ctx4j-Timeout-Ms", "60000");
      assertEquals("second", r.body());
      awaitEnd(first.get());
    }
    assertNotNull(first.get());
    assertSame(first.get(), putBackOnFirstAsync.get(), "the container's attribute, first ASYNC");
    assertSame(first.get(), afterSetOnAsyncDispatch.get(), "contextOf after setAttribute");
    assertSame(first.get(), secondAsyncDispatch.get(), "CurrentContext on the next ASYNC dispatch");
    assertSame(first.get(), putBackOnSecond.get(), "the container's attribute, next ASYNC");
    // One read-only wrapper of the filter's, not one more per cycle: Tomcat dispatches the request
    // given to startAsync(req, res), the filter's own wrapper, which the filter reuses; Jetty wraps
    // it in a Dispatcher.AsyncRequest of its own, under which the filter's first wrapper stays and
    // on which the filter puts another, since it cannot tell a container's wrapper from an
    // application's that may keep attributes of its own.
    int expected = withRequest && c == Containers.JETTY ? 2 : 1;
    assertEquals(expected, layersOnSecond.get(), "the filter's wrappers around the request");
    assertEquals(Reason.RESPONSE_COMPLETED, reason(first.get()), String.valueOf(first.get().cause()));
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments>
      containersAndStartAsyncForms() {
    return java.util.Arrays.stream(Containers.values())
        .flatMap(
            c ->
                java.util.stream.Stream.of(false, true)
                    .map(w -> org.junit.jupiter.params.provider.Arguments.of(c, w)));
  }

  /** Two filters in one chain, as the container would run them. */
  private static Filter chainOf(Filter outer, Filter inner) {
    return new Filter() {
      @Override
      public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
          throws IOException, ServletException {
        outer.doFilter(request, response, (rq, rs) -> inner.doFilter(rq, rs, chain));
      }
    };
  }

  /**
   * A second {@code ContextServletFilter} instance behind the first one uses the first one's
   * context as it is (its own maximum does not apply), and says so, once, in a warning.
   */
  @Test
  void aSecondFilterInstanceUsesTheFirstOnesContextAndWarnsOnce() throws Exception {
    ContextServletFilter outer = ContextServletFilter.create();
    ContextServletFilter inner =
        ContextServletFilter.builder().maxTimeout(Duration.ofMillis(200)).build();
    List<Context> seen = new CopyOnWriteArrayList<>();
    List<LogRecord> warnings;
    try (FilterLog log = new FilterLog();
        Containers.Running server =
        Containers.JETTY.start(
            chainOf(outer, inner),
            new TestServlet(
                (req, res) -> {
                  seen.add(CurrentContext.get());
                  res.getWriter().print(CurrentContext.get().deadline().isPresent());
                }))) {
      assertEquals("false", Http.get(server.port, "/x").body());
      assertEquals("false", Http.get(server.port, "/x").body());
      warnings = log.records;
    }
    assertEquals(2, seen.size());
    assertEquals(1, warnings.size(), "one warning for two requests: " + warnings);
    String message =
        java.text.MessageFormat.format(warnings.get(0).getMessage(), warnings.get(0).getParameters());
    assertTrue(message.contains("did not give it"), message);
    assertTrue(message.contains("maxTimeout=200ms"), message);
  }

  /**
   * What the filter logs (System.Logger, which is java.util.logging here) while it is open. Holds
   * the JUL logger, so that it stays the one the filter's System.Logger writes to.
   */
  private static final class FilterLog extends Handler implements AutoCloseable {
    final List<LogRecord> records = new CopyOnWriteArrayList<>();
    private final Logger logger = Logger.getLogger(ContextServletFilter.class.getName());

    FilterLog() {
      logger.addHandler(this);
    }

    @Override
    public void publish(LogRecord r) {
      records.add(r);
    }

    @Override
    public void flush() {}

    @Override
    public void close() {
      logger.removeHandler(this);
    }
  }

  /**
   * When the container refuses to take the context back on an ASYNC dispatch (here a request
   * attribute listener of Jetty's context that throws, after Jetty stored the attribute; Tomcat
   * logs and swallows what its listeners throw), the dispatch still runs with the request's
   * context, and the refusal is logged once, with its exception.
   */
  @Test
  void aPutBackTheContainerRefusesIsLoggedAndTheDispatchGoesOn() throws Exception {
    java.util.concurrent.atomic.AtomicBoolean refuse = new java.util.concurrent.atomic.AtomicBoolean();
    IllegalStateException refusal = new IllegalStateException("refused by a listener");
    AtomicReference<Context> first = new AtomicReference<>();
    AtomicReference<Context> onAsync = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() == DispatcherType.REQUEST) {
                first.set(CurrentContext.get());
                AsyncContext async = startAsyncWithoutTheAttribute(req);
                refuse.set(true);
                async.dispatch();
              } else {
                onAsync.set(CurrentContext.get());
                res.getWriter().print("async");
              }
            });
    List<LogRecord> records;
    try (FilterLog log = new FilterLog();
        Containers.Running server = Containers.JETTY.start(ContextServletFilter.create(), servlet)) {
      org.eclipse.jetty.ee11.servlet.ServletContextHandler handler =
          (org.eclipse.jetty.ee11.servlet.ServletContextHandler)
              ((org.eclipse.jetty.server.Server) server.server).getHandler();
      handler.addEventListener(
          new jakarta.servlet.ServletRequestAttributeListener() {
            @Override
            public void attributeAdded(jakarta.servlet.ServletRequestAttributeEvent e) {
              if (refuse.get() && ContextServletFilter.ATTRIBUTE.equals(e.getName())) {
                throw refusal;
              }
            }
          });
      HttpResponse<String> r = Http.get(server.port, "/x");
      assertEquals(200, r.statusCode(), r.body());
      assertEquals("async", r.body());
      awaitEnd(first.get());
      records = log.records;
    }
    assertSame(first.get(), onAsync.get(), "CurrentContext on the ASYNC dispatch");
    assertEquals(1, records.size(), String.valueOf(records));
    assertSame(refusal, records.get(0).getThrown());
    assertTrue(records.get(0).getMessage().contains("refused"), records.get(0).getMessage());
  }

  /** A throwable that is neither an Exception nor an Error, as other JVM languages can throw. */
  static final class Odd extends Throwable {
    private static final long serialVersionUID = 1L;

    Odd() {
      super("odd", null, false, false);
    }
  }

  @SuppressWarnings("unchecked")
  private static <T extends Throwable> void sneak(Throwable t) throws T {
    throw (T) t;
  }

  /** Records what comes out of the filter behind it, and passes it on. */
  private static final class Recorder implements Filter {
    final ContextServletFilter filter;
    final AtomicReference<Throwable> out = new AtomicReference<>();

    Recorder(ContextServletFilter filter) {
      this.filter = filter;
    }

    @Override
    public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
        throws IOException, ServletException {
      try {
        filter.doFilter(request, response, chain);
      } catch (Throwable t) {
        out.set(t);
        sneak(t);
      }
    }
  }

  /**
   * On Jetty, which passes what the servlet throws through the chain unchanged (Tomcat wraps it in
   * a {@code ServletException} first): an odd throwable ends the context as a handler failure, and
   * leaves the filter unchanged, as a sneaky checked exception does.
   */
  @Test
  void oddThrowablesAreHandlerFailuresAndPassThroughUnchanged() throws Exception {
    for (Throwable thrown : new Throwable[] {new Odd(), new TimeoutException("sneaky")}) {
      AtomicReference<Context> seen = new AtomicReference<>();
      Recorder recorder = new Recorder(ContextServletFilter.create());
      HttpServlet servlet =
          new HttpServlet() {
            private static final long serialVersionUID = 1L;

            @Override
            protected void service(HttpServletRequest req, HttpServletResponse res) {
              seen.set(CurrentContext.get());
              HostileUseTest.<RuntimeException>sneak(thrown);
            }
          };
      try (Containers.Running server = Containers.JETTY.start(recorder, servlet)) {
        assertEquals(500, Http.get(server.port, "/x").statusCode());
        awaitEnd(seen.get());
      }
      assertSame(thrown, recorder.out.get(), "what left the filter");
      assertEquals(Reason.HANDLER_FAILED, reason(seen.get()), String.valueOf(seen.get().cause()));
      assertSame(thrown, seen.get().cause().getCause());
    }
  }

  /** Where a wrapper in front of the filter fails when the filter asks it whether async goes on. */
  private enum Refusal {
    IS_ASYNC_STARTED,
    /** An IllegalStateException, which the filter must not take for the container's. */
    IS_ASYNC_STARTED_ILLEGAL_STATE,
    GET_ASYNC_CONTEXT,
    ADD_LISTENER
  }

  /**
   * {@code req}, wrapped so that the filter's questions about async after the chain fail with
   * {@code x}, the way {@code how} says.
   */
  private static HttpServletRequest refusing(
      HttpServletRequest req, Refusal how, RuntimeException x) {
    return new HttpServletRequestWrapper(req) {
      @Override
      public boolean isAsyncStarted() {
        if (how == Refusal.IS_ASYNC_STARTED || how == Refusal.IS_ASYNC_STARTED_ILLEGAL_STATE) {
          throw x;
        }
        return true;
      }

      @Override
      public AsyncContext getAsyncContext() {
        if (how == Refusal.GET_ASYNC_CONTEXT) {
          throw x;
        }
        return (AsyncContext)
            Proxy.newProxyInstance(
                AsyncContext.class.getClassLoader(),
                new Class<?>[] {AsyncContext.class},
                (proxy, method, args) -> {
                  throw x;
                });
      }
    };
  }

  /**
   * A wrapper in front of the filter that throws when the filter asks, after the chain, whether
   * async goes on (or refuses its listener): the request ends at once, as a failed request, and
   * what the wrapper threw goes on to the container; if the handler threw too, the request ends
   * as a handler failure, and the wrapper's throwable is suppressed by the handler's. Nothing stays
   * registered on the root but the shared deadlines. Before, the request's context was never
   * ended: a child of the root until shutdown, or a share of a deadline until that passed.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void aWrapperInFrontThatCannotSayWhetherAsyncGoesOnEndsTheRequest(Containers c)
      throws Exception {
    for (Duration max : new Duration[] {null, Duration.ofMinutes(10)}) {
      ContextServletFilter filter =
          max == null
              ? ContextServletFilter.create()
              : ContextServletFilter.builder().maxTimeout(max).build();
      Recorder recorder = new Recorder(filter);
      AtomicReference<Refusal> how = new AtomicReference<>();
      AtomicReference<RuntimeException> refusal = new AtomicReference<>();
      AtomicReference<RuntimeException> handlerFailure = new AtomicReference<>();
      Filter front =
          (rq, rs, chain) ->
              recorder.doFilter(
                  refusing((HttpServletRequest) rq, how.get(), refusal.get()), rs, chain);
      AtomicReference<Context> seen = new AtomicReference<>();
      TestServlet servlet =
          new TestServlet(
              (req, res) -> {
                seen.set(CurrentContext.get());
                if (handlerFailure.get() != null) {
                  throw handlerFailure.get();
                }
              });
      try (Containers.Running server = c.start(front, servlet)) {
        for (boolean handlerFails : new boolean[] {false, true}) {
          for (Refusal r : Refusal.values()) {
            String what = r + (handlerFails ? " after a handler failure" : "") + ", max " + max;
            how.set(r);
            refusal.set(
                r == Refusal.IS_ASYNC_STARTED_ILLEGAL_STATE
                    ? new IllegalStateException("refused: " + r)
                    : new UnsupportedOperationException("refused: " + r));
            handlerFailure.set(handlerFails ? new IllegalArgumentException("handler") : null);
            seen.set(null);
            recorder.out.set(null);
            Http.get(server.port, "/x");
            Context ctx = seen.get();
            assertNotNull(ctx, what + ": the handler ran");
            assertEquals(max != null, ctx.deadline().isPresent(), what);
            awaitEnd(ctx);
            if (handlerFails) {
              assertEquals(Reason.HANDLER_FAILED, reason(ctx), what + ": " + ctx.cause());
              assertSame(handlerFailure.get(), ctx.cause().getCause(), what);
              assertSame(handlerFailure.get(), recorder.out.get(), what + ": what left the filter");
              assertEquals(
                  List.of(refusal.get()),
                  List.of(recorder.out.get().getSuppressed()),
                  what + ": suppressed");
            } else {
              assertEquals(Reason.REQUEST_FAILED, reason(ctx), what + ": " + ctx.cause());
              assertSame(refusal.get(), ctx.cause().getCause(), what);
              assertSame(refusal.get(), recorder.out.get(), what + ": what left the filter");
            }
          }
        }
        assertEquals(
            filter.sharedDeadlinesKept(),
            CoreInternals.registrationCount(filter.root()),
            "request contexts left registered on the server root, max " + max);
      }
    }
  }

  /** An exception whose message cannot be read: its {@code getMessage} throws. */
  static final class Unprintable extends RuntimeException {
    private static final long serialVersionUID = 1L;

    @Override
    public String getMessage() {
      throw new IllegalStateException("no message");
    }
  }

  /**
   * A handler that throws an exception whose {@code toString} throws: the request still ends, as
   * a handler failure with that exception as its cause and a message that can be read. Before,
   * describing the failure threw, and the request's context was never ended.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void aHandlerFailureThatCannotBeDescribedStillEndsTheRequest(Containers c) throws Exception {
    Recorder recorder = new Recorder(ContextServletFilter.create());
    AtomicReference<Context> seen = new AtomicReference<>();
    Unprintable thrown = new Unprintable();
    try (Containers.Running server =
        c.start(
            recorder,
            new TestServlet(
                (req, res) -> {
                  seen.set(CurrentContext.get());
                  throw thrown;
                }))) {
      try {
        Http.get(server.port, "/x");
      } catch (IOException containerGaveUp) {
        // The container may fail to describe it too, and close the connection: not the filter's
        // concern here.
      }
      Context ctx = seen.get();
      assertNotNull(ctx, "the handler ran");
      awaitEnd(ctx);
      assertEquals(Reason.HANDLER_FAILED, reason(ctx), "the reason");
      assertSame(thrown, ctx.cause().getCause());
      assertTrue(ctx.cause().getMessage().contains(Unprintable.class.getName()),
          ctx.cause().getMessage());
      assertSame(thrown, recorder.out.get(), "what left the filter");
    }
  }

  /**
   * A handler that starts async and then throws an {@code IOException} of its own (a backend that
   * refused the connection), on the first dispatch or on an ASYNC dispatch: the client is there
   * and gets the container's 500, and the context ends as a handler failure with that exception,
   * as without async. Before, the filter left the cycle to decide, and the container's {@code
   * onError} handed it the same exception, which it took for a lost client: {@code client
   * disconnected}, the reason an application may log as noise.
   */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.MethodSource("containersAndStartAsyncForms")
  void aHandlerThatThrowsAfterStartAsyncFailedItDidNotLoseItsClient(Containers c, boolean onAsyncDispatch)
      throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    java.net.ConnectException thrown = new java.net.ConnectException("the backend refused the connection");
    HttpServlet servlet =
        new HttpServlet() {
          private static final long serialVersionUID = 1L;

          @Override
          protected void service(HttpServletRequest req, HttpServletResponse res) throws IOException {
            if (req.getDispatcherType() == DispatcherType.REQUEST) {
              seen.set(CurrentContext.get());
              AsyncContext async = req.startAsync();
              if (onAsyncDispatch) {
                async.dispatch();
                return;
              }
            } else {
              req.startAsync();
            }
            throw thrown;
          }
        };
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      assertEquals(500, r.statusCode(), "the client was there for the answer");
      assertEndsAsAHandlerFailure(seen.get(), thrown);
    }
  }

  /**
   * A {@code WriteListener} that writes past the {@code Content-Length} its response declared: the
   * client has its whole answer, and the context stays live until the cycle completes, as for a
   * blocking write past the length. Jetty 12.1 refuses the extra byte from the write itself
   * ("EofException: Closed"), which the stream's rule exempts; Tomcat 11 drops it; neither calls
   * {@code onError}, which therefore needs no rule of its own.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void aWriteListenerWritingPastTheContentLengthIsNotADisconnect(Containers c) throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> after = new AtomicReference<>();
    java.util.List<String> events = new java.util.concurrent.CopyOnWriteArrayList<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = CurrentContext.get();
              seen.set(ctx);
              res.setContentLength(5);
              AsyncContext async = req.startAsync();
              ServletOutputStream out = res.getOutputStream();
              out.setWriteListener(
                  new jakarta.servlet.WriteListener() {
                    private int step;

                    @Override
                    public void onWritePossible() throws IOException {
                      while (out.isReady()) {
                        if (step == 0) {
                          out.write("hello".getBytes(StandardCharsets.US_ASCII));
                        } else if (step == 1) {
                          try {
                            out.write('!');
                            events.add("the extra byte taken");
                          } catch (IOException | IllegalStateException e) {
                            events.add("the write threw " + e);
                          }
                        } else {
                          after.set(state(ctx));
                          async.complete();
                          return;
                        }
                        step++;
                      }
                    }

                    @Override
                    public void onError(Throwable t) {
                      events.add("onError " + t);
                      after.set(state(ctx));
                      async.complete();
                    }
                  });
            });
    assertTheOverrunLeftTheContextLive(
        c,
        servlet,
        seen,
        after,
        answer -> "the context after " + events + "; the client got " + answer);
  }

  /**
   * An application's {@code WriteListener} whose {@code onWritePossible} throws an {@code
   * IOException} of its own (the file it streams could not be read): the client is there (Jetty
   * answers it, Tomcat closes the connection itself), and the context ends as a handler failure
   * with that exception. Before, the filter's wrapper of the listener heard of it only through
   * {@code onError}, and took it for a lost client: {@code client disconnected}.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void aWriteListenerThatThrowsFailedItDidNotLoseItsClient(Containers c) throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    IOException thrown = new IOException("the file to stream could not be read");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              seen.set(CurrentContext.get());
              AsyncContext async = req.startAsync();
              res.getOutputStream()
                  .setWriteListener(
                      new jakarta.servlet.WriteListener() {
                        @Override
                        public void onWritePossible() throws IOException {
                          throw thrown;
                        }

                        @Override
                        public void onError(Throwable t) {
                          async.complete();
                        }
                      });
            });
    assertAListenerFailureEndsAsAHandlerFailure(c, servlet, null, seen, thrown);
  }

  /**
   * A null {@code WriteListener} or {@code ReadListener} set through the filter's response or
   * request meets what it meets on the container's own stream: Tomcat 11 refuses it at once (a
   * {@code NullPointerException}), and so does Jetty 12.1 for a {@code ReadListener}. Before, the
   * filter's response wrapped a null {@code WriteListener}, Tomcat took the wrapper, and the
   * application learnt of its mistake only when the container called it back.
   */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.MethodSource("containersAndStartAsyncForms")
  void aNullListenerIsRefusedAsTheContainerRefusesIt(Containers c, boolean read)
      throws Exception {
    java.util.Map<String, Object> outcome = new java.util.concurrent.ConcurrentHashMap<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              AsyncContext async = req.startAsync();
              // One request sets it on the container's own stream, one through the filter's
              // (a second listener on one stream is refused anyway).
              String via = req.getParameter("via");
              boolean own = via.equals("container");
              Object result = "not refused";
              try {
                if (read) {
                  (own ? containerOf(req) : req).getInputStream().setReadListener(null);
                } else {
                  (own ? ((jakarta.servlet.ServletResponseWrapper) res).getResponse() : res)
                      .getOutputStream()
                      .setWriteListener(null);
                }
              } catch (RuntimeException e) {
                result = e.getClass();
              }
              outcome.put(via, result);
              async.complete();
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      Http.get(server.port, "/x?via=container");
      Http.get(server.port, "/x?via=filter");
    }
    assertNotNull(outcome.get("container"), "the handler ran");
    assertEquals(outcome.get("container"), outcome.get("filter"), "the refusal through the filter");
  }

  /**
   * An application's {@code ReadListener} whose {@code onDataAvailable} or {@code onAllDataRead}
   * throws an {@code IOException} of its own (the upload could not be stored): the client is
   * there, and the context ends as a handler failure with that exception. Before, the filter did
   * not see the listener: Tomcat handed the same throwable to {@code AsyncListener.onError}, where
   * it passed for a lost client ({@code client disconnected}), and on Jetty the listener's own
   * {@code onError} completed the cycle ({@code response completed}). The stream is taken after
   * {@code startAsync()} from the request the chain got, or from {@code
   * AsyncContext.getRequest()} after {@code startAsync(request, response)} with that request.
   */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.MethodSource("containersAndReadListenerFailures")
  void aReadListenerThatThrowsFailedItDidNotLoseItsClient(Containers c, String how)
      throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    IOException thrown = new IOException("the upload could not be stored");
    boolean onAllDataRead = how.equals("onAllDataRead");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              seen.set(CurrentContext.get());
              AsyncContext async;
              jakarta.servlet.ServletInputStream in;
              if (how.equals("AsyncContext.getRequest()")) {
                async = req.startAsync(req, res);
                in = async.getRequest().getInputStream();
              } else {
                async = req.startAsync();
                in = req.getInputStream();
              }
              in.setReadListener(
                  new jakarta.servlet.ReadListener() {
                    @Override
                    public void onDataAvailable() throws IOException {
                      while (in.isReady() && in.read() >= 0) {
                        // drain
                      }
                      if (!onAllDataRead) {
                        throw thrown;
                      }
                    }

                    @Override
                    public void onAllDataRead() throws IOException {
                      throw thrown;
                    }

                    @Override
                    public void onError(Throwable t) {
                      async.complete();
                    }
                  });
            });
    assertAListenerFailureEndsAsAHandlerFailure(c, servlet, "body", seen, thrown);
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments>
      containersAndReadListenerFailures() {
    return Containers.eachWith("onDataAvailable", "onAllDataRead", "AsyncContext.getRequest()");
  }

  /**
   * A read of the request body that fails ends the request context inside the read, before the
   * handler sees the exception, with the exception as cause: a client that went away (a raw socket
   * announces a body of 1,000,000 bytes, sends 100 and closes, or resets with {@code SO_LINGER} 0)
   * as {@code client disconnected}, the container's own read timeout (a 1 s idle timeout set on the
   * connector, the socket left open) as {@code request failed}. Through the stream and the reader
   * of a synchronous request, and through the stream an async request's {@code ReadListener} reads
   * in {@code onDataAvailable} (where a failed read that escapes the listener is the client's, not a
   * failure of the handler). Before, reads were the container's: a synchronous request's context
   * ended only when the handler returned ({@code response completed}), and Tomcat's failed read in
   * {@code onDataAvailable} passed for a handler failure.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @org.junit.jupiter.params.provider.MethodSource("containersAndFailedReads")
  void aFailedReadOfTheBodyEndsTheContext(Containers c, String how) throws Exception {
    Probe probe = new Probe();
    AtomicReference<IOException> failed = new AtomicReference<>();
    AtomicReference<Boolean> doneWhenThrown = new AtomicReference<>();
    boolean timeout = how.endsWith("read timeout");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (TestServlet.answeredWarm(req, res)) {
                return;
              }
              Context ctx = probe.enterCurrent(req);
              if (how.startsWith("ReadListener")) {
                AsyncContext async = req.startAsync();
                async.setTimeout(0);
                jakarta.servlet.ServletInputStream in = req.getInputStream();
                in.setReadListener(
                    new jakarta.servlet.ReadListener() {
                      @Override
                      public void onDataAvailable() throws IOException {
                        byte[] buffer = new byte[1024];
                        try {
                          while (in.isReady() && in.read(buffer) >= 0) {
                            // drain what came
                          }
                        } catch (IOException e) {
                          failed.set(e);
                          doneWhenThrown.set(ctx.isDone());
                          probe.finished.countDown();
                          throw e;
                        }
                      }

                      @Override
                      public void onAllDataRead() {
                        async.complete();
                      }

                      @Override
                      public void onError(Throwable t) {
                        // Jetty may report the lost client here rather than fail a read in
                        // onDataAvailable (whichever of the two it sees first): the context must
                        // have ended by then just the same.
                        if (t instanceof IOException) {
                          failed.compareAndSet(null, (IOException) t);
                        }
                        doneWhenThrown.compareAndSet(null, ctx.isDone());
                        probe.finished.countDown();
                        async.complete();
                      }
                    });
                return;
              }
              try {
                if (how.startsWith("Reader")) {
                  java.io.BufferedReader reader = req.getReader();
                  char[] buffer = new char[1024];
                  while (reader.read(buffer) >= 0) {
                    // the body never ends
                  }
                } else {
                  req.getInputStream().readAllBytes();
                }
              } catch (IOException e) {
                failed.set(e);
                doneWhenThrown.set(ctx.isDone());
              }
              probe.finished.countDown();
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      sendHalfABodyAndLeave(
          server,
          how,
          "POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n" + "a".repeat(100),
          probe);
    }
    assertTrue(probe.ended.await(10, TimeUnit.SECONDS), "the request context never ended");
    assertEquals(
        timeout ? Reason.REQUEST_FAILED : Reason.CLIENT_DISCONNECTED,
        probe.reason(),
        String.valueOf(probe.cause));
    assertEquals(Boolean.TRUE, doneWhenThrown.get(), "ended inside the read");
    Throwable reported = probe.cause.getCause();
    if (reported != failed.get()) {
      // Jetty's failure listener may report a reset or a close first, with an exception of its own.
      assertEquals(Containers.JETTY, c, "the read's exception is the cause: " + reported);
      assertTrue(reported instanceof IOException, String.valueOf(reported));
    }
  }

  /**
   * Sends {@code request}, the head of a POST and part of its body, on a socket of its own, after
   * a first request that loads the classes of the request path (so that a cold JVM dispatches it
   * well within the idle timeout). Once the handler has entered, closes the socket, resets it
   * ({@code how} ends with "reset") or leaves it open past a 1 s idle timeout ("read timeout");
   * then waits until the handler is done with the body ({@code probe.finished}).
   */
  private static void sendHalfABodyAndLeave(
      Containers.Running server, String how, String request, Probe probe) throws Exception {
    assertEquals("warm", Http.get(server.port, "/warm").body());
    boolean timeout = how.endsWith("read timeout");
    if (timeout) {
      Containers.idleTimeout(server, 1000);
    }
    try (Socket socket = new Socket("127.0.0.1", server.port)) {
      java.io.OutputStream o = socket.getOutputStream();
      o.write(request.getBytes(StandardCharsets.US_ASCII));
      o.flush();
      assertTrue(probe.entered.await(20, TimeUnit.SECONDS), "the handler was called");
      if (how.endsWith("reset")) {
        socket.setSoLinger(true, 0);
        socket.close();
      } else if (!timeout) {
        socket.close();
      }
      assertTrue(probe.finished.await(20, TimeUnit.SECONDS), "the handler was done with the body");
    }
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments>
      containersAndFailedReads() {
    return Containers.eachWith(
        "InputStream, client closes",
        "InputStream, client resets",
        "Reader, client closes",
        "InputStream, read timeout",
        "Reader, read timeout",
        "ReadListener, client closes");
  }

  /**
   * A body the container reads itself, for {@code getParameter} of a form POST or {@code getParts}
   * of a multipart one, from a client that sends half of it and then closes, or stalls past the
   * container's read timeout: the call that fails ends the context with the container's exception
   * as the cause ({@code CLIENT_DISCONNECTED}, or {@code REQUEST_FAILED} for the timeout) before
   * the handler sees it, and the handler sees it unchanged.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @org.junit.jupiter.params.provider.MethodSource("containersAndBodiesTheContainerReads")
  void aFailedReadOfABodyTheContainerReadsEndsTheContext(Containers c, String how)
      throws Exception {
    Probe probe = new Probe();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    AtomicReference<String> returned = new AtomicReference<>();
    AtomicReference<Boolean> doneWhenThrown = new AtomicReference<>();
    boolean timeout = how.endsWith("read timeout");
    boolean multipart = how.startsWith("getPart");
    TestServlet.Handler handler =
        (req, res) -> {
          if (TestServlet.answeredWarm(req, res)) {
            return;
          }
          Context ctx = probe.enterCurrent(req);
          try {
            Object result;
            if (how.startsWith("getParameterMap")) {
              result = req.getParameterMap().keySet();
            } else if (how.startsWith("getParameterNames")) {
              result = java.util.Collections.list(req.getParameterNames());
            } else if (how.startsWith("getParameterValues")) {
              result = java.util.Arrays.toString(req.getParameterValues("a"));
            } else if (how.startsWith("getParameter")) {
              result = req.getParameter("a");
            } else if (how.startsWith("getParts")) {
              result = req.getParts().size() + " parts";
            } else {
              result = req.getPart("f");
            }
            returned.set(String.valueOf(result));
          } catch (Throwable t) {
            thrown.set(t);
          } finally {
            doneWhenThrown.set(ctx.isDone());
            probe.finished.countDown();
          }
        };
    HttpServlet servlet = multipart ? new MultipartServlet(handler) : new TestServlet(handler);
    String boundary = "ctx4jBoundary";
    String head =
        multipart
            ? "Content-Type: multipart/form-data; boundary=" + boundary + "\r\n"
            : "Content-Type: application/x-www-form-urlencoded\r\n";
    String half =
        multipart
            ? "--" + boundary + "\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n"
                + "x".repeat(100)
            : "a=1&b=" + "x".repeat(100);
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      sendHalfABodyAndLeave(
          server,
          how,
          "POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\n" + head + "Content-Length: 2000\r\n\r\n" + half,
          probe);
    }
    String what = how + ": thrown " + thrown.get() + ", returned " + returned.get()
        + ", context " + (probe.ctx.isDone() ? probe.ctx.cause() : "live");
    assertNotNull(thrown.get(), what);
    assertEquals(Boolean.TRUE, doneWhenThrown.get(), "ended inside the call: " + what);
    assertTrue(probe.ended.await(10, TimeUnit.SECONDS), "the request context never ended");
    assertEquals(
        timeout ? Reason.REQUEST_FAILED : Reason.CLIENT_DISCONNECTED,
        probe.reason(),
        String.valueOf(probe.cause));
    Throwable reported = probe.cause.getCause();
    if (reported != thrown.get()) {
      // Jetty's failure listener may report the close, the reset or the idle timeout first, with
      // an exception of its own.
      assertEquals(Containers.JETTY, c, "the call's exception is the cause: " + what);
      assertTrue(
          reported instanceof IOException || reported instanceof TimeoutException, what);
    }
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments>
      containersAndBodiesTheContainerReads() {
    return Containers.eachWith(
        "getParameter, client closes",
        "getParameterMap, client closes",
        "getParameterNames, client resets",
        "getParameterValues, read timeout",
        "getParts, client closes",
        "getPart, client resets",
        "getParts, read timeout");
  }

  /**
   * A malformed body the container reads itself, sent whole by a client that stays (a form with a
   * bad escape, a multipart body without its closing boundary): whatever the container makes of
   * it (Jetty 12.1 and Tomcat 11 throw, some of it as an {@code IOException}), the client is not
   * lost and the context stays live until the handler returns.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @org.junit.jupiter.params.provider.MethodSource("containersAndMalformedBodies")
  void aMalformedBodyTheContainerReadsIsNoLostClient(Containers c, String how) throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> outcome = new AtomicReference<>();
    AtomicReference<Boolean> doneAfter = new AtomicReference<>();
    boolean multipart = how.equals("multipart");
    TestServlet.Handler handler =
        (req, res) -> {
          Context ctx = probe.enterCurrent(req);
          try {
            outcome.set(
                "returned "
                    + (multipart ? req.getParts().size() + " parts" : req.getParameter("a")));
          } catch (Throwable t) {
            outcome.set("threw " + t);
          } finally {
            doneAfter.set(ctx.isDone());
          }
          res.setStatus(200);
        };
    HttpServlet servlet = multipart ? new MultipartServlet(handler) : new TestServlet(handler);
    String boundary = "ctx4jBoundary";
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpRequest.Builder b =
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port + "/x"));
      if (multipart) {
        b.header("Content-Type", "multipart/form-data; boundary=" + boundary)
            .POST(
                HttpRequest.BodyPublishers.ofString(
                    "--" + boundary + "\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n"
                        + "x".repeat(100)));
      } else {
        b.header("Content-Type", "application/x-www-form-urlencoded")
            .POST(HttpRequest.BodyPublishers.ofString("a=%zz&b=%"));
      }
      try {
        Http.HTTP1.send(b.build(), BodyHandlers.ofString());
      } catch (IOException closedByTheServer) {
        // A container may close the connection after a body it could not parse.
      }
      assertTrue(probe.ended.await(10, TimeUnit.SECONDS), "the request context never ended");
    }
    assertEquals(
        Boolean.FALSE, doneAfter.get(), "live after the call, which " + outcome.get() + ": " + probe.cause);
    assertEquals(Reason.RESPONSE_COMPLETED, probe.reason(), String.valueOf(probe.cause));
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments>
      containersAndMalformedBodies() {
    return Containers.eachWith("form", "multipart");
  }

  /** A servlet with a multipart configuration, running whatever handler the test gives it. */
  @jakarta.servlet.annotation.MultipartConfig
  static final class MultipartServlet extends TestServlet {
    private static final long serialVersionUID = 1L;

    MultipartServlet(TestServlet.Handler handler) {
      super(handler);
    }
  }


  /**
   * The context attribute is read-only on an error page too (the filter mapped for ERROR), as the
   * README promises for every dispatch the filter runs: setting or removing it through the
   * request the error page got changes nothing, and {@code contextOf} still answers the request's
   * context. Before, the ERROR dispatch passed the container's request down as it came (the
   * first dispatch's read-only request is not under it), so the error page replaced the
   * attribute there, or removed it and {@code contextOf} threw.
   */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.MethodSource(
      "io.ctx4j.servlet.FilterBehaviourTest#attributeChangeCases")
  void theContextAttributeIsReadOnlyOnAnErrorPage(Containers c, boolean remove) throws Exception {
    AtomicReference<Context> inHandler = new AtomicReference<>();
    AtomicReference<Object> onErrorPage = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() == DispatcherType.ERROR) {
                if (remove) {
                  req.removeAttribute(ContextServletFilter.ATTRIBUTE);
                } else {
                  req.setAttribute(ContextServletFilter.ATTRIBUTE, Context.background());
                }
                try {
                  onErrorPage.set(ContextServletFilter.contextOf(req));
                } catch (IllegalStateException e) {
                  onErrorPage.set(e);
                }
                res.getWriter().print("error page");
                return;
              }
              inHandler.set(CurrentContext.get());
              res.sendError(Containers.ERROR_STATUS);
            });
    java.util.EnumSet<DispatcherType> types =
        java.util.EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC, DispatcherType.ERROR);
    try (Containers.Running server =
        c.start(ContextServletFilter.create(), servlet, java.util.Map.of(), types)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      assertEquals("error page", r.body());
    }
    assertNotNull(inHandler.get(), "the handler ran");
    assertSame(inHandler.get(), onErrorPage.get(), "contextOf on the error page after the change");
  }

  /**
   * A malformed timeout header does not replace an error page already decided. Here a filter in
   * front of ours answers 503 itself (a throttle, say) before ours runs, and the container forwards
   * to the
   * error page: the ERROR dispatch reaches the filter with the request's malformed header and no
   * context. Before, the filter read the header again and answered 400 in place of the error page;
   * now the error page runs, with a context of its own (no deadline from the malformed header),
   * and the caller gets its 503. The same header on a REQUEST dispatch is still refused.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void aMalformedHeaderDoesNotReplaceTheErrorPage(Containers c) throws Exception {
    ContextServletFilter filter = ContextServletFilter.create();
    Filter throttle =
        (rq, rs, chain) -> {
          if (rq.getDispatcherType() == DispatcherType.REQUEST
              && ((HttpServletRequest) rq).getHeader("X-Throttle") != null) {
            ((HttpServletResponse) rs).sendError(Containers.ERROR_STATUS);
            return;
          }
          filter.doFilter(rq, rs, chain);
        };
    AtomicReference<Context> onErrorPage = new AtomicReference<>();
    AtomicReference<Boolean> handled = new AtomicReference<>(false);
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() == DispatcherType.ERROR) {
                onErrorPage.set(CurrentContext.get());
                res.getWriter().print("error page");
                return;
              }
              handled.set(true);
              res.getWriter().print("handled");
            });
    java.util.EnumSet<DispatcherType> types =
        java.util.EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC, DispatcherType.ERROR);
    try (Containers.Running server = c.start(throttle, servlet, java.util.Map.of(), types)) {
      for (String[] h : MALFORMED_HEADERS) {
        onErrorPage.set(null);
        HttpResponse<String> r = Http.get(server.port, "/x", h[0], h[1], "X-Throttle", "on");
        assertEquals(
            Containers.ERROR_STATUS + " error page",
            r.statusCode() + " " + r.body().strip(),
            h[0] + ": " + h[1] + " on the ERROR dispatch");
        Context ctx = onErrorPage.get();
        assertNotNull(ctx, "the error page ran with a context");
        assertTrue(ctx.deadline().isEmpty(), "a deadline from a malformed header: " + ctx.deadline());
        awaitEnd(ctx);
        assertEquals(Reason.RESPONSE_COMPLETED, reason(ctx), String.valueOf(ctx.cause()));
        HttpResponse<String> refused = Http.get(server.port, "/x", h[0], h[1]);
        assertEquals(400, refused.statusCode(), h[0] + ": " + h[1] + " on the REQUEST dispatch");
        assertTrue(refused.body().startsWith(h[0]), refused.body());
      }
      assertEquals(false, handled.get(), "the handler ran for a malformed header");
    }
  }

  /**
   * A forward from a servlet (or filter) the filter does not cover decides nothing yet: the
   * forwarded-to handler writes the answer. A malformed header there is refused with 400, as on
   * the REQUEST dispatch, rather than letting the request run without the deadline its caller
   * asked for. Only an ERROR or INCLUDE dispatch, or a response already committed, ignores it.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void aMalformedHeaderIsRefusedOnAForwardThatStillDecidesTheAnswer(Containers c)
      throws Exception {
    ContextServletFilter filter = ContextServletFilter.create();
    Filter front =
        (rq, rs, chain) -> {
          if (rq.getDispatcherType() == DispatcherType.REQUEST) {
            // Stands for a front servlet the filter is not mapped for: it forwards at once.
            rq.getRequestDispatcher("/forwarded").forward(rq, rs);
            return;
          }
          filter.doFilter(rq, rs, chain);
        };
    AtomicReference<Boolean> handled = new AtomicReference<>(false);
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              handled.set(true);
              res.getWriter().print("handled");
            });
    java.util.EnumSet<DispatcherType> types =
        java.util.EnumSet.of(DispatcherType.REQUEST, DispatcherType.FORWARD, DispatcherType.ERROR);
    try (Containers.Running server = c.start(front, servlet, java.util.Map.of(), types)) {
      for (String[] h : MALFORMED_HEADERS) {
        HttpResponse<String> r = Http.get(server.port, "/x", h[0], h[1]);
        assertEquals(
            400, r.statusCode(), h[0] + ": " + h[1] + " on the FORWARD dispatch: " + r.body().strip());
        assertTrue(r.body().startsWith(h[0]), r.body());
      }
      assertEquals(false, handled.get(), "the handler ran for a malformed header");
      HttpResponse<String> ok = Http.get(server.port, "/x", "Ctx4j-Timeout-Ms", "5000");
      assertEquals("200 handled", ok.statusCode() + " " + ok.body().strip(), "a well-formed header");
    }
  }

  /**
   * A write that fails on an ASYNC dispatch (the client closed its connection while the request
   * waited) ends the request's context at once, as a client disconnect, as it does on the first
   * dispatch: the work the handler goes on with after catching the failure sees its context done.
   * The ASYNC dispatch of {@code startAsync()} carries the container's own response, which the
   * filter did not watch: the context stayed live until the dispatch returned, and then ended as
   * if the response had completed.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void aFailedWriteOnAnAsyncDispatchEndsTheContext(Containers c) throws Exception {
    LostClient lost = new LostClient();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() == DispatcherType.REQUEST) {
                lost.seen.set(CurrentContext.get());
                AsyncContext async = req.startAsync();
                async.setTimeout(0);
                async.start(
                    () -> {
                      try {
                        if (lost.awaitClosed()) {
                          async.dispatch();
                        }
                      } catch (IllegalStateException containerNoticed) {
                        lost.noWrite();
                      }
                    });
                return;
              }
              lost.writeUntilItFails(res.getOutputStream(), CurrentContext.get());
            });
    lost.run(c, servlet, "the ASYNC dispatch");
  }

  /**
   * A write that fails in an application thread, through {@code AsyncContext.getResponse()} after
   * {@code startAsync()} (the container's own response, as the Servlet API hands it out), ends the
   * request's context at once, as a client disconnect. Jetty reports nothing, and the context
   * stayed live until {@code complete()}, then ended as if the response had completed; Tomcat
   * reports it through {@code AsyncListener.onError}, from a container thread a moment after the
   * write failed. The same through {@code request.getAsyncContext()}.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void aFailedWriteThroughTheAsyncContextsResponseEndsTheContext(Containers c) throws Exception {
    for (boolean lookedUp : new boolean[] {false, true}) {
      LostClient lost = new LostClient();
      TestServlet servlet =
          new TestServlet(
              (req, res) -> {
                lost.step.set("in the handler");
                Context ctx = CurrentContext.get();
                lost.seen.set(ctx);
                AsyncContext started = req.startAsync();
                AsyncContext async = lookedUp ? req.getAsyncContext() : started;
                async.setTimeout(0);
                lost.step.set("async started");
                async.start(
                    () -> {
                      lost.step.set("the async task runs");
                      try {
                        if (lost.awaitClosed()) {
                          lost.writeUntilItFails(async.getResponse().getOutputStream(), ctx);
                        }
                        async.complete();
                      } catch (IOException | RuntimeException containerNoticed) {
                        // The container ended the cycle first: getOutputStream() or complete()
                        // refused (IllegalStateException), or Tomcat 11's flush on the recycled
                        // response threw its own NullPointerException (asyncCtxt null).
                        lost.noWrite();
                      }
                    });
              });
      lost.run(
          c, servlet, lookedUp ? "request.getAsyncContext()" : "the AsyncContext of startAsync()");
    }
  }

  /**
   * A write that times out (a client that stops reading while the handler writes a large answer,
   * and a 1 s idle timeout, Jetty's, or {@code connectionTimeout}, Tomcat's, which times out its
   * blocking writes too) ends the context inside the write, as {@code REQUEST_FAILED} with the
   * write's exception as the cause (the container may report the timeout first, with an exception
   * of its own: Jetty's failure listener a {@code TimeoutException}, Tomcat's {@code
   * AsyncListener.onError} in async mode a {@code SocketTimeoutException}), not as a lost client: the client is still
   * connected. Through the filter's response in the dispatch, and through {@code
   * AsyncContext.getResponse()} in an application thread.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @org.junit.jupiter.params.provider.MethodSource("containersAndWriters")
  void aWriteThatTimesOutEndsTheContextAsARequestFailure(Containers c, String how)
      throws Exception {
    Probe probe = new Probe();
    AtomicReference<IOException> failed = new AtomicReference<>();
    AtomicReference<Boolean> doneWhenThrown = new AtomicReference<>();
    java.util.concurrent.atomic.AtomicLong lastWriteNanos = new java.util.concurrent.atomic.AtomicLong();
    java.util.function.BiConsumer<jakarta.servlet.ServletOutputStream, Context> writeUntilItFails =
        (out, ctx) -> {
          byte[] chunk = new byte[8192];
          try {
            // At most 1 GiB: the client's buffers and the server's take a few MiB.
            for (int i = 0; i < 131_072; i++) {
              out.write(chunk);
              out.flush();
              lastWriteNanos.set(System.nanoTime());
            }
          } catch (IOException e) {
            failed.set(e);
            doneWhenThrown.set(ctx.isDone());
          } finally {
            probe.finished.countDown();
          }
        };
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (TestServlet.answeredWarm(req, res)) {
                return;
              }
              Context ctx = probe.enterCurrent(req);
              if (how.equals("dispatch")) {
                writeUntilItFails.accept(res.getOutputStream(), ctx);
                return;
              }
              AsyncContext async = req.startAsync();
              async.setTimeout(0);
              async.start(
                  () -> {
                    try {
                      writeUntilItFails.accept(async.getResponse().getOutputStream(), ctx);
                    } catch (IOException e) {
                      throw new java.io.UncheckedIOException(e);
                    } finally {
                      try {
                        async.complete();
                      } catch (IllegalStateException endedByTheContainer) {
                        // Tomcat ended the cycle itself with the timeout (AsyncListener.onError).
                      }
                    }
                  });
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      // A first request loads the classes of the request path, so that a cold JVM is well within
      // the idle timeout until the writes block.
      assertEquals("warm", Http.get(server.port, "/warm").body());
      Containers.idleTimeout(server, 1000);
      try (Socket socket = new Socket()) {
        // A small window: the client's part of what is written without being read.
        socket.setReceiveBufferSize(4096);
        socket.connect(new java.net.InetSocketAddress("127.0.0.1", server.port));
        socket.getOutputStream()
            .write("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        // Never reads.
        assertTrue(probe.finished.await(60, TimeUnit.SECONDS), "the writes stopped");
      }
    }
    assertNotNull(failed.get(), "a write failed");
    assertTrue(probe.ended.await(10, TimeUnit.SECONDS), "the request context never ended");
    assertEquals(Reason.REQUEST_FAILED, probe.reason(), String.valueOf(probe.cause));
    assertEquals(Boolean.TRUE, doneWhenThrown.get(), "ended inside the write: " + failed.get());
    Throwable reported = probe.cause.getCause();
    if (reported != failed.get()) {
      // The container's own report of the timeout came first: Jetty's failure listener, or
      // Tomcat's AsyncListener.onError in async mode (a SocketTimeoutException).
      assertTrue(
          reported instanceof TimeoutException
              || reported instanceof java.net.SocketTimeoutException,
          "the write's exception (" + failed.get() + ") or the container's timeout is the cause: "
              + reported);
    }
    long afterLastWrite = Probe.millisBetween(lastWriteNanos.get(), probe.endedNanos);
    // The idle timeout counts from the last bytes the container could write, no earlier than the
    // last write that returned; generous above for a slow machine.
    assertTrue(
        afterLastWrite >= 500 && afterLastWrite < 15_000,
        "ended " + afterLastWrite + " ms after the last write returned: " + probe.cause);
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments>
      containersAndWriters() {
    return Containers.eachWith("dispatch", "AsyncContext.getResponse()");
  }

  /**
   * A request whose client goes away (an HTTP/1.1 socket closed) while it waits in async, and then
   * a write that fails: what the write saw, and the latches that order it. The container may
   * notice the close itself when it comes before the dispatch that started async has returned (it
   * then ends the request, and there is no write to fail): such a round is tried again.
   */
  private static final class LostClient {
    volatile CountDownLatch entered;
    volatile CountDownLatch closed;
    volatile CountDownLatch finished;
    final AtomicReference<Context> seen = new AtomicReference<>();
    final AtomicReference<IOException> failure = new AtomicReference<>();
    final AtomicReference<String> afterFailure = new AtomicReference<>();
    final AtomicReference<String> step = new AtomicReference<>("not reached");

    /** In async: says the request is waiting, and waits until the client has gone. */
    boolean awaitClosed() {
      entered.countDown();
      try {
        return closed.await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }

    /** Writes and flushes 8 KiB at a time until a write fails; records the context right after. */
    void writeUntilItFails(jakarta.servlet.ServletOutputStream out, Context ctx) {
      try {
        byte[] chunk = new byte[8192];
        for (int i = 0; i < 10_000; i++) {
          out.write(chunk);
          out.flush();
        }
      } catch (IOException e) {
        failure.set(e);
        afterFailure.set(state(ctx));
      } finally {
        finished.countDown();
      }
    }

    /** The container ended the request before anything was written. */
    void noWrite() {
      finished.countDown();
    }

    /**
     * Sends the request, closes the socket once it waits, waits for the write and the end, and
     * asserts that the failed write ended the context; up to five rounds, while the container
     * notices the close first.
     */
    void run(Containers c, HttpServlet servlet, String what) throws Exception {
      // A server per round: a round the container noticed first may leave its connection's
      // processor broken (Tomcat 11 answered the next request 500 before the handler, once in
      // about twenty runs, after its own NullPointerException in that round's flush).
      for (int round = 1; ; round++) {
        try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
          entered = new CountDownLatch(1);
          closed = new CountDownLatch(1);
          finished = new CountDownLatch(1);
          seen.set(null);
          step.set("not reached");
          failure.set(null);
          afterFailure.set(null);
          try (Socket socket = new Socket("127.0.0.1", server.port)) {
            socket.getOutputStream()
                .write("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            if (!entered.await(10, TimeUnit.SECONDS)) {
              socket.setSoTimeout(1000);
              String reply;
              try {
                reply = new String(socket.getInputStream().readNBytes(300), StandardCharsets.ISO_8859_1);
              } catch (IOException e) {
                reply = e.toString();
              }
              fail(what + ", round " + round + ": the request did not start async (handler: "
                  + step.get() + "; the server's reply: " + reply + ")");
            }
          }
          closed.countDown();
          assertTrue(finished.await(30, TimeUnit.SECONDS), "the writes finished");
          awaitEnd(seen.get());
        }
        if (failure.get() != null || round == 5) {
          break;
        }
      }
      assertNotNull(failure.get(), what + ": a write failed (the container noticed first five times)");
      assertTrue(
          String.valueOf(afterFailure.get())
              .startsWith("done: " + RequestCanceledException.class.getName() + ": client disconnected"),
          what + ": the context after the write failed (" + failure.get() + "): " + afterFailure.get());
      assertEquals(Reason.CLIENT_DISCONNECTED, reason(seen.get()), what + ": " + seen.get().cause());
    }
  }

  /**
   * The application's own {@code AsyncListener}, added in the dispatch that started async, hears
   * of the async timeout after the request's context has ended with it: an {@code onTimeout} that
   * answers 503 or gives up work finds {@code ctx.err()} set and the cause {@code ASYNC_TIMEOUT}.
   * Before, the filter added its listener only when the dispatch returned, after the
   * application's, so the application's {@code onTimeout} ran under a live context.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void theApplicationsAsyncListenerHearsOfTheTimeoutAfterTheContextEnded(Containers c)
      throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> inOnTimeout = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = CurrentContext.get();
              seen.set(ctx);
              AsyncContext async = req.startAsync();
              async.addListener(
                  new TimeoutListener() {
                    @Override
                    public void onTimeout(jakarta.servlet.AsyncEvent e) throws IOException {
                      inOnTimeout.set(state(ctx));
                      HttpServletResponse r = (HttpServletResponse) e.getAsyncContext().getResponse();
                      r.setStatus(503);
                      r.getWriter().print("timed out");
                      e.getAsyncContext().complete();
                    }
                  });
              async.setTimeout(200);
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      assertEquals("503 timed out", Http.answer(r));
      awaitEnd(seen.get());
    }
    assertEquals(Reason.ASYNC_TIMEOUT, reason(seen.get()), String.valueOf(seen.get().cause()));
    assertTrue(
        inOnTimeout.get().startsWith(
            "done: " + RequestCanceledException.class.getName() + ": async timeout"),
        "the context in the application's onTimeout: " + inOnTimeout.get());
  }

  /**
   * A container stopped and started again with the same filter instance (an embedded Jetty that
   * keeps its handlers, as FilterLoadTest's does): the stop destroyed the filter and shut its root
   * down, and the start initialises it again, with a new root, so the requests after it are live.
   * Before (found by a README review), every later request was born done, {@code server shutdown:
   * filter destroyed}, with nothing logged. Work derived from the old root stays ended.
   */
  @Test
  void aFilterStartedAgainAfterItsDestroyServesLiveRequests() throws Exception {
    ContextServletFilter filter = ContextServletFilter.create();
    TestServlet servlet =
        new TestServlet((req, res) -> res.getWriter().print(state(CurrentContext.get())));
    try (Containers.Running server = Containers.JETTY.start(filter, servlet)) {
      assertEquals("live", Http.get(server.port, "/a").body(), "before the restart");
      Context before = filter.root();
      Context work = Context.withCancel(before);
      org.eclipse.jetty.server.Server jetty = (org.eclipse.jetty.server.Server) server.server;
      org.eclipse.jetty.server.ServerConnector connector =
          (org.eclipse.jetty.server.ServerConnector) jetty.getConnectors()[0];
      connector.setPort(server.port);
      jetty.stop();
      assertEquals(
          "done: " + RequestCanceledException.class.getName() + ": server shutdown: filter destroyed",
          state(work),
          "work derived from the root before the stop");
      jetty.start();
      assertEquals(
          "live", Http.get(connector.getLocalPort(), "/b").body(), "a request after the restart");
      assertNotSame(before, filter.root(), "the root after the restart");
      assertEquals("live", state(filter.root()), "the root after the restart");
      assertTrue(before.isDone(), "the root before the restart stays shut down");
    }
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> bodyStartedInFront() {
    return Containers.eachWith(
        "took the writer", "printed to the writer", "wrote to the stream");
  }

  /**
   * The 400 answer to a malformed header is sent whichever way a filter in front has started the
   * response body, uncommitted: after it took the writer, the output stream is refused by the
   * container, and the filter threw that {@code IllegalStateException} (a 500, no line naming the
   * header) where the README promises a 400 and no exception. What it wrote is discarded: the
   * answer is the one line. Before (found by a README review), the line came after it ("pre|grpc-
   * timeout ..."); through the stream the length declared for the line cut it short on Tomcat,
   * and Jetty refused it ("too much content written"), which escaped the filter as a 500.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @org.junit.jupiter.params.provider.MethodSource("bodyStartedInFront")
  void aMalformedHeaderIsAnswered400AfterAFilterInFrontStartedTheBody(Containers c, String how)
      throws Exception {
    ContextServletFilter filter = ContextServletFilter.create();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Filter front =
        (rq, rs, chain) -> {
          if (how.equals("took the writer")) {
            rs.getWriter();
          } else if (how.equals("printed to the writer")) {
            rs.getWriter().print("pre|");
          } else {
            rs.getOutputStream().print("pre|");
          }
          try {
            filter.doFilter(rq, rs, chain);
          } catch (IOException | ServletException | RuntimeException e) {
            thrown.set(e);
            throw e;
          }
        };
    try (Containers.Running server =
        c.start(front, new TestServlet((req, res) -> res.getWriter().print("handled")))) {
      HttpResponse<String> r = Http.get(server.port, "/x", "grpc-timeout", "5X");
      assertEquals(null, thrown.get(), how + ": what the filter threw");
      assertEquals(400, r.statusCode(), how + ": " + r.body());
      assertEquals(
          "grpc-timeout must be 1 to 8 ASCII digits and a unit (H, M, S, m, u, n), got \"5X\"",
          r.body().strip(),
          how);
      assertEquals("nosniff", r.headers().firstValue("X-Content-Type-Options").orElse("none"));
    }
  }

  /**
   * A request wrapper in front of the filter that keeps the attributes set through it to itself
   * (reading the container's for the others), as some frameworks' wrappers do: the context still
   * reaches the container's own request, where {@code contextOf(async.getRequest())} looks after
   * {@code startAsync()}, and the ASYNC dispatch, which carries that request, runs with the
   * request's context. Before, both went to the wrapper only: {@code contextOf} failed in the
   * async thread, and the ASYNC dispatch got a new context, with the whole budget again.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void aWrapperInFrontThatKeepsAttributesToItselfDoesNotHideTheContext(Containers c)
      throws Exception {
    ContextServletFilter filter = ContextServletFilter.create();
    Filter front =
        (rq, rs, chain) -> {
          java.util.Map<String, Object> own = new java.util.concurrent.ConcurrentHashMap<>();
          HttpServletRequest shadowing =
              new HttpServletRequestWrapper((HttpServletRequest) rq) {
                @Override
                public Object getAttribute(String name) {
                  Object v = own.get(name);
                  return v != null ? v : super.getAttribute(name);
                }

                @Override
                public void setAttribute(String name, Object value) {
                  own.put(name, value);
                }

                @Override
                public void removeAttribute(String name) {
                  own.remove(name);
                }
              };
          filter.doFilter(shadowing, rs, chain);
        };
    AtomicReference<Context> first = new AtomicReference<>();
    AtomicReference<Object> inAsyncThread = new AtomicReference<>();
    AtomicReference<Context> onAsyncDispatch = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() == DispatcherType.REQUEST) {
                first.set(CurrentContext.get());
                AsyncContext async = req.startAsync();
                async.start(
                    () -> {
                      try {
                        inAsyncThread.set(ContextServletFilter.contextOf(async.getRequest()));
                      } catch (RuntimeException e) {
                        inAsyncThread.set(e);
                      }
                      async.dispatch();
                    });
                return;
              }
              onAsyncDispatch.set(CurrentContext.get());
              res.getWriter().print("async");
            });
    try (Containers.Running server = c.start(front, servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x", "Ctx4j-Timeout-Ms", "60000");
      assertEquals("200 async", Http.answer(r));
      awaitEnd(first.get());
    }
    assertSame(first.get(), inAsyncThread.get(), "contextOf(async.getRequest()) in the async thread");
    assertSame(first.get(), onAsyncDispatch.get(), "CurrentContext on the ASYNC dispatch");
    assertEquals(Reason.RESPONSE_COMPLETED, reason(first.get()), String.valueOf(first.get().cause()));
  }

  /**
   * A wrapper in front (mapped for every dispatch) that keeps what is set through it to itself,
   * and either reads the container's request for the rest or, isolating the application's
   * attributes per dispatch, only for the container's own names: the error page (after {@code
   * sendError}, or a handler's failure) and a forward run with the request's context. With the
   * isolating wrapper they got a new context, with the whole budget again: the filter looked the
   * context up through the wrapper only, while the ASYNC dispatch already looked under it.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void aWrapperInFrontThatKeepsAttributesToItselfDoesNotHideTheContextFromAnErrorPageOrAForward(
      Containers c) throws Exception {
    AtomicReference<Context> first = new AtomicReference<>();
    AtomicReference<Context> later = new AtomicReference<>();
    AtomicReference<Object> laterOf = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              String path = req.getRequestURI();
              if (path.equals(Containers.ERROR_PAGE) || path.equals("/forwarded")) {
                later.set(CurrentContext.get());
                try {
                  laterOf.set(ContextServletFilter.contextOf(req));
                } catch (RuntimeException e) {
                  laterOf.set(e);
                }
                res.getWriter().print(req.getDispatcherType());
                return;
              }
              first.set(CurrentContext.get());
              if (path.equals("/forward")) {
                req.getRequestDispatcher("/forwarded").forward(req, res);
              } else if (path.equals("/fail")) {
                throw new Containers.ToErrorPage("handler failed");
              } else {
                res.sendError(Containers.ERROR_STATUS);
              }
            });
    java.util.EnumSet<DispatcherType> types =
        java.util.EnumSet.of(
            DispatcherType.REQUEST, DispatcherType.ASYNC, DispatcherType.ERROR, DispatcherType.FORWARD);
    for (boolean readThrough : new boolean[] {true, false}) {
      ContextServletFilter filter = ContextServletFilter.create();
      Filter front =
          (rq, rs, chain) ->
              filter.doFilter(keepingAttributes((HttpServletRequest) rq, readThrough), rs, chain);
      try (Containers.Running server = c.start(front, servlet, java.util.Map.of(), types)) {
        for (String[] row :
            new String[][] {
              {"/send-error", "503 ERROR"}, {"/fail", "500 ERROR"}, {"/forward", "200 FORWARD"}
            }) {
          String what = row[0] + (readThrough ? " (reading through)" : " (isolating)");
          first.set(null);
          later.set(null);
          laterOf.set(null);
          HttpResponse<String> r = Http.get(server.port, row[0], "Ctx4j-Timeout-Ms", "60000");
          assertEquals(row[1], Http.answer(r), what);
          awaitEnd(first.get());
          assertSame(first.get(), later.get(), what + ": CurrentContext on the later dispatch");
          assertSame(first.get(), laterOf.get(), what + ": contextOf(request) on the later dispatch");
        }
      }
    }
  }

  /**
   * A wrapper that keeps the attributes set through it to itself, except the container's and the
   * specification's ({@code org.*}, {@code jakarta.*}, which the containers' dispatches need), and
   * answers the others from the container's request only if {@code readThrough}.
   */
  private static HttpServletRequest keepingAttributes(HttpServletRequest rq, boolean readThrough) {
    java.util.Map<String, Object> own = new java.util.concurrent.ConcurrentHashMap<>();
    return new HttpServletRequestWrapper(rq) {
      private boolean containers(String name) {
        return name.startsWith("org.") || name.startsWith("jakarta.");
      }

      @Override
      public Object getAttribute(String name) {
        Object v = own.get(name);
        return v != null || !(readThrough || containers(name)) ? v : super.getAttribute(name);
      }

      @Override
      public void setAttribute(String name, Object value) {
        if (containers(name)) {
          super.setAttribute(name, value);
        } else {
          own.put(name, value);
        }
      }

      @Override
      public void removeAttribute(String name) {
        if (containers(name)) {
          super.removeAttribute(name);
        } else {
          own.remove(name);
        }
      }
    };
  }

  /** Sends {@code request} on a socket and returns the whole answer (the server closes). */
  private static String raw(int port, String request) throws IOException {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      InputStream in = s.getInputStream();
      return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
    }
  }

  /**
   * A control character in a rejected value shows escaped in the one-line answer, for every header
   * (it did for {@code Ctx4j-Timeout-Ms} only); the containers read header bytes as Latin-1, so
   * NEL (0x85) reaches the filter as it is.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void controlCharactersInARejectedValueAreEscaped(Containers c) throws Exception {
    for (String header : new String[] {"grpc-timeout", "Connect-Timeout-Ms", "Ctx4j-Timeout-Ms"}) {
      try (Containers.Running server =
          c.start(ContextServletFilter.create(), new TestServlet((req, res) -> {}))) {
        String answer =
            raw(
                server.port,
                "GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
                    + header
                    + ": 5\u0085X\r\n\r\n");
        assertTrue(answer.startsWith("HTTP/1.1 400"), answer);
        String body = answer.substring(answer.indexOf("\r\n\r\n") + 4);
        assertTrue(body.contains("\"5\\u0085X\""), header + ": " + body);
        assertTrue(body.indexOf('\u0085') < 0, header + ": " + body);
      }
    }
  }

  /**
   * Empty list elements are ignored, as RFC 9110 asks and ctx4j-http's filter does; a line with
   * no value at all is still malformed.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void emptyListElementsAreIgnoredButALineNeedsAValue(Containers c) throws Exception {
    AtomicReference<Instant> deadline = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              deadline.set(CurrentContext.get().deadline().orElse(null));
              res.getWriter().print("ok");
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      for (String[] h :
          new String[][] {
            {"Ctx4j-Timeout-Ms", "60000,"}, {"Ctx4j-Timeout-Ms", ", 60000"},
            {"grpc-timeout", "1M, "}, {"Connect-Timeout-Ms", " ,60000,,"}
          }) {
        deadline.set(null);
        Instant before = Instant.now();
        HttpResponse<String> r = Http.get(server.port, "/x", h[0], h[1]);
        assertEquals(200, r.statusCode(), h[0] + ": " + h[1] + " -> " + r.body());
        assertNotNull(deadline.get(), h[0] + ": " + h[1]);
        Duration left = Duration.between(before, deadline.get());
        assertTrue(left.compareTo(Duration.ofSeconds(61)) < 0, h[0] + ": " + h[1] + " " + left);
        assertTrue(left.compareTo(Duration.ofSeconds(50)) > 0, h[0] + ": " + h[1] + " " + left);
      }
      for (String[] h : new String[][] {{"Ctx4j-Timeout-Ms", ","}, {"grpc-timeout", " , "}}) {
        HttpResponse<String> r = Http.get(server.port, "/x", h[0], h[1]);
        assertEquals(400, r.statusCode(), h[0] + ": " + h[1]);
        assertTrue(r.body().startsWith(h[0]), r.body());
      }
    }
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> resetElsewhere() {
    return Containers.eachWith(
        "stream: control, AsyncContext.getResponse() takes the stream, then resetBuffer",
        "stream: resetBuffer through AsyncContext.getResponse(), then its stream",
        "stream: reset through AsyncContext.getResponse(), then its stream",
        "writer: resetBuffer through AsyncContext.getResponse(), then its writer",
        "stream: resetBuffer in the ASYNC dispatch, then its stream",
        "writer: resetBuffer in the ASYNC dispatch, then its writer",
        "stream: forward in the ASYNC dispatch",
        "writer: forward in the ASYNC dispatch");
  }

  /**
   * The first dispatch writes a part of a body through the chain's wrapper (buffered), the client
   * resets, then another wrapper of the same response discards the body (resetBuffer, reset, a
   * forward) and writes a declared length of 10 exactly: the client is lost. README: "`reset` and
   * `resetBuffer` discard what was counted, and so does a forward through the request's
   * dispatcher"; "What was written is counted once per request, whichever of the filter's wrappers
   * of the response it went through".
   */
  @ParameterizedTest(name = "{0}: {1}")
  @org.junit.jupiter.params.provider.MethodSource("resetElsewhere")
  void aResetThroughAnotherWrapperForgetsTheSharedCount(Containers c, String how) throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    boolean writer = how.startsWith("writer");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() == DispatcherType.FORWARD) {
                writeTen(res, writer, thrown);
                return;
              }
              if (req.getDispatcherType() == DispatcherType.ASYNC) {
                if (how.contains("forward")) {
                  req.getRequestDispatcher("/target").forward(req, res);
                } else {
                  res.resetBuffer();
                  writeTen(res, writer, thrown);
                }
                return;
              }
              probe.enter(CurrentContext.get(), true);
              if (writer) {
                res.getWriter().print("partial output: ");
              } else {
                res.getOutputStream().write("partial output: ".getBytes(StandardCharsets.US_ASCII));
              }
              AsyncContext async = req.startAsync();
              async.setTimeout(0);
              async.start(
                  () -> {
                    try {
                      probe.awaitGo();
                      if (how.contains("ASYNC dispatch")) {
                        async.dispatch();
                        return;
                      }
                      ServletResponse r2 = async.getResponse();
                      if (how.contains("control")) {
                        r2.getOutputStream();
                      }
                      if (how.contains(": reset ")) {
                        r2.reset();
                      } else {
                        r2.resetBuffer();
                      }
                      writeTen(r2, writer, thrown);
                    } catch (Exception e) {
                      thrown.set(e.toString());
                    }
                    async.complete();
                  });
            });
    assertLostAfterItsReset(c, servlet, probe, () -> how + ": the last call threw " + thrown.get());
  }

  private static void writeTen(ServletResponse res, boolean writer, AtomicReference<String> thrown) {
    try {
      res.setContentLength(10);
      if (writer) {
        PrintWriter w = res.getWriter();
        w.print("helloworld");
        w.flush();
        thrown.set("checkError() " + w.checkError());
      } else {
        ServletOutputStream out = res.getOutputStream();
        out.write("helloworld".getBytes(StandardCharsets.US_ASCII));
        out.flush();
      }
    } catch (IOException | IllegalStateException e) {
      thrown.set(e.toString());
    }
  }




  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> utf8Overruns() {
    return Containers.eachWith(
        "control: setCharacterEncoding(UTF-8), print(String)",
        "surrogate pair printed as two chars (print(char) x2)",
        "surrogate pair through append(char) x2",
        "surrogate pair split by a flush",
        "surrogate pair through write(char[]) split",
        "surrogate pair through printf %c of a code point",
        "contentType application/json, no charset",
        "contentType text/plain;charset=\"UTF-8\" (quoted)",
        "contentType text/plain;charset=utf-8",
        "println then one more");
  }

  /**
   * A UTF-8 body printed to exactly its declared length and flushed, then one character more and
   * flushed: the client has its whole answer, the context must stay live. README: "it counts the
   * bytes of its characters exactly in UTF-8".
   */
  @ParameterizedTest(name = "{0}: {1}")
  @org.junit.jupiter.params.provider.MethodSource("utf8Overruns")
  void aUtf8OverrunIsNotADisconnect(Containers c, String how) throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> after = new AtomicReference<>();
    AtomicReference<String> info = new AtomicReference<>("");
    String emoji = "\ud83d\ude00"; // 4 bytes in UTF-8
    String body = how.contains("surrogate") ? "h" + emoji : "h\u00e9llo"; // 5 or 6 bytes
    String sep = System.lineSeparator();
    String expected = how.startsWith("println") ? "h\u00e9llo" + sep : body;
    int length = expected.getBytes(StandardCharsets.UTF_8).length;
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = CurrentContext.get();
              seen.set(ctx);
              if (how.contains("application/json")) {
                res.setContentType("application/json");
              } else if (how.contains("quoted")) {
                res.setContentType("text/plain;charset=\"UTF-8\"");
              } else if (how.contains("charset=utf-8")) {
                res.setContentType("text/plain;charset=utf-8");
              } else {
                res.setCharacterEncoding("UTF-8");
              }
              res.setContentLength(length);
              PrintWriter w = res.getWriter();
              info.set("getCharacterEncoding()=" + res.getCharacterEncoding());
              if (how.contains("print(char) x2")) {
                w.print('h');
                w.print(emoji.charAt(0));
                w.print(emoji.charAt(1));
              } else if (how.contains("split by a flush")) {
                w.print('h');
                w.print(emoji.charAt(0));
                w.flush();
                w.print(emoji.charAt(1));
              } else if (how.contains("append(char)")) {
                w.append('h').append(emoji.charAt(0)).append(emoji.charAt(1));
              } else if (how.contains("write(char[]) split")) {
                char[] cs = body.toCharArray();
                w.write(cs, 0, 2);
                w.write(cs, 2, 1);
              } else if (how.contains("printf")) {
                w.printf("h%c", 0x1F600);
              } else if (how.startsWith("println")) {
                w.println("h\u00e9llo");
              } else {
                w.print(body);
              }
              w.flush();
              w.print('!');
              w.flush();
              info.set(info.get() + ", checkError() " + w.checkError());
              after.set(state(ctx));
            });
    String answer;
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpResponse<byte[]> r =
          Http.HTTP1.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port + "/x")).build(),
              BodyHandlers.ofByteArray());
      answer =
          r.statusCode() + " " + r.body().length + " bytes "
              + new String(r.body(), StandardCharsets.UTF_8)
              + " ct=" + r.headers().firstValue("Content-Type").orElse("none");
      awaitEnd(seen.get());
    }
    assertEquals(
        "live",
        after.get(),
        how + ": " + info.get() + "; the client got " + answer);
    assertEquals(
        Reason.RESPONSE_COMPLETED,
        ((RequestCanceledException) seen.get().cause()).reason(),
        String.valueOf(seen.get().cause()));
  }


  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> headersInFront() {
    return Containers.eachWith(
        "Content-Length 10, took the writer",
        "Content-Length 10, printed to the writer",
        "Content-Length 10, wrote to the stream",
        "Content-Length 200, took the writer");
  }

  /**
   * README: a malformed timeout header is answered 400 with one line. A filter in front declared a
   * Content-Length for its own body (and started it, uncommitted): resetBuffer keeps that header,
   * and the writer path of reject() sets no length of its own.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @org.junit.jupiter.params.provider.MethodSource("headersInFront")
  void aMalformedHeaderIsAnswered400AfterAFilterInFrontDeclaredALength(Containers c, String how)
      throws Exception {
    ContextServletFilter filter = ContextServletFilter.create();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    int declared = how.contains("200") ? 200 : 10;
    Filter front =
        (rq, rs, chain) -> {
          rs.setContentLength(declared);
          if (how.contains("took the writer")) {
            rs.getWriter();
          } else if (how.contains("printed to the writer")) {
            rs.getWriter().print("pre|");
          } else {
            rs.getOutputStream().print("pre|");
          }
          try {
            filter.doFilter(rq, rs, chain);
          } catch (IOException | ServletException | RuntimeException e) {
            thrown.set(e);
            throw e;
          }
        };
    try (Containers.Running server =
        c.start(front, new TestServlet((req, res) -> res.getWriter().print("handled")))) {
      String outcome;
      try {
        HttpResponse<String> r = Http.get(server.port, "/x", "grpc-timeout", "5X");
        outcome = r.statusCode() + " " + r.body().strip();
      } catch (IOException e) {
        outcome = "the client's request failed: " + e;
      }
      assertEquals(null, thrown.get(), how + ": what the filter threw");
      assertEquals(
          "400 grpc-timeout must be 1 to 8 ASCII digits and a unit (H, M, S, m, u, n), got \"5X\"",
          outcome,
          how);
    }
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> lateCharset() {
    return Containers.eachWith(
        "setCharacterEncoding(UTF-8) after the front took the writer",
        "setContentType(text/plain;charset=UTF-8) after the front took the writer");
  }

  @ParameterizedTest(name = "{0}: {1}")
  @org.junit.jupiter.params.provider.MethodSource("lateCharset")
  void theCharsetTheWriterReportsIsTheOneItEncodes(Containers c, String how) throws Exception {
    AtomicReference<String> enc = new AtomicReference<>();
    Filter front =
        (rq, rs, chain) -> {
          rs.getWriter();
          ContextServletFilter.create().doFilter(rq, rs, chain);
        };
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (how.startsWith("setCharacterEncoding")) {
                res.setCharacterEncoding("UTF-8");
              } else {
                res.setContentType("text/plain;charset=UTF-8");
              }
              PrintWriter w = res.getWriter();
              enc.set(res.getCharacterEncoding());
              w.print("\u00e9\u00e9");
            });
    try (Containers.Running server = c.start(front, servlet)) {
      HttpResponse<byte[]> r =
          Http.HTTP1.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port + "/x")).build(),
              BodyHandlers.ofByteArray());
      int perChar = r.body().length / 2;
      boolean saysUtf8 = "UTF-8".equalsIgnoreCase(enc.get());
      assertEquals(
          saysUtf8 ? 2 : 1,
          perChar,
          how + ": getCharacterEncoding()=" + enc.get() + ", bytes on the wire " + r.body().length
              + ", Content-Type " + r.headers().firstValue("Content-Type").orElse("none"));
    }
  }

  /**
   * One instance in two servlet contexts, one of which is stopped (redeployed) while the other
   * keeps serving: the stop's {@code destroy()} must not shut down the root the other context's
   * requests still use (found by a review: they were born done, {@code server shutdown: filter
   * destroyed}). The root shuts down at the last {@code destroy()}.
   */
  @org.junit.jupiter.api.Test
  void anInstanceSharedByTwoContextsOutlivesTheStopOfOne() throws Exception {
    ContextServletFilter filter = ContextServletFilter.create();
    org.eclipse.jetty.server.Server jetty = new org.eclipse.jetty.server.Server();
    org.eclipse.jetty.server.ServerConnector connector = Containers.h2cConnector(jetty);
    org.eclipse.jetty.server.handler.ContextHandlerCollection contexts =
        new org.eclipse.jetty.server.handler.ContextHandlerCollection();
    org.eclipse.jetty.ee11.servlet.ServletContextHandler[] handlers =
        new org.eclipse.jetty.ee11.servlet.ServletContextHandler[2];
    String[] paths = {"/a", "/b"};
    for (int i = 0; i < 2; i++) {
      org.eclipse.jetty.ee11.servlet.ServletContextHandler h =
          new org.eclipse.jetty.ee11.servlet.ServletContextHandler(paths[i]);
      h.addServlet(
          new org.eclipse.jetty.ee11.servlet.ServletHolder(
              new TestServlet((req, res) -> res.getWriter().print(state(CurrentContext.get())))),
          "/*");
      h.addFilter(
          new org.eclipse.jetty.ee11.servlet.FilterHolder(filter),
          "/*",
          java.util.EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC));
      handlers[i] = h;
      contexts.addHandler(h);
    }
    jetty.setHandler(contexts);
    jetty.start();
    try {
      int port = connector.getLocalPort();
      assertEquals("live", Http.get(port, "/b/x").body(), "/b before /a stops");
      handlers[0].stop();
      assertEquals("live", Http.get(port, "/b/x").body(), "/b after /a stopped (still running)");
    } finally {
      jetty.stop();
    }
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> answeredElsewhere() {
    return Containers.eachWith(
        "stream, sendRedirect through AsyncContext.getResponse()",
        "writer, sendRedirect through AsyncContext.getResponse()",
        "stream, sendError through AsyncContext.getResponse()",
        "writer, sendError through AsyncContext.getResponse()");
  }

  /**
   * README: "Neither reports anything once the application answered with sendError or
   * sendRedirect, after which nothing may be written". The chain's wrapper took the stream or
   * writer; the answer goes through AsyncContext.getResponse(); the handler then writes through
   * the stream or writer it holds (the same, shared one).
   */
  @ParameterizedTest(name = "{0}: {1}")
  @org.junit.jupiter.params.provider.MethodSource("answeredElsewhere")
  void anAnswerThroughAnotherWrapperStopsTheReports(Containers c, String how) throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> after = new AtomicReference<>();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    boolean writer = how.startsWith("writer");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = CurrentContext.get();
              seen.set(ctx);
              Object output = writer ? res.getWriter() : res.getOutputStream();
              AsyncContext async = req.startAsync();
              async.start(
                  () -> {
                    try {
                      jakarta.servlet.http.HttpServletResponse r2 =
                          (jakarta.servlet.http.HttpServletResponse) async.getResponse();
                      if (how.contains("sendRedirect")) {
                        r2.sendRedirect("/elsewhere");
                      } else {
                        r2.sendError(409);
                      }
                      if (writer) {
                        PrintWriter w = (PrintWriter) output;
                        w.print("late");
                        w.flush();
                        thrown.set("checkError() " + w.checkError());
                      } else {
                        ServletOutputStream out = (ServletOutputStream) output;
                        out.write("late".getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                      }
                    } catch (IOException | IllegalStateException e) {
                      thrown.set(e.toString());
                    }
                    after.set(state(ctx));
                    async.complete();
                  });
            });
    String answer;
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      answer = r.statusCode() + " " + r.headers().firstValue("Location").orElse("");
      awaitEnd(seen.get());
    }
    assertEquals(
        "live",
        after.get(),
        how + ": the late write threw " + thrown.get() + "; the client got " + answer);
  }
}
