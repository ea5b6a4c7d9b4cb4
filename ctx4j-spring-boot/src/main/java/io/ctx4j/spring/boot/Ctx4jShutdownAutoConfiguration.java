package io.ctx4j.spring.boot;

import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.SearchStrategy;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;

/**
 * Provides the {@link ShutdownContext}: a context that ends when the application shuts down, once
 * the web server's graceful-shutdown drain is over. Off with {@code ctx4j.shutdown.enabled=false}:
 * the servlet filter's requests then end only as the server stops, with what the container does to
 * them (measured: Tomcat interrupts the request's thread, so a handler blocked in an interruptible
 * wait fails and the request ends {@code HANDLER_FAILED}; Jetty closes the connection, {@code
 * CLIENT_DISCONNECTED}), or when the filter is destroyed; never with a {@code SERVER_SHUTDOWN}
 * cause at the drain's end.
 *
 * <p>Every application context gets its own: in a hierarchy ({@code
 * SpringApplicationBuilder.parent/child}) each child is closed, and each child's web server drained,
 * on its own, so a child's requests must end when the child's drain is over, not when the parent
 * closes. A child's shutdown context is a child of its parent's (also of one behind a Spring AOP
 * proxy), so that closing the parent ends the children's too. A {@code ShutdownContext} bean of the
 * application's own, in the same application context, replaces the one made here.
 *
 * <p>Whether the switch is on or not, it also has Spring destroy a {@code ShutdownContext} made by
 * a singleton {@code FactoryBean} (the application's own) with the other singletons, as it
 * destroys a plain one, so that a startup that fails after it was made ends it.
 *
 * @since 0.1
 */
@AutoConfiguration
@SuppressWarnings("exports") // Switch, package-private, is for Spring, not for clients
public class Ctx4jShutdownAutoConfiguration {

  /** Created by Spring. */
  public Ctx4jShutdownAutoConfiguration() {}

  /**
   * The shutdown context.
   *
   * @param applicationContext the application context the bean is made for
   * @return a new shutdown context: a child of the parent application context's shutdown context
   *     (or, if it has none, its nearest ancestor's) when it has one, also one behind a Spring AOP
   *     proxy, else of {@code Context.background()}
   */
  @Bean
  @Conditional(Switch.Shutdown.class)
  // CURRENT: the parent's bean would otherwise stand in for the child's (the default search looks
  // at the ancestors too), and the child's requests would outlive the child's drain.
  @ConditionalOnMissingBean(search = SearchStrategy.CURRENT)
  public ShutdownContext ctx4jShutdownContext(ApplicationContext applicationContext) {
    ApplicationContext parent = applicationContext.getParent();
    // Not getBeanProvider(ShutdownContext.class): it misses a parent's behind a Spring AOP proxy
    // (a JDK proxy by its interfaces, the class being final), and the child would hang off none.
    ShutdownContext above = parent == null ? null : ShutdownContext.nearest(parent);
    return above == null ? new ShutdownContext() : new ShutdownContext(above.context());
  }

  /**
   * Has Spring destroy a {@code ShutdownContext} made by a singleton {@code FactoryBean} with the
   * other singletons: Spring never destroys a factory's product, so a startup that fails after it
   * was made (Spring then destroys the singletons made so far, and never closes) would leave its
   * context live, where a plain bean's ends ({@link ShutdownContext#destroy()}). Static, as a
   * {@code BeanPostProcessor} must be to leave this configuration's other beans to the rest.
   *
   * @return the post-processor; it changes no bean
   */
  @Bean
  public static BeanPostProcessor ctx4jShutdownContextDestruction() {
    return new ShutdownProductDestruction();
  }
}
