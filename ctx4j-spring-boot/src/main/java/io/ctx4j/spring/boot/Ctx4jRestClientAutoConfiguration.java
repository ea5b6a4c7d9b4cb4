package io.ctx4j.spring.boot;

import io.ctx4j.httpclient5.ContextHttpClient5;
import org.apache.hc.client5.http.impl.classic.HttpClientBuilder;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.http.client.HttpComponentsClientHttpRequestFactoryBuilder;
import org.springframework.boot.http.client.JettyClientHttpRequestFactoryBuilder;
import org.springframework.boot.http.client.ReactorClientHttpRequestFactoryBuilder;
import org.springframework.boot.http.client.autoconfigure.ClientHttpRequestFactoryBuilderCustomizer;
import org.springframework.boot.restclient.RestClientCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.Configuration;
import org.springframework.http.client.JettyClientHttpRequestFactory;
import org.springframework.web.client.RestClient;

/**
 * Adds the {@link ContextClientHttpRequestInterceptor} to every {@code RestClient.Builder} that
 * Spring Boot provides: calls send the current context's time left and are given up when it ends.
 * With ctx4j-httpclient5 and Apache HttpClient 5 on the class path, also installs
 * ctx4j-httpclient5's handlers on the Apache clients Spring Boot builds ({@link HttpComponents});
 * with Jetty's {@code HttpClient}, {@link ContextJettyHttpClient} on the Jetty clients it builds
 * ({@link Jetty}); with Reactor Netty, {@link ContextReactorHttpClient} on the Reactor Netty clients
 * it builds ({@link Reactor}).
 * Off with {@code ctx4j.rest-client.enabled=false}.
 *
 * @since 0.1
 */
@AutoConfiguration(
    beforeName = "org.springframework.boot.restclient.autoconfigure.RestClientAutoConfiguration")
@ConditionalOnClass({RestClient.class, RestClientCustomizer.class})
@SuppressWarnings("exports") // Switch, package-private, is for Spring, not for clients
@Conditional(Switch.RestClient.class)
public class Ctx4jRestClientAutoConfiguration {

  /** Created by Spring. */
  public Ctx4jRestClientAutoConfiguration() {}

  /**
   * The interceptor.
   *
   * @return a new interceptor
   */
  @Bean
  @ConditionalOnMissingBean
  public ContextClientHttpRequestInterceptor ctx4jRestClientInterceptor() {
    return new ContextClientHttpRequestInterceptor();
  }

  /**
   * The customizer that adds the interceptor, last, to each builder.
   *
   * @param interceptor the interceptor
   * @return the customizer
   */
  @Bean
  @ConditionalOnMissingBean(name = "ctx4jRestClientCustomizer")
  public RestClientCustomizer ctx4jRestClientCustomizer(ContextClientHttpRequestInterceptor interceptor) {
    return builder -> builder.requestInterceptor(interceptor);
  }

  /**
   * Apache HttpClient 5, Spring Boot's first choice of request factory when it is on the class
   * path, ignores the interceptor's interrupt, and its body stream must not be closed from another
   * thread. So the clients Spring Boot builds for it get ctx4j-httpclient5's handlers, which abort
   * the exchange through HttpClient's own cancellation. Present only with ctx4j-httpclient5.
   *
   * @since 0.1
   */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass({
    ContextHttpClient5.class,
    HttpClientBuilder.class,
    HttpComponentsClientHttpRequestFactoryBuilder.class,
    ClientHttpRequestFactoryBuilderCustomizer.class
  })
  public static class HttpComponents {

    /** Created by Spring. */
    public HttpComponents() {}

    /**
     * Installs {@link ContextHttpClient5#install} on every Apache client Spring Boot builds.
     *
     * @return the customizer
     */
    @Bean
    @ConditionalOnMissingBean(name = "ctx4jHttpComponentsCustomizer")
    public ClientHttpRequestFactoryBuilderCustomizer<HttpComponentsClientHttpRequestFactoryBuilder>
        ctx4jHttpComponentsCustomizer() {
      return builder -> builder.withHttpClientCustomizer(ContextHttpClient5::install);
    }
  }

  /**
   * Spring's {@code JettyClientHttpRequestFactory} does not abort Jetty's request when the
   * interceptor's interrupt ends its wait for the response, so the Jetty clients Spring Boot builds
   * for it ({@code spring.http.clients.imperative.factory=jetty}) get {@link
   * ContextJettyHttpClient}, which ties each request to the interceptor's call, so that the call's
   * context aborts it. Present only with Jetty's client on the class path.
   *
   * @since 0.1
   */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(
      name = "org.eclipse.jetty.client.HttpClient",
      value = {
        JettyClientHttpRequestFactoryBuilder.class,
        ClientHttpRequestFactoryBuilderCustomizer.class
      })
  public static class Jetty {

    /** Created by Spring. */
    public Jetty() {}

    /**
     * Installs {@link ContextJettyHttpClient#install} on every Jetty client Spring Boot builds, and
     * starts the client once the factory is built.
     *
     * <p>Spring's factory would otherwise start its client lazily, inside the first request's
     * {@code createRequest}, which runs inside the interceptor's interrupt scope: a first call
     * whose context ended during that start interrupted it, Jetty's client ended {@code FAILED},
     * and the calls beside it waited on Jetty's lifecycle lock. Started here, as a factory
     * customizer, the start comes after every client customizer (the application's too, which may
     * change settings Jetty reads at start) and outside any call.
     *
     * @return the customizer
     */
    @Bean
    @ConditionalOnMissingBean(name = "ctx4jJettyCustomizer")
    public ClientHttpRequestFactoryBuilderCustomizer<JettyClientHttpRequestFactoryBuilder>
        ctx4jJettyCustomizer() {
      return builder ->
          builder.withHttpClientCustomizer(ContextJettyHttpClient::install).withCustomizer(Jetty::start);
    }

    /** Starts {@code factory}'s client now, if it is not started: see {@link #ctx4jJettyCustomizer}. */
    private static void start(JettyClientHttpRequestFactory factory) {
      try {
        factory.afterPropertiesSet(); // starts the client unless it is started
      } catch (Exception e) {
        throw new IllegalStateException("Could not start Jetty's HttpClient: " + e.getMessage(), e);
      }
    }
  }

  /**
   * Spring's {@code ReactorClientHttpRequestFactory} copies the interceptor's header onto Reactor
   * Netty's request only once Reactor Netty has a connection for it, after any wait for a pooled
   * one, so the Reactor Netty clients Spring Boot builds for it get {@link
   * ContextReactorHttpClient}, which states the time left as the request is written. Present only
   * with Reactor Netty's client on the class path.
   *
   * @since 0.1
   */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(
      name = "reactor.netty.http.client.HttpClient",
      value = {
        ReactorClientHttpRequestFactoryBuilder.class,
        ClientHttpRequestFactoryBuilderCustomizer.class
      })
  public static class Reactor {

    /** Created by Spring. */
    public Reactor() {}

    /**
     * Installs {@link ContextReactorHttpClient#install} on every Reactor Netty client Spring Boot
     * builds for {@code ReactorClientHttpRequestFactory}.
     *
     * @return the customizer
     */
    @Bean
    @ConditionalOnMissingBean(name = "ctx4jReactorCustomizer")
    public ClientHttpRequestFactoryBuilderCustomizer<ReactorClientHttpRequestFactoryBuilder>
        ctx4jReactorCustomizer() {
      return builder -> builder.withHttpClientCustomizer(ContextReactorHttpClient::install);
    }
  }
}
