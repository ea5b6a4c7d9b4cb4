package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.servlet.RequestCanceledException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.boot.Banner;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.context.support.GenericApplicationContext;

/**
 * A {@link ShutdownContext} that its application context does not make and tell of itself: added
 * by hand as a listener, registered with {@code registerSingleton} after the refresh, in a real
 * {@link GenericApplicationContext} (and a real parent/child hierarchy of them). Whatever way it
 * entered, the close of its own application context must end it, and must not hang; a child's close
 * must not.
 */
@Timeout(120)
class ShutdownContextTest {

  private static String message(ShutdownContext shutdown) {
    RequestCanceledException cause =
        assertInstanceOf(RequestCanceledException.class, shutdown.context().cause());
    assertEquals(RequestCanceledException.Reason.SERVER_SHUTDOWN, cause.reason());
    return cause.getMessage();
  }

  /**
   * A listener added by hand and started by hand: no lifecycle of the application context will
   * ever stop it, so the close event must end it, not wait for a {@code stop()} that never comes.
   */
  @Test
  void aListenerAddedAndStartedByHandEndsAtTheClose() {
    GenericApplicationContext app = new GenericApplicationContext();
    app.refresh();
    ShutdownContext listening = new ShutdownContext();
    app.addApplicationListener(listening);
    listening.start();
    app.close(); // returns: nothing waits for the stop either
    assertTrue(listening.context().isDone(), "the close left the context of a listener started by hand live");
    assertEquals("server shutdown: " + ShutdownContext.NOT_A_BEAN_CLOSE_DETAIL, message(listening));
  }

  /**
   * A lifecycle bean stopped just before {@link ShutdownContext#PHASE} (where Spring Boot's
   * graceful drain is): records whether the watched shutdown context had ended by then.
   */
  static final class Before implements SmartLifecycle {
    final List<String> seen = new ArrayList<>();
    volatile ShutdownContext watched;
    private volatile boolean running;

    @Override
    public void start() {
      running = true;
    }

    @Override
    public void stop() {
      running = false;
      seen.add(watched.context().isDone() ? "ended before the drain's phase" : "live in the drain's phase");
    }

    @Override
    public boolean isRunning() {
      return running;
    }

    @Override
    public int getPhase() {
      return ShutdownContext.PHASE + 1;
    }
  }

  /**
   * Registered with {@code registerSingleton} after the refresh and never started by hand: Spring
   * neither starts it (the refresh is over), nor destroys it ({@code registerSingleton} registers
   * no destruction), nor tells it of its events; only the close's lifecycle stop reaches it, and
   * that must end it, in its phase (after the drain's). The same with one also added as a
   * listener and started by hand: the close event must not end it before its phase.
   */
  @Test
  void aSingletonRegisteredAfterTheRefreshEndsAtTheCloseInItsPhase() {
    for (boolean alsoAListener : new boolean[] {false, true}) {
      GenericApplicationContext app = new GenericApplicationContext();
      app.registerBean("before", Before.class);
      app.refresh();
      ShutdownContext late = new ShutdownContext();
      app.getBeanFactory().registerSingleton("lateShutdownContext", late);
      if (alsoAListener) {
        app.addApplicationListener(late);
        late.start();
      }
      Before before = app.getBean(Before.class);
      before.watched = late;
      app.close();
      String row = alsoAListener ? "also a listener, started by hand" : "never started";
      assertTrue(late.context().isDone(), row + ": the close left the context of a singleton registered after the refresh live");
      assertEquals(List.of("live in the drain's phase"), before.seen, row);
      // Never started, it learns of no application context (no event reaches it), and the stop
      // cannot tell a close; one also a listener learns it at the close event, and that it is a
      // bean of it, without a web server.
      assertEquals("server shutdown: " + (alsoAListener ? ShutdownContext.NO_WEB_SERVER_DETAIL : ShutdownContext.OUTSIDE_DETAIL),
          message(late), row);
    }
  }

  /**
   * The same on a real server whose drain matters (Tomcat, graceful, a 1 s drain, a request held
   * through it): the singleton registered after the refresh must end at the close, after the drain
   * (not at {@code ContextClosedEvent}) and before the close returns.
   */
  @Test
  void aSingletonRegisteredAfterTheRefreshEndsAfterTheDrainOfARealServer() throws Exception {
    long drainMillis = 1000;
    Hops hops = new Hops();
    long[] closedAt = new long[1];
    ConfigurableApplicationContext app = Apps.start(HopApp.class, Apps.Server.TOMCAT,
        Map.of("hop.name", "S", "prices.url", "http://127.0.0.1:9", "server.shutdown", "graceful",
            "spring.lifecycle.timeout-per-shutdown-phase", drainMillis + "ms"),
        Map.of("hops", hops));
    app.addApplicationListener((ContextClosedEvent e) -> closedAt[0] = System.nanoTime());
    ShutdownContext late = new ShutdownContext();
    app.getBeanFactory().registerSingleton("lateShutdownContext", late);
    long[] endedAt = new long[1];
    late.context().onDone(() -> endedAt[0] = System.nanoTime());
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    CompletableFuture<HttpResponse<String>> stuck = http.sendAsync(
        HttpRequest.newBuilder(URI.create(Apps.url(app) + "/work?id=stuck")).build(), BodyHandlers.ofString());
    assertTrue(hops.get("stuck").entered.await(30, TimeUnit.SECONDS), "the request did not reach its handler");

    app.close();
    long closed = System.nanoTime();

    assertTrue(late.context().isDone(), "the close left the context of a singleton registered after the refresh live");
    long afterClosedEvent = TimeUnit.NANOSECONDS.toMillis(endedAt[0] - closedAt[0]);
    assertTrue(afterClosedEvent >= drainMillis - 50,
        "ended " + afterClosedEvent + " ms after ContextClosedEvent, before the " + drainMillis + " ms drain was over");
    assertTrue(endedAt[0] <= closed, "ended after the close returned");
    assertEquals("server shutdown: " + ShutdownContext.OUTSIDE_DETAIL, message(late));
    stuck.handle((r, e) -> null).get(30, TimeUnit.SECONDS); // the client's answer, whatever it is
  }

  /**
   * A parent application context with a {@code ShutdownContext} added as a listener by hand, and
   * a child: the child's close event reaches the parent's listeners too, and must not end the
   * parent's shutdown context (cancelling every request under it); the parent's close must. The
   * child refreshed after the listener was added (its refresh event reaches the listener first),
   * or before.
   */
  @Test
  void aChildsCloseDoesNotEndAShutdownContextAddedToItsParentByHand() {
    for (boolean childFirst : new boolean[] {false, true}) {
      String row = childFirst ? "the child refreshed before the listener was added" : "the child refreshed after";
      GenericApplicationContext parent = new GenericApplicationContext();
      parent.refresh();
      GenericApplicationContext child = new GenericApplicationContext(parent);
      if (childFirst) {
        child.refresh();
      }
      ShutdownContext shutdown = new ShutdownContext();
      parent.addApplicationListener(shutdown);
      if (!childFirst) {
        child.refresh();
      }
      child.close();
      assertFalse(shutdown.context().isDone(), row + ": a child's close ended its parent's shutdown context: "
          + shutdown.context().cause());
      parent.close();
      assertTrue(shutdown.context().isDone(), row + ": the parent's close did not end its shutdown context");
      assertEquals("server shutdown: " + ShutdownContext.NOT_A_BEAN_CLOSE_DETAIL, message(shutdown), row);
    }
  }

  /** An empty application: the parent and the child of a Spring Boot hierarchy. */
  @Configuration(proxyBeanMethods = false)
  static class Empty {}

  /**
   * The same with Spring Boot's hierarchy: a {@code ShutdownContext} given to the parent
   * application as a listener ({@code SpringApplicationBuilder.listeners}, which adds it to the
   * parent's application context by hand before its refresh, so that the parent's refresh event
   * reaches it first), started by hand, a child application under it.
   */
  @Test
  void aChildApplicationsCloseDoesNotEndAShutdownContextGivenToItsParentAsAListener() {
    ShutdownContext shutdown = new ShutdownContext();
    SpringApplicationBuilder parentBuilder = new SpringApplicationBuilder(Empty.class)
        .web(WebApplicationType.NONE)
        .bannerMode(Banner.Mode.OFF)
        .logStartupInfo(false)
        .listeners(shutdown);
    ConfigurableApplicationContext child = parentBuilder
        .child(Empty.class)
        .web(WebApplicationType.NONE)
        .bannerMode(Banner.Mode.OFF)
        .logStartupInfo(false)
        .run();
    ConfigurableApplicationContext parent = (ConfigurableApplicationContext) child.getParent();
    shutdown.start(); // started by hand, too: no lifecycle stops it
    child.close();
    assertFalse(shutdown.context().isDone(), "a child application's close ended its parent's shutdown context: "
        + shutdown.context().cause());
    parent.close();
    assertTrue(shutdown.context().isDone(), "the parent application's close did not end its shutdown context");
    assertEquals("server shutdown: " + ShutdownContext.NOT_A_BEAN_CLOSE_DETAIL, message(shutdown));
  }
}
