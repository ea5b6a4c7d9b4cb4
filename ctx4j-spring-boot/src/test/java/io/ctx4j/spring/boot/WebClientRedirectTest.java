package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.ctx4j.CancelableContext;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.http.DeadlineHeader;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.testing.LaggingClock;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.web.reactive.function.client.WebClient;

/**
 * The WebClient that Spring Boot's builder makes (Reactor Netty's connector, as Boot configures
 * it) follows a redirect itself, below ctx4j's filter. Each hop is written by the connector, and
 * ctx4j states the time left, and checks the deadline, when the connector writes a request: so the
 * hop after a redirect carries the budget left then, not the first hop's, and a hop whose deadline
 * passed while the first was at the server (the timer lagging) is not sent.
 */
class WebClientRedirectTest {
  private static final ExecutorService CALLERS = Executors.newCachedThreadPool();

  @AfterAll
  static void stopCallers() {
    CALLERS.shutdownNow();
  }

  @ParameterizedTest
  @ValueSource(strings = {"900 ms at the first hop", "past the deadline at the first hop"})
  void eachRedirectHopStatesTheTimeLeftThenAndNoneGoesOutPastTheDeadline(String what)
      throws Exception {
    CountDownLatch firstEntered = new CountDownLatch(1);
    CountDownLatch clockPassed = new CountDownLatch(1);
    CountDownLatch secondEntered = new CountDownLatch(1);
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.setExecutor(CALLERS);
    server.createContext("/first", exchange -> {
      firstEntered.countDown();
      try {
        clockPassed.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      exchange.getResponseHeaders().set("Location", "/second");
      respond(exchange, 302, "");
    });
    server.createContext("/second", exchange -> {
      secondEntered.countDown();
      respond(exchange, 200, String.valueOf(exchange.getRequestHeaders().getFirst(DeadlineHeader.NAME)));
    });
    server.start();
    try {
      WebClient web = Chains.get().tomcat.a().getBean(WebClient.Builder.class)
          .baseUrl("http://127.0.0.1:" + server.getAddress().getPort())
          .build();
      LaggingClock clock = new LaggingClock();
      try (CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(1))) {
        Future<String> call = CALLERS.submit(() -> CurrentContext.call(ctx,
            () -> web.get().uri("/first").retrieve().bodyToMono(String.class).block()));
        assertTrue(firstEntered.await(30, TimeUnit.SECONDS), "the first hop never reached the server");
        boolean past = what.startsWith("past");
        clock.pass(past ? Duration.ofSeconds(2) : Duration.ofMillis(900));
        clockPassed.countDown();
        if (past) {
          Throwable failure =
              assertThrows(ExecutionException.class, () -> call.get(30, TimeUnit.SECONDS)).getCause();
          assertInstanceOf(DeadlineExceededException.class, failure, () -> "failed otherwise: " + failure);
          assertEquals(1, secondEntered.getCount(), "the redirect hop went out past the deadline");
        } else {
          long budget = Long.parseLong(call.get(30, TimeUnit.SECONDS));
          assertTrue(budget <= 100, "the redirect hop carried the first hop's budget: " + budget);
        }
        assertEquals(0, CoreInternals.registrationCount(ctx), "the call left a registration on its context");
      }
    } finally {
      clockPassed.countDown();
      server.stop(0);
    }
  }

  private static void respond(HttpExchange exchange, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
    exchange.getResponseBody().write(bytes);
    exchange.close();
  }
}
