package io.ctx4j.spring.boot;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.restclient.autoconfigure.RestClientBuilderConfigurer;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.http.client.SimpleClientHttpRequestFactory;
import org.springframework.web.client.RestClient;

/**
 * A {@code RestClient.Builder} that gets ctx4j's interceptor twice: the builder Spring Boot hands
 * out, run through Spring Boot's own {@code RestClientBuilderConfigurer} once more (or given the
 * interceptor bean by hand, as the README tells a {@code RestTemplate} to). The two interceptors
 * nest, and the outer one's body reads the inner one's body stream, which it must judge by the
 * stream below: not close it from another thread where that stream must not be (here {@code
 * HttpURLConnection}'s, whose close waits for the read in progress and would hold a ctx4j callback
 * thread as long as the server stays silent).
 */
@Timeout(120)
class RestClientCustomizedTwiceTest {

  @SpringBootConfiguration
  @EnableAutoConfiguration
  static class ClientApp {}

  @Test
  void aBuilderCustomizedTwiceHoldsNoThreadInHttpUrlConnectionsClose() throws Exception {
    try (ConfigurableApplicationContext app =
        new SpringApplicationBuilder(ClientApp.class)
            .web(WebApplicationType.NONE)
            .properties(Apps.defaults(Apps.Server.TOMCAT))
            .run()) {
      RestClient.Builder builder = app.getBean(RestClient.Builder.class);
      // Spring Boot's customizers, ctx4j's among them, once more on the builder it handed out.
      app.getBean(RestClientBuilderConfigurer.class).configure(builder);
      ClientCustomizersTest.assertHoldsNoThreadInHttpUrlConnectionsClose(
          builder.requestFactory(new SimpleClientHttpRequestFactory()).build());
    }
  }
}
