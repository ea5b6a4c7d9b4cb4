package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.AsyncContext;
import java.net.http.HttpResponse;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A handler that calls startAsync() and complete() in its dispatch and goes on working there: the
 * Servlet specification carries the complete() out once the dispatch returns, and the request
 * context must stay live until then, however long the work takes. Found by review of e025bc5,
 * whose wait after complete() (2 s) started at the call and ended the context under the working
 * handler. The handler here works 3 s past its complete(), longer than that wait.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CompleteInTheDispatchTest {
  // One form of startAsync per container: each row waits 3 s, and CI keeps to its 20 minutes.
  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> rows() {
    return java.util.stream.Stream.of(
        org.junit.jupiter.params.provider.Arguments.of(Containers.JETTY, "startAsync()"),
        org.junit.jupiter.params.provider.Arguments.of(
            Containers.TOMCAT, "startAsync(request, response)"));
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void theContextStaysLiveWhileTheDispatchThatCompletedWorks(Containers c, String how)
      throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> whileWorking = new AtomicReference<>("never ran");
    CountDownLatch never = new CountDownLatch(1);
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = CurrentContext.get();
              seen.set(ctx);
              AsyncContext async =
                  how.equals("startAsync()") ? req.startAsync() : req.startAsync(req, res);
              res.getOutputStream().write('x');
              async.complete();
              // The handler's work after its complete(), in the dispatch: longer than the wait
              // the filter gives the container after a complete() (RequestScope.COMPLETE_GRACE).
              boolean counted = never.await(3, TimeUnit.SECONDS);
              whileWorking.set(
                  counted ? "interrupted" : ctx.isDone() ? "done: " + ctx.cause() : "live");
            });
    String answer;
    Reason end;
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      answer = Http.answer(r);
      end = Probe.reasonAtEnd(seen.get(), 10, how + ": the client got " + answer);
    }
    assertEquals("live", whileWorking.get(), how + ": 3 s after complete(), in the dispatch");
    assertEquals(
        Reason.RESPONSE_COMPLETED,
        end,
        how + ": the client got " + answer + "; the cause " + seen.get().cause());
  }
}
