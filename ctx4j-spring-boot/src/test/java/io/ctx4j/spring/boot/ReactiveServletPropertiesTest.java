package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.slf4j.LoggerFactory;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.context.event.ApplicationEnvironmentPreparedEvent;
import org.springframework.context.ApplicationEvent;
import org.springframework.context.ApplicationListener;
import org.springframework.context.ConfigurableApplicationContext;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * {@code ctx4j.servlet.*} configures ctx4j-servlet's filter, which a reactive (WebFlux) application
 * does not have: the properties do nothing there. A reactive application that sets any of them is
 * told so at startup, by one warning that names each property set (and where it was set); one
 * that sets none, or only switches the filter off, is not; nor is a servlet application, where they
 * apply. Real applications on a random port on loopback (the reactive one on Reactor Netty's
 * server), run by {@code SpringApplication} as {@code @SpringBootTest} would (this module's JUnit
 * is older than the one Spring's test extension needs); the warnings are taken from Logback, which
 * Spring Boot sets up, as each application starts.
 */
@Timeout(120)
class ReactiveServletPropertiesTest {
  /** The warning's words, before the list of properties. */
  private static final String WARNING = "have no effect in a reactive web application";

  /** Runs {@code type} with {@code properties}, makes a request, and returns the warnings logged. */
  private static List<ILoggingEvent> warningsOf(WebApplicationType type, String... properties)
      throws Exception {
    ListAppender<ILoggingEvent> logged = new ListAppender<>();
    // After Spring Boot's logging listener, which resets Logback as the environment is prepared.
    ApplicationListener<ApplicationEvent> capture =
        event -> {
          if (event instanceof ApplicationEnvironmentPreparedEvent) {
            Logger root = (Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME);
            logged.setContext(root.getLoggerContext());
            logged.start();
            root.addAppender(logged);
          }
        };
    try (ConfigurableApplicationContext app =
        new SpringApplicationBuilder(PropertyFormsTest.Plain.class)
            .web(type)
            .properties(Apps.defaults(Apps.Server.TOMCAT))
            .properties(properties)
            .listeners(capture)
            .run()) {
      // The application is up on its random port: a request gets the application's own answer.
      HttpResponse<String> r =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(URI.create(Apps.url(app) + "/x"))
                      .timeout(Duration.ofSeconds(30))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      assertEquals(404, r.statusCode(), () -> type + ": the application's answer");
    } finally {
      ((Logger) LoggerFactory.getLogger(Logger.ROOT_LOGGER_NAME)).detachAppender(logged);
    }
    return logged.list.stream()
        .filter(e -> e.getLevel().isGreaterOrEqual(Level.WARN))
        .filter(e -> e.getFormattedMessage().contains(WARNING))
        .toList();
  }

  @Test
  void aReactiveApplicationThatSetsServletPropertiesIsWarnedOnceNamingThem() throws Exception {
    List<ILoggingEvent> warnings =
        warningsOf(
            WebApplicationType.REACTIVE,
            "ctx4j.servlet.max-timeout=2s",
            "ctx4j.servlet.trust-timeout-headers=false",
            "ctx4j.web-client.enabled=true");
    assertEquals(1, warnings.size(), () -> "the warnings: " + warnings);
    String w = warnings.get(0).getFormattedMessage();
    assertEquals(Level.WARN, warnings.get(0).getLevel(), w);
    assertTrue(w.contains("ctx4j.servlet.max-timeout"), w);
    assertTrue(w.contains("ctx4j.servlet.trust-timeout-headers"), w);
    assertFalse(w.contains("ctx4j.web-client"), w); // applies in a reactive application
  }

  /**
   * No warning where the properties apply (a servlet application), where none is set, or where
   * the only one set switches the filter off, which a reactive application has not anyway.
   */
  @Test
  void noWarningWhereNothingIsIgnored() throws Exception {
    assertEquals(
        List.of(), warningsOf(WebApplicationType.SERVLET, "ctx4j.servlet.max-timeout=2s"), "servlet");
    assertEquals(List.of(), warningsOf(WebApplicationType.REACTIVE), "reactive, none set");
    assertEquals(
        List.of(),
        warningsOf(WebApplicationType.REACTIVE, "ctx4j.servlet.enabled=false"),
        "reactive, the filter switched off");
  }

  /**
   * What an IDE shows of {@code ctx4j.servlet.*} says it is for servlet applications only, in a
   * reactive application's {@code application.properties} as anywhere.
   */
  @Test
  void theMetadataSaysTheServletPropertiesAreForServletApplicationsOnly() throws Exception {
    Map<String, String> descriptions = new TreeMap<>();
    try (InputStream in =
        getClass().getResourceAsStream("/META-INF/spring-configuration-metadata.json")) {
      for (JsonNode p : new ObjectMapper().readTree(in).get("properties")) {
        String name = p.get("name").asString();
        if (name.startsWith("ctx4j.servlet.")) {
          descriptions.put(name, p.path("description").asString(""));
        }
      }
    }
    assertEquals(
        List.of(
            "ctx4j.servlet.enabled",
            "ctx4j.servlet.filter-order",
            "ctx4j.servlet.max-timeout",
            "ctx4j.servlet.trust-timeout-headers"),
        List.copyOf(descriptions.keySet()));
    descriptions.forEach(
        (name, description) ->
            assertTrue(
                description.contains("Servlet applications only"),
                () -> name + ": the description does not say so: " + description));
  }
}
