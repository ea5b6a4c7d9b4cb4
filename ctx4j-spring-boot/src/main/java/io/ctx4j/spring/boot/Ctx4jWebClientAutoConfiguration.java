package io.ctx4j.spring.boot;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.webclient.WebClientCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.web.reactive.function.client.WebClient;

/**
 * Adds the {@link ContextExchangeFilterFunction} to every {@code WebClient.Builder} that Spring
 * Boot provides: exchanges send the context's time left and are cancelled when it ends. Off with
 * {@code ctx4j.web-client.enabled=false}.
 *
 * @since 0.1
 */
@AutoConfiguration(
    beforeName = "org.springframework.boot.webclient.autoconfigure.WebClientAutoConfiguration")
@ConditionalOnClass({WebClient.class, WebClientCustomizer.class})
@SuppressWarnings("exports") // Switch, package-private, is for Spring, not for clients
@Conditional(Switch.WebClient.class)
public class Ctx4jWebClientAutoConfiguration {

  /** Created by Spring. */
  public Ctx4jWebClientAutoConfiguration() {}

  /**
   * The filter.
   *
   * @return a new filter
   */
  @Bean
  @ConditionalOnMissingBean
  public ContextExchangeFilterFunction ctx4jWebClientFilter() {
    return new ContextExchangeFilterFunction();
  }

  /**
   * The customizer that adds the filter, last, to each builder.
   *
   * @param filter the filter
   * @return the customizer
   */
  @Bean
  @ConditionalOnMissingBean(name = "ctx4jWebClientCustomizer")
  public WebClientCustomizer ctx4jWebClientCustomizer(ContextExchangeFilterFunction filter) {
    return builder -> builder.filter(filter);
  }
}
