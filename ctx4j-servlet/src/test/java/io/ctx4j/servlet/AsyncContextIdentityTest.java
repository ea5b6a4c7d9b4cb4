package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * startAsync(request, response) hands out the filter's AsyncContext (which ends the request context
 * on complete()): request.getAsyncContext() returns the same object, getResponse() the response
 * given, as given, and a listener added through it hears onComplete; on both containers, with the
 * chain's objects and with an application's wrapper.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class AsyncContextIdentityTest {
  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> rows() {
    return Containers.eachWith("originals", "a wrapper");
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void startAsyncWithArgumentsAnswersAsTheContainer(Containers c, String how) throws Exception {
    AtomicReference<String> seen = new AtomicReference<>("not run");
    CountDownLatch done = new CountDownLatch(1);
    boolean wrap = how.contains("wrapper");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              ServletResponse given = wrap ? new HttpServletResponseWrapper(res) {} : res;
              AsyncContext a = req.startAsync(req, given);
              StringBuilder sb = new StringBuilder();
              sb.append("same=").append(req.getAsyncContext() == a);
              sb.append(" original=").append(a.hasOriginalRequestAndResponse());
              sb.append(" responseIsGiven=").append(a.getResponse() == given);
              a.addListener(
                  new AsyncListener() {
                    public void onComplete(AsyncEvent e) {
                      done.countDown();
                    }

                    public void onTimeout(AsyncEvent e) {}

                    public void onError(AsyncEvent e) {}

                    public void onStartAsync(AsyncEvent e) {}
                  });
              seen.set(sb.toString());
              res.getWriter().print("ok");
              a.complete();
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpResponse<String> r =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port + "/x"))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      assertEquals("ok", r.body());
      assertEquals(true, done.await(10, TimeUnit.SECONDS), "listener onComplete");
      assertEquals(
          "same=true original=false responseIsGiven=true", seen.get(), how);
    }
  }
}
