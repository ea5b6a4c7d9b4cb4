package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.ContextServletFilter;
import io.ctx4j.servlet.RequestCanceledException;
import jakarta.servlet.DispatcherType;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.task.TaskExecutionAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.boot.test.context.runner.ReactiveWebApplicationContextRunner;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.env.SystemEnvironmentPropertySource;
import org.springframework.scheduling.annotation.Async;
import org.springframework.scheduling.annotation.EnableAsync;
import org.springframework.web.client.RestClient;

/**
 * The auto-configuration itself, without a server: which beans each piece adds, the properties that
 * switch them off or configure them, user beans taking precedence, and {@code @Async} carrying the
 * current context through the decorator.
 */
@Timeout(60)
class AutoConfigurationTest {
  private static final AutoConfigurations ALL =
      AutoConfigurations.of(
          Ctx4jShutdownAutoConfiguration.class,
          Ctx4jServletAutoConfiguration.class,
          Ctx4jRestClientAutoConfiguration.class,
          Ctx4jWebClientAutoConfiguration.class,
          Ctx4jTaskAutoConfiguration.class);

  /** Binds the properties in every kind of application, and refuses what the binder cannot tell. */
  private static final AutoConfigurations PROPERTIES =
      AutoConfigurations.of(Ctx4jPropertiesAutoConfiguration.class);

  private final WebApplicationContextRunner web = new WebApplicationContextRunner().withConfiguration(ALL);

  @Test
  void everyPieceIsThereByDefault() {
    web.run(ctx -> {
      assertNotNull(ctx.getBean(ContextServletFilter.class));
      assertNotNull(ctx.getBean(ShutdownContext.class));
      assertNotNull(ctx.getBean(ContextClientHttpRequestInterceptor.class));
      assertTrue(ctx.containsBean("ctx4jRestClientCustomizer"));
      assertNotNull(ctx.getBean(ContextExchangeFilterFunction.class));
      assertTrue(ctx.containsBean("ctx4jWebClientCustomizer"));
      assertNotNull(ctx.getBean(ContextTaskDecorator.class));
      @SuppressWarnings("unchecked")
      FilterRegistrationBean<ContextServletFilter> r =
          ctx.getBean(Ctx4jServletAutoConfiguration.REGISTRATION_BEAN, FilterRegistrationBean.class);
      assertSame(ctx.getBean(ContextServletFilter.class), r.getFilter());
      assertEquals(Ctx4jProperties.DEFAULT_FILTER_ORDER, r.getOrder());
      assertTrue(r.isAsyncSupported());
      assertTrue(r.getUrlPatterns().contains("/*"));
      assertEquals(EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC), EnumSet.copyOf(r.determineDispatcherTypes()));
    });
  }

  @ParameterizedTest
  @CsvSource({
    "ctx4j.servlet.enabled, io.ctx4j.servlet.ContextServletFilter",
    "ctx4j.rest-client.enabled, io.ctx4j.spring.boot.ContextClientHttpRequestInterceptor",
    "ctx4j.web-client.enabled, io.ctx4j.spring.boot.ContextExchangeFilterFunction",
    "ctx4j.task-decorator.enabled, io.ctx4j.spring.boot.ContextTaskDecorator",
    "ctx4j.shutdown.enabled, io.ctx4j.spring.boot.ShutdownContext",
  })
  void eachPieceCanBeSwitchedOff(String property, String beanClass) throws Exception {
    Class<?> type = Class.forName(beanClass);
    web.run(ctx -> assertEquals(1, ctx.getBeansOfType(type).size(), beanClass + " missing by default"));
    web.withPropertyValues(property + "=false")
        .run(ctx -> {
          assertEquals(0, ctx.getBeansOfType(type).size(), beanClass + " still there with " + property + "=false");
          // the other pieces stay
          assertEquals(4, countPieces(ctx), "pieces left");
        });
  }

  private static int countPieces(org.springframework.context.ApplicationContext ctx) {
    int n = 0;
    for (Class<?> c : new Class<?>[] {ContextServletFilter.class, ContextClientHttpRequestInterceptor.class,
        ContextExchangeFilterFunction.class, ContextTaskDecorator.class, ShutdownContext.class}) {
      n += ctx.getBeansOfType(c).isEmpty() ? 0 : 1;
    }
    return n;
  }

  @Test
  void servletPropertiesConfigureTheFilter() {
    web.withPropertyValues(
            "ctx4j.servlet.max-timeout=250ms",
            "ctx4j.servlet.trust-timeout-headers=false",
            "ctx4j.servlet.filter-order=5")
        .run(ctx -> {
          String filter = ctx.getBean(ContextServletFilter.class).toString();
          assertTrue(filter.contains("trustTimeoutHeaders=false, maxTimeout=250ms"), filter);
          assertEquals(5, ctx.getBean(Ctx4jServletAutoConfiguration.REGISTRATION_BEAN, FilterRegistrationBean.class).getOrder());
        });
  }

  @Test
  void aNonPositiveMaximumFailsTheStartupWithItsName() {
    web.withPropertyValues("ctx4j.servlet.max-timeout=0s")
        .run(ctx -> {
          Throwable failure = ctx.getStartupFailure();
          assertNotNull(failure);
          boolean named = false;
          for (Throwable t = failure; t != null; t = t.getCause()) {
            named |= String.valueOf(t.getMessage()).contains("ctx4j.servlet.max-timeout must be positive, got PT0S");
          }
          assertTrue(named, failure::toString);
        });
  }

  /** Spring binds {@code 9223372036854775807s}, which no millisecond count can hold. */
  @Test
  void aMaximumTooLargeForMillisecondsFailsTheStartupWithItsName() {
    web.withPropertyValues("ctx4j.servlet.max-timeout=9223372036854775807s")
        .run(ctx -> assertStartupFailureSays(ctx.getStartupFailure(), "ctx4j.servlet.max-timeout is too large"));
  }

  /**
   * An empty or blank maximum (a templated value left empty), which the binder converts to no
   * value: before, the application started with no maximum, without a word; in a servlet
   * application, a reactive one and one that is no web application alike. The camel-case and
   * environment-variable-like forms are the same property.
   */
  @ParameterizedTest
  @ValueSource(strings = {"ctx4j.servlet.max-timeout=", "ctx4j.servlet.max-timeout= ", "ctx4j.servlet.maxTimeout="})
  void aBlankMaximumFailsTheStartupWithItsName(String property) {
    String said = "ctx4j.servlet.max-timeout must be a positive duration (30s), got \"";
    web.withConfiguration(PROPERTIES).withPropertyValues(property)
        .run(ctx -> assertStartupFailureSays(ctx.getStartupFailure(), said));
    new ApplicationContextRunner().withConfiguration(ALL).withConfiguration(PROPERTIES).withPropertyValues(property)
        .run(ctx -> assertStartupFailureSays(ctx.getStartupFailure(), said));
    new ReactiveWebApplicationContextRunner().withConfiguration(ALL).withConfiguration(PROPERTIES)
        .withPropertyValues(property)
        .run(ctx -> assertStartupFailureSays(ctx.getStartupFailure(), said));
  }

  /** The same, set as an environment variable left empty (a deployment template's). */
  @Test
  void aBlankMaximumFromTheEnvironmentFailsTheStartupWithItsName() {
    web.withConfiguration(PROPERTIES).withInitializer(
            ctx ->
                ctx.getEnvironment()
                    .getPropertySources()
                    .replace(
                        StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME,
                        new SystemEnvironmentPropertySource(
                            StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME,
                            Map.of("CTX4J_SERVLET_MAXTIMEOUT", ""))))
        .run(ctx -> assertStartupFailureSays(
            ctx.getStartupFailure(), "ctx4j.servlet.max-timeout must be a positive duration (30s), got \"\""));
  }

  private static void assertStartupFailureSays(Throwable failure, String text) {
    assertNotNull(failure, "the startup did not fail");
    boolean said = false;
    for (Throwable t = failure; t != null; t = t.getCause()) {
      said |= String.valueOf(t.getMessage()).contains(text);
    }
    assertTrue(said, () -> "the startup failure does not say \"" + text + "\": " + chain(failure));
  }

  private static String chain(Throwable failure) {
    StringBuilder b = new StringBuilder();
    for (Throwable t = failure; t != null; t = t.getCause()) {
      b.append(b.length() == 0 ? "" : " <- ").append(t);
    }
    return b.toString();
  }

  /**
   * A switch that is neither true nor false (a typo) must fail the startup, naming the property,
   * not leave its piece out without a word; every application, web or not, and whichever pieces
   * are on. The servlet switch runs in a web application, the others in a plain one.
   */
  @ParameterizedTest
  @ValueSource(strings = {"ctx4j.servlet.enabled", "ctx4j.rest-client.enabled", "ctx4j.web-client.enabled",
      "ctx4j.task-decorator.enabled", "ctx4j.shutdown.enabled"})
  void aMalformedSwitchFailsTheStartupWithItsName(String property) {
    for (String value : new String[] {"flase", ""}) { // empty: Ctx4jProperties cannot bind it either
      String expected = property + " must be true or false, got \"" + value + "\"";
      if (property.equals("ctx4j.servlet.enabled")) {
        web.withPropertyValues(property + "=" + value)
            .run(ctx -> assertStartupFailureSays(ctx.getStartupFailure(), expected));
      } else {
        new ApplicationContextRunner().withConfiguration(ALL).withPropertyValues(property + "=" + value)
            .run(ctx -> assertStartupFailureSays(ctx.getStartupFailure(), expected));
      }
    }
  }

  /**
   * A switch means what {@code Ctx4jProperties} binds it to (Spring's boolean conversion: {@code
   * on}, {@code yes}, {@code 1} are true), so that {@code isEnabled()} never says on for a piece
   * that is left out.
   */
  @ParameterizedTest
  @CsvSource({"on, 1", "YES, 1", "1, 1", "off, 0", "no, 0", "0, 0", "FALSE, 0"})
  void aSwitchMeansWhatThePropertiesBindItTo(String value, int pieces) {
    web.withPropertyValues("ctx4j.task-decorator.enabled=" + value).run(ctx -> {
      assertNull(ctx.getStartupFailure());
      assertEquals(pieces == 1, ctx.getBean(Ctx4jProperties.class).getTaskDecorator().isEnabled());
      assertEquals(pieces, ctx.getBeansOfType(ContextTaskDecorator.class).size(), "ctx4j.task-decorator.enabled=" + value);
    });
  }

  /**
   * A switch in any form the binder reads ({@code ctx4j.taskDecorator.enabled}, an environment
   * variable {@code CTX4J_TASKDECORATOR_ENABLED}) is the same switch: the piece is left out exactly
   * when {@code Ctx4jProperties} binds it off, whether or not the environment has Spring Boot's
   * relaxed names attached (a {@code SpringApplication} attaches them, a context built by hand or
   * by a test runner does not).
   */
  @ParameterizedTest
  @CsvSource({"ctx4j.taskDecorator.enabled, false, false", "ctx4j.taskDecorator.enabled, on, true",
      "CTX4J_TASKDECORATOR_ENABLED, false, false", "CTX4J_TASKDECORATOR_ENABLED, yes, true",
      "ctx4j.task-decorator.enabled, '${no.such.feature:false}', false"})
  void aSwitchInARelaxedFormMeansWhatThePropertiesBindItTo(String name, String value, boolean on) {
    ApplicationContextRunner runner =
        new ApplicationContextRunner().withConfiguration(ALL).withConfiguration(PROPERTIES);
    runner = name.startsWith("CTX4J_")
        ? runner.withInitializer(ctx -> ctx.getEnvironment().getPropertySources().replace(
            StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME,
            new SystemEnvironmentPropertySource(
                StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME, Map.of(name, value))))
        : runner.withPropertyValues(name + "=" + value);
    runner.run(ctx -> {
      assertNull(ctx.getStartupFailure());
      assertEquals(on, ctx.getBean(Ctx4jProperties.class).getTaskDecorator().isEnabled(), name + "=" + value);
      assertEquals(on ? 1 : 0, ctx.getBeansOfType(ContextTaskDecorator.class).size(), name + "=" + value);
    });
  }

  /**
   * The same in an application context built by hand, with no relaxed names attached: the switch
   * used to read the exact name only, and left the decorator in while the properties said off.
   */
  @ParameterizedTest
  @CsvSource({"false, false", "on, true", "'${no.such.feature:false}', false"})
  void aSwitchInARelaxedFormMeansTheSameInAContextBuiltByHand(String value, boolean on) {
    try (org.springframework.context.annotation.AnnotationConfigApplicationContext ctx =
        new org.springframework.context.annotation.AnnotationConfigApplicationContext()) {
      ctx.getEnvironment().getPropertySources().addFirst(
          new org.springframework.core.env.MapPropertySource("test", Map.of("ctx4j.taskDecorator.enabled", value)));
      ctx.register(Ctx4jPropertiesAutoConfiguration.class, Ctx4jTaskAutoConfiguration.class);
      ctx.refresh();
      assertEquals(on, ctx.getBean(Ctx4jProperties.class).getTaskDecorator().isEnabled(), "bound");
      assertEquals(on ? 1 : 0, ctx.getBeansOfType(ContextTaskDecorator.class).size(), "decorators");
    }
  }

  /** A malformed or empty switch in a relaxed form fails the startup too, naming the property. */
  @ParameterizedTest
  @ValueSource(strings = {"flase", ""})
  void aMalformedSwitchInARelaxedFormFailsTheStartupWithItsName(String value) {
    new ApplicationContextRunner().withConfiguration(ALL).withPropertyValues("ctx4j.webClient.enabled=" + value)
        .run(ctx -> assertStartupFailureSays(
            ctx.getStartupFailure(), "ctx4j.web-client.enabled must be true or false, got \"" + value + "\""));
  }

  /**
   * An application whose startup fails after the shutdown context was made (a later bean throws)
   * never closes: Spring destroys the beans made so far instead. Work already derived from {@link
   * ShutdownContext#context()} must stop then, not run on in a JVM that never exits.
   */
  @Test
  void aFailedStartupEndsTheShutdownContext() {
    FailingStartup.derived = null;
    new ApplicationContextRunner().withConfiguration(ALL).withUserConfiguration(FailingStartup.class)
        .run(ctx -> {
          assertNotNull(ctx.getStartupFailure(), "the startup did not fail");
          Context derived = FailingStartup.derived;
          assertNotNull(derived, "the shutdown context was never made");
          assertTrue(derived.isDone(), "the work derived from the shutdown context of a failed startup goes on");
          RequestCanceledException cause = assertInstanceOf(RequestCanceledException.class, derived.cause());
          assertEquals(RequestCanceledException.Reason.SERVER_SHUTDOWN, cause.reason());
        });
  }

  /** Starts background work under the shutdown context, then fails the startup. */
  @Configuration(proxyBeanMethods = false)
  static class FailingStartup {
    static volatile Context derived;

    @Bean
    Object failingBean(ShutdownContext shutdown) {
      derived = Context.withCancel(shutdown.context()); // the background work's context
      throw new IllegalStateException("a bean fails the startup after the shutdown context was made");
    }
  }

  @Test
  void theApplicationsOwnBeansWin() {
    ContextServletFilter mine = ContextServletFilter.builder().build();
    ContextTaskDecorator myDecorator = new ContextTaskDecorator();
    web.withBean(ContextServletFilter.class, () -> mine)
        .withBean(ContextTaskDecorator.class, () -> myDecorator)
        .run(ctx -> {
          assertSame(mine, ctx.getBean(ContextServletFilter.class));
          assertSame(mine, ctx.getBean(Ctx4jServletAutoConfiguration.REGISTRATION_BEAN, FilterRegistrationBean.class).getFilter());
          assertSame(myDecorator, ctx.getBean(ContextTaskDecorator.class));
        });
  }

  /**
   * With {@code spring.http.clients.imperative.factory=jetty}, Spring Boot's own wiring (its
   * request-factory builder with the customizer beans applied, RestClient's builder on it) gives a
   * RestClient on Jetty whose request the context's end aborts: the server (a bare socket, which
   * sees the connection close) sees the client leave within 2 s, though the factory's read timeout,
   * Spring's default, is 10 s.
   */
  @Test
  void restClientOnJettyAsSpringBootBuildsItIsAbortedWhenTheContextEnds() throws Exception {
    new ApplicationContextRunner()
        .withConfiguration(ALL)
        .withConfiguration(AutoConfigurations.of(
            org.springframework.boot.http.client.autoconfigure.HttpClientAutoConfiguration.class,
            org.springframework.boot.http.client.autoconfigure.imperative.ImperativeHttpClientAutoConfiguration.class,
            org.springframework.boot.restclient.autoconfigure.RestClientAutoConfiguration.class))
        .withPropertyValues("spring.http.clients.imperative.factory=jetty")
        .run(app -> {
          assertNull(app.getStartupFailure());
          try (ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            CountDownLatch entered = new CountDownLatch(1);
            CountDownLatch left = new CountDownLatch(1);
            CompletableFuture<Void> server = CompletableFuture.runAsync(() -> holdUntilTheClientLeaves(listener, entered, left));
            RestClient rest = app.getBean(RestClient.Builder.class).baseUrl("http://127.0.0.1:" + listener.getLocalPort()).build();
            CancelableContext ctx = Context.withCancel(Context.background());
            java.util.concurrent.FutureTask<String> call =
                new java.util.concurrent.FutureTask<>(() -> CurrentContext.call(ctx, () -> rest.get().uri("/held").retrieve().body(String.class)));
            new Thread(call, "caller").start();
            assertTrue(entered.await(30, TimeUnit.SECONDS), "the request never reached the server");
            ctx.cancel();
            java.util.concurrent.ExecutionException e =
                org.junit.jupiter.api.Assertions.assertThrows(java.util.concurrent.ExecutionException.class, () -> call.get(30, TimeUnit.SECONDS));
            assertInstanceOf(io.ctx4j.CanceledException.class, e.getCause(), () -> "the call failed otherwise: " + e.getCause());
            assertTrue(left.await(2, TimeUnit.SECONDS), "the server did not see the client leave within 2 s of the cancel");
            server.get(30, TimeUnit.SECONDS);
          }
          assertTrue(app.containsBean("ctx4jJettyCustomizer"));
        });
  }

  /**
   * Accepts one connection on {@code listener}, reads the request's head, counts {@code entered}
   * down and answers nothing: counts {@code left} down when the client closes the connection.
   */
  private static void holdUntilTheClientLeaves(ServerSocket listener, CountDownLatch entered, CountDownLatch left) {
    try (Socket s = listener.accept()) {
      InputStream in = s.getInputStream();
      ClientCustomizersTest.readRequestHead(in);
      entered.countDown();
      try {
        while (in.read() >= 0) {
          // nothing more is sent: -1 (or a reset) is the client leaving
        }
      } catch (java.io.IOException reset) {
        // the client reset the connection: it left too
      }
      left.countDown();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * An application without Jetty's client (its {@code HttpClient} class filtered out) starts, and
   * has every other piece: only the Jetty customizer is left out.
   */
  @Test
  void withoutJettysClientThereIsNoJettyCustomizerButTheRest() {
    ApplicationContextRunner runner =
        new ApplicationContextRunner().withConfiguration(ALL).withConfiguration(PROPERTIES);
    runner.run(app -> assertTrue(app.containsBean("ctx4jJettyCustomizer"), "no Jetty customizer with Jetty's client there"));
    runner.withClassLoader(new FilteredClassLoader(org.eclipse.jetty.client.HttpClient.class))
        .run(app -> {
          assertNull(app.getStartupFailure());
          assertFalse(app.containsBean("ctx4jJettyCustomizer"));
          assertTrue(app.containsBean("ctx4jRestClientCustomizer"));
          assertTrue(app.containsBean("ctx4jHttpComponentsCustomizer"));
          assertNotNull(app.getBean(ContextClientHttpRequestInterceptor.class));
          assertNotNull(app.getBean(ShutdownContext.class));
        });
  }

  @Test
  void withoutAWebApplicationThereIsNoFilterButTheRest() {
    new ApplicationContextRunner().withConfiguration(ALL).run(ctx -> {
      assertTrue(ctx.getBeansOfType(ContextServletFilter.class).isEmpty());
      assertNotNull(ctx.getBean(ShutdownContext.class));
      assertNotNull(ctx.getBean(ContextTaskDecorator.class));
    });
  }

  @Test
  void theFiltersRequestsEndWithTheShutdownContext() {
    web.run(ctx -> {
      ContextServletFilter filter = ctx.getBean(ContextServletFilter.class);
      assertFalse(filter.root().isDone());
      ctx.stop(); // a stop without a close may be followed by a start: the requests go on
      assertFalse(filter.root().isDone(), "a stop without a close ended the requests' root");
      ctx.start();
      ctx.close();
      assertTrue(filter.root().isDone());
      RequestCanceledException cause = assertInstanceOf(RequestCanceledException.class, filter.root().cause());
      assertEquals(RequestCanceledException.Reason.SERVER_SHUTDOWN, cause.reason());
      // The runner starts no web server: nothing was drained.
      assertEquals("server shutdown: " + ShutdownContext.NO_WEB_SERVER_DETAIL, cause.getMessage());
    });
  }

  @Test
  void outsideAnApplicationContextStopEndsTheShutdownContext() {
    ShutdownContext shutdown = new ShutdownContext();
    shutdown.start();
    assertTrue(shutdown.isRunning());
    shutdown.stop();
    assertFalse(shutdown.isRunning());
    RequestCanceledException cause = assertInstanceOf(RequestCanceledException.class, shutdown.context().cause());
    assertEquals(RequestCanceledException.Reason.SERVER_SHUTDOWN, cause.reason());
    // No application context closed and nothing drained: the cause must not say so.
    assertEquals("server shutdown: stopped outside an application context, no close or graceful-shutdown drain awaited",
        cause.getMessage());
  }

  /**
   * A {@code ShutdownContext} that a real application context never tells of itself: registered
   * after the refresh (the lifecycle stops it, but no refresh or close event reaches it), or added
   * as a listener by hand (the close event reaches it, but it is no lifecycle bean waiting for a
   * drain). Neither waited for a close's drain, and the cause must say what happened instead.
   */
  @Test
  void aShutdownContextTheApplicationContextNeverToldOfItselfDoesNotClaimADrain() {
    org.springframework.context.support.GenericApplicationContext app =
        new org.springframework.context.support.GenericApplicationContext();
    app.refresh();
    ShutdownContext late = new ShutdownContext();
    app.getBeanFactory().registerSingleton("lateShutdownContext", late);
    late.start();
    app.stop(); // the lifecycle stops it: a stop, no close
    assertTrue(late.context().isDone(), "the lifecycle's stop did not end a bean that knows no application context");
    assertEquals("server shutdown: stopped outside an application context, no close or graceful-shutdown drain awaited",
        late.context().cause().getMessage(), "registered after the refresh, stopped without a close");
    app.close();

    org.springframework.context.support.GenericApplicationContext other =
        new org.springframework.context.support.GenericApplicationContext();
    other.refresh();
    ShutdownContext listening = new ShutdownContext();
    other.addApplicationListener(listening);
    other.close();
    assertTrue(listening.context().isDone(), "the close did not end a listener added by hand");
    assertEquals("server shutdown: application context closed, no graceful-shutdown drain awaited "
        + "(this ShutdownContext is not one of its beans)",
        listening.context().cause().getMessage(), "a listener added by hand, at the close");
  }

  /**
   * A child application context's close reaches its parent's listeners too: it must not end the
   * parent's shutdown context, even while that bean is stopped (where the parent's own close ends
   * it at once).
   */
  @Test
  void aChildContextsCloseDoesNotEndTheParentsShutdownContext() {
    org.springframework.context.support.GenericApplicationContext parent =
        new org.springframework.context.support.GenericApplicationContext();
    parent.registerBean(ShutdownContext.class);
    parent.refresh();
    ShutdownContext shutdown = parent.getBean(ShutdownContext.class);
    parent.stop(); // the bean is stopped, so a close event it took for its own would end it now
    org.springframework.context.support.GenericApplicationContext child =
        new org.springframework.context.support.GenericApplicationContext(parent);
    child.refresh();
    child.close();
    assertFalse(shutdown.context().isDone(), "a child's close ended the parent's shutdown context");
    parent.close();
    RequestCanceledException cause = assertInstanceOf(RequestCanceledException.class, shutdown.context().cause());
    assertEquals(RequestCanceledException.Reason.SERVER_SHUTDOWN, cause.reason());
  }

  /**
   * Each application context of a hierarchy gets a shutdown context of its own (a child is closed
   * and drained on its own), made a child of its parent's, so that the parent's end reaches it.
   */
  @Test
  void aChildApplicationContextsShutdownContextIsAChildOfItsParents() {
    new ApplicationContextRunner().withConfiguration(ALL).run(parent -> {
      ShutdownContext above = parent.getBean(ShutdownContext.class);
      web.withParent(parent).run(child -> {
        ShutdownContext mine = child.getBean(ShutdownContext.class);
        assertNotSame(above, mine, "the child uses its parent's shutdown context");
        assertFalse(mine.context().isDone());
        above.shutdown("the parent closed");
        assertTrue(mine.context().isDone(), "the parent's end did not reach the child's shutdown context");
        RequestCanceledException cause = assertInstanceOf(RequestCanceledException.class, mine.context().cause());
        assertEquals("server shutdown: the parent closed", cause.getMessage());
      });
    });
  }

  /**
   * A child application context with {@code ctx4j.shutdown.enabled=false} has no shutdown context,
   * and its filter's requests must not hang off its parent's instead: the switch says they end
   * only when the filter is destroyed.
   */
  @Test
  void aChildWithTheShutdownSwitchedOffDoesNotTakeItsParentsShutdownContext() {
    new ApplicationContextRunner().withConfiguration(ALL).run(parent -> {
      ShutdownContext above = parent.getBean(ShutdownContext.class);
      web.withParent(parent).withPropertyValues("ctx4j.shutdown.enabled=false").run(child -> {
        assertTrue(child.getBeanFactory().getBeanNamesForType(ShutdownContext.class).length == 0,
            "the child made a shutdown context although switched off");
        ContextServletFilter filter = child.getBean(ContextServletFilter.class);
        above.shutdown("the parent closed");
        assertFalse(filter.root().isDone(),
            "the child's filter took its parent's shutdown context: " + filter.root().cause());
      });
    });
  }

  /**
   * A {@code ShutdownContext} registered as a singleton ({@code registerSingleton}, as an
   * initializer may do) gets no {@code setApplicationContext} call: a {@code stop()} without a close
   * (a CRaC checkpoint) must still leave it live for the {@code start()}, and the close end it.
   */
  @Test
  void aShutdownContextRegisteredAsASingletonSurvivesAStopAndEndsAtTheClose() {
    ShutdownContext mine = new ShutdownContext();
    web.withInitializer(c -> c.getBeanFactory().registerSingleton("myShutdownContext", mine)).run(ctx -> {
      assertSame(mine, ctx.getBean(ShutdownContext.class));
      assertTrue(mine.isRunning(), "the singleton was not started");
      ctx.stop();
      assertFalse(mine.context().isDone(), "a stop without a close ended the singleton's context for good: " + mine.context().cause());
      ctx.start();
      assertFalse(ctx.getBean(ContextServletFilter.class).root().isDone(), "the requests after the start are born cancelled");
      ctx.close();
      assertTrue(mine.context().isDone(), "the close did not end the singleton's context");
    });
  }

  @Test
  void theShutdownPhaseLiesBetweenTheDrainAndTheServerStop() {
    assertTrue(ShutdownContext.PHASE < WebServerApplicationContext.GRACEFUL_SHUTDOWN_PHASE);
    assertTrue(ShutdownContext.PHASE > WebServerApplicationContext.START_STOP_LIFECYCLE_PHASE);
    assertFalse(new ShutdownContext().isPauseable());
  }

  /** A bean with an @Async method that reports the context current where it runs. */
  static class Worker {
    @Async
    public CompletableFuture<Context> current() {
      return CompletableFuture.completedFuture(CurrentContext.get());
    }
  }

  @Configuration(proxyBeanMethods = false)
  @EnableAsync
  static class AsyncApp {
    @Bean
    Worker worker() {
      return new Worker();
    }
  }

  private final ApplicationContextRunner tasks =
      new ApplicationContextRunner()
          .withConfiguration(AutoConfigurations.of(TaskExecutionAutoConfiguration.class, Ctx4jTaskAutoConfiguration.class))
          .withUserConfiguration(AsyncApp.class);

  @Test
  void asyncMethodsRunWithTheCallersContext() {
    tasks.run(ctx -> {
      Worker worker = ctx.getBean(Worker.class);
      try (CancelableContext request = Context.withCancel(Context.background())) {
        Context seen = CurrentContext.call(request, () -> worker.current().get(10, TimeUnit.SECONDS));
        assertSame(request, seen);
      }
      // Outside any binding the task sees the background, not a stale context of an earlier task.
      assertSame(Context.background(), worker.current().get(10, TimeUnit.SECONDS));
    });
  }

  @Test
  void withoutTheDecoratorAsyncMethodsDoNotSeeTheContext() {
    tasks.withPropertyValues("ctx4j.task-decorator.enabled=false").run(ctx -> {
      Worker worker = ctx.getBean(Worker.class);
      try (CancelableContext request = Context.withCancel(Context.background())) {
        Context seen = CurrentContext.call(request, () -> worker.current().get(10, TimeUnit.SECONDS));
        assertNotSame(request, seen);
      }
    });
  }

  @SuppressWarnings("unchecked")
  private static <E extends Throwable> void sneakyThrow(Throwable t) throws E {
    throw (E) t;
  }

  /**
   * A task the decorator wrapped may throw (unchecked, an Error, a checked exception thrown
   * sneakily) and may run on a thread that has a current context of its own: here the submitting
   * thread itself, as {@code CallerRunsPolicy} runs a task the executor rejected. The task sees the
   * submitter's context, the throwable reaches the caller unchanged, and the thread's own binding is
   * back afterwards.
   */
  @ParameterizedTest
  @ValueSource(strings = {"unchecked", "error", "sneaky"})
  void aRejectedTaskThatThrowsRestoresTheCallersBinding(String kind) throws Exception {
    tasks.run(ctx -> {
      org.springframework.scheduling.concurrent.ThreadPoolTaskExecutor executor =
          new org.springframework.scheduling.concurrent.ThreadPoolTaskExecutor();
      executor.setCorePoolSize(1);
      executor.setMaxPoolSize(1);
      executor.setQueueCapacity(0);
      executor.setRejectedExecutionHandler(new java.util.concurrent.ThreadPoolExecutor.CallerRunsPolicy());
      executor.setTaskDecorator(ctx.getBean(ContextTaskDecorator.class));
      executor.initialize();
      java.util.concurrent.CountDownLatch busy = new java.util.concurrent.CountDownLatch(1);
      java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(1);
      try (CancelableContext caller = Context.withCancel(Context.background());
          CancelableContext submitter = Context.withCancel(caller)) {
        executor.execute(() -> {
          started.countDown();
          try {
            busy.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
        assertTrue(started.await(10, TimeUnit.SECONDS));
        Throwable thrown = kind.equals("unchecked") ? new IllegalStateException(kind)
            : kind.equals("error") ? new AssertionError(kind) : new java.io.IOException(kind);
        Context[] seen = new Context[1];
        Thread[] ranOn = new Thread[1];
        Throwable[] caught = new Throwable[1];
        CurrentContext.run(caller, () -> {
          try {
            // Submitted under the submitter's context, rejected, run here, where caller is bound.
            CurrentContext.run(submitter, () -> {
              Runnable task = () -> {
                seen[0] = CurrentContext.get();
                ranOn[0] = Thread.currentThread();
                sneakyThrow(thrown);
              };
              try {
                executor.execute(task);
              } catch (Throwable t) {
                caught[0] = t;
              }
            });
          } finally {
            assertSame(caller, CurrentContext.get(), "the caller's binding was not restored");
          }
        });
        assertSame(Thread.currentThread(), ranOn[0], "the rejected task did not run in the caller");
        assertSame(submitter, seen[0]);
        assertSame(thrown, caught[0]);
        assertFalse(CurrentContext.isBound(), "a binding was left on the thread");
      } finally {
        busy.countDown();
        executor.shutdown();
      }
    });
  }

  @Test
  void theConfigurationMetadataListsEveryProperty() throws Exception {
    try (InputStream in = getClass().getResourceAsStream("/META-INF/spring-configuration-metadata.json")) {
      assertNotNull(in, "no configuration metadata");
      String json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      for (String p : new String[] {"ctx4j.servlet.enabled", "ctx4j.servlet.max-timeout", "ctx4j.servlet.trust-timeout-headers",
          "ctx4j.servlet.filter-order", "ctx4j.rest-client.enabled", "ctx4j.web-client.enabled",
          "ctx4j.task-decorator.enabled", "ctx4j.shutdown.enabled"}) {
        assertTrue(json.contains("\"name\": \"" + p + "\""), p + " missing from the metadata");
      }
    }
  }

  /**
   * What an IDE shows for each property: its type, its default (the README's table), and a
   * description of its own. The generated metadata had no default for {@code filter-order} (the
   * processor cannot evaluate {@code Ordered.HIGHEST_PRECEDENCE + 10}) and gave the five switches
   * one shared description, "Whether this piece is configured.", which does not say which piece.
   */
  @ParameterizedTest
  @CsvSource({
    "ctx4j.servlet.enabled, java.lang.Boolean, true, servlet filter",
    "ctx4j.servlet.max-timeout, java.time.Duration, , longest time",
    "ctx4j.servlet.trust-timeout-headers, java.lang.Boolean, true, Ctx4j-Timeout-Ms",
    "ctx4j.servlet.filter-order, java.lang.Integer, -2147483638, order",
    "ctx4j.rest-client.enabled, java.lang.Boolean, true, RestClient",
    "ctx4j.web-client.enabled, java.lang.Boolean, true, WebClient",
    "ctx4j.task-decorator.enabled, java.lang.Boolean, true, TaskDecorator",
    "ctx4j.shutdown.enabled, java.lang.Boolean, true, shutdown context",
  })
  void theConfigurationMetadataGivesEachPropertyItsTypeDefaultAndDescription(
      String name, String type, String defaultValue, String described) throws Exception {
    tools.jackson.databind.JsonNode property = metadataOf(name);
    assertEquals(type, property.path("type").asString(), name + ": type");
    assertEquals(defaultValue == null ? "" : defaultValue, property.path("defaultValue").asString(""), name + ": default");
    String description = property.path("description").asString("");
    assertTrue(description.contains(described), name + ": the description does not say \"" + described + "\": " + description);
  }

  /**
   * The RestClient switch also turns off the customizers of the clients Spring Boot builds for
   * RestClient (Apache, Jetty, Reactor Netty); its description said only Apache's.
   */
  @Test
  void theRestClientSwitchDescriptionNamesEveryClientItCovers() throws Exception {
    String description = metadataOf("ctx4j.rest-client.enabled").path("description").asString("");
    for (String client : new String[] {"ctx4j-httpclient5", "ContextJettyHttpClient", "ContextReactorHttpClient"}) {
      assertTrue(description.contains(client), "does not say " + client + ": " + description);
    }
  }

  /** The generated metadata's entry for property {@code name}; fails unless there is exactly one. */
  private tools.jackson.databind.JsonNode metadataOf(String name) throws Exception {
    tools.jackson.databind.JsonNode property = null;
    try (InputStream in = getClass().getResourceAsStream("/META-INF/spring-configuration-metadata.json")) {
      for (tools.jackson.databind.JsonNode p : new tools.jackson.databind.ObjectMapper().readTree(in).get("properties")) {
        if (p.get("name").asString().equals(name)) {
          assertNull(property, name + " is in the metadata twice");
          property = p;
        }
      }
    }
    assertNotNull(property, name + " missing from the metadata");
    return property;
  }
}
