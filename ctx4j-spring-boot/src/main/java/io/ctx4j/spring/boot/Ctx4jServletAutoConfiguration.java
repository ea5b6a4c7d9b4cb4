package io.ctx4j.spring.boot;

import io.ctx4j.Context;
import io.ctx4j.servlet.ContextServletFilter;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import org.springframework.beans.factory.BeanCurrentlyInCreationException;
import org.springframework.beans.factory.BeanNotOfRequiredTypeException;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.autoconfigure.condition.SearchStrategy;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.web.servlet.FilterRegistration;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Conditional;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.context.annotation.ConfigurationCondition;
import org.springframework.core.type.AnnotatedTypeMetadata;

/**
 * Registers ctx4j-servlet's {@link ContextServletFilter} in a servlet web application: every
 * request gets a context with the caller's deadline ({@code ctx4j.servlet.max-timeout} caps it),
 * bound as {@code CurrentContext.get()} in the handler, ended when the request is over. The filter's
 * root is a child of the {@link ShutdownContext} when there is one, so requests still in flight when
 * the graceful-shutdown drain ends are cancelled then, with a cause whose reason is {@code
 * SERVER_SHUTDOWN}.
 *
 * <p>A {@code ContextServletFilter} bean of the application's own replaces the one made here (it is
 * registered by the same registration bean). A {@code FilterRegistrationBean} of the application's
 * own whose filter is a {@code ContextServletFilter} (its own instance, or the filter bean, mapped
 * its own way) replaces the registration: the one made here is then disabled, so that the filter
 * bean is not registered by Spring Boot's defaults either, and the application's registration is the
 * only one. A {@code ContextServletFilter} bean of the application's own that carries Spring Boot's
 * {@code @FilterRegistration} is registered by Spring Boot from that annotation: no registration is
 * made here then (even a disabled one would make Spring Boot skip the annotation). Off with {@code
 * ctx4j.servlet.enabled=false}.
 *
 * <p>Each application context has its own filter: in a hierarchy ({@code
 * SpringApplicationBuilder.parent/child}) a filter bean of the parent is not taken by the children.
 * Each child's server needs an instance of its own, under the child's shutdown context: a servlet
 * container destroys the filter instance it was given when it stops, and one instance shared by two
 * servers would end the requests of both when the first stops.
 *
 * @since 0.1
 */
@AutoConfiguration(after = Ctx4jShutdownAutoConfiguration.class)
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
@ConditionalOnClass({Filter.class, FilterRegistrationBean.class})
@SuppressWarnings("exports") // Switch, package-private, is for Spring, not for clients
@Conditional(Switch.Servlet.class)
// Also bound by Ctx4jPropertiesAutoConfiguration in every application; here too, so that this
// configuration stands on its own (Spring registers the binding once).
@EnableConfigurationProperties(Ctx4jProperties.class)
public class Ctx4jServletAutoConfiguration {

  /** The name of the filter's registration bean. */
  public static final String REGISTRATION_BEAN = "ctx4jServletFilterRegistration";

  /** Created by Spring. */
  public Ctx4jServletAutoConfiguration() {}

  /**
   * The filter, built from {@code ctx4j.servlet.*}, its root under this application context's
   * shutdown context if it has one (not an ancestor's), else under {@code Context.background()}.
   *
   * @param properties the settings
   * @param beans the application context's bean factory, for its shutdown context
   * @return the filter
   */
  @Bean
  // CURRENT: a filter in a parent application context would otherwise be taken by every child, one
  // instance in several servers: the first server to stop destroys it, ending the requests of all.
  @ConditionalOnMissingBean(search = SearchStrategy.CURRENT)
  public ContextServletFilter ctx4jServletFilter(
      Ctx4jProperties properties, ListableBeanFactory beans) {
    // Ctx4jProperties refuses a bad max-timeout when it is bound (in every kind of application).
    Ctx4jProperties.Servlet s = properties.getServlet();
    // This application context's own only: with ctx4j.shutdown.enabled=false here there is none, and
    // the requests must not hang off an ancestor's, which ends only when the ancestor closes.
    ShutdownContext sc = ownShutdownContext(beans);
    return ContextServletFilter.builder()
        .parent(sc == null ? Context.background() : sc.context())
        .maxTimeout(s.getMaxTimeout())
        .trustTimeoutHeaders(s.isTrustTimeoutHeaders())
        .build();
  }

  /**
   * This application context's shutdown context, or null: the bean itself, or the target of a
   * Spring AOP proxy of it (a JDK proxy by its interfaces, as the class is final, which is no
   * {@code ShutdownContext}: taken as one, it failed the startup).
   */
  private static ShutdownContext ownShutdownContext(ListableBeanFactory beans) {
    if (beans.getBeanNamesForType(ShutdownContext.class).length == 0) {
      return null;
    }
    try {
      return beans.getBean(ShutdownContext.class);
    } catch (BeanNotOfRequiredTypeException proxy) {
      ShutdownContext target = ShutdownContext.targetOf(beans.getBean(proxy.getBeanName()));
      if (target == null) {
        throw proxy;
      }
      return target;
    }
  }

  /**
   * Registers the filter for every path, for the {@code REQUEST} and {@code ASYNC} dispatches, with
   * async support, at {@code ctx4j.servlet.filter-order}; disabled when the application context has
   * a {@code FilterRegistrationBean} of its own for a {@code ContextServletFilter}, and not made when
   * its {@code ContextServletFilter} bean carries {@code @FilterRegistration} ({@link
   * NoAnnotatedRegistration}).
   *
   * @param beans the application context's bean factory, whose own filter is registered
   * @param properties the settings
   * @return the registration
   * @throws org.springframework.beans.factory.NoSuchBeanDefinitionException if there is no filter
   *     bean, or several without a primary one, in this application context
   */
  @Bean(name = REGISTRATION_BEAN)
  @ConditionalOnMissingBean(name = REGISTRATION_BEAN, search = SearchStrategy.CURRENT)
  @Conditional(NoAnnotatedRegistration.class)
  public FilterRegistrationBean<ContextServletFilter> ctx4jServletFilterRegistration(
      ListableBeanFactory beans, Ctx4jProperties properties) {
    // Not an injected parameter: injection looks at the ancestors too, and a parent's filter would
    // make two candidates. getBean(Class) takes this factory's own when it has one.
    ContextServletFilter filter = beans.getBean(ContextServletFilter.class);
    FilterRegistrationBean<ContextServletFilter> r = new FilterRegistrationBean<>(filter);
    r.setName("ctx4jContextServletFilter");
    r.setAsyncSupported(true);
    r.setDispatcherTypes(DispatcherType.REQUEST, DispatcherType.ASYNC);
    r.addUrlPatterns("/*");
    r.setOrder(properties.getServlet().getFilterOrder());
    if (hasOwnRegistration(beans)) {
      // Disabled, not left out: a filter bean that no registration names would be registered by
      // Spring Boot itself, with its defaults. Spring Boot logs that this one was not registered.
      r.setEnabled(false);
    }
    return r;
  }

  /**
   * Whether this application context (not an ancestor: each has its own server) has a {@code
   * FilterRegistrationBean} whose filter is a {@code ContextServletFilter}, other than the one made
   * here. If so, that one is the application's way of registering the filter; otherwise two
   * filters would run: ours first, for every path (its order is early), whose context the
   * application's would use as it is, its own settings and paths ignored. Asked of the
   * registrations themselves, not of their declared types: a bean method may declare {@code
   * FilterRegistrationBean<?>}.
   */
  private static boolean hasOwnRegistration(ListableBeanFactory beans) {
    for (String name : beans.getBeanNamesForType(FilterRegistrationBean.class, true, false)) {
      if (name.equals(REGISTRATION_BEAN)) {
        continue;
      }
      Object filter;
      try {
        filter = beans.getBean(name, FilterRegistrationBean.class).getFilter();
      } catch (BeanCurrentlyInCreationException e) {
        continue; // one that needs this registration to be made: not a registration of its own
      }
      if (filter instanceof ContextServletFilter) {
        return true;
      }
    }
    return false;
  }

  /**
   * Matches unless this application context (not an ancestor: each has its own server) has a
   * {@code ContextServletFilter} bean carrying Spring Boot's {@code @FilterRegistration}: the
   * application's way of registering its filter, with its own name, paths and dispatcher types.
   * Spring Boot registers such a bean from its annotation only if no registration bean names the
   * same filter: ours, even disabled, would, and the annotation would be ignored. So ours is not
   * made at all. Read from the bean definitions, as {@code @ConditionalOnMissingBean} reads them:
   * no bean is created to ask.
   */
  static final class NoAnnotatedRegistration implements ConfigurationCondition {
    @Override
    public ConfigurationPhase getConfigurationPhase() {
      return ConfigurationPhase.REGISTER_BEAN; // the application's bean definitions are known then
    }

    @Override
    public boolean matches(ConditionContext context, AnnotatedTypeMetadata metadata) {
      ConfigurableListableBeanFactory beans = context.getBeanFactory();
      if (beans == null) {
        return true;
      }
      // A ListableBeanFactory lists its own beans only, not its ancestors'.
      for (String name : beans.getBeanNamesForType(ContextServletFilter.class, true, false)) {
        if (beans.findAnnotationOnBean(name, FilterRegistration.class, false) != null) {
          return false;
        }
      }
      return true;
    }
  }
}
