package io.ctx4j.servlet;

import static io.ctx4j.servlet.Probe.state;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletRequestWrapper;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.net.http.HttpResponse;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * An application thread calls dispatch() and then, by mistake or in a race it loses, complete(),
 * which the container refuses; the dispatch that follows (ASYNC, or the error page after a
 * sendError) runs through the filter meanwhile, and its context must stay live. Found by review of
 * b441476: Tomcat 11 clears the request its AsyncContext holds on dispatch(), so getRequest()
 * refused until the next startAsync(), and the filter took that refusal for a recycled request
 * and ended the context "response completed" under the dispatch (3 of 6 rows: every Tomcat row).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CompleteAfterDispatchTest {
  private static final String PLAIN = "startAsync(), dispatch()";
  private static final String GIVEN = "startAsync(request, response), dispatch()";
  /** dispatch() through the container's own AsyncContext, complete() through the filter's. */
  private static final String CONTAINERS = "startAsync(), the container's own dispatch()";
  private static final String ERROR_PAGE = "startAsync(), sendError(503), dispatch()";

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> rows() {
    return Containers.eachWith(PLAIN, GIVEN, CONTAINERS, ERROR_PAGE);
  }

  private static ServletRequest containerOf(ServletRequest req) {
    ServletRequest r = req;
    while (r instanceof ServletRequestWrapper) {
      r = ((ServletRequestWrapper) r).getRequest();
    }
    return r;
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void aCompleteRefusedAfterDispatchLeavesTheNextDispatchItsContext(Containers c, String how)
      throws Exception {
    AtomicReference<Context> first = new AtomicReference<>();
    List<String> log = new CopyOnWriteArrayList<>();
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch attempted = new CountDownLatch(1);
    AtomicReference<String> inTheDispatch = new AtomicReference<>("no later dispatch ran");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() != DispatcherType.REQUEST) {
                Context ctx = CurrentContext.get();
                entered.countDown();
                boolean reached = attempted.await(10, TimeUnit.SECONDS);
                inTheDispatch.set(
                    req.getDispatcherType() + ": " + (reached ? state(ctx) : "complete() never tried"));
                res.getWriter().print("dispatched");
                return;
              }
              first.set(CurrentContext.get());
              AsyncContext async = how.equals(GIVEN) ? req.startAsync(req, res) : req.startAsync();
              async.setTimeout(0);
              AsyncContext dispatcher =
                  how.equals(CONTAINERS)
                      ? ((HttpServletRequest) containerOf(req)).getAsyncContext()
                      : async;
              new Thread(
                      () -> {
                        try {
                          if (how.equals(ERROR_PAGE)) {
                            ((HttpServletResponse) async.getResponse()).sendError(503);
                          }
                          dispatcher.dispatch();
                          entered.await(10, TimeUnit.SECONDS);
                          async.complete();
                          log.add("complete() after dispatch() returned");
                        } catch (Throwable t) {
                          log.add("complete() after dispatch() threw " + t);
                        } finally {
                          attempted.countDown();
                        }
                      })
                  .start();
            });
    String answer;
    Reason end;
    try (Containers.Running server =
        c.start(
            ContextServletFilter.create(),
            servlet,
            Map.of(),
            EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC, DispatcherType.ERROR))) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      answer = Http.answer(r).replaceAll("\\s+", " ");
      end = Probe.reasonAtEnd(first.get(), 10, how + ": the client got " + answer + "; " + log);
    }
    assertEquals(
        "live",
        inTheDispatch.get().replaceFirst("^[A-Z]+: ", ""),
        how + ": " + inTheDispatch.get() + ", after the refused complete(); " + log);
    assertEquals(Reason.RESPONSE_COMPLETED, end, how + ": the client got " + answer + "; " + log);
  }
}
