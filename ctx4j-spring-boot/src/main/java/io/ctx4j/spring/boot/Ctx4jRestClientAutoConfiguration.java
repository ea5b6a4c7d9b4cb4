package io.ctx4j.spring.boot;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.restclient.RestClientCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.web.client.RestClient;

/**
 * Adds the {@link ContextClientHttpRequestInterceptor} to every {@code RestClient.Builder} that
 * Spring Boot provides: calls send the current context's time left and are given up when it ends.
 * Off with {@code ctx4j.rest-client.enabled=false}.
 *
 * @since 0.1
 */
@AutoConfiguration(
    beforeName = "org.springframework.boot.restclient.autoconfigure.RestClientAutoConfiguration")
@ConditionalOnClass({RestClient.class, RestClientCustomizer.class})
@ConditionalOnBooleanProperty(name = "ctx4j.rest-client.enabled", matchIfMissing = true)
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
}
