package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.servlet.ContextServletFilter;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.http.HttpStatus;
import org.springframework.http.server.reactive.HttpHandler;

/**
 * The forms Spring Boot's binder accepts for the {@code ctx4j.*} durations, booleans and numbers
 * (relaxed names, units, ISO-8601, a bare number of milliseconds, {@code on/off}), each reaching
 * the filter as meant; and values it cannot bind, refused at startup with a message that names the
 * property; in every kind of application (servlet, reactive, none), as a real {@code
 * SpringApplication} run.
 */
@Timeout(60)
class PropertyFormsTest {
  private final WebApplicationContextRunner web =
      new WebApplicationContextRunner()
          .withConfiguration(
              AutoConfigurations.of(Ctx4jShutdownAutoConfiguration.class, Ctx4jServletAutoConfiguration.class));

  /**
   * A form the binder accepts: {@code property=value} gives {@code expected} (a Duration in
   * ISO-8601 for max-timeout, else the bound text), and the filter is built with it.
   */
  @ParameterizedTest(name = "{0}={1}")
  @CsvSource({
    "ctx4j.servlet.max-timeout, 250ms, PT0.25S",
    "ctx4j.servlet.max-timeout, 2s, PT2S",
    "ctx4j.servlet.max-timeout, 1m, PT1M",
    "ctx4j.servlet.max-timeout, 750, PT0.75S", // a bare number: milliseconds
    "ctx4j.servlet.max-timeout, PT1.5S, PT1.5S",
    "ctx4j.servlet.maxTimeout, 300ms, PT0.3S", // camel case, a relaxed name
    "ctx4j.servlet.trust-timeout-headers, off, false",
    "ctx4j.servlet.trust-timeout-headers, NO, false",
    "ctx4j.servlet.filter-order, -5, -5",
  })
  void aFormTheBinderAcceptsReachesTheFilter(String property, String value, String expected) {
    web.withPropertyValues(property + "=" + value).run(ctx -> {
      assertNull(ctx.getStartupFailure(), () -> property + "=" + value + " failed: " + ctx.getStartupFailure());
      Ctx4jProperties.Servlet s = ctx.getBean(Ctx4jProperties.class).getServlet();
      String filter = ctx.getBean(ContextServletFilter.class).toString();
      if (property.startsWith("ctx4j.servlet.max")) {
        assertEquals(Duration.parse(expected), s.getMaxTimeout());
        assertTrue(filter.contains("maxTimeout=" + Duration.parse(expected).toMillis() + "ms"), filter);
      } else if (property.endsWith("trust-timeout-headers")) {
        assertEquals(Boolean.parseBoolean(expected), s.isTrustTimeoutHeaders());
        assertTrue(filter.contains("trustTimeoutHeaders=" + expected), filter);
      } else {
        assertEquals(Integer.parseInt(expected), s.getFilterOrder());
      }
    });
  }

  /** A value the binder cannot read fails the startup, and the failure names the property. */
  @ParameterizedTest(name = "{0}={1}")
  @CsvSource({
    "ctx4j.servlet.max-timeout, 250 ms",
    "ctx4j.servlet.max-timeout, soon",
    "ctx4j.servlet.trust-timeout-headers, maybe",
  })
  void aValueTheBinderCannotReadNamesTheProperty(String property, String value) {
    web.withPropertyValues(property + "=" + value).run(ctx -> {
      Throwable failure = ctx.getStartupFailure();
      assertNotNull(failure, property + "=" + value + " was taken");
      StringBuilder messages = new StringBuilder();
      for (Throwable t = failure; t != null; t = t.getCause()) {
        messages.append(t.getMessage()).append(" <- ");
      }
      assertTrue(messages.toString().contains(property), () -> "the failure does not name " + property + ": " + messages);
    });
  }

  /**
   * An application of ctx4j's auto-configuration and Spring Boot's, with nothing of its own but,
   * when reactive, the handler its server needs (the test class path has Reactor Netty's server,
   * not Spring Boot's WebFlux module, which would make one).
   */
  @SpringBootConfiguration
  @EnableAutoConfiguration
  static class Plain {
    @Bean
    @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
    HttpHandler notFound() {
      return (request, response) -> {
        response.setStatusCode(HttpStatus.NOT_FOUND);
        return response.setComplete();
      };
    }
  }

  /** Runs {@link Plain} as a {@code type} application, with {@code property}, to its startup's end. */
  private static Throwable run(WebApplicationType type, String property, Map<String, Object> seen) {
    try (ConfigurableApplicationContext app =
        new SpringApplicationBuilder(Plain.class)
            .web(type)
            .properties(Apps.defaults(Apps.Server.TOMCAT))
            .properties(property)
            .run()) {
      seen.put("properties", app.getBeanProvider(Ctx4jProperties.class).getIfAvailable());
      return null;
    } catch (RuntimeException e) {
      return e;
    }
  }

  /**
   * Whatever the kind of application, {@code Ctx4jProperties} is bound: a value the binder cannot
   * read fails the startup naming the property (not only where the servlet filter is configured),
   * a value it reads is there to see; a name it does not know (a typo) is ignored, as Spring Boot
   * ignores unknown properties everywhere (the metadata lets an IDE flag it).
   */
  @ParameterizedTest(name = "{0}")
  @EnumSource(WebApplicationType.class)
  void everyKindOfApplicationBindsTheProperties(WebApplicationType type) {
    Map<String, Object> seen = new java.util.HashMap<>();
    for (String bad : new String[] {"ctx4j.servlet.max-timeout=soon", "ctx4j.servlet.filter-order=early",
        "ctx4j.servlet.max-timeout=0s"}) {
      Throwable failure = run(type, bad, seen);
      assertNotNull(failure, type + ": " + bad + " was taken");
      StringBuilder messages = new StringBuilder();
      for (Throwable t = failure; t != null; t = t.getCause()) {
        messages.append(t.getMessage()).append(" <- ");
      }
      String name = bad.substring(0, bad.indexOf('='));
      assertTrue(messages.toString().contains(name), () -> type + ": the failure does not name " + name + ": " + messages);
    }
    assertNull(run(type, "ctx4j.servlet.max-timeout=2s", seen), type + ": a readable value failed");
    Ctx4jProperties bound = (Ctx4jProperties) seen.get("properties");
    assertNotNull(bound, type + ": no Ctx4jProperties");
    assertEquals(Duration.ofSeconds(2), bound.getServlet().getMaxTimeout(), type.toString());
    assertNull(run(type, "ctx4j.servlet.max-deadlin=5s", seen), type + ": an unknown name failed the startup");
  }
}
