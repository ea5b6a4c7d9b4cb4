package io.ctx4j.spring.boot;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;

/**
 * Provides the {@link ShutdownContext}: a context that ends when the application shuts down, once
 * the web server's graceful-shutdown drain is over. Off with {@code ctx4j.shutdown.enabled=false}
 * (the servlet filter's requests then end only when the filter is destroyed, as the server stops).
 *
 * @since 0.1
 */
@AutoConfiguration
@SuppressWarnings("exports") // Switch, package-private, is for Spring, not for clients
@Conditional(Switch.Shutdown.class)
public class Ctx4jShutdownAutoConfiguration {

  /** Created by Spring. */
  public Ctx4jShutdownAutoConfiguration() {}

  /**
   * The shutdown context.
   *
   * @return a new shutdown context, a child of {@code Context.background()}
   */
  @Bean
  @ConditionalOnMissingBean
  public ShutdownContext ctx4jShutdownContext() {
    return new ShutdownContext();
  }
}
