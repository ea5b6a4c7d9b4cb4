package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.servlet.ContextServletFilter;
import java.time.Duration;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.WebApplicationContextRunner;

/**
 * The forms Spring Boot's binder accepts for the {@code ctx4j.*} durations, booleans and numbers
 * (relaxed names, units, ISO-8601, a bare number of milliseconds, {@code on/off}), each reaching
 * the filter as meant; and values it cannot bind, refused at startup with a message that names the
 * property.
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
}
