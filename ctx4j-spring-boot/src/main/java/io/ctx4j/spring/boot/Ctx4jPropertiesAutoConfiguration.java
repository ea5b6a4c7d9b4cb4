package io.ctx4j.spring.boot;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.logging.Log;
import org.apache.commons.logging.LogFactory;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.beans.factory.config.BeanFactoryPostProcessor;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.context.properties.source.ConfigurationProperty;
import org.springframework.boot.context.properties.source.ConfigurationPropertyName;
import org.springframework.boot.context.properties.source.ConfigurationPropertySource;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.boot.context.properties.source.IterableConfigurationPropertySource;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;

/**
 * Binds {@link Ctx4jProperties} in every application where ctx4j's auto-configuration runs,
 * servlet, reactive or none, whichever pieces are on: a {@code ctx4j.*} value the binder cannot read
 * (or that {@code Ctx4jProperties} refuses) fails the startup, naming the property, the same in
 * every kind of application. Before, only the servlet filter's auto-configuration bound them, so a
 * non-servlet application took any value without a word. A name the binder does not know (a typo)
 * is ignored, as Spring Boot ignores unknown properties; the configuration metadata lets an IDE
 * flag it.
 *
 * <p>In a reactive (WebFlux) application, which has no servlet filter, {@code ctx4j.servlet.*}
 * does nothing: if any of them is set (other than {@code ctx4j.servlet.enabled=false}), one warning
 * at startup names each, with where it was set, on the logger {@code
 * io.ctx4j.spring.boot.Ctx4jPropertiesAutoConfiguration}.
 *
 * @since 0.1
 */
@AutoConfiguration
@EnableConfigurationProperties(Ctx4jProperties.class)
public class Ctx4jPropertiesAutoConfiguration {

  private static final Log LOG = LogFactory.getLog(Ctx4jPropertiesAutoConfiguration.class);

  private static final String MAX_TIMEOUT = "ctx4j.servlet.max-timeout";

  /** Created by Spring. */
  public Ctx4jPropertiesAutoConfiguration() {}

  /**
   * Refuses a blank {@code ctx4j.servlet.max-timeout} (a templated value left empty): the binder
   * converts it to no value, the same as a property never set, so the server's cap on every
   * request would go without a word, where any other value it cannot take fails the startup. Run
   * before any bean is made (a static factory post-processor), in every kind of application.
   *
   * @param environment the application's environment
   * @return a post-processor that does nothing more
   * @throws IllegalArgumentException if the property is set, empty or blank; the message names it
   */
  @Bean
  static BeanFactoryPostProcessor ctx4jBlankMaxTimeoutRefusal(Environment environment) {
    Object raw = RawProperty.read(environment, MAX_TIMEOUT);
    if (raw instanceof CharSequence && raw.toString().isBlank()) {
      throw new IllegalArgumentException(
          MAX_TIMEOUT + " must be a positive duration (30s), got \"" + raw + "\"; leave it out for none");
    }
    return beanFactory -> {};
  }

  /** Warns of {@code ctx4j.servlet.*} set in a reactive application, where it does nothing. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.REACTIVE)
  static class Reactive {
    /** Once the application's singletons are made: one warning, or nothing. */
    @Bean
    SmartInitializingSingleton ctx4jServletPropertiesInAReactiveApplication(
        Environment environment, Ctx4jProperties properties) {
      return () -> {
        List<String> ignored = servletPropertiesSet(environment, properties);
        if (!ignored.isEmpty()) {
          LOG.warn(
              "ctx4j.servlet.* properties have no effect in a reactive web application (they"
                  + " configure ctx4j-servlet's filter, for servlet applications only): "
                  + String.join(", ", ignored));
        }
      };
    }
  }

  /**
   * The {@code ctx4j.servlet.*} properties set in {@code environment}, each named once (as the
   * source of highest precedence gives it) with where it was set when that is known; not {@code
   * ctx4j.servlet.enabled} if it switches the filter off, which a reactive application has not.
   */
  static List<String> servletPropertiesSet(Environment environment, Ctx4jProperties properties) {
    ConfigurationPropertyName prefix = ConfigurationPropertyName.of("ctx4j.servlet");
    ConfigurationPropertyName enabled = ConfigurationPropertyName.of("ctx4j.servlet.enabled");
    Map<ConfigurationPropertyName, String> set = new LinkedHashMap<>();
    for (ConfigurationPropertySource source : ConfigurationPropertySources.get(environment)) {
      if (!(source instanceof IterableConfigurationPropertySource iterable)) {
        continue; // a source that cannot list its names (a random value source) sets none of ours
      }
      iterable
          .filter(prefix::isAncestorOf)
          .stream()
          .forEach(
              name -> {
                if (name.equals(enabled) && !properties.getServlet().isEnabled()) {
                  return;
                }
                set.computeIfAbsent(name, n -> describe(n, source.getConfigurationProperty(n)));
              });
    }
    return new ArrayList<>(set.values());
  }

  private static String describe(ConfigurationPropertyName name, ConfigurationProperty property) {
    return property == null || property.getOrigin() == null
        ? name.toString()
        : name + " (" + property.getOrigin() + ")";
  }
}
