package io.ctx4j.spring.boot;

import org.springframework.boot.convert.ApplicationConversionService;
import org.springframework.context.annotation.Condition;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.core.type.AnnotatedTypeMetadata;

/**
 * The conditions of the {@code ctx4j.*.enabled} switches. Spring Boot's {@code
 * ConditionalOnBooleanProperty} matches only the text {@code true}: a typo ({@code flase}) or a
 * value that {@link Ctx4jProperties} binds as on ({@code yes}, {@code on}, {@code 1}) would leave
 * the piece out without a word. Here a switch means what Spring's conversion makes of it, the same
 * as {@code Ctx4jProperties.Toggle#isEnabled()}, and a value that is neither fails the startup,
 * naming the property: an empty one too, which Spring's conversion would take for missing here but
 * which {@code Ctx4jProperties} (a primitive {@code boolean}) refuses to bind. Missing: on. The
 * value is read as the binder reads it ({@link RawProperty}), in any relaxed form.
 */
abstract class Switch implements Condition {
  private final String property;

  Switch(String property) {
    this.property = property;
  }

  @Override
  public boolean matches(ConditionContext context, AnnotatedTypeMetadata metadata) {
    Object raw = RawProperty.read(context.getEnvironment(), property);
    if (raw == null) {
      return true;
    }
    Boolean on;
    try {
      // The binder's own conversion, so that the switch and Ctx4jProperties agree on every value.
      on = ApplicationConversionService.getSharedInstance().convert(raw, Boolean.class);
    } catch (RuntimeException e) { // Spring's ConversionFailedException
      throw malformed(raw, e);
    }
    if (on == null) { // empty or blank: converted to null, i.e. "missing"
      throw malformed(raw, null);
    }
    return on;
  }

  private IllegalArgumentException malformed(Object raw, RuntimeException cause) {
    return new IllegalArgumentException(
        property + " must be true or false, got \"" + raw + "\"", cause);
  }

  /** {@code ctx4j.servlet.enabled}. */
  static final class Servlet extends Switch {
    Servlet() {
      super("ctx4j.servlet.enabled");
    }
  }

  /** {@code ctx4j.rest-client.enabled}. */
  static final class RestClient extends Switch {
    RestClient() {
      super("ctx4j.rest-client.enabled");
    }
  }

  /** {@code ctx4j.web-client.enabled}. */
  static final class WebClient extends Switch {
    WebClient() {
      super("ctx4j.web-client.enabled");
    }
  }

  /** {@code ctx4j.task-decorator.enabled}. */
  static final class TaskDecorator extends Switch {
    TaskDecorator() {
      super("ctx4j.task-decorator.enabled");
    }
  }

  /** {@code ctx4j.shutdown.enabled}. */
  static final class Shutdown extends Switch {
    Shutdown() {
      super("ctx4j.shutdown.enabled");
    }
  }
}
