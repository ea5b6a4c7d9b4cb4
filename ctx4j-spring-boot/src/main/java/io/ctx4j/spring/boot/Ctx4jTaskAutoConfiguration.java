package io.ctx4j.spring.boot;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.core.task.TaskDecorator;

/**
 * Provides the {@link ContextTaskDecorator}, which Spring Boot applies to its auto-configured task
 * executors (the one behind {@code @Async} among them), so that tasks run with the submitter's
 * current context. Off with {@code ctx4j.task-decorator.enabled=false}.
 *
 * @since 0.1
 */
@AutoConfiguration(
    beforeName = "org.springframework.boot.autoconfigure.task.TaskExecutionAutoConfiguration")
@ConditionalOnClass(TaskDecorator.class)
@SuppressWarnings("exports") // Switch, package-private, is for Spring, not for clients
@Conditional(Switch.TaskDecorator.class)
public class Ctx4jTaskAutoConfiguration {

  /** Created by Spring. */
  public Ctx4jTaskAutoConfiguration() {}

  /**
   * The decorator.
   *
   * @return a new decorator
   */
  @Bean
  @ConditionalOnMissingBean
  public ContextTaskDecorator ctx4jTaskDecorator() {
    return new ContextTaskDecorator();
  }
}
