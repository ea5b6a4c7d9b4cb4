package io.ctx4j.spring.boot;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.concurrent.CurrentContext;
import com.sun.net.httpserver.HttpServer;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.UUID;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.http.client.JdkClientHttpRequestFactory;
import org.springframework.http.client.JettyClientHttpRequestFactory;
import org.springframework.web.client.ResourceAccessException;
import org.springframework.web.client.RestClient;
import org.springframework.web.reactive.function.client.WebClient;

/**
 * Many RestClient and WebClient calls under one long-lived context leave nothing registered on it:
 * completed calls, and calls whose own child context ended mid-body. RestClient on the JDK client,
 * on Spring Boot's default (Apache HttpClient with ctx4j-httpclient5) and on Jetty's HttpClient
 * (with ContextJettyHttpClient, as Spring Boot builds it; more ways to end its calls in their own
 * test).
 * The exact structural check is the core's count of live registrations (CoreInternals).
 */
@Timeout(300)
class SpringClientRegistrationLeakTest {
  /** Calls per client; -Dctx4j.spring.leakCalls=N to change. */
  private static final int CALLS = Integer.getInteger("ctx4j.spring.leakCalls", 1000);

  @Test
  void callsLeaveNoRegistrationOnALongLivedContext() throws Exception {
    Chains chains = Chains.get();
    String server = chains.tomcat.url("C");
    RestClient rest = chains.tomcat.a().getBean(RestClient.Builder.class).baseUrl(server)
        .requestFactory(new JdkClientHttpRequestFactory(HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()))
        .build();
    // Spring Boot's default factory here: Apache HttpClient 5 with ctx4j-httpclient5's handlers.
    RestClient apache = chains.tomcat.a().getBean(RestClient.Builder.class).baseUrl(server).build();
    // As Spring Boot builds it with spring.http.clients.imperative.factory=jetty: ctx4j's request
    // listener (ContextJettyHttpClient) on its HttpClient.
    JettyClientHttpRequestFactory jettyFactory = ClientCustomizersTest.jettyAsBootBuildsIt(chains.tomcat.a()).build();
    RestClient jetty = chains.tomcat.a().getBean(RestClient.Builder.class).baseUrl(server)
        .requestFactory(jettyFactory).build();
    WebClient web = chains.tomcat.a().getBean(WebClient.Builder.class).baseUrl(server).build();
    CancelableContext longLived = Context.withTimeout(Context.background(), Duration.ofMinutes(10));
    try {
      CurrentContext.call(longLived, () -> {
        for (int i = 0; i < CALLS; i++) {
          assertTrue(Long.parseLong(rest.get().uri("/echo").retrieve().body(String.class)) > 0);
          assertTrue(Long.parseLong(apache.get().uri("/echo").retrieve().body(String.class)) > 0);
          assertTrue(Long.parseLong(jetty.get().uri("/echo").retrieve().body(String.class)) > 0);
          assertTrue(Long.parseLong(web.get().uri("/echo").retrieve().bodyToMono(String.class).block()) > 0);
          assertEquals(0, CoreInternals.registrationCount(longLived), "after call " + i);
        }
        // Calls cut short by their own context, a child of the long-lived one.
        for (int i = 0; i < 20; i++) {
          String id = "leak-" + i;
          cutShortMidBody(rest, Context.withCancel(longLived), "/stream?id=" + id + "r");
          cutShortMidBody(apache, Context.withCancel(longLived), "/stream?id=" + id + "a");
          cutShortMidBody(jetty, Context.withCancel(longLived), "/stream?id=" + id + "j");
          CancelableContext call2 = Context.withCancel(longLived);
          assertThrows(RuntimeException.class, () -> CurrentContext.call(call2, () -> web.get().uri("/stream?id=" + id + "w")
              .retrieve().bodyToFlux(String.class).doOnNext(s -> call2.cancel()).blockLast()));
        }
        return null;
      });
      assertEquals(0, CoreInternals.registrationCount(longLived), "registrations left on the long-lived context");
    } finally {
      longLived.cancel();
      jettyFactory.destroy();
    }
  }

  /**
   * Jetty's requests tied to their calls (ContextJettyHttpClient) on one long-lived context: calls
   * that complete, calls that Jetty redirects (the hop is tied from one of Jetty's threads), calls
   * aborted while waiting for the response by their own context (a child of the long-lived one),
   * and calls that fail by the factory's read timeout, which Jetty enforces without the context
   * ending. None leaves a registration on the long-lived context.
   */
  @Test
  void jettyRequestsTiedToTheirCallsLeaveNoRegistrationOnALongLivedContext() throws Exception {
    Chains chains = Chains.get();
    String server = chains.tomcat.url("C");
    HttpServer redirecting = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    redirecting.createContext("/moved", exchange -> {
      exchange.getResponseHeaders().set("Location", server + "/echo");
      exchange.sendResponseHeaders(302, -1);
      exchange.close();
    });
    redirecting.start();
    JettyClientHttpRequestFactory jettyFactory = ClientCustomizersTest.jettyAsBootBuildsIt(chains.tomcat.a()).build();
    JettyClientHttpRequestFactory timingOut = ClientCustomizersTest.jettyAsBootBuildsIt(chains.tomcat.a()).build();
    timingOut.setReadTimeout(Duration.ofMillis(200));
    RestClient.Builder builder = chains.tomcat.a().getBean(RestClient.Builder.class);
    RestClient jetty = builder.clone().baseUrl(server).requestFactory(jettyFactory).build();
    RestClient moved = builder.clone().baseUrl("http://127.0.0.1:" + redirecting.getAddress().getPort())
        .requestFactory(jettyFactory).build();
    RestClient impatient = builder.clone().baseUrl(server).requestFactory(timingOut).build();
    ExecutorService callers = Executors.newCachedThreadPool();
    CancelableContext longLived = Context.withTimeout(Context.background(), Duration.ofMinutes(10));
    try {
      CurrentContext.call(longLived, () -> {
        for (int i = 0; i < Math.max(1, CALLS / 4); i++) {
          assertTrue(Long.parseLong(jetty.get().uri("/echo").retrieve().body(String.class)) > 0);
          assertTrue(Long.parseLong(moved.get().uri("/moved").retrieve().body(String.class)) > 0);
          assertEquals(0, CoreInternals.registrationCount(longLived), "after call " + i);
        }
        return null;
      });
      for (int i = 0; i < 20; i++) {
        // Ended by its own context while the server holds the answer.
        String id = "jetty-leak-" + UUID.randomUUID();
        Hops.Hop hop = chains.tomcat.hops.get(id);
        CancelableContext call = Context.withCancel(longLived);
        Future<String> f = callers.submit(() -> CurrentContext.call(call, () -> jetty.get().uri("/hold?id=" + id).retrieve().body(String.class)));
        assertTrue(hop.entered.await(30, TimeUnit.SECONDS), "the request never reached the server");
        call.cancel();
        ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
        assertInstanceOf(CanceledException.class, e.getCause(), () -> "failed otherwise: " + e.getCause());
        hop.release.countDown();
        // Timed out by Jetty under the long-lived context, which goes on.
        String id2 = "jetty-leak-" + UUID.randomUUID();
        Hops.Hop held = chains.tomcat.hops.get(id2);
        assertThrows(ResourceAccessException.class,
            () -> CurrentContext.call(longLived, () -> impatient.get().uri("/hold?id=" + id2).retrieve().body(String.class)));
        held.release.countDown();
        assertEquals(0, CoreInternals.registrationCount(longLived), "after round " + i);
      }
      assertEquals(0, CoreInternals.registrationCount(longLived), "registrations left on the long-lived context");
    } finally {
      longLived.cancel();
      callers.shutdownNow();
      jettyFactory.destroy();
      timingOut.destroy();
      redirecting.stop(0);
    }
  }

  /** A call under {@code call} that reads a little of a streamed body, then ends its context. */
  private static void cutShortMidBody(RestClient client, CancelableContext call, String uri) {
    assertThrows(CancellationException.class, () -> CurrentContext.call(call, () -> client.get().uri(uri)
        .exchange((req, res) -> {
          InputStream in = res.getBody();
          in.read(new byte[16]);
          call.cancel();
          return in.read(new byte[16]);
        })));
  }
}
