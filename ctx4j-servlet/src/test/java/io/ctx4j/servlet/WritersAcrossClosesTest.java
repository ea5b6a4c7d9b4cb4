package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.http.HttpResponse;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The writers kept for the check at the end of a cycle, and what a close through a wrapper in front
 * closes with it, across an ASYNC dispatch, past the 8 writers kept, behind a buffering wrapper
 * that must find the response uncommitted, and with a loss found just before the close. Found by
 * the review of 320c263 (sections 1 to 4 failed there); sections 5 and 6 held and stay as guards.
 * Section 7 failed on b9787b6. Left to the README's limits: a writer over the container's taken
 * only after a close through a wrapper that closed the container's writer unseen (the response not
 * yet committed, or no watched writer over the container's taken; on Jetty, its check finds the
 * closed writer).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class WritersAcrossClosesTest {

  // ---------------------------------------------------------------------------------------------
  // 1. False "client disconnected": a writer of the first dispatch, over a wrapper in front that
  // hands out a PrintWriter of its own over the container's (Spring Security's shape), is asked at
  // the return of an ASYNC dispatch in which the wrapper's writer (a new wrapper: the filter in
  // front runs on the ASYNC dispatch too) was written, closed, and complete() called.

  // TwoWritersOverOneTest.inFront reads the wrapper in front from the row's name.
  static final String PER_CALL = "per-call" + TwoWritersOverOneTest.PER_CALL;
  static final String CACHED = "kept" + TwoWritersOverOneTest.CACHED;
  static final String PLAIN = "control: plain wrapper in front";

  static java.util.stream.Stream<Arguments> asyncRows() {
    // On Jetty, the per-call and kept rows are the README's limit: the response is not committed
    // at the close ("first second" fits the buffer), so the close is not asked about.
    return java.util.stream.Stream.concat(
        Containers.eachWith(PLAIN),
        java.util.stream.Stream.of(PER_CALL, CACHED)
            .map(how -> Arguments.of(Containers.TOMCAT, how)));
  }

  static Filter inFront(String how) {
    return TwoWritersOverOneTest.inFront(how);
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("asyncRows")
  void aWriterOfTheFirstDispatchIsNoLostClientAfterACloseInTheAsyncDispatch(Containers c, String how)
      throws Exception {
    WholeAnswer.assertCompleted(
        c,
        inFront(how),
        how,
        "200 first second",
        (req, res, probe) -> {
          if (req.getDispatcherType() == DispatcherType.REQUEST) {
            AsyncContext async = req.startAsync();
            async.setTimeout(0);
            res.getWriter().print("first ");
            async.dispatch();
            return;
          }
          AsyncContext again = req.startAsync(); // a second cycle, completed in its dispatch
          again.setTimeout(0);
          probe.enter(ContextServletFilter.contextOf(req), true);
          PrintWriter w = res.getWriter();
          w.print("second");
          w.close();
          again.complete();
        });
  }

  // ---------------------------------------------------------------------------------------------
  // 2. Missed loss: the AsyncContext's writer holds the loss, written after 7 writers of the chain
  // (a wrapper in front that makes one per call, over a plain Writer, as WrittenAfterTheLossTest's),
  // then one more of the chain's is written: the AsyncContext's writer is pushed out of the 8 kept.

  static final String SEVEN_BEFORE = "7 per-call writers written, async writer (lost), 1 more per-call";
  static final String SIX_BEFORE = "control: 6 per-call writers written, async writer (lost), 1 more per-call";

  static java.util.stream.Stream<Arguments> pushedOutRows() {
    return Containers.eachWith(SEVEN_BEFORE, SIX_BEFORE);
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("pushedOutRows")
  void aLossInAWriterPushedOutOfTheKeptOnesIsReported(Containers c, String how) throws Exception {
    int before = how.equals(SEVEN_BEFORE) ? 7 : 6;
    LostInTheDispatch.assertReported(
        c,
        WrittenAfterTheLossTest.perCallInFront(),
        how,
        (res, async, a) -> {
          for (int i = 0; i < before; i++) {
            res.getWriter().print("h"); // the client is there
          }
        },
        (res, async, a) -> {
          a.print(Http.BIG_TEXT);
          res.getWriter().print("y");
        });
  }

  // ---------------------------------------------------------------------------------------------
  // 3. The flush of a close through a wrapper commits the response: a wrapper in front that buffers
  // its writer's output and, once the chain returned, sets an ETag and the length (as Spring's
  // ShallowEtagHeaderFilter over ContentCachingResponseWrapper does, when not committed) loses both.

  static final String ASYNC_TAKEN = "async writer taken, chain's written and closed";
  static final String NO_ASYNC_WRITER = "control: chain's written and closed";

  static java.util.stream.Stream<Arguments> etagRows() {
    return Containers.eachWith(ASYNC_TAKEN, NO_ASYNC_WRITER);
  }

  static Filter etagInFront() {
    ContextServletFilter filter = ContextServletFilter.create();
    return (rq, rs, chain) -> {
      HttpServletResponse raw = (HttpServletResponse) rs;
      StringWriter buffer = new StringWriter();
      HttpServletResponseWrapper caching =
          new HttpServletResponseWrapper(raw) {
            private final PrintWriter w = new PrintWriter(buffer);

            @Override
            public PrintWriter getWriter() {
              return w;
            }
          };
      filter.doFilter(rq, caching, chain);
      String body = buffer.toString();
      if (!raw.isCommitted()) {
        raw.setHeader("ETag", "\"" + Integer.toHexString(body.hashCode()) + "\"");
        raw.setContentLength(body.length());
      }
      raw.getWriter().write(body);
    };
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("etagRows")
  void aCloseThroughABufferingWrapperLeavesTheResponseUncommitted(Containers c, String how)
      throws Exception {
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    Probe probe = new Probe();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              try {
                AsyncContext async = req.startAsync();
                async.setTimeout(0);
                probe.enter(ContextServletFilter.contextOf(req), true);
                if (how.equals(ASYNC_TAKEN)) {
                  async.getResponse().getWriter(); // taken for later, nothing written
                }
                PrintWriter w = res.getWriter();
                w.print("hello");
                w.close();
                async.complete();
              } catch (Throwable t) {
                thrown.set(t.toString());
              }
            });
    HttpResponse<String> r;
    Reason end;
    try (Containers.Running server = c.start(etagInFront(), servlet)) {
      r = Http.get(server.port, "/x");
      end = Probe.reasonAtEnd(probe.ctx, 10, how);
    }
    String seen = Http.withHeaders(r, "ETag", "Content-Length");
    String expected =
        "200 hello etag=\"" + Integer.toHexString("hello".hashCode()) + "\" content-length=5";
    assertEquals(expected, seen, c + ", " + how + ": " + thrown.get());
    assertEquals(Reason.RESPONSE_COMPLETED, end, c + ", " + how);
  }

  // ---------------------------------------------------------------------------------------------
  // 4. Missed loss found by the before-check of a close through a wrapper: the AsyncContext's writer
  // (over the container's) is taken, nothing written to it; the body goes through the chain's
  // writer, over a wrapper in front whose writer does not pass the container's error on (it shields
  // the close, or is a new one per call over a plain Writer), to a client reset before; the chain's
  // writer is closed. closeThroughAWrapper flushes, asks the container's writer (failedBefore: the
  // loss), and drops what it found: no writer over the container's is kept to be asked later.

  static final String SHIELD_TAKEN = "close-shield in front, async writer taken, chain's BIG then closed";
  static final String PER_CALL_TAKEN = "per-call in front, async writer taken, chain's BIG then a new one closed";
  static final String SHIELD_WRITTEN = "control: close-shield in front, async writer written before, chain's BIG then closed";

  static java.util.stream.Stream<Arguments> beforeCheckRows() {
    return Containers.eachWith(SHIELD_TAKEN, PER_CALL_TAKEN, SHIELD_WRITTEN);
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("beforeCheckRows")
  void aLossTheBeforeCheckFindsIsReported(Containers c, String how) throws Exception {
    LostInTheDispatch.assertReported(
        c,
        how.equals(PER_CALL_TAKEN)
            ? WrittenAfterTheLossTest.perCallInFront()
            : CloseThroughAWrapperTest.shieldInFront(),
        how,
        (res, async, a) -> {
          if (how.equals(SHIELD_WRITTEN)) {
            a.print("head "); // the client is there
          }
        },
        (res, async, a) -> {
          res.getWriter().print(Http.BIG_TEXT);
          res.getWriter().close();
        });
  }

  // ---------------------------------------------------------------------------------------------
  // 5. (Held.) An application's wrapper given to startAsync(req, res) whose writer is a PrintWriter
  // of its own over the chain's (kept), behind a plain or per-call wrapper in front: the chain's
  // writer and the AsyncContext's written, the AsyncContext's closed, complete() in the dispatch.

  static java.util.stream.Stream<Arguments> givenRows() {
    return Containers.eachWith(PLAIN, PER_CALL, CACHED);
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("givenRows")
  void aGivenWrappersWriterClosedIsNoLostClient(Containers c, String how) throws Exception {
    WholeAnswer.assertCompleted(
        c,
        inFront(how),
        how,
        "200 xy",
        (req, res, probe) -> {
          HttpServletResponseWrapper given = TwoWritersOverOneTest.keepingOneWriter(res);
          AsyncContext async = req.startAsync(req, given);
          async.setTimeout(0);
          probe.enter(ContextServletFilter.contextOf(req), true);
          res.getWriter().print("x");
          PrintWriter a = async.getResponse().getWriter();
          a.print("y");
          a.close();
          async.complete();
        });
  }

  // ---------------------------------------------------------------------------------------------
  // 6. (Held.) The AsyncContext's writer written, then a reset (with or without a charset change),
  // then the chain's writer written; complete() in the dispatch: both writers are kept and asked.

  static final String RESET_SAME = "reset, same charset";
  static final String RESET_OTHER = "reset, then another charset";

  static java.util.stream.Stream<Arguments> resetRows() {
    return Containers.eachWith(RESET_SAME, RESET_OTHER);
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("resetRows")
  void aWriterBeforeAResetIsNoLostClient(Containers c, String how) throws Exception {
    WholeAnswer.assertCompleted(
        c,
        ContextServletFilter.create(),
        how,
        "200 ok",
        (req, res, probe) -> {
          res.setCharacterEncoding("UTF-8");
          AsyncContext async = req.startAsync();
          async.setTimeout(0);
          probe.enter(ContextServletFilter.contextOf(req), true);
          async.getResponse().getWriter().print("junk");
          res.reset();
          if (how.equals(RESET_OTHER)) {
            res.setCharacterEncoding("ISO-8859-1");
          }
          res.getWriter().print("ok");
          async.complete();
        });
  }

  // ---------------------------------------------------------------------------------------------
  // 7. A writer taken in an ASYNC dispatch, over the new wrapper in front, after a close through
  // the first dispatch's wrapper was seen to close the container's writer (committed, with the
  // AsyncContext's writer taken before it): flushed, or written before complete() in the dispatch.
  // Its own wrapper's writer lies over the closed container's writer, so on Jetty its check finds
  // an error although the client got the whole answer. Failed on Jetty (4 rows) while that close
  // silenced only the writers kept then (b9787b6); now it closes every writer of the request.

  static final String LATER_FLUSHED = "a writer of the ASYNC dispatch flushed";
  static final String LATER_WRITTEN = "a writer of the ASYNC dispatch written, complete()";

  static java.util.stream.Stream<Arguments> afterACloseRows() {
    return Containers.eachWith(
        LATER_FLUSHED + " " + PER_CALL,
        LATER_WRITTEN + " " + PER_CALL,
        LATER_FLUSHED + " " + CACHED,
        LATER_WRITTEN + " " + CACHED);
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("afterACloseRows")
  void aWriterTakenAfterTheContainersWriterClosedIsNoLostClient(Containers c, String how)
      throws Exception {
    WholeAnswer.assertCompleted(
        c,
        inFront(how),
        how,
        "200 " + Http.BIG_TEXT,
        (req, res, probe) -> {
          if (req.getDispatcherType() == DispatcherType.REQUEST) {
            AsyncContext async = req.startAsync();
            async.setTimeout(0);
            // Here: the client may have the whole answer before the ASYNC dispatch runs.
            probe.enter(ContextServletFilter.contextOf(req), true);
            async.getResponse().getWriter(); // the container's writer, taken
            PrintWriter w = res.getWriter();
            w.print(Http.BIG_TEXT);
            w.close(); // committed: seen to close the container's writer
            async.dispatch();
            return;
          }
          aLaterWriter(req, res, how.startsWith(LATER_WRITTEN));
        });
  }

  /**
   * The ASYNC dispatch's part of the rows with a writer taken after a close: a second cycle whose
   * writer is written ("late", which the client never gets) or only flushed, then completed.
   */
  static void aLaterWriter(
      jakarta.servlet.http.HttpServletRequest req,
      jakarta.servlet.http.HttpServletResponse res,
      boolean writes)
      throws java.io.IOException {
    AsyncContext again = req.startAsync();
    again.setTimeout(0);
    PrintWriter later = res.getWriter();
    if (writes) {
      later.print("late");
    } else {
      later.flush();
    }
    again.complete();
  }
}
