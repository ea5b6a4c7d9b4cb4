package io.ctx4j.spring.boot;

import org.springframework.boot.context.properties.bind.PropertySourcesPlaceholdersResolver;
import org.springframework.boot.context.properties.source.ConfigurationProperty;
import org.springframework.boot.context.properties.source.ConfigurationPropertyName;
import org.springframework.boot.context.properties.source.ConfigurationPropertySource;
import org.springframework.boot.context.properties.source.ConfigurationPropertySources;
import org.springframework.core.env.Environment;

/**
 * A {@code ctx4j.*} property's value before conversion, found as Spring Boot's binder finds the
 * value it binds to {@link Ctx4jProperties}: in any relaxed form ({@code maxTimeout}, {@code
 * CTX4J_SERVLET_MAXTIMEOUT}), from the first property source that has it, placeholders resolved.
 * What ctx4j decides before binding (a switch's condition, the refusal of a blank maximum) then
 * reads the same value the binder will, also in an environment without Spring Boot's relaxed names
 * attached (an application context built by hand), where {@code Environment.getProperty} sees only
 * the exact name.
 */
final class RawProperty {
  private RawProperty() {}

  /**
   * Returns the value of {@code name} in {@code environment}, or null if no source sets it.
   *
   * @param environment a {@code ConfigurableEnvironment}, as every application context has
   * @param name the property's canonical name ({@code ctx4j.servlet.max-timeout})
   * @return the value as its source holds it (a {@code String} with placeholders resolved, or
   *     another type a source may hold), or null
   */
  static Object read(Environment environment, String name) {
    ConfigurationPropertyName key = ConfigurationPropertyName.of(name);
    for (ConfigurationPropertySource source : ConfigurationPropertySources.get(environment)) {
      ConfigurationProperty property = source.getConfigurationProperty(key);
      if (property != null) {
        Object value = property.getValue();
        return value instanceof String text
            ? new PropertySourcesPlaceholdersResolver(environment).resolvePlaceholders(text)
            : value;
      }
    }
    return null;
  }
}
