package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
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
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.springframework.aop.framework.AopProxyUtils;
import org.springframework.aop.framework.ProxyFactory;
import org.springframework.beans.factory.FactoryBean;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.boot.Banner;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.annotation.Bean;
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

  /** Makes the application's {@code ShutdownContext}: its product is no top-level singleton. */
  static final class ShutdownContextFactory implements FactoryBean<ShutdownContext> {
    @Override
    public ShutdownContext getObject() {
      return new ShutdownContext();
    }

    @Override
    public Class<?> getObjectType() {
      return ShutdownContext.class;
    }
  }

  /** The application's {@code ShutdownContext}, made by a {@code FactoryBean}. */
  @Configuration(proxyBeanMethods = false)
  static class MadeByAFactoryBean {
    @Bean
    static ShutdownContextFactory shutdownContext() {
      return new ShutdownContextFactory();
    }
  }

  /** The auto-configured {@code ShutdownContext}, wrapped in a Spring AOP proxy by a post-processor. */
  @Configuration(proxyBeanMethods = false)
  static class WrappedInAProxy {
    @Bean
    static BeanPostProcessor proxyTheShutdownContext() {
      return new BeanPostProcessor() {
        @Override
        public Object postProcessAfterInitialization(Object bean, String name) {
          // ShutdownContext is final: Spring AOP proxies it by its interfaces (a JDK proxy).
          return bean instanceof ShutdownContext ? new ProxyFactory(bean).getProxy() : bean;
        }
      };
    }
  }

  /** How the application's {@code ShutdownContext} is made. */
  enum Made {
    FACTORY_BEAN(MadeByAFactoryBean.class),
    PROXY(WrappedInAProxy.class);

    final Class<?> config;

    Made(Class<?> config) {
      this.config = config;
    }

    /** The shutdown context itself: the factory's product, or the proxy's target. */
    ShutdownContext of(ConfigurableApplicationContext app) {
      return this == FACTORY_BEAN
          ? app.getBean(ShutdownContext.class)
          : (ShutdownContext) AopProxyUtils.getSingletonTarget(app.getBean("ctx4jShutdownContext"));
    }
  }

  /**
   * A {@code ShutdownContext} made by a {@code FactoryBean}, or the auto-configured one wrapped in
   * a proxy, on a real server whose drain matters (Tomcat, graceful, a 1 s drain, a request held
   * through it): it is one of the application context's beans, so it must end when the drain is
   * over, as a plain bean does (not at {@code ContextClosedEvent}), and the request still running
   * then must end with its cause, which says the drain is over.
   */
  @ParameterizedTest
  @EnumSource(Made.class)
  void aShutdownContextMadeByAFactoryBeanOrWrappedInAProxyEndsWhenTheDrainEnds(Made made) throws Exception {
    long drainMillis = 1000;
    Hops hops = new Hops();
    long[] closedAt = new long[1];
    Map<String, Object> properties = Apps.defaults(Apps.Server.TOMCAT);
    properties.putAll(Map.of("hop.name", "S", "prices.url", "http://127.0.0.1:9", "server.shutdown", "graceful",
        "spring.lifecycle.timeout-per-shutdown-phase", drainMillis + "ms"));
    ConfigurableApplicationContext app = new SpringApplicationBuilder(HopApp.class, made.config)
        .web(WebApplicationType.SERVLET)
        .properties(properties)
        .initializers(c -> c.getBeanFactory().registerSingleton("hops", hops))
        .listeners((ContextClosedEvent e) -> closedAt[0] = System.nanoTime())
        .run();
    ShutdownContext shutdown = made.of(app);
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    CompletableFuture<HttpResponse<String>> stuck = http.sendAsync(
        HttpRequest.newBuilder(URI.create(Apps.url(app) + "/work?id=stuck")).build(), BodyHandlers.ofString());
    Hops.Hop s = hops.get("stuck");
    assertTrue(s.entered.await(30, TimeUnit.SECONDS), "the request did not reach its handler");

    app.close();
    long closed = System.nanoTime();

    assertTrue(s.ended.await(10, TimeUnit.SECONDS), made + ": the running request was never cancelled");
    RequestCanceledException cause = assertInstanceOf(RequestCanceledException.class, s.cause);
    assertEquals("server shutdown: " + ShutdownContext.DETAIL, cause.getMessage(), made.toString());
    long afterClosedEvent = TimeUnit.NANOSECONDS.toMillis(s.endedNanos - closedAt[0]);
    assertTrue(afterClosedEvent >= drainMillis - 50, made + ": cancelled " + afterClosedEvent
        + " ms after ContextClosedEvent, before the " + drainMillis + " ms drain was over");
    assertTrue(s.endedNanos <= closed, made + ": cancelled after the close returned");
    assertTrue(shutdown.context().isDone(), made + ": the close left the shutdown context live");
    assertEquals("server shutdown: " + ShutdownContext.DETAIL, message(shutdown), made.toString());
    stuck.handle((r, e) -> null).get(30, TimeUnit.SECONDS); // the client's answer, whatever it is
  }

  /**
   * Runs a non-web child application ({@code SpringApplicationBuilder}) under a non-web parent
   * whose {@code ShutdownContext} is made as {@code made} says; the child's is the auto-configured
   * one.
   */
  private static ConfigurableApplicationContext childUnder(Made made) {
    return new SpringApplicationBuilder(GracefulShutdownTest.NoServerApp.class, made.config)
        .web(WebApplicationType.NONE)
        .properties(Apps.defaults(Apps.Server.TOMCAT))
        .child(GracefulShutdownTest.NoServerApp.class)
        .web(WebApplicationType.NONE)
        .run();
  }

  /**
   * The same two in a non-web parent application with a child ({@code SpringApplicationBuilder}):
   * the child's close event reaches the parent's listeners, and must not end the parent's shutdown
   * context, which nothing told of its application context (a factory's product is not told); the
   * parent's close must, in its phase, saying there was no web server to drain.
   */
  @ParameterizedTest
  @EnumSource(Made.class)
  void aChildApplicationsCloseDoesNotEndItsParentsShutdownContextMadeByAFactoryBeanOrWrappedInAProxy(Made made) {
    ConfigurableApplicationContext child = childUnder(made);
    ConfigurableApplicationContext parent = (ConfigurableApplicationContext) child.getParent();
    ShutdownContext shutdown = made.of(parent);
    try {
      child.close();
      assertFalse(shutdown.context().isDone(), made + ": a child application's close ended its parent's shutdown context: "
          + shutdown.context().cause());
    } finally {
      parent.close();
    }
    assertTrue(shutdown.context().isDone(), made + ": the parent application's close did not end its shutdown context");
    assertEquals("server shutdown: " + ShutdownContext.NO_WEB_SERVER_DETAIL, message(shutdown), made.toString());
  }

  /**
   * A child application under a parent whose {@code ShutdownContext} is made by a {@code
   * FactoryBean} or wrapped in a proxy ({@code SpringApplicationBuilder}, both non-web): the
   * child's own shutdown context must be a child of the parent's, as under a plain one, so that the
   * parent's end reaches the child's work.
   */
  @ParameterizedTest
  @EnumSource(Made.class)
  void aChildApplicationsShutdownContextIsUnderItsParentsMadeByAFactoryBeanOrWrappedInAProxy(Made made) {
    ConfigurableApplicationContext child = childUnder(made);
    ConfigurableApplicationContext parent = (ConfigurableApplicationContext) child.getParent();
    try {
      ShutdownContext above = made.of(parent);
      ShutdownContext mine = child.getBean(ShutdownContext.class);
      assertNotSame(above, mine, made + ": the child took its parent's shutdown context");
      above.shutdown("the parent's shutdown context ended");
      assertTrue(mine.context().isDone(), made + ": the parent's end did not reach the child's shutdown context");
      assertEquals("server shutdown: the parent's shutdown context ended", message(mine), made.toString());
    } finally {
      child.close();
      parent.close();
    }
  }

  /**
   * An application whose startup fails after its {@code ShutdownContext} was made (a later bean
   * throws) is never closed: Spring destroys the beans made so far instead, and a plain bean ends
   * its context then. One made by a {@code FactoryBean}, whose product Spring does not destroy, or
   * wrapped in a proxy, must end too, saying why, so that work already derived from it stops; the
   * application's own factory also with {@code ctx4j.shutdown.enabled=false} (the switch leaves out
   * ctx4j's bean, not what the class does).
   */
  @ParameterizedTest
  @CsvSource({"FACTORY_BEAN, true", "FACTORY_BEAN, false", "PROXY, true"})
  void aFailedStartupEndsAShutdownContextMadeByAFactoryBeanOrWrappedInAProxy(Made made, boolean switchedOn) {
    String row = made + (switchedOn ? "" : " with ctx4j.shutdown.enabled=false");
    FailsAfterTheShutdownContext.shutdown = null;
    FailsAfterTheShutdownContext.derived = null;
    Map<String, Object> properties = Apps.defaults(Apps.Server.TOMCAT);
    properties.put("made", made.name());
    properties.put("ctx4j.shutdown.enabled", String.valueOf(switchedOn));
    SpringApplicationBuilder failing = new SpringApplicationBuilder(
            GracefulShutdownTest.NoServerApp.class, made.config, FailsAfterTheShutdownContext.class)
        .web(WebApplicationType.NONE)
        .properties(properties);
    Throwable failure = assertThrows(Throwable.class, failing::run);
    assertTrue(failure.toString().contains(FailsAfterTheShutdownContext.FAILURE), () -> "failed otherwise: " + failure);
    ShutdownContext shutdown = FailsAfterTheShutdownContext.shutdown;
    assertNotNull(shutdown, row + ": the shutdown context was never made");
    assertTrue(shutdown.context().isDone(), row + ": the failed startup left the shutdown context live");
    assertEquals("server shutdown: " + ShutdownContext.DESTROYED_DETAIL, message(shutdown), row);
    assertTrue(FailsAfterTheShutdownContext.derived.isDone(), row + ": the work derived from it goes on");
  }

  /** Derives work from the application's shutdown context, then fails the startup. */
  @Configuration(proxyBeanMethods = false)
  static class FailsAfterTheShutdownContext {
    static final String FAILURE = "a bean fails the startup after the shutdown context was made";
    static volatile ShutdownContext shutdown;
    static volatile Context derived;

    @Bean
    Object failingBean(ConfigurableApplicationContext app, @Value("${made}") Made made) {
      shutdown = made.of(app);
      derived = Context.withCancel(shutdown.context()); // the background work's context
      throw new IllegalStateException(FAILURE);
    }
  }

  /**
   * A factory's product that no lifecycle stops: a stop and a start of the application context (a
   * CRaC checkpoint and restore) leave it live, and a close after a later stop, which stopped the
   * web server, says there was no drain to wait for, as it does for a plain bean.
   */
  @Test
  void aShutdownContextMadeByAFactoryBeanSurvivesAStopAndSaysACloseAfterAStopHadNoDrain() {
    Map<String, Object> properties = Apps.defaults(Apps.Server.TOMCAT);
    properties.putAll(Map.of("hop.name", "R", "prices.url", "http://127.0.0.1:9"));
    ConfigurableApplicationContext app = new SpringApplicationBuilder(HopApp.class, MadeByAFactoryBean.class)
        .web(WebApplicationType.SERVLET)
        .properties(properties)
        .initializers(c -> c.getBeanFactory().registerSingleton("hops", new Hops()))
        .run();
    ShutdownContext shutdown = Made.FACTORY_BEAN.of(app);
    try {
      app.stop();
      assertFalse(shutdown.context().isDone(), "a stop without a close ended the shutdown context");
      app.start();
      app.stop();
    } finally {
      app.close();
    }
    assertTrue(shutdown.context().isDone(), "the close after a stop did not end the shutdown context");
    assertEquals("server shutdown: " + ShutdownContext.AFTER_STOP_DETAIL, message(shutdown));
  }
}
