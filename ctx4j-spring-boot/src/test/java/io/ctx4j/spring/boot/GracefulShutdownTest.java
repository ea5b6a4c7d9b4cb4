package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.servlet.RequestCanceledException;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.event.ContextClosedEvent;

/**
 * Spring Boot's graceful shutdown on Tomcat, with a 1 s drain ({@code
 * spring.lifecycle.timeout-per-shutdown-phase}): a request that finishes during the drain is not
 * cancelled (its context ends "response completed"), and one still running when the drain is over
 * is cancelled then, not at {@code ContextClosedEvent}, with a SERVER_SHUTDOWN cause that says so.
 * Without a drain ({@code server.shutdown=immediate}) it is cancelled during the close. With {@code
 * ctx4j.shutdown.enabled=false} (Tomcat and Jetty) it ends only as the server stops, with what the
 * container does to it.
 */
@Timeout(120)
class GracefulShutdownTest {
  private static final long DRAIN_MILLIS = 1000;

  @Test
  void requestsInFlightAreCancelledWhenTheDrainEndsNotBefore() throws Exception {
    Hops hops = new Hops();
    long[] closedAt = new long[1];
    ConfigurableApplicationContext app =
        new SpringApplicationBuilder(HopApp.class)
            .web(WebApplicationType.SERVLET)
            .properties(Map.of(
                "server.port", "0", "server.address", "127.0.0.1", "spring.main.banner-mode", "off",
                "spring.jmx.enabled", "false", "logging.level.root", "WARN",
                "spring.autoconfigure.exclude", Apps.Server.TOMCAT.exclude,
                "hop.name", "S", "prices.url", "http://127.0.0.1:9", "server.shutdown", "graceful",
                "spring.lifecycle.timeout-per-shutdown-phase", DRAIN_MILLIS + "ms"))
            .initializers(c -> c.getBeanFactory().registerSingleton("hops", hops))
            .listeners(
                (ContextClosedEvent e) -> {
                  closedAt[0] = System.nanoTime();
                  // The finishing request may complete now: during the drain, if nobody pre-empts it.
                  hops.get("finishing").release.countDown();
                })
            .run();
    String base = Apps.url(app);
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    CompletableFuture<HttpResponse<String>> finishing =
        http.sendAsync(HttpRequest.newBuilder(URI.create(base + "/work?id=finishing")).build(), BodyHandlers.ofString());
    CompletableFuture<HttpResponse<String>> stuck =
        http.sendAsync(HttpRequest.newBuilder(URI.create(base + "/work?id=stuck")).build(), BodyHandlers.ofString());
    assertTrue(hops.get("finishing").entered.await(30, TimeUnit.SECONDS));
    assertTrue(hops.get("stuck").entered.await(30, TimeUnit.SECONDS));

    app.close();
    long closed = System.nanoTime();

    Hops.Hop f = hops.get("finishing");
    assertTrue(f.ended.await(10, TimeUnit.SECONDS));
    assertFalse(f.doneWhenFinished, "the finishing request was cancelled before it could finish");
    assertEquals(Reason.RESPONSE_COMPLETED, ((RequestCanceledException) f.cause).reason(), String.valueOf(f.cause));
    assertEquals("ok", finishing.get(10, TimeUnit.SECONDS).body());

    Hops.Hop s = hops.get("stuck");
    assertTrue(s.ended.await(10, TimeUnit.SECONDS));
    RequestCanceledException cause = (RequestCanceledException) s.cause;
    assertEquals(Reason.SERVER_SHUTDOWN, cause.reason(), String.valueOf(cause));
    assertEquals("server shutdown: application context closed, graceful-shutdown drain over", cause.getMessage());
    long afterClosedEvent = TimeUnit.NANOSECONDS.toMillis(s.endedNanos - closedAt[0]);
    assertTrue(afterClosedEvent >= DRAIN_MILLIS - 50,
        "cancelled " + afterClosedEvent + " ms after ContextClosedEvent, before the " + DRAIN_MILLIS + " ms drain was over");
    assertTrue(s.endedNanos <= closed, "cancelled during the close, before the server stopped");
    String stuckOutcome;
    try {
      HttpResponse<String> r = stuck.get(10, TimeUnit.SECONDS);
      stuckOutcome = r.statusCode() + " " + r.body();
    } catch (java.util.concurrent.ExecutionException e) {
      stuckOutcome = e.getCause().toString();
    }
    System.out.printf("graceful shutdown: the stuck request was cancelled %d ms after ContextClosedEvent; its client got: %s%n",
        afterClosedEvent, stuckOutcome);
  }

  /**
   * {@code ConfigurableApplicationContext.stop()} and then {@code start()} (a CRaC checkpoint and
   * restore do this): the requests served after the restart must not be born cancelled; the close
   * that follows a later stop must still end the shutdown context. On Tomcat and on Jetty (whose
   * row a README review added).
   */
  @ParameterizedTest
  @EnumSource(Apps.Server.class)
  void aStopAndStartLeaveTheContextLiveAndACloseAfterAStopEndsIt(Apps.Server server)
      throws Exception {
    Hops hops = new Hops();
    ConfigurableApplicationContext app =
        Apps.start(HopApp.class, server,
            Map.of("hop.name", "R", "prices.url", "http://127.0.0.1:9"), Map.of("hops", hops));
    ShutdownContext shutdown = app.getBean(ShutdownContext.class);
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    try {
      assertEquals("ok", work(http, app, hops, "before"));

      app.stop();
      assertFalse(shutdown.context().isDone(), "a stop without a close ended the shutdown context");
      app.start();

      assertEquals(
          "ok",
          work(http, app, hops, "after"),
          server + ": a request after the restart was born cancelled");
      assertFalse(hops.get("after").doneWhenFinished);

      app.stop();
    } finally {
      app.close();
    }
    assertTrue(shutdown.context().isDone(), "the close after a stop did not end the shutdown context");
    RequestCanceledException cause = (RequestCanceledException) shutdown.context().cause();
    assertEquals(Reason.SERVER_SHUTDOWN, cause.reason(), String.valueOf(cause));
    // The stop stopped the server: the close had nothing to drain, and the cause must not say so.
    assertEquals("server shutdown: application context closed after a stop, the web server stopped then: "
        + "no graceful-shutdown drain at the close", cause.getMessage());
  }

  /** An application without a web server of its own (as a batch job is). */
  @org.springframework.boot.SpringBootConfiguration
  @org.springframework.boot.autoconfigure.EnableAutoConfiguration
  static class NoServerApp {}

  /**
   * A non-web application has no web server, so no drain: the cause at its close says so, whether
   * the close follows a stop or not (the default {@code server.shutdown=graceful} notwithstanding).
   */
  @Test
  void aNonWebApplicationsCloseSaysThereWasNoDrain() {
    for (boolean stopFirst : new boolean[] {false, true}) {
      ConfigurableApplicationContext app =
          new SpringApplicationBuilder(NoServerApp.class)
              .web(WebApplicationType.NONE)
              .properties(Apps.defaults(Apps.Server.TOMCAT))
              .run();
      ShutdownContext shutdown = app.getBean(ShutdownContext.class);
      if (stopFirst) {
        app.stop();
        assertFalse(shutdown.context().isDone(), "a stop without a close ended the shutdown context");
      }
      app.close();
      assertTrue(shutdown.context().isDone(), "the close did not end the shutdown context");
      RequestCanceledException cause = (RequestCanceledException) shutdown.context().cause();
      assertEquals(Reason.SERVER_SHUTDOWN, cause.reason(), String.valueOf(cause));
      assertEquals("server shutdown: application context closed, no graceful-shutdown drain "
          + "(no web server in this application context)", cause.getMessage(), "stop first: " + stopFirst);
    }
  }

  /**
   * {@code server.shutdown=immediate}: no drain, so a request still running is cancelled with the
   * shutdown cause as the close reaches the bean's phase, before the server stops, its detail saying
   * there was no drain; a second close changes nothing.
   */
  @Test
  void withoutGracefulShutdownARunningRequestIsCancelledByTheCloseAndASecondCloseChangesNothing() throws Exception {
    Hops hops = new Hops();
    ConfigurableApplicationContext app =
        Apps.start(HopApp.class, Apps.Server.TOMCAT,
            Map.of("hop.name", "I", "prices.url", "http://127.0.0.1:9", "server.shutdown", "immediate"),
            Map.of("hops", hops));
    ShutdownContext shutdown = app.getBean(ShutdownContext.class);
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    CompletableFuture<HttpResponse<String>> stuck =
        http.sendAsync(HttpRequest.newBuilder(URI.create(Apps.url(app) + "/work?id=stuck")).build(), BodyHandlers.ofString());
    Hops.Hop s = hops.get("stuck");
    assertTrue(s.entered.await(30, TimeUnit.SECONDS), "the request never reached the handler");
    app.close();
    long closed = System.nanoTime();
    assertTrue(s.ended.await(10, TimeUnit.SECONDS), "the running request was never cancelled");
    RequestCanceledException cause = (RequestCanceledException) s.cause;
    assertEquals(Reason.SERVER_SHUTDOWN, cause.reason(), String.valueOf(cause));
    assertTrue(s.endedNanos <= closed, "cancelled during the close, before the server stopped");
    // No drain took place: the cause must not say one is over.
    assertEquals("server shutdown: application context closed, no graceful-shutdown drain (server.shutdown=immediate)", cause.getMessage());
    Throwable first = shutdown.context().cause();
    app.close();
    assertSame(first, shutdown.context().cause(), "a second close changed the shutdown context's cause");
    stuck.handle((r, e) -> null).get(10, TimeUnit.SECONDS);
  }

  /**
   * {@code ctx4j.shutdown.enabled=false}: no shutdown context, so nothing ends a request still
   * running when the drain is over; it ends as the server stops, with what the container does to
   * it then (the rows pin the measured outcome): Tomcat interrupts the request's thread, so the
   * handler's wait throws and the request ends HANDLER_FAILED; Jetty closes the connection while it
   * stops, and the servlet filter ends the request SERVER_SHUTDOWN ("the server is stopping"; it
   * ended CLIENT_DISCONNECTED, an EofException, before fc38382). Both after the drain, during the
   * close.
   */
  @ParameterizedTest
  @CsvSource({"TOMCAT, HANDLER_FAILED", "JETTY, SERVER_SHUTDOWN"})
  void withTheShutdownContextOffARunningRequestEndsAsTheServerStops(Apps.Server server, Reason expected) throws Exception {
    Hops hops = new Hops();
    ConfigurableApplicationContext app =
        Apps.start(HopApp.class, server,
            Map.of("hop.name", "O", "prices.url", "http://127.0.0.1:9", "server.shutdown", "graceful",
                "spring.lifecycle.timeout-per-shutdown-phase", DRAIN_MILLIS + "ms", "ctx4j.shutdown.enabled", "false"),
            Map.of("hops", hops));
    assertTrue(app.getBeansOfType(ShutdownContext.class).isEmpty(), "a shutdown context although switched off");
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    CompletableFuture<HttpResponse<String>> stuck =
        http.sendAsync(HttpRequest.newBuilder(URI.create(Apps.url(app) + "/work?id=stuck")).build(), BodyHandlers.ofString());
    Hops.Hop s = hops.get("stuck");
    assertTrue(s.entered.await(30, TimeUnit.SECONDS), "the request never reached the handler");
    long closing = System.nanoTime();
    app.close();
    long closed = System.nanoTime();
    assertTrue(s.ended.await(30, TimeUnit.SECONDS), "the running request never ended");
    RequestCanceledException cause = (RequestCanceledException) s.cause;
    long afterClose = TimeUnit.NANOSECONDS.toMillis(s.endedNanos - closing);
    System.out.printf("shutdown context off, %s: the running request ended %d ms after the close began, %d ms %s the close returned: %s%n",
        server, afterClose, Math.abs(TimeUnit.NANOSECONDS.toMillis(closed - s.endedNanos)),
        s.endedNanos <= closed ? "before" : "after", cause);
    assertEquals(expected, cause.reason(), String.valueOf(cause));
    assertTrue(afterClose >= DRAIN_MILLIS - 50, "ended " + afterClose + " ms after the close began, before the drain was over");
    stuck.handle((r, e) -> null).get(30, TimeUnit.SECONDS);
  }

  /** Runs /work for {@code id}, released at once: "ok" if its context was live, else "cancelled". */
  private static String work(HttpClient http, ConfigurableApplicationContext app, Hops hops, String id) throws Exception {
    hops.get(id).release.countDown();
    HttpResponse<String> r =
        http.send(HttpRequest.newBuilder(URI.create(Apps.url(app) + "/work?id=" + id)).build(), BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    return r.body();
  }
}
