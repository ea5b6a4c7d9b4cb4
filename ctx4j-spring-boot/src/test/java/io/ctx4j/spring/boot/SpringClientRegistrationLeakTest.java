package io.ctx4j.spring.boot;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.concurrent.CurrentContext;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.boot.http.client.ClientHttpRequestFactoryBuilder;
import org.springframework.http.client.JdkClientHttpRequestFactory;
import org.springframework.http.client.JettyClientHttpRequestFactory;
import org.springframework.web.client.RestClient;
import org.springframework.web.reactive.function.client.WebClient;

/**
 * Many RestClient and WebClient calls under one long-lived context leave nothing registered on it:
 * completed calls, and calls whose own child context ended mid-body. RestClient on the JDK client,
 * on Spring Boot's default (Apache HttpClient with ctx4j-httpclient5) and on Jetty's HttpClient.
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
    JettyClientHttpRequestFactory jettyFactory = ClientHttpRequestFactoryBuilder.jetty().build();
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
