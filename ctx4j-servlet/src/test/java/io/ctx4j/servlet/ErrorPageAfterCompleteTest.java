package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import io.ctx4j.servlet.internal.RequestScope;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServletResponse;
import java.net.http.HttpResponse;
import java.util.EnumSet;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A {@code sendError(503)} in async mode (from an application thread, or from the dispatch), and
 * an application thread's {@code complete()} before or while the error page runs, for longer than
 * the filter's wait after a {@code complete()} (2 s): the request context stays live until the
 * container has completed the response, also with the filter mapped
 * for REQUEST and ASYNC only (as Spring Boot's registration maps it), where the error page runs
 * outside the filter. The guard: the filter asks the container whether it let go of the request
 * through {@code AsyncContext.getTimeout()}, which Tomcat 11 also refuses to an application thread
 * once {@code onError} has returned; it must not take that for a recycle while the error page
 * still runs (Tomcat calls {@code onError} only after the page: review of db22396).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ErrorPageAfterCompleteTest {
  /** Longer than the wait the filter gives the container after a complete(). */
  private static final long PAGE_MILLIS = 3000;

  /** The application thread's sendError, then at once its complete(). */
  private static final String BEFORE_THE_PAGE = "an application thread's sendError(), complete()";

  /**
   * The dispatch's sendError (Tomcat runs the error page when the dispatch returns), then the
   * application thread's complete() once the page runs.
   */
  private static final String DURING_THE_PAGE =
      "the dispatch's sendError(), an application thread's complete() during the page";

  static java.util.stream.Stream<Arguments> rows() {
    return java.util.stream.Stream.of(
        Arguments.of(Containers.TOMCAT, "REQUEST, ASYNC", BEFORE_THE_PAGE),
        Arguments.of(Containers.TOMCAT, "REQUEST, ASYNC", DURING_THE_PAGE),
        Arguments.of(Containers.TOMCAT, "REQUEST, ASYNC, ERROR", BEFORE_THE_PAGE),
        Arguments.of(Containers.TOMCAT, "REQUEST, ASYNC, ERROR", DURING_THE_PAGE));
  }

  @ParameterizedTest(name = "{0}, the filter mapped for {1}: {2}")
  @MethodSource("rows")
  void theContextOutlivesASlowErrorPageAfterComplete(Containers c, String mapping, String order)
      throws Exception {
    AtomicReference<Context> first = new AtomicReference<>();
    CountDownLatch pageEntered = new CountDownLatch(1);
    CountDownLatch completeTried = new CountDownLatch(1);
    AtomicReference<String> duringThePage = new AtomicReference<>("the error page never ran");
    AtomicReference<String> app = new AtomicReference<>("the application thread never ran");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() == DispatcherType.ERROR) {
                pageEntered.countDown();
                if (!completeTried.await(10, TimeUnit.SECONDS)) {
                  duringThePage.set("complete() was not called within 10 s");
                  return;
                }
                Context ctx = first.get();
                CountDownLatch ended = new CountDownLatch(1);
                ctx.onDone(ended::countDown);
                duringThePage.set(
                    ended.await(PAGE_MILLIS, TimeUnit.MILLISECONDS)
                        ? "ended while the error page ran: " + ctx.cause()
                        : "live");
                res.getWriter().print("error page");
                return;
              }
              first.set(CurrentContext.get());
              AsyncContext async = req.startAsync();
              async.setTimeout(0);
              new Thread(
                      () -> {
                        try {
                          boolean entered = false;
                          if (order.equals(DURING_THE_PAGE)) {
                            entered = pageEntered.await(10, TimeUnit.SECONDS);
                          } else {
                            ((HttpServletResponse) async.getResponse()).sendError(503);
                          }
                          async.complete();
                          app.set("error page entered before complete(): " + entered);
                        } catch (Throwable t) {
                          app.set("threw " + RequestScope.describe(t));
                        } finally {
                          completeTried.countDown();
                        }
                      })
                  .start();
              if (order.equals(DURING_THE_PAGE)) {
                res.sendError(503);
              }
            });
    EnumSet<DispatcherType> types =
        mapping.endsWith("ERROR")
            ? EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC, DispatcherType.ERROR)
            : EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC);
    String answer;
    Reason end;
    try (Containers.Running server =
        c.start(ContextServletFilter.create(), servlet, Map.of(), types, true)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      answer = Http.answer(r).strip();
      end = Probe.reasonAtEnd(first.get(), 10, mapping + ": the client got " + answer);
    }
    String what = mapping + ", " + order + ": " + app.get() + "; the client got " + answer;
    // Also that the application thread's sendError and complete() returned (no "threw").
    assertEquals(
        "error page entered before complete(): " + order.equals(DURING_THE_PAGE), app.get(), what);
    assertEquals("live", duringThePage.get(), what);
    assertEquals("503 error page", answer, what);
    assertEquals(Reason.RESPONSE_COMPLETED, end, what + "; " + first.get().cause());
  }
}
