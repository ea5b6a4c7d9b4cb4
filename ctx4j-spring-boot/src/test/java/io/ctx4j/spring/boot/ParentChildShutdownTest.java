package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.servlet.ContextServletFilter;
import io.ctx4j.servlet.RequestCanceledException;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.event.ContextClosedEvent;

/**
 * Parent and child application contexts ({@code SpringApplicationBuilder.parent/child}), each child
 * a web application with its own Tomcat on a random port and a 1 s graceful drain. Each application
 * context has its own {@link ShutdownContext}, a child of its parent's, and its own servlet filter
 * under it: a child's requests still running when the child's drain is over are cancelled then, by
 * the child's close, and a sibling's requests go on.
 */
@Timeout(120)
class ParentChildShutdownTest {
  private static final long DRAIN_MILLIS = 1000;

  /** A parent without a web server: the beans the children share. */
  @SpringBootConfiguration
  @EnableAutoConfiguration
  static class Shared {}

  private static Map<String, Object> common(String name) {
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("spring.main.banner-mode", "off");
    p.put("spring.jmx.enabled", "false");
    p.put("logging.level.root", "WARN");
    p.put("spring.autoconfigure.exclude", Apps.Server.TOMCAT.exclude);
    p.put("hop.name", name);
    p.put("prices.url", "http://127.0.0.1:9");
    return p;
  }

  private static Map<String, Object> server(String name) {
    Map<String, Object> p = common(name);
    p.put("server.port", "0");
    p.put("server.address", "127.0.0.1");
    p.put("server.shutdown", "graceful");
    p.put("spring.lifecycle.timeout-per-shutdown-phase", DRAIN_MILLIS + "ms");
    return p;
  }

  /** A non-web parent application of {@code source}, with {@code hops} for its children. */
  private static SpringApplicationBuilder parent(Class<?> source, Hops hops) {
    return new SpringApplicationBuilder(source)
        .web(WebApplicationType.NONE)
        .properties(common("parent"))
        .initializers(c -> c.getBeanFactory().registerSingleton("hops", hops));
  }

  /**
   * Runs {@code builder}, a child application of {@link HopApp}, as a web application with its own
   * server; {@code closedAt[0]}: when its close began.
   */
  private static ConfigurableApplicationContext child(
      SpringApplicationBuilder builder, String name, long[] closedAt) {
    return builder
        .web(WebApplicationType.SERVLET)
        .properties(server(name))
        .listeners(
            (ContextClosedEvent e) -> {
              // The parent's listeners see the child's close too: record only the child's own.
              if (e.getApplicationContext().getParent() != null && closedAt[0] == 0) {
                closedAt[0] = System.nanoTime();
              }
            })
        .run();
  }

  private static CompletableFuture<HttpResponse<String>> work(HttpClient http, ConfigurableApplicationContext app, String id) {
    return http.sendAsync(HttpRequest.newBuilder(URI.create(Apps.url(app) + "/work?id=" + id)).build(), BodyHandlers.ofString());
  }

  /**
   * The child's request still running at the end of the child's drain is cancelled then, with the
   * shutdown cause, before the child's close returns; the parent's shutdown context lives on.
   */
  @Test
  void aChildsRequestsAreCancelledWhenTheChildsDrainEnds() throws Exception {
    Hops hops = new Hops();
    SpringApplicationBuilder parentBuilder = parent(Shared.class, hops);
    long[] closedAt = new long[1];
    ConfigurableApplicationContext child = child(parentBuilder.child(HopApp.class), "child", closedAt);
    ConfigurableApplicationContext parent = (ConfigurableApplicationContext) child.getParent();
    ShutdownContext parentShutdown = parent.getBean(ShutdownContext.class);
    try {
      ShutdownContext childShutdown = child.getBean(ShutdownContext.class);

      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      CompletableFuture<HttpResponse<String>> stuck = work(http, child, "stuck");
      Hops.Hop s = hops.get("stuck");
      assertTrue(s.entered.await(30, TimeUnit.SECONDS), "the request never reached the child's handler");

      child.close();
      long closed = System.nanoTime();

      assertTrue(s.ended.await(10, TimeUnit.SECONDS), "the child's request was not cancelled by the child's close");
      RequestCanceledException cause = (RequestCanceledException) s.cause;
      assertEquals(Reason.SERVER_SHUTDOWN, cause.reason(), String.valueOf(cause));
      assertEquals("server shutdown: " + ShutdownContext.DETAIL, cause.getMessage());
      long afterClosedEvent = TimeUnit.NANOSECONDS.toMillis(s.endedNanos - closedAt[0]);
      assertTrue(afterClosedEvent >= DRAIN_MILLIS - 50,
          "cancelled " + afterClosedEvent + " ms after the child's ContextClosedEvent, before its drain was over");
      assertTrue(s.endedNanos <= closed, "not cancelled during the child's close");
      assertFalse(parentShutdown.context().isDone(), "the child's close ended the parent's shutdown context");
      stuck.handle((r, e) -> null).get(10, TimeUnit.SECONDS);
      assertNotSame(parentShutdown, childShutdown, "the child uses its parent's shutdown context");
      assertTrue(childShutdown.context().isDone());
    } finally {
      parent.close();
    }
    assertTrue(parentShutdown.context().isDone(), "the parent's close did not end its shutdown context");
  }

  /**
   * A parent that defines a servlet filter of its own, under its shutdown context (as the README
   * shows for an application's own filter).
   */
  @SpringBootConfiguration
  @EnableAutoConfiguration
  static class SharedWithFilter {
    @Bean
    ContextServletFilter sharedFilter(ShutdownContext shutdown) {
      return ContextServletFilter.builder().parent(shutdown.context()).build();
    }
  }

  /**
   * Two children of one parent, each with its own server: each has a filter of its own (not one in
   * the parent), under its own shutdown context, so closing one child cancels its requests and
   * leaves the sibling's running and its new requests live. One filter instance in two servers
   * would be destroyed with the first server, ending the second's requests.
   */
  @Test
  void siblingChildrenHaveFiltersOfTheirOwn() throws Exception {
    Hops hops = new Hops();
    SpringApplicationBuilder parentBuilder = parent(SharedWithFilter.class, hops);
    long[] closedA = new long[1];
    ConfigurableApplicationContext a = child(parentBuilder.child(HopApp.class), "a", closedA);
    ConfigurableApplicationContext b = child(parentBuilder.child(HopApp.class), "b", new long[1]);
    ConfigurableApplicationContext parent = (ConfigurableApplicationContext) a.getParent();
    assertSame(parent, b.getParent());
    try {
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      CompletableFuture<HttpResponse<String>> onA = work(http, a, "onA");
      CompletableFuture<HttpResponse<String>> onB = work(http, b, "onB");
      Hops.Hop ha = hops.get("onA");
      Hops.Hop hb = hops.get("onB");
      assertTrue(ha.entered.await(30, TimeUnit.SECONDS), "the request never reached a's handler");
      assertTrue(hb.entered.await(30, TimeUnit.SECONDS), "the request never reached b's handler");
      assertNotSame(ha.ctx, hb.ctx);
      // Read before a's close: its beans are gone after it.
      ContextServletFilter pf = parent.getBean(ContextServletFilter.class);
      ContextServletFilter af = a.getBean(ContextServletFilter.class);
      ContextServletFilter bf = b.getBean(ContextServletFilter.class);
      ShutdownContext aShutdown = a.getBean(ShutdownContext.class);

      a.close();
      assertFalse(hb.ctx.isDone(), "closing a ended b's request: " + hb.ctx.cause());
      assertTrue(ha.ended.await(10, TimeUnit.SECONDS), "a's request was not cancelled by a's close");
      RequestCanceledException cause = (RequestCanceledException) ha.cause;
      assertEquals(Reason.SERVER_SHUTDOWN, cause.reason(), String.valueOf(cause));
      assertEquals("server shutdown: " + ShutdownContext.DETAIL, cause.getMessage());
      hb.release.countDown();
      assertEquals("ok", onB.get(10, TimeUnit.SECONDS).body(), "b's request was cancelled by a's close");
      hops.get("afterA").release.countDown();
      assertEquals("ok", work(http, b, "afterA").get(10, TimeUnit.SECONDS).body(),
          "a request to b after a's close was born cancelled");
      onA.handle((r, e) -> null).get(10, TimeUnit.SECONDS);
      assertNotSame(pf, af, "child a uses its parent's filter");
      assertNotSame(pf, bf, "child b uses its parent's filter");
      assertNotSame(af, bf, "the siblings share a filter");
      assertNotSame(aShutdown, b.getBean(ShutdownContext.class), "the siblings share a shutdown context");
      assertTrue(aShutdown.context().isDone());
      assertFalse(b.getBean(ShutdownContext.class).context().isDone(), "closing a ended b's shutdown context");
      assertFalse(parent.getBean(ShutdownContext.class).context().isDone(), "closing a ended the parent's shutdown context");
    } finally {
      b.close();
      parent.close();
    }
  }
}
