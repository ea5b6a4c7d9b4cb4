package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletRequestWrapper;
import jakarta.servlet.http.HttpServletRequest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The filter's wait after an application's {@code complete()} ends the context only once the
 * container has let go of the request, which it reads from the container's {@code AsyncContext}
 * refusing {@code getTimeout()} (a recycled request). That reading was measured over HTTP/1.1; this
 * test measures it over h2c on both containers, where a request is a stream of a connection that
 * goes on: each request's context ends "response completed" with the whole answer received, then
 * its container {@code AsyncContext} refuses {@code getTimeout()}, and goes on refusing while the
 * next stream of the same connection runs (a pooled object handed to the next stream would read
 * as "not let go" and keep the wait going).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class H2cLetGoTest {
  private static final String IN_THE_DISPATCH = "complete() in the dispatch";
  private static final String APP_THREAD = "complete() from an application thread";

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> rows() {
    return Containers.eachWith(IN_THE_DISPATCH, APP_THREAD);
  }

  private static ServletRequest containerOf(ServletRequest req) {
    ServletRequest r = req;
    while (r instanceof ServletRequestWrapper) {
      r = ((ServletRequestWrapper) r).getRequest();
    }
    return r;
  }

  /** What the handler of one request kept. */
  private static final class Seen {
    final CountDownLatch completed = new CountDownLatch(1);
    volatile Context ctx;
    volatile AsyncContext containers;
  }

  /**
   * Waits, at most 10 s, for {@code async} to refuse {@code getTimeout()}: the container recycles
   * the request on its own thread after it reported the end, at no moment a test can latch on.
   */
  private static boolean refusesWithin10s(AsyncContext async) {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() - end < 0) {
      try {
        async.getTimeout();
      } catch (IllegalStateException recycled) {
        return true;
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
    }
    return false;
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void eachStreamsRequestIsLetGoAfterItsEndAndStaysSo(Containers c, String how) throws Exception {
    Map<String, Seen> seen = new ConcurrentHashMap<>();
    List<String> errors = new CopyOnWriteArrayList<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (TestServlet.answeredWarm(req, res)) {
                return;
              }
              Seen s = seen.computeIfAbsent(req.getRequestURI(), k -> new Seen());
              s.ctx = CurrentContext.get();
              AsyncContext async = req.startAsync();
              async.setTimeout(0);
              s.containers = ((HttpServletRequest) containerOf(req)).getAsyncContext();
              Runnable answer =
                  () -> {
                    try {
                      async.getResponse().getWriter().print("ok " + req.getRequestURI());
                      async.complete();
                    } catch (Throwable t) {
                      errors.add(req.getRequestURI() + ": " + t);
                    } finally {
                      s.completed.countDown();
                    }
                  };
              if (how.equals(IN_THE_DISPATCH)) {
                answer.run();
              } else {
                new Thread(answer, "h2c-let-go-app").start();
              }
            });
    HttpClient h2 =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_2)
            .connectTimeout(Duration.ofSeconds(10))
            .build();
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      // The upgrade to h2c, so that both requests below are streams of one h2 connection.
      HttpResponse<String> warm = send(h2, server.port, "/warm");
      assertEquals(HttpClient.Version.HTTP_2, warm.version(), "the warm-up request did not upgrade to h2c");
      AsyncContext firstContainers = null;
      for (String path : List.of("/first", "/second")) {
        HttpResponse<String> r = send(h2, server.port, path);
        assertEquals(HttpClient.Version.HTTP_2, r.version(), path + " went over " + r.version());
        assertEquals(200, r.statusCode(), path + ": " + Http.answer(r));
        assertEquals("ok " + path, r.body(), path);
        Seen s = seen.get(path);
        assertTrue(s.completed.await(10, TimeUnit.SECONDS), path + ": the handler never answered");
        assertEquals(
            Reason.RESPONSE_COMPLETED,
            Probe.reasonAtEnd(s.ctx, 10, how + " " + path),
            how + " " + path + ": " + s.ctx.cause() + "; " + errors);
        assertTrue(
            refusesWithin10s(s.containers),
            how + " " + path + ": the container's AsyncContext still tells its timeout 10 s after"
                + " the request ended: the filter would never read the request as let go");
        if (firstContainers == null) {
          firstContainers = s.containers;
        } else {
          assertNotSame(firstContainers, s.containers, "one AsyncContext for two streams");
          AsyncContext first = firstContainers;
          assertThrows(
              IllegalStateException.class,
              first::getTimeout,
              how + ": the first stream's AsyncContext told a timeout again once the second ran");
        }
      }
    }
    assertEquals(List.of(), errors, how);
  }

  private static HttpResponse<String> send(HttpClient client, int port, String path) throws Exception {
    return client
        .sendAsync(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(10))
                .build(),
            HttpResponse.BodyHandlers.ofString())
        .get(15, TimeUnit.SECONDS);
  }
}
