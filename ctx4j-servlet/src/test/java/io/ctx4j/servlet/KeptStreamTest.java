package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A stream or writer the application kept from before a wrapper in front handed out a newer one
 * (found by review of a15789c): it shares the newer one's count, its reset and the answer, so a
 * kept one neither hides a lost client behind a stale count nor reports one after a {@code
 * sendError}, and a body written through both is counted once.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class KeptStreamTest {
  private static Filter freshInFront() {
    ContextServletFilter filter = ContextServletFilter.create();
    return (rq, rs, chain) ->
        filter.doFilter(rq, new WrapperStreamsTest.FreshPerCall((HttpServletResponse) rs), chain);
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> streamOrWriter() {
    return Containers.eachWith(
        "stream", "writer", "stream, control: no second call", "writer, control: no second call");
  }

  /**
   * HIDDEN LOST CLIENT. A wrapper in front hands out a new stream per call; the application keeps
   * the first one, a second call takes over; it writes 10 bytes through the first, resets the
   * buffer (which forgets only the one in the request's state), declares 10 and writes exactly 10
   * through the first, for a client gone by then: the stale count (20) judges the failure a refusal
   * past the length. Same as HostileUseTest's "a body reset away" row, with one more
   * getOutputStream()/getWriter() call.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("streamOrWriter")
  void aKeptStreamAfterATakeOverAndAResetStillReportsALostClient(Containers c, String through)
      throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              probe.enter(CurrentContext.get(), true);
              probe.awaitGo();
              try {
                boolean second = !through.contains("control");
                if (through.startsWith("stream")) {
                  ServletOutputStream kept = res.getOutputStream();
                  if (second) res.getOutputStream(); // e.g. a library's call: takes over
                  byte[] ten = "helloworld".getBytes(StandardCharsets.US_ASCII);
                  kept.write(ten);
                  res.resetBuffer();
                  res.setContentLength(ten.length);
                  kept.write(ten);
                  kept.flush();
                } else {
                  res.setCharacterEncoding("UTF-8");
                  PrintWriter kept = res.getWriter();
                  if (second) res.getWriter(); // takes over
                  kept.print("helloworld");
                  res.resetBuffer();
                  long declared = 8L << 20; // more than any socket buffer: printing it fails
                  res.setContentLengthLong(declared);
                  String chunk = "x".repeat(8192);
                  for (long n = 0; n < declared; n += 8192) {
                    kept.print(chunk);
                  }
                  kept.flush();
                  thrown.set("checkError() " + kept.checkError());
                }
              } catch (IOException e) {
                thrown.set(e.toString());
              }
            });
    HostileUseTest.assertLostAfterItsReset(
        c, freshInFront(), servlet, probe, () -> through + ": the last call threw " + thrown.get());
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> keptRows() {
    return Containers.eachWith(
        "stream, sendError, then a write through the stream kept from before the take-over",
        "writer, sendError, then a print through the writer kept from before the take-over",
        "stream, declared 6: 'hello' through the kept one, '!' and one more through the new one",
        "writer, declared 6: 'hello' through the kept one, '!' and one more through the new one",
        "stream, control: sendError, then a write through the only stream",
        "writer, control: sendError, then a print through the only writer");
  }

  /** FALSE LOST CLIENT: the client gets its whole answer. */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("keptRows")
  void aKeptStreamAfterATakeOverIsNotALostClient(Containers c, String how) throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> after = new AtomicReference<>();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    boolean writer = how.startsWith("writer");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = CurrentContext.get();
              seen.set(ctx);
              try {
                boolean second = !how.contains("control");
                if (how.contains("sendError")) {
                  if (writer) {
                    PrintWriter kept = res.getWriter();
                    if (second) {
                      res.getWriter(); // a new one: the kept one is no longer the last
                    }
                    res.sendError(409);
                    kept.print("late");
                    kept.flush();
                    thrown.set("checkError() " + kept.checkError());
                  } else {
                    ServletOutputStream kept = res.getOutputStream();
                    if (second) {
                      res.getOutputStream(); // a new one: the kept one is no longer the last
                    }
                    res.sendError(409);
                    kept.write("late".getBytes(StandardCharsets.US_ASCII));
                    kept.flush();
                  }
                } else {
                  res.setContentLength(6);
                  if (writer) {
                    PrintWriter kept = res.getWriter();
                    PrintWriter now = res.getWriter();
                    kept.print("hello");
                    kept.flush();
                    now.print("!");
                    now.flush();
                    now.print("?");
                    now.flush();
                    thrown.set("checkError() " + now.checkError());
                  } else {
                    ServletOutputStream kept = res.getOutputStream();
                    ServletOutputStream now = res.getOutputStream();
                    kept.write("hello".getBytes(StandardCharsets.US_ASCII));
                    now.write('!');
                    now.write('?');
                    now.flush();
                  }
                }
              } catch (IOException | IllegalStateException e) {
                thrown.set(e.toString());
              }
              after.set(ctx.isDone() ? "done: " + ctx.cause() : "live");
            });
    String answer;
    try (Containers.Running server =
        c.start(freshInFront(), servlet, Map.of(), EnumSet.of(DispatcherType.REQUEST))) {
      try {
        HttpResponse<String> r = Http.get(server.port, "/x");
        answer = Http.answer(r);
      } catch (IOException e) {
        // What the client makes of a write after an error answer is the container's affair; the
        // question here is the request context.
        answer = "no answer: " + e;
      }
      CountDownLatch ended = new CountDownLatch(1);
      seen.get().onDone(ended::countDown);
      assertTrue(ended.await(10, TimeUnit.SECONDS));
    }
    assertEquals(
        "live", after.get(), how + ": threw " + thrown.get() + "; the client got " + answer);
  }
}
