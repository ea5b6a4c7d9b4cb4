package io.ctx4j.demo;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.http.client.JdkClientHttpRequestFactory;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.client.RestClient;

/**
 * {@code springChain}: three Spring Boot services A &rarr; B &rarr; C on loopback, with ctx4j's
 * auto-configuration (ctx4j-spring-boot) and nothing else: every request gets a context from the
 * servlet filter, and the auto-configured {@code RestClient} sends the time left and gives up when
 * the context ends. First a 300 ms deadline shrinks from hop to hop; then the caller gives up on a
 * request without deadline, and each handler's context ends, hop by hop.
 *
 * <p>The services run on Jetty 12 with cleartext HTTP/2 (h2c) between them: a caller that gives up
 * resets its HTTP/2 stream, which Jetty reports to the filter at once, while over HTTP/1.1 neither
 * Jetty nor Tomcat notice a vanished client before the handler writes (ctx4j-servlet's README has
 * the matrix). Runs in real time. Not instantiable.
 */
public final class SpringChainExample {
  /** The caller's budget in the first part. */
  static final Duration BUDGET = Duration.ofMillis(300);

  private SpringChainExample() {}

  /**
   * Returns the scenario.
   *
   * @param time the demo's clock; unused, the services run in real time
   * @return {@code springChain}
   */
  public static List<Scenario> all(DemoTime time) {
    return List.of(
        Scenario.of(
            "springChain",
            "A -> B -> C as Spring Boot services: a 300 ms deadline at each hop; a caller that gives up ends every hop",
            SpringChainExample::run));
  }

  /** What one service saw. */
  static final class Hop {
    final CountDownLatch entered = new CountDownLatch(1);
    /** The handler is past its call to the next hop (at once for C). */
    final CountDownLatch called = new CountDownLatch(1);
    final CountDownLatch ended = new CountDownLatch(1);
    volatile long enteredAt;
    volatile long endedAt;
    volatile Throwable cause;
  }

  /** The records of the part in progress, shared by the three services (one JVM). */
  static final class Hops {
    private volatile Map<String, Hop> hops = new ConcurrentHashMap<>();
    final PrintStream out;

    Hops(PrintStream out) {
      this.out = out;
    }

    Hop get(String name) {
      return hops.computeIfAbsent(name, n -> new Hop());
    }

    /** Starts a new part: forgets the hops of the last one. */
    void reset() {
      hops = new ConcurrentHashMap<>();
    }
  }

  /** One service: {@code GET /hop} calls the next one, or, as C, works until its context ends. */
  @SpringBootConfiguration
  @EnableAutoConfiguration
  public static class Service {
    /** Created by Spring. */
    public Service() {}

    /** The handler. */
    @RestController
    public static class HopController {
      private final String name;
      private final RestClient next;
      private final Hops hops;

      /**
       * Created by Spring.
       *
       * @param builder the auto-configured builder, with ctx4j's interceptor on it
       * @param hops where the run is recorded
       * @param name this service's name
       * @param next the next service's URL, empty for C
       */
      public HopController(
          RestClient.Builder builder,
          Hops hops,
          @Value("${demo.name}") String name,
          @Value("${demo.next:}") String next) {
        this.name = name;
        this.hops = hops;
        // The JDK client over h2c: giving up resets the HTTP/2 stream, which the next Jetty sees.
        RestClient.Builder h2 =
            builder.requestFactory(
                new JdkClientHttpRequestFactory(
                    HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build()));
        this.next = next.isEmpty() ? null : h2.baseUrl(next).build();
      }

      /**
       * One hop.
       *
       * @param ping non-empty for a warm-up request
       * @return the service's name
       * @throws InterruptedException if interrupted while C waits
       */
      @GetMapping("/hop")
      public String hop(@RequestParam(name = "ping", defaultValue = "") String ping)
          throws InterruptedException {
        if (!ping.isEmpty()) {
          if (next != null) {
            next.get().uri("/hop?ping=1").retrieve().toBodilessEntity();
          }
          return name;
        }
        Context ctx = CurrentContext.get(); // the request context ctx4j's filter made
        Hop h = hops.get(name);
        h.enteredAt = System.nanoTime();
        hops.out.println(name + ": " + CrossServiceExamples.left(ctx));
        ctx.onDone(
            () -> {
              h.endedAt = System.nanoTime();
              h.cause = ctx.cause();
              h.ended.countDown();
            });
        h.entered.countDown();
        try {
          if (next != null) {
            next.get().uri("/hop").retrieve().toBodilessEntity();
          }
        } catch (RuntimeException e) {
          // the call gave up because this request's context ended: reported by the caller
        } finally {
          h.called.countDown();
        }
        // Every hop is slow: it works until its own context ends. (C's deadline is the earliest, so
        // C answers first; without this, B would end by "response completed" a moment before its
        // own deadline.)
        ctx.await(Duration.ofSeconds(20));
        return name;
      }
    }
  }

  private static void run(PrintStream out) throws Exception {
    out.println("== springChain: three Spring Boot services (ctx4j-spring-boot, Jetty, h2c) ==");
    List<ConfigurableApplicationContext> apps = new ArrayList<>();
    Hops hops = new Hops(out);
    try {
      String next = "";
      for (String name : List.of("C", "B", "A")) {
        Map<String, Object> p = new HashMap<>();
        p.put("server.port", "0");
        p.put("server.address", "127.0.0.1");
        p.put("server.http2.enabled", "true");
        p.put("spring.main.banner-mode", "off");
        p.put("spring.jmx.enabled", "false");
        p.put("logging.level.root", "WARN");
        p.put("demo.name", name);
        p.put("demo.next", next);
        ConfigurableApplicationContext app =
            new SpringApplicationBuilder(Service.class)
                .web(WebApplicationType.SERVLET)
                .properties(p)
                .initializers(c -> c.getBeanFactory().registerSingleton("hops", hops))
                .run();
        apps.add(app);
        next = "http://127.0.0.1:" + ((WebServerApplicationContext) app).getWebServer().getPort();
      }
      URI a = URI.create(next + "/hop");
      HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
      for (int i = 0; i < 3; i++) {
        // Class loading and the h2c connections would otherwise eat into the budget.
        client.send(HttpRequest.newBuilder(URI.create(a + "?ping=1")).build(), BodyHandlers.discarding());
      }

      out.println("-- the caller allows " + BUDGET.toMillis() + " ms (header Ctx4j-Timeout-Ms: 300)");
      hops.reset();
      long sent = System.nanoTime();
      int status =
          client
              .send(
                  HttpRequest.newBuilder(a).header("Ctx4j-Timeout-Ms", Long.toString(BUDGET.toMillis())).build(),
                  BodyHandlers.discarding())
              .statusCode();
      report(hops, sent, "the request was sent");
      out.println("caller: answered " + status + " after " + millis(System.nanoTime() - sent) + " ms");

      out.println("-- no deadline; the caller gives up once C is working (its HTTP/2 stream is reset)");
      hops.reset();
      CompletableFuture<?> call =
          client.sendAsync(HttpRequest.newBuilder(a).build(), BodyHandlers.discarding());
      if (!hops.get("C").entered.await(20, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the request never reached C");
      }
      long gaveUp = System.nanoTime();
      call.cancel(true);
      out.println("caller: gave up");
      report(hops, gaveUp, "the caller gave up");
    } finally {
      for (int i = apps.size() - 1; i >= 0; i--) {
        apps.get(i).close();
      }
    }
  }

  /**
   * Waits for the hops the request reached to end, then prints when and why each ended, A first,
   * and names the first hop it never reached, if any: on a loaded machine a hop may use up the
   * budget before it calls the next one, whose RestClient then refuses to send the request.
   */
  private static void report(Hops hops, long since, String what) throws InterruptedException {
    List<String> lines = new ArrayList<>();
    String caller = null;
    for (String name : List.of("A", "B", "C")) {
      Hop h = hops.get(name);
      if (caller != null && !reached(caller, hops.get(caller), name, h)) {
        lines.add(name + ": never reached (" + caller + "'s context ended before its call got there)");
        break;
      }
      if (!h.ended.await(20, TimeUnit.SECONDS)) {
        throw new IllegalStateException(name + " kept working after the request ended");
      }
      lines.add(
          name + ": context ended " + millis(h.endedAt - since) + " ms after " + what + " ("
              + h.cause.getMessage() + ")");
      caller = name;
    }
    lines.forEach(hops.out::println);
  }

  /**
   * Whether the request reached {@code callee}: yes once its handler ran; no if it has not run a
   * second after {@code caller}'s call returned (a request still in flight then would find its
   * deadline passed, or its caller gone).
   */
  private static boolean reached(String callerName, Hop caller, String calleeName, Hop callee)
      throws InterruptedException {
    if (callee.entered.getCount() == 0) {
      return true;
    }
    if (!caller.called.await(20, TimeUnit.SECONDS)) {
      throw new IllegalStateException(
          callerName + "'s call to " + calleeName + " neither reached it nor returned");
    }
    return callee.entered.await(1, TimeUnit.SECONDS);
  }

  private static long millis(long nanos) {
    return TimeUnit.NANOSECONDS.toMillis(nanos);
  }
}
