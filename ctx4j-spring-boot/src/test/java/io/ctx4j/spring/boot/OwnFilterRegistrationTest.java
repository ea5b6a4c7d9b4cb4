package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.ContextServletFilter;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServletRequest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.util.Map;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.web.servlet.FilterRegistration;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.boot.web.server.servlet.context.ServletWebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * An application that registers a {@link ContextServletFilter} itself, the usual Spring Boot way (a
 * {@code FilterRegistrationBean<ContextServletFilter>} of its own, to choose the filter's settings or
 * paths), gets that registration alone, on Tomcat: ctx4j's own registration backs off, as the
 * README promises for the application's own beans. Before, ctx4j's filter was registered as well,
 * for every path and ahead of the application's (its order is {@code HIGHEST_PRECEDENCE + 10}): it
 * made each request's context first, with its own settings, and the application's filter, finding
 * that context, used it as it was, so a {@code trustTimeoutHeaders(false)} of the application's was
 * ignored, and a filter the application mapped to some paths only ran on all of them. The same
 * holds for a filter bean registered with Spring Boot's {@code @FilterRegistration}.
 */
@Timeout(60)
class OwnFilterRegistrationTest {
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  /** Answers whether the request has a ctx4j context and whether it has a deadline. */
  @RestController
  static class DeadlineController {
    @GetMapping({"/deadline", "/api/deadline"})
    String deadline(HttpServletRequest request) {
      boolean context = request.getAttribute(ContextServletFilter.ATTRIBUTE) != null;
      return "context " + context + ", deadline " + CurrentContext.get().deadline().isPresent();
    }
  }

  /** Its own filter, which ignores the timeout headers, registered by its own registration bean. */
  @SpringBootConfiguration
  @EnableAutoConfiguration
  @Import(DeadlineController.class)
  static class UntrustingApp {
    @Bean
    FilterRegistrationBean<ContextServletFilter> myContextFilter() {
      FilterRegistrationBean<ContextServletFilter> r =
          new FilterRegistrationBean<>(ContextServletFilter.builder().trustTimeoutHeaders(false).build());
      r.addUrlPatterns("/*");
      r.setDispatcherTypes(DispatcherType.REQUEST, DispatcherType.ASYNC);
      return r;
    }
  }

  /** The auto-configured filter, registered by the application for {@code /api/*} only. */
  @SpringBootConfiguration
  @EnableAutoConfiguration
  @Import(DeadlineController.class)
  static class ApiOnlyApp {
    @Bean
    FilterRegistrationBean<ContextServletFilter> apiContextFilter(ContextServletFilter filter) {
      FilterRegistrationBean<ContextServletFilter> r = new FilterRegistrationBean<>(filter);
      r.addUrlPatterns("/api/*");
      r.setDispatcherTypes(DispatcherType.REQUEST, DispatcherType.ASYNC);
      return r;
    }
  }

  /**
   * Its own filter bean, which ignores the timeout headers, registered with Spring Boot's {@code
   * @FilterRegistration} (the annotation form of a registration bean) for {@code /api/*} only.
   */
  @SpringBootConfiguration
  @EnableAutoConfiguration
  @Import(DeadlineController.class)
  static class AnnotatedApp {
    @Bean
    @FilterRegistration(
        name = "myContextFilter",
        urlPatterns = "/api/*",
        asyncSupported = true,
        dispatcherTypes = {DispatcherType.REQUEST, DispatcherType.ASYNC})
    ContextServletFilter myContextFilter(ShutdownContext shutdown) {
      return ContextServletFilter.builder().parent(shutdown.context()).trustTimeoutHeaders(false).build();
    }
  }

  private String get(ConfigurableApplicationContext app, String path) throws Exception {
    return http.send(
            HttpRequest.newBuilder(URI.create(Apps.url(app) + path)).header("Ctx4j-Timeout-Ms", "60000").build(),
            BodyHandlers.ofString())
        .body();
  }

  /** The ContextServletFilter registrations the servlet container got, by name. */
  private static TreeSet<String> contextFilters(ConfigurableApplicationContext app) {
    TreeSet<String> names = new TreeSet<>();
    ((ServletWebServerApplicationContext) app).getServletContext().getFilterRegistrations().forEach((name, r) -> {
      if (r.getClassName().equals(ContextServletFilter.class.getName())) {
        names.add(name);
      }
    });
    return names;
  }

  @Test
  void theApplicationsOwnRegistrationWithItsSettingsIsTheOnlyOne() throws Exception {
    try (ConfigurableApplicationContext app = Apps.start(UntrustingApp.class, Apps.Server.TOMCAT, Map.of(), Map.of())) {
      assertEquals("context true, deadline false", get(app, "/deadline"), "the application's trustTimeoutHeaders(false)");
      assertEquals("[myContextFilter]", contextFilters(app).toString());
    }
  }

  /**
   * Before, ctx4j's registration took the application's filter bean for every path: Spring Boot,
   * finding that filter registered, skipped its annotation, so its name, paths and dispatcher types
   * were lost ({@code [ctx4jContextServletFilter]}, a context on {@code /deadline} too).
   */
  @Test
  void theApplicationsAnnotatedRegistrationIsTheOnlyOne() throws Exception {
    try (ConfigurableApplicationContext app = Apps.start(AnnotatedApp.class, Apps.Server.TOMCAT, Map.of(), Map.of())) {
      assertEquals(
          "[myContextFilter] | /api/deadline: context true, deadline false | /deadline: context false, deadline false",
          contextFilters(app) + " | /api/deadline: " + get(app, "/api/deadline") + " | /deadline: " + get(app, "/deadline"));
    }
  }

  @Test
  void theApplicationsOwnRegistrationOfTheAutoConfiguredFilterKeepsItsPaths() throws Exception {
    try (ConfigurableApplicationContext app = Apps.start(ApiOnlyApp.class, Apps.Server.TOMCAT, Map.of(), Map.of())) {
      assertEquals("context true, deadline true", get(app, "/api/deadline"));
      assertEquals("context false, deadline false", get(app, "/deadline"), "outside the application's /api/*");
      assertEquals("[apiContextFilter]", contextFilters(app).toString());
    }
  }
}
