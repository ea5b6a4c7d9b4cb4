package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.ctx4j.CancelableContext;
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
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.boot.http.client.HttpClientSettings;
import org.springframework.boot.http.client.HttpRedirects;
import org.springframework.boot.http.client.reactive.ClientHttpConnectorBuilder;
import org.springframework.http.ResponseEntity;
import org.springframework.web.reactive.function.client.WebClient;

/**
 * The WebClient that Spring Boot's builder makes (Reactor Netty's connector, as Boot configures
 * it) follows a redirect itself, below ctx4j's filter. Each hop is written by the connector, and
 * ctx4j states the time left, and checks the deadline, when the connector writes a request: so the
 * hop after a redirect carries the budget left then, not the first hop's, and a hop whose deadline
 * passed while the first was at the server (the timer lagging) is not sent. Spring Boot's JDK
 * connector follows the redirect inside the JDK client, where the filter sees no hop: the README's
 * limit, and its remedy ({@code spring.http.clients.redirects=dont-follow}), are measured here too.
 */
class WebClientRedirectTest {
  private static final ExecutorService CALLERS = Executors.newCachedThreadPool();

  @AfterAll
  static void stopCallers() {
    CALLERS.shutdownNow();
  }

  /**
   * The connector under test: Spring Boot's builder's (Reactor Netty, as Boot configures it), or
   * Spring Boot's JDK connector ({@code spring.http.clients.reactive.connector=jdk}), following
   * redirects itself or not ({@code spring.http.clients.redirects=dont-follow}), each under the
   * ctx4j filter Spring Boot's builder carries.
   */
  private static WebClient webClient(String connector, String base) throws Exception {
    WebClient.Builder builder = Chains.get().tomcat.a().getBean(WebClient.Builder.class).baseUrl(base);
    return switch (connector) {
      case "reactor" -> builder.build();
      case "jdk" -> builder.clientConnector(ClientHttpConnectorBuilder.jdk().build()).build();
      case "jdk, dont-follow" -> builder.clientConnector(ClientHttpConnectorBuilder.jdk()
          .build(HttpClientSettings.defaults().withRedirects(HttpRedirects.DONT_FOLLOW))).build();
      default -> throw new IllegalArgumentException(connector);
    };
  }

  /**
   * A GET of {@code /first}; on a connector that does not follow redirects, the caller follows the
   * 302 itself, on its own thread (where the context is current), with a request of its own that
   * goes through the filter again.
   */
  private static String call(WebClient web) {
    ResponseEntity<String> first = web.get().uri("/first").retrieve().toEntity(String.class).block();
    if (first.getStatusCode().is3xxRedirection()) {
      return web.get().uri(first.getHeaders().getLocation().toString()).retrieve().bodyToMono(String.class).block();
    }
    return first.getBody();
  }

  /**
   * Reactor Netty: each hop states the time left when it is written (95 ms of the 1 s, after 900 ms
   * at the first hop), and none goes out past the deadline. The JDK connector follows a redirect
   * inside the JDK client, where the filter does not see the hop: it carries a copy of the first
   * hop's header ({@code 995}), stale by the first hop's time, and goes out past the deadline if
   * the timer has not ended the context yet (the call then returns the hop's answer); the README
   * says so, and gives the remedy, the last rows: with {@code dont-follow} the caller's own
   * request for the hop gets a fresh budget, and none goes out past the deadline.
   */
  @ParameterizedTest(name = "{0}, {1}")
  @CsvSource(delimiter = '|', value = {
    "reactor          | 900 ms at the first hop            | the hop's budget 95",
    "reactor          | past the deadline at the first hop | DeadlineExceededException, the hop not sent",
    "jdk              | 900 ms at the first hop            | the hop's budget 995",
    "jdk              | past the deadline at the first hop | the hop's budget 995",
    "jdk, dont-follow | 900 ms at the first hop            | the hop's budget 95",
    "jdk, dont-follow | past the deadline at the first hop | DeadlineExceededException, the hop not sent",
  })
  void eachRedirectHopStatesTheTimeLeftThenAndNoneGoesOutPastTheDeadline(String connector, String what, String expected)
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
      WebClient web = webClient(connector, "http://127.0.0.1:" + server.getAddress().getPort());
      LaggingClock clock = new LaggingClock();
      try (CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(1))) {
        Future<String> call = CALLERS.submit(() -> CurrentContext.call(ctx, () -> call(web)));
        assertTrue(firstEntered.await(30, TimeUnit.SECONDS), "the first hop never reached the server");
        clock.pass(what.startsWith("past") ? Duration.ofSeconds(2) : Duration.ofMillis(900));
        clockPassed.countDown();
        String outcome;
        try {
          outcome = "the hop's budget " + call.get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
          outcome = e.getCause().getClass().getSimpleName()
              + (secondEntered.getCount() == 0 ? ", the hop sent" : ", the hop not sent");
        }
        assertEquals(expected, outcome);
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
