package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.ContextServletFilter;
import io.ctx4j.servlet.RequestCanceledException;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServletRequest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.util.Map;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.boot.webmvc.error.ErrorController;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * What Spring Boot's error page sees, as the README says: the auto-configured filter is mapped for
 * {@code REQUEST} and {@code ASYNC} only, so on the {@code ERROR} dispatch after a handler threw,
 * {@code CurrentContext.get()} is the background context, and {@code
 * ContextServletFilter.contextOf(request)} is the request's context, ended as a handler failure.
 * An application that registers the filter itself with {@code ERROR} added gets that context bound
 * there too.
 */
@Timeout(60)
class ErrorDispatchTest {
  private final HttpClient http =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  /** A handler that fails, and an error page that says what it sees. */
  @RestController
  static class FailingController implements ErrorController {
    @GetMapping("/boom")
    String boom() {
      throw new IllegalStateException("boom");
    }

    @RequestMapping("/error")
    String error(HttpServletRequest request) {
      Context ofRequest = ContextServletFilter.contextOf(request);
      Context current = CurrentContext.get();
      String bound =
          current == Context.background()
              ? "background"
              : current == ofRequest ? "request" : "other";
      Object reason =
          ofRequest.cause() instanceof RequestCanceledException e ? e.reason() : ofRequest.cause();
      return "current " + bound + ", request context " + reason;
    }
  }

  @SpringBootConfiguration
  @EnableAutoConfiguration
  @Import(FailingController.class)
  static class AutoConfiguredApp {}

  /** The auto-configured filter, registered by the application for the error dispatch too. */
  @SpringBootConfiguration
  @EnableAutoConfiguration
  @Import(FailingController.class)
  static class ErrorMappedApp {
    @Bean
    FilterRegistrationBean<ContextServletFilter> withErrors(ContextServletFilter filter) {
      FilterRegistrationBean<ContextServletFilter> r = new FilterRegistrationBean<>(filter);
      r.setAsyncSupported(true);
      r.addUrlPatterns("/*");
      r.setDispatcherTypes(DispatcherType.REQUEST, DispatcherType.ASYNC, DispatcherType.ERROR);
      return r;
    }
  }

  private String boom(ConfigurableApplicationContext app) throws Exception {
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(URI.create(Apps.url(app) + "/boom")).build(),
            BodyHandlers.ofString());
    assertEquals(500, r.statusCode(), r.body());
    return r.body();
  }

  @ParameterizedTest
  @EnumSource(Apps.Server.class)
  void theErrorPageFindsTheEndedContextButRunsUnboundByDefault(Apps.Server server)
      throws Exception {
    try (ConfigurableApplicationContext app =
        Apps.start(AutoConfiguredApp.class, server, Map.of(), Map.of())) {
      assertEquals("current background, request context HANDLER_FAILED", boom(app));
    }
  }

  @ParameterizedTest
  @EnumSource(Apps.Server.class)
  void theApplicationsOwnRegistrationForErrorsBindsIt(Apps.Server server) throws Exception {
    try (ConfigurableApplicationContext app =
        Apps.start(ErrorMappedApp.class, server, Map.of(), Map.of())) {
      assertEquals("current request, request context HANDLER_FAILED", boom(app));
    }
  }
}
