package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.RequestCanceledException;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.context.request.async.DeferredResult;

/**
 * Async requests (Spring MVC's {@code DeferredResult} and {@code Callable}: the servlet's async
 * mode) at shutdown, on Tomcat and Jetty. With a 1 s graceful drain, one that finishes during the
 * drain ends "response completed", and one still running when the drain is over is cancelled then
 * with the shutdown cause, before the close returns; with {@code server.shutdown=immediate} a
 * running one is cancelled during the close. The client's outcome is printed, not asserted: with
 * Jetty's immediate stop the JDK 25 client was seen to wait for an answer that never comes, so the
 * test waits a bounded time for it and then stops waiting.
 */
@Timeout(180)
class AsyncShutdownTest {
  private static final long DRAIN_MILLIS = 1000;

  @SpringBootConfiguration
  @EnableAutoConfiguration
  static class AsyncApp {
    @Bean
    AsyncController asyncController(Hops hops) {
      return new AsyncController(hops);
    }
  }

  @RestController
  static class AsyncController {
    private final Hops hops;

    AsyncController(Hops hops) {
      this.hops = hops;
    }

    /** Answers from a thread of its own, once released or once the request's context ends. */
    @GetMapping("/deferred")
    DeferredResult<String> deferred(@RequestParam(name = "id") String id) {
      Context ctx = CurrentContext.get();
      Hops.Hop h = hops.begin(id, ctx, "deferred");
      DeferredResult<String> result = new DeferredResult<>(30_000L);
      Thread t = new Thread(() -> result.setResult(work(ctx, h)), "deferred-" + id);
      t.setDaemon(true);
      t.start();
      return result;
    }

    /** Works on Spring MVC's async executor (the decorator carries the context there). */
    @GetMapping("/callable")
    Callable<String> callable(@RequestParam(name = "id") String id) {
      Hops.Hop h = hops.begin(id, CurrentContext.get(), "callable");
      return () -> work(CurrentContext.get(), h);
    }

    /** Works until released or until {@code ctx} ends: "ok" or "cancelled". */
    private static String work(Context ctx, Hops.Hop h) {
      try {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!ctx.isDone() && !h.release.await(5, TimeUnit.MILLISECONDS) && System.nanoTime() < end) {
          // a slice of the work
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      h.doneWhenFinished = ctx.isDone();
      return h.doneWhenFinished ? "cancelled" : "ok";
    }
  }

  /**
   * One async request per row: {@code server}, the handler's kind, the shutdown mode, and whether
   * the request is released as the close begins ({@code finishing}) or left running ({@code stuck}).
   */
  @ParameterizedTest(name = "{0} {1} {2} {3}")
  @CsvSource({
    "TOMCAT, deferred, graceful, finishing",
    "TOMCAT, deferred, graceful, stuck",
    "TOMCAT, callable, graceful, stuck",
    "JETTY, deferred, graceful, finishing",
    "JETTY, callable, graceful, stuck",
    "TOMCAT, deferred, immediate, stuck",
    "JETTY, deferred, immediate, stuck",
  })
  void anAsyncRequestAtShutdown(Apps.Server server, String kind, String mode, String fate) throws Exception {
    Hops hops = new Hops();
    long[] closedAt = new long[1];
    Map<String, Object> p = Apps.defaults(server);
    p.put("server.shutdown", mode);
    p.put("spring.lifecycle.timeout-per-shutdown-phase", DRAIN_MILLIS + "ms");
    ConfigurableApplicationContext app =
        new SpringApplicationBuilder(AsyncApp.class)
            .web(WebApplicationType.SERVLET)
            .properties(p)
            .initializers(c -> c.getBeanFactory().registerSingleton("hops", hops))
            .listeners(
                (ContextClosedEvent e) -> {
                  closedAt[0] = System.nanoTime();
                  if (fate.equals("finishing")) {
                    hops.get("r").release.countDown(); // may complete during the drain
                  }
                })
            .run();
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    CompletableFuture<HttpResponse<String>> call =
        http.sendAsync(HttpRequest.newBuilder(URI.create(Apps.url(app) + "/" + kind + "?id=r")).build(), BodyHandlers.ofString());
    Hops.Hop h = hops.get("r");
    try {
      assertTrue(h.entered.await(30, TimeUnit.SECONDS), "the request never reached the handler");
    } catch (AssertionError e) {
      app.close();
      throw e;
    }

    app.close();
    long closed = System.nanoTime();

    assertTrue(h.ended.await(10, TimeUnit.SECONDS), "the async request's context never ended");
    RequestCanceledException cause = (RequestCanceledException) h.cause;
    long afterClosedEvent = TimeUnit.NANOSECONDS.toMillis(h.endedNanos - closedAt[0]);
    if (fate.equals("finishing")) {
      assertEquals(Reason.RESPONSE_COMPLETED, cause.reason(), String.valueOf(cause));
      assertFalse(h.doneWhenFinished, "the finishing request was cancelled before it could finish");
    } else {
      assertEquals(Reason.SERVER_SHUTDOWN, cause.reason(), String.valueOf(cause));
      assertEquals(mode.equals("graceful") ? "server shutdown: " + ShutdownContext.DETAIL
          : "server shutdown: application context closed, no graceful-shutdown drain (server.shutdown=immediate)", cause.getMessage());
      assertTrue(h.endedNanos <= closed, "not cancelled during the close");
      if (mode.equals("graceful")) {
        assertTrue(afterClosedEvent >= DRAIN_MILLIS - 50,
            "cancelled " + afterClosedEvent + " ms after ContextClosedEvent, before the " + DRAIN_MILLIS + " ms drain was over");
      }
    }
    System.out.printf("async %s %s %s %s: context ended %d ms after ContextClosedEvent (%s); the client got: %s%n",
        server, kind, mode, fate, afterClosedEvent, cause.getMessage(), outcome(call));
  }

  /** What the client got, waiting at most 10 s: a call the server left unanswered is given up. */
  private static String outcome(CompletableFuture<HttpResponse<String>> call) throws InterruptedException {
    try {
      HttpResponse<String> r = call.get(10, TimeUnit.SECONDS);
      return r.statusCode() + " " + r.body();
    } catch (ExecutionException e) {
      return e.getCause().toString();
    } catch (TimeoutException e) {
      call.cancel(true);
      return "no answer within 10 s (given up)";
    }
  }
}
