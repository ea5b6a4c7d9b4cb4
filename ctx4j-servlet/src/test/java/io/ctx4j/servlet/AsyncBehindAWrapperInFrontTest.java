package io.ctx4j.servlet;

import static io.ctx4j.servlet.Probe.state;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Async processing behind a wrapper in front that hands out a stream or writer of its own (a new
 * one per call, as Spring Security's OnCommittedResponseWrapper, or one per wrapper), found by a
 * review of 3d03aab. The chain's watched response watches the wrapper's stream;
 * AsyncContext.getResponse() after startAsync() (the container's own response, watched by
 * WatchedAsyncContext) and the ASYNC dispatch's response watch the container's stream: they share
 * the request's one count (3d03aab counted them apart: an overrun read as a lost client), a flush
 * after a refused write is no lost client, and the request keeps no state per async cycle.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class AsyncBehindAWrapperInFrontTest {
  private static String get(int port, String path) {
    try {
      return Http.answer(Http.get(port, path));
    } catch (Exception e) {
      return "no answer: " + e;
    }
  }


  /** Waits (bounded: past the containers' 30 s async timeout) for the context's end. */
  private static Reason reasonAtEnd(Context ctx) throws InterruptedException {
    return Probe.reasonAtEnd(ctx, 60, "a request");
  }

  /**
   * The filter, behind a filter in front that wraps the response: on the REQUEST dispatch only (as
   * Spring's OncePerRequestFilter skips the ASYNC dispatch by default) unless the row says "on every
   * dispatch"; with a new stream and writer per call, one per wrapper, or none (control).
   */
  private static Filter inFront(String how) {
    ContextServletFilter filter = ContextServletFilter.create();
    boolean every = how.contains("on every dispatch");
    return (rq, rs, chain) -> {
      HttpServletResponse r = (HttpServletResponse) rs;
      boolean wrap = every || rq.getDispatcherType() == DispatcherType.REQUEST;
      ServletResponse given =
          !wrap || how.contains("control")
              ? r
              : how.contains("new stream per call")
                  ? new WrapperStreamsTest.FreshPerCall(r)
                  : new SharedCountInFrontTest.Tee(r);
      filter.doFilter(rq, given, chain);
    };
  }

  private static void overrun(ServletResponse res, boolean writer, AtomicReference<String> thrown) {
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

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> overrunRows() {
    return Containers.eachWith(
        "stream, startAsync(), AsyncContext.getResponse(), control: no wrapper in front",
        "stream, startAsync(), AsyncContext.getResponse(), a new stream per call in front",
        "stream, startAsync(), AsyncContext.getResponse(), one stream per wrapper in front",
        "writer, startAsync(), AsyncContext.getResponse(), control: no wrapper in front",
        "writer, startAsync(), AsyncContext.getResponse(), a new stream per call in front",
        "writer, startAsync(), AsyncContext.getResponse(), one stream per wrapper in front",
        "stream, startAsync(), the ASYNC dispatch's response, control: no wrapper in front",
        "stream, startAsync(), the ASYNC dispatch's response, a new stream per call in front",
        "writer, startAsync(), the ASYNC dispatch's response, a new stream per call in front",
        "stream, startAsync(), the ASYNC dispatch's response, a new stream per call in front on every dispatch",
        "stream, startAsync(request, response), AsyncContext.getResponse(), a new stream per call in front",
        "writer, startAsync(request, response), AsyncContext.getResponse(), a new stream per call in front",
        "stream, startAsync(request, response), the ASYNC dispatch's response, a new stream per call in front on every dispatch");
  }

  /**
   * FALSE LOST CLIENT? README: "What was written is counted once per request, whichever of the
   * filter's wrappers of the response it went through (the chain's, AsyncContext.getResponse()'s,
   * an ASYNC dispatch's ...)" and "A wrapper in front that hands out a new stream or writer on every
   * call gets one count for them all". Declared 5, "hello" through the chain's response, then one
   * byte more through AsyncContext.getResponse() (an async thread) or the ASYNC dispatch's
   * response: the client gets its whole answer, the container refuses the extra byte.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("overrunRows")
  void anOverrunAfterStartAsyncBehindAWrapperInFrontIsNotADisconnect(Containers c, String how)
      throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> after = new AtomicReference<>("never ran");
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    CountDownLatch done = new CountDownLatch(1);
    boolean writer = how.startsWith("writer");
    boolean twoArg = how.contains("startAsync(request, response)");
    boolean dispatch = how.contains("ASYNC dispatch");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() == DispatcherType.ASYNC) {
                try {
                  overrun(res, writer, thrown);
                  after.set(state(CurrentContext.get()));
                } finally {
                  done.countDown();
                }
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
              AsyncContext async = twoArg ? req.startAsync(req, res) : req.startAsync();
              if (dispatch) {
                async.dispatch();
                return;
              }
              async.start(
                  () -> {
                    try {
                      overrun(async.getResponse(), writer, thrown);
                      after.set(state(ctx));
                    } finally {
                      try {
                        async.complete();
                      } finally {
                        done.countDown();
                      }
                    }
                  });
            });
    String answer;
    Reason end;
    try (Containers.Running server = c.start(inFront(how), servlet)) {
      answer = get(server.port, "/x");
      assertTrue(done.await(20, TimeUnit.SECONDS), how + ": the overrun never ran");
      end = reasonAtEnd(seen.get());
    }
    assertEquals(
        "live",
        after.get(),
        how + ": the write past the length threw " + thrown.get() + "; the client got '" + answer
            + "'; the context ended " + end);
    assertEquals(Reason.RESPONSE_COMPLETED, end, how + ": the client got '" + answer + "'");
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> lostRows() {
    return Containers.eachWith(
        "stream, control: no wrapper in front",
        "stream, a new stream per call in front",
        "writer, control: no wrapper in front",
        "writer, a new stream per call in front");
  }

  /**
   * HIDDEN LOST CLIENT? Declared 10, "hello" through the chain's response (buffered), the client
   * resets, the async thread writes "world" through AsyncContext.getResponse() and flushes.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("lostRows")
  void aClientLostWhileTheBodyIsWrittenThroughBothIsLost(Containers c, String how)
      throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    boolean writer = how.startsWith("writer");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              probe.enter(CurrentContext.get(), true);
              res.setContentLength(10);
              if (writer) {
                res.getWriter().print("hello");
              } else {
                res.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
              }
              AsyncContext async = req.startAsync();
              async.setTimeout(0);
              async.start(
                  () -> {
                    try {
                      probe.awaitGo();
                      ServletResponse r2 = async.getResponse();
                      if (writer) {
                        PrintWriter w = r2.getWriter();
                        w.print("world");
                        w.flush();
                        thrown.set("checkError() " + w.checkError());
                      } else {
                        ServletOutputStream out = r2.getOutputStream();
                        out.write("world".getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                      }
                    } catch (Exception e) {
                      thrown.set(e.toString());
                    }
                    async.complete();
                  });
            });
    HostileUseTest.assertLostAfterItsReset(
        c, inFront(how), servlet, probe, () -> how + ": the last call threw " + thrown.get());
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> lateRows() {
    return Containers.eachWith(
        "stream of AsyncContext.getResponse(), control: no wrapper in front",
        "stream of AsyncContext.getResponse(), a new stream per call in front",
        "stream of the chain's response, a new stream per call in front",
        "writer of AsyncContext.getResponse(), a new stream per call in front",
        "writer of the chain's response, a new stream per call in front");
  }

  /**
   * A write after complete(), from the async thread, through a stream or writer taken before it:
   * the client got its whole answer ("hello"), and the cycle completed: RESPONSE_COMPLETED, not a
   * lost client (README: RESPONSE_COMPLETED "the async cycle completed").
   */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("lateRows")
  void aWriteAfterCompleteIsNoLostClient(Containers c, String how) throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    AtomicReference<String> after = new AtomicReference<>("never ran");
    CountDownLatch done = new CountDownLatch(1);
    boolean writer = how.startsWith("writer");
    boolean chain = how.contains("chain's");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = CurrentContext.get();
              seen.set(ctx);
              AsyncContext async = req.startAsync();
              async.start(
                  () -> {
                    try {
                      ServletResponse r = chain ? res : async.getResponse();
                      if (writer) {
                        PrintWriter w = r.getWriter();
                        w.print("hello");
                        w.flush();
                        async.complete();
                        w.print("late");
                        w.flush();
                        thrown.set("checkError() " + w.checkError());
                      } else {
                        ServletOutputStream out = r.getOutputStream();
                        out.write("hello".getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                        async.complete();
                        out.write("late".getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                      }
                    } catch (IOException | RuntimeException e) {
                      thrown.set(e.toString());
                    } finally {
                      after.set(state(ctx));
                      done.countDown();
                    }
                  });
            });
    String answer;
    Reason end;
    try (Containers.Running server = c.start(inFront(how), servlet)) {
      answer = get(server.port, "/x");
      assertTrue(done.await(20, TimeUnit.SECONDS), how + ": the async task never ended");
      end = reasonAtEnd(seen.get());
    }
    assertEquals(
        Reason.RESPONSE_COMPLETED,
        end,
        how + ": the late write threw " + thrown.get() + "; just after it the context was "
            + after.get() + "; the client got '" + answer + "'");
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> timeoutRows() {
    return Containers.eachWith(
        "stream of AsyncContext.getResponse(), a new stream per call in front",
        "stream of the chain's response, a new stream per call in front",
        "writer of the chain's response, a new stream per call in front");
  }

  /**
   * A write from the async thread after the async timeout (the application's own onTimeout lets
   * it go, then completes): the context ended ASYNC_TIMEOUT, and stays so.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("timeoutRows")
  void aWriteAfterTheAsyncTimeoutKeepsTheTimeout(Containers c, String how) throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    AtomicReference<String> atTimeout = new AtomicReference<>("never");
    CountDownLatch timedOut = new CountDownLatch(1);
    CountDownLatch written = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(1);
    boolean writer = how.startsWith("writer");
    boolean chain = how.contains("chain's");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = CurrentContext.get();
              seen.set(ctx);
              AsyncContext async = req.startAsync();
              async.setTimeout(300);
              async.addListener(
                  new TimeoutListener() {
                    @Override
                    public void onTimeout(AsyncEvent e) throws IOException {
                      atTimeout.set(state(ctx));
                      timedOut.countDown();
                      try {
                        written.await(10, TimeUnit.SECONDS);
                      } catch (InterruptedException x) {
                        Thread.currentThread().interrupt();
                      }
                      e.getAsyncContext().complete();
                    }
                  });
              ServletResponse r = chain ? res : async.getResponse();
              PrintWriter w = writer ? r.getWriter() : null;
              ServletOutputStream out = writer ? null : r.getOutputStream();
              async.start(
                  () -> {
                    try {
                      if (!timedOut.await(20, TimeUnit.SECONDS)) {
                        thrown.set("no timeout");
                        return;
                      }
                      if (writer) {
                        w.print("late");
                        w.flush();
                        thrown.set("checkError() " + w.checkError());
                      } else {
                        out.write("late".getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                      }
                    } catch (IOException | RuntimeException | InterruptedException e) {
                      thrown.set(e.toString());
                    } finally {
                      written.countDown();
                      done.countDown();
                    }
                  });
            });
    String answer;
    Reason end;
    try (Containers.Running server = c.start(inFront(how), servlet)) {
      answer = get(server.port, "/x");
      assertTrue(done.await(30, TimeUnit.SECONDS), how + ": the async task never ended");
      end = reasonAtEnd(seen.get());
    }
    assertEquals(
        Reason.ASYNC_TIMEOUT,
        end,
        how + ": at onTimeout the context was " + atTimeout.get() + "; the late write threw "
            + thrown.get() + "; the client got '" + answer + "'");
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> flushBufferRows() {
    return Containers.eachWith(
        "stream, the length and one byte more written, then flushBuffer()",
        "stream, the length and one byte more written, then a flush",
        "stream, the length and one byte more written, then closed",
        "stream, one write past the length, then a flush (control)",
        "stream, one write past the length, then flushBuffer()",
        "writer, the length and one character more printed, then flushBuffer()",
        "stream, closed, then flushBuffer()",
        "sendError(409), then flushBuffer()",
        "sendRedirect, then flushBuffer()");
  }

  /**
   * flushBuffer() on the filter's response: its IOException ends the context through
   * scope.failed(e) directly, without the judgement the stream and the writer make (a write past
   * the declared length, a close, an answer). No wrapper in front; synchronous.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("flushBufferRows")
  void flushBufferAfterWhatTheStreamWouldNotReportIsNotADisconnect(Containers c, String how)
      throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> after = new AtomicReference<>("never ran");
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = CurrentContext.get();
              seen.set(ctx);
              StringBuilder t = new StringBuilder();
              try {
                if (how.startsWith("sendError")) {
                  res.getOutputStream();
                  res.sendError(409);
                } else if (how.startsWith("sendRedirect")) {
                  res.getOutputStream();
                  res.sendRedirect("/elsewhere");
                } else if (how.startsWith("stream, closed")) {
                  ServletOutputStream out = res.getOutputStream();
                  out.write("hello".getBytes(StandardCharsets.US_ASCII));
                  out.close();
                } else {
                  res.setContentLength(5);
                  if (how.startsWith("writer")) {
                    PrintWriter w = res.getWriter();
                    w.print("hello");
                    w.flush();
                    w.print('!');
                  } else {
                    ServletOutputStream out = res.getOutputStream();
                    if (how.contains("one write past")) {
                      try {
                        out.write("hello, world".getBytes(StandardCharsets.US_ASCII));
                      } catch (IOException | IllegalStateException e) {
                        t.append("the write: ").append(e).append("; ");
                      }
                    } else {
                      out.write("hello".getBytes(StandardCharsets.US_ASCII));
                      try {
                        out.write('!');
                      } catch (IOException e) {
                        t.append("the extra byte: ").append(e).append("; ");
                      }
                    }
                    if (how.endsWith("then a flush") || how.endsWith("(control)")) {
                      out.flush();
                    } else if (how.endsWith("closed")) {
                      out.close();
                    }
                  }
                }
                if (how.endsWith("flushBuffer()")) {
                  res.flushBuffer();
                }
              } catch (IOException | IllegalStateException e) {
                t.append(e);
              }
              thrown.set(t.toString());
              after.set(state(ctx));
            });
    String answer;
    Reason end;
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      answer = get(server.port, "/x");
      end = reasonAtEnd(seen.get());
    }
    assertEquals(
        "live",
        after.get(),
        how + ": threw " + thrown.get() + "; the client got '" + answer + "'; the context ended "
            + end);
    assertEquals(Reason.RESPONSE_COMPLETED, end, how + ": the client got '" + answer + "'");
  }
  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> cycleRows() {
    return Containers.eachWith(
        "control: no wrapper in front",
        "one stream per wrapper in front on every dispatch",
        "a new stream per call in front on every dispatch");
  }

  /**
   * STATE THAT GROWS? 300 async cycles (startAsync().dispatch() from each ASYNC dispatch), each
   * writing one byte through the dispatch's response: the watched streams handed out in the cycles
   * are held weakly, and at the end, after a collection, at most two of them may still be
   * reachable (the current dispatch's, and one the container keeps). 3d03aab kept one per cycle in
   * the request's state behind a wrapper in front: 300.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("cycleRows")
  void theRequestsWatchedStreamsDoNotGrowWithItsAsyncCycles(Containers c, String how)
      throws Exception {
    int cycles = 300;
    java.util.concurrent.atomic.AtomicInteger n = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicInteger kept =
        new java.util.concurrent.atomic.AtomicInteger(-1);
    java.util.List<java.lang.ref.WeakReference<Object>> handedOut =
        java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              java.io.OutputStream out = res.getOutputStream();
              handedOut.add(new java.lang.ref.WeakReference<>(out));
              out.write('x');
              if (n.incrementAndGet() < cycles) {
                req.startAsync().dispatch();
                return;
              }
              kept.set(reachable(handedOut));
            });
    String answer;
    try (Containers.Running server = c.start(inFront(how), servlet)) {
      answer = get(server.port, "/x");
    }
    assertEquals("200 " + "x".repeat(cycles), answer, how);
    assertTrue(
        kept.get() >= 0 && kept.get() <= 2,
        how + ": after " + cycles + " cycles " + kept.get() + " watched streams are reachable");
  }

  /** How many distinct objects of {@code refs} are still reachable after a full collection. */
  private static int reachable(java.util.List<java.lang.ref.WeakReference<Object>> refs) {
    // System.gc() runs a full, blocking collection with the JVM's default collector (G1): the weak
    // references to what it found unreachable are cleared when it returns.
    System.gc();
    System.gc();
    java.util.Set<Object> live =
        java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    synchronized (refs) {
      for (java.lang.ref.WeakReference<Object> r : refs) {
        Object o = r.get();
        if (o != null) {
          live.add(o);
        }
      }
    }
    return live.size();
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> wholeBodyRows() {
    return Containers.eachWith(
        "writer, then AsyncContext.getResponse()'s writer flushed, control: no wrapper in front",
        "writer, then AsyncContext.getResponse()'s writer flushed, a new stream per call in front",
        "writer, then AsyncContext.getResponse()'s writer closed, control: no wrapper in front",
        "writer, then AsyncContext.getResponse()'s writer closed, a new stream per call in front",
        "writer, then AsyncContext.getResponse()'s writer checkError(), a new stream per call in front",
        "writer, then AsyncContext.getResponse()'s flushBuffer(), a new stream per call in front",
        "stream, then AsyncContext.getResponse()'s stream flushed, control: no wrapper in front",
        "stream, then AsyncContext.getResponse()'s stream flushed, a new stream per call in front",
        "stream, then AsyncContext.getResponse()'s stream closed, a new stream per call in front",
        "stream, then AsyncContext.getResponse()'s flushBuffer(), a new stream per call in front");
  }

  /**
   * A CORRECT application: declared 5, "hello" through the chain's response and flushed; then on
   * the async thread a flush, close or check through AsyncContext.getResponse() (as a framework's
   * async completion does). Nothing is written past the length; the client gets its answer.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("wholeBodyRows")
  void aWholeBodyThenAFlushThroughAsyncGetResponseIsNoLostClient(Containers c, String how)
      throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> after = new AtomicReference<>("never ran");
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    CountDownLatch done = new CountDownLatch(1);
    boolean writer = how.startsWith("writer");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = CurrentContext.get();
              seen.set(ctx);
              res.setContentLength(5);
              if (writer) {
                res.getWriter().print("hello");
                res.getWriter().flush();
              } else {
                res.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
                res.getOutputStream().flush();
              }
              AsyncContext async = req.startAsync();
              async.start(
                  () -> {
                    try {
                      ServletResponse r = async.getResponse();
                      if (how.contains("flushBuffer()")) {
                        if (writer) {
                          r.getWriter();
                        } else {
                          r.getOutputStream();
                        }
                        r.flushBuffer();
                      } else if (writer) {
                        PrintWriter w = r.getWriter();
                        if (how.contains("flushed")) {
                          w.flush();
                          thrown.set("checkError() " + w.checkError());
                        } else if (how.contains("closed")) {
                          w.close();
                        } else {
                          thrown.set("checkError() " + w.checkError());
                        }
                      } else {
                        ServletOutputStream out = r.getOutputStream();
                        if (how.contains("flushed")) {
                          out.flush();
                        } else {
                          out.close();
                        }
                      }
                      after.set(state(ctx));
                    } catch (IOException | RuntimeException e) {
                      thrown.set(e.toString());
                      after.set(state(ctx));
                    } finally {
                      try {
                        async.complete();
                      } finally {
                        done.countDown();
                      }
                    }
                  });
            });
    String answer;
    Reason end;
    try (Containers.Running server = c.start(inFront(how), servlet)) {
      answer = get(server.port, "/x");
      assertTrue(done.await(20, TimeUnit.SECONDS), how + ": the async task never ended");
      end = reasonAtEnd(seen.get());
    }
    assertEquals(
        "live",
        after.get(),
        how + ": threw " + thrown.get() + "; the client got '" + answer + "'; the context ended "
            + end);
    assertEquals(Reason.RESPONSE_COMPLETED, end, how + ": the client got '" + answer + "'");
  }
}
