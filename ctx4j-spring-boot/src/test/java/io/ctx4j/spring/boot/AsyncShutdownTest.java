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
import java.util.concurrent.CountDownLatch;
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
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.SmartLifecycle;
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
 * running one is cancelled during the close.
 *
 * <p>What the client gets from a stuck request is decided by a race that ctx4j does not take part
 * in: once the shutdown context has ended the request's context (after the drain, or at once when
 * immediate), the handler answers from its own thread (or Spring MVC's executor, for a {@code
 * Callable}) and the container writes that answer in an async dispatch, while the close goes on at
 * once to the next lifecycle phase, where the web server stops and closes the connection. Left
 * alone, the outcome varied from run to run: the handler's answer ({@code 200 cancelled}), a
 * connection closed with no answer (the JDK client's {@code HTTP/1.1 header parser received no
 * bytes}, or a {@code ConnectException} when it retries the GET on a new connection to the stopped
 * server), a Jetty 500 ({@code written 0 < 9 content-length}: the answer met the stopping server
 * half-way) or Jetty's empty 200 (Jetty completes a suspended request as it stops). Each stuck row
 * therefore runs in both orders, imposed with latches ({@link Order}): when the answer comes first
 * the client gets it whole ({@code 200 cancelled}); when the stop comes first it mostly gets no answer of
 * the handler's (Tomcat's stop may still let its async dispatch write {@code 200 cancelled}, seen
 * once under load), never {@code 200 ok}: a failed call, Tomcat's 503 (as it stops, Tomcat times out
 * the async requests still suspended, and Spring MVC answers a {@code DeferredResult} nobody set with
 * 503; seen once under load), Jetty's empty 200 or its 500 error page (seen under load: {@code
 * written 0 < 2 content-length}, a write of Jetty's stopping request failed), or none at all (with
 * Jetty's immediate stop the JDK 25 client was seen to wait for an answer that never comes, so the
 * test gives the call up after 10 s). A finishing request's client gets {@code 200 ok}: the drain waits for it.
 */
@Timeout(180)
class AsyncShutdownTest {
  private static final long DRAIN_MILLIS = 1000;

  @SpringBootConfiguration
  @EnableAutoConfiguration
  static class AsyncApp {
    @Bean
    AsyncController asyncController(Hops hops, CloseOrder order) {
      return new AsyncController(hops, order);
    }

    /** Between the shutdown context's phase and the server's stop: see {@link CloseOrder}. */
    @Bean
    SmartLifecycle beforeTheServerStops(CloseOrder order) {
      return new Step(ShutdownContext.PHASE - 256, order::beforeTheServerStops);
    }

    /** After the server's stop: see {@link CloseOrder}. */
    @Bean
    SmartLifecycle afterTheServerStopped(CloseOrder order) {
      return new Step(WebServerApplicationContext.START_STOP_LIFECYCLE_PHASE - 256, order.serverStopped::countDown);
    }
  }

  /**
   * Which comes first once the shutdown context has ended a stuck request: the handler's answer
   * ({@code ANSWER_FIRST}: the close waits, between the shutdown context's phase and the server's
   * stop, until the client has its answer) or the server's stop ({@code STOP_FIRST}: the handler,
   * once its context is done, waits until the server has stopped before it answers). Left alone,
   * the two race: the handler answers from its own thread (or Spring MVC's executor) while the close
   * goes on at once to the server's stop.
   */
  enum Order { ANSWER_FIRST, STOP_FIRST }

  /** The order a row imposes, and the latches that impose it. */
  static final class CloseOrder {
    final Order order;
    /** The client's call, set once it is sent. */
    volatile CompletableFuture<?> call = new CompletableFuture<>();
    /** Counted down once the server has stopped (a lifecycle step after the server's). */
    final CountDownLatch serverStopped = new CountDownLatch(1);
    /** Whether {@code ANSWER_FIRST}'s step had to give up waiting for the client's answer. */
    volatile boolean answerNotAwaited;

    CloseOrder(Order order) {
      this.order = order;
    }

    /** {@code ANSWER_FIRST}: holds the server's stop until the client has its answer (at most 10 s). */
    void beforeTheServerStops() {
      if (order != Order.ANSWER_FIRST) {
        return;
      }
      try {
        call.get(10, TimeUnit.SECONDS);
      } catch (ExecutionException e) {
        // a failed call is an answer too: the assertions say which
      } catch (TimeoutException e) {
        answerNotAwaited = true;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    /** {@code STOP_FIRST}: holds a cancelled handler's answer until the server has stopped (at most 10 s). */
    void beforeACancelledAnswer() throws InterruptedException {
      if (order == Order.STOP_FIRST && !serverStopped.await(10, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the server did not stop within 10 s");
      }
    }
  }

  /** A lifecycle step of its own phase that runs {@code atStop} when the close stops it. */
  static final class Step implements SmartLifecycle {
    private final int phase;
    private final Runnable atStop;
    private volatile boolean running;

    Step(int phase, Runnable atStop) {
      this.phase = phase;
      this.atStop = atStop;
    }

    @Override
    public void start() {
      running = true;
    }

    @Override
    public void stop() {
      try {
        atStop.run();
      } finally {
        running = false;
      }
    }

    @Override
    public boolean isRunning() {
      return running;
    }

    @Override
    public int getPhase() {
      return phase;
    }
  }

  @RestController
  static class AsyncController {
    private final Hops hops;
    private final CloseOrder order;

    AsyncController(Hops hops, CloseOrder order) {
      this.hops = hops;
      this.order = order;
    }

    /** Answers from a thread of its own, once released or once the request's context ends. */
    @GetMapping("/deferred")
    DeferredResult<String> deferred(@RequestParam(name = "id") String id) {
      Context ctx = CurrentContext.get();
      Hops.Hop h = hops.begin(id, ctx, "deferred");
      DeferredResult<String> result = new DeferredResult<>(30_000L);
      Thread t = new Thread(() -> result.setResult(work(ctx, h, order)), "deferred-" + id);
      t.setDaemon(true);
      t.start();
      return result;
    }

    /** Works on Spring MVC's async executor (the decorator carries the context there). */
    @GetMapping("/callable")
    Callable<String> callable(@RequestParam(name = "id") String id) {
      Hops.Hop h = hops.begin(id, CurrentContext.get(), "callable");
      return () -> work(CurrentContext.get(), h, order);
    }

    /**
     * Works until released or until {@code ctx} ends: "ok" or "cancelled" (the latter, in a
     * {@code STOP_FIRST} row, only once the server has stopped).
     */
    private static String work(Context ctx, Hops.Hop h, CloseOrder order) {
      try {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!ctx.isDone() && !h.release.await(5, TimeUnit.MILLISECONDS) && System.nanoTime() < end) {
          // a slice of the work
        }
        h.doneWhenFinished = ctx.isDone();
        if (h.doneWhenFinished) {
          order.beforeACancelledAnswer();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return h.doneWhenFinished ? "cancelled" : "ok";
    }
  }

  /**
   * One async request per row: {@code server}, the handler's kind, the shutdown mode, and whether
   * the request is released as the close begins ({@code finishing}) or left running ({@code stuck}).
   */
  @ParameterizedTest(name = "{0} {1} {2} {3} {4}")
  @CsvSource({
    "TOMCAT, deferred, graceful, finishing, ANSWER_FIRST",
    "TOMCAT, deferred, graceful, stuck, ANSWER_FIRST",
    "TOMCAT, deferred, graceful, stuck, STOP_FIRST",
    "TOMCAT, callable, graceful, stuck, ANSWER_FIRST",
    "TOMCAT, callable, graceful, stuck, STOP_FIRST",
    "JETTY, deferred, graceful, finishing, ANSWER_FIRST",
    "JETTY, callable, graceful, stuck, ANSWER_FIRST",
    "JETTY, callable, graceful, stuck, STOP_FIRST",
    "TOMCAT, deferred, immediate, stuck, ANSWER_FIRST",
    "TOMCAT, deferred, immediate, stuck, STOP_FIRST",
    "JETTY, deferred, immediate, stuck, ANSWER_FIRST",
    "JETTY, deferred, immediate, stuck, STOP_FIRST",
  })
  void anAsyncRequestAtShutdown(Apps.Server server, String kind, String mode, String fate, Order first) throws Exception {
    Hops hops = new Hops();
    CloseOrder order = new CloseOrder(first);
    long[] closedAt = new long[1];
    Map<String, Object> p = Apps.defaults(server);
    p.put("server.shutdown", mode);
    p.put("spring.lifecycle.timeout-per-shutdown-phase", DRAIN_MILLIS + "ms");
    ConfigurableApplicationContext app =
        new SpringApplicationBuilder(AsyncApp.class)
            .web(WebApplicationType.SERVLET)
            .properties(p)
            .initializers(c -> {
                  c.getBeanFactory().registerSingleton("hops", hops);
                  c.getBeanFactory().registerSingleton("closeOrder", order);
                })
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
    order.call = call;
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
    String got = outcome(call);
    System.out.printf("async %s %s %s %s %s: context ended %d ms after ContextClosedEvent (%s); the client got: %s%n",
        server, kind, mode, fate, first, afterClosedEvent, cause.getMessage(), got);
    if (first == Order.ANSWER_FIRST) {
      // The server is still up when the handler answers: the client gets that answer, whole. A
      // finishing request answers during the drain, which waits for it; a stuck one once the
      // shutdown context has ended it, and its answer says it saw the end.
      assertFalse(order.answerNotAwaited, "the client had no answer 10 s after the drain; it got: " + got);
      assertEquals(fate.equals("finishing") ? "200 ok" : "200 cancelled", got,
          "what the client got when the handler answered before the server stopped");
    } else {
      // The server's stop returned before the handler answered. What the client gets is then the
      // container's and the JDK client's doing (see the class comment): mostly a failed call, or on
      // Jetty an answer of Jetty's own, made as it stops; but Tomcat's stop can return with the
      // connection still open and its async dispatch still able to write (seen once under load:
      // '200 cancelled' on Tomcat, Callable, graceful). Never the answer of a handler that missed
      // its context's end ('200 ok'): that is ctx4j's part.
      assertTrue(got.startsWith(NO_ANSWER_PREFIX) || got.equals("200 cancelled")
              || (server == Apps.Server.JETTY && isJettysOwn(got))
              || (server == Apps.Server.TOMCAT && isTomcatsAsyncTimeout(got)),
          "what the client got when the server stopped before the handler answered: " + got);
    }
  }

  /**
   * Whether {@code got} is an answer Jetty makes itself as it stops, never the handler's: the empty
   * 200 of a suspended request it completes, or its 500 error page for the write that then failed
   * ({@code written 0 < 2 content-length} was seen).
   */
  private static boolean isJettysOwn(String got) {
    return got.equals("200 ") || (got.startsWith("500 ") && got.contains("HTTP ERROR 500"));
  }

  /**
   * Whether {@code got} is Spring Boot's error answer for an async request that timed out: Tomcat,
   * stopping at once, times out the requests still suspended, and Spring MVC answers a
   * {@code DeferredResult} nobody set with 503 (seen under load: Tomcat, deferred, immediate).
   * The container's doing, not the handler's answer.
   */
  private static boolean isTomcatsAsyncTimeout(String got) {
    return got.startsWith("503 ") && got.contains("\"error\":\"Service Unavailable\"");
  }

  /** How {@link #outcome} begins when the call failed or was given up: no HTTP answer. */
  private static final String NO_ANSWER_PREFIX = "no HTTP answer: ";

  /**
   * What the client got, waiting at most 10 s: status and body, or {@link #NO_ANSWER_PREFIX} and the
   * {@code IOException} the call failed with, or that it was given up after 10 s (a call the server
   * left unanswered is given up). Any other failure is rethrown.
   */
  private static String outcome(CompletableFuture<HttpResponse<String>> call) throws Exception {
    try {
      HttpResponse<String> r = call.get(10, TimeUnit.SECONDS);
      return r.statusCode() + " " + r.body();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof java.io.IOException) {
        return NO_ANSWER_PREFIX + e.getCause();
      }
      throw e;
    } catch (TimeoutException e) {
      call.cancel(true);
      return NO_ANSWER_PREFIX + "none within 10 s (given up)";
    }
  }
}
