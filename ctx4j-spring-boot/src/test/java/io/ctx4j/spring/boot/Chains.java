package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The two chains A -> B -> C of {@link HopApp} services, one on Tomcat (HTTP/1.1) and one on Jetty
 * (h2c), started once per test JVM and shared by the test classes (six application contexts take
 * most of the module's test time). Closed by a shutdown hook when the JVM exits.
 */
public final class Chains {
  /** One chain: its services, A first. */
  public static final class Chain {
    final Hops hops = new Hops();
    final List<ConfigurableApplicationContext> apps = new ArrayList<>(); // C, B, A

    public ConfigurableApplicationContext a() {
      return apps.get(2);
    }

    ConfigurableApplicationContext c() {
      return apps.get(0);
    }

    public String url(String name) {
      return Apps.url(apps.get(2 - "ABC".indexOf(name)));
    }
  }

  private static Chains instance;

  public final Chain tomcat;
  final Chain jetty;

  private Chains() throws Exception {
    tomcat = start(Apps.Server.TOMCAT, Map.of());
    jetty = start(Apps.Server.JETTY, Map.of("server.http2.enabled", "true", "hop.http2", "true"));
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  for (Chain c : List.of(tomcat, jetty)) {
                    c.apps.forEach(ConfigurableApplicationContext::close);
                  }
                }));
    for (Chain c : List.of(tomcat, jetty)) {
      warm(c);
    }
  }

  /**
   * Sends three warm-up requests through the chain: class loading, and connections A -> B and B ->
   * C. On Jetty the calls between services use h2c, whose first request on a new connection is an
   * HTTP/1.1 upgrade; Jetty closes idle connections after 30 s, so a test that needs established
   * HTTP/2 connections (a reset must be a stream reset) warms the chain right before it.
   */
  static void warm(Chain c) throws Exception {
    HttpClient h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
    for (int i = 0; i < 3; i++) {
      assertEquals(
          200,
          h2.send(HttpRequest.newBuilder(URI.create(c.url("A") + "/hop?ping=1")).build(), BodyHandlers.discarding())
              .statusCode());
    }
  }

  public static synchronized Chains get() throws Exception {
    if (instance == null) {
      instance = new Chains();
    }
    return instance;
  }

  private static Chain start(Apps.Server server, Map<String, Object> extra) {
    Chain chain = new Chain();
    String next = "";
    for (String name : List.of("C", "B", "A")) {
      Map<String, Object> p = new HashMap<>(extra);
      p.put("hop.name", name);
      p.put("hop.next", next);
      p.put("prices.url", next.isEmpty() ? "http://127.0.0.1:9" : next);
      ConfigurableApplicationContext app = Apps.start(HopApp.class, server, p, Map.of("hops", chain.hops));
      chain.apps.add(app);
      next = Apps.url(app);
    }
    return chain;
  }
}
