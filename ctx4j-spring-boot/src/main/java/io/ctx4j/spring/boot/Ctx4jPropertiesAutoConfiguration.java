package io.ctx4j.spring.boot;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.context.properties.EnableConfigurationProperties;

/**
 * Binds {@link Ctx4jProperties} in every application where ctx4j's auto-configuration runs,
 * servlet, reactive or none, whichever pieces are on: a {@code ctx4j.*} value the binder cannot read
 * (or that {@code Ctx4jProperties} refuses) fails the startup, naming the property, the same in
 * every kind of application. Before, only the servlet filter's auto-configuration bound them, so a
 * non-servlet application took any value without a word. A name the binder does not know (a typo)
 * is ignored, as Spring Boot ignores unknown properties; the configuration metadata lets an IDE
 * flag it.
 *
 * @since 0.1
 */
@AutoConfiguration
@EnableConfigurationProperties(Ctx4jProperties.class)
public class Ctx4jPropertiesAutoConfiguration {

  /** Created by Spring. */
  public Ctx4jPropertiesAutoConfiguration() {}
}
