package io.ctx4j.spring.boot;

import org.springframework.beans.BeansException;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.BeanFactoryAware;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.beans.factory.support.DefaultSingletonBeanRegistry;

/**
 * Has Spring destroy a {@link ShutdownContext} made by a singleton {@code FactoryBean} with the
 * other singletons. Spring destroys a factory's product never (it destroys the factory, which may
 * not know to pass it on), so a startup that fails after the product was made, which Spring ends by
 * destroying the singletons made so far without a close, would leave its context live, and the work
 * derived from it running; a plain bean ends its context then ({@link ShutdownContext#destroy()}).
 * The product is registered as a disposable bean of its own as Spring hands it out (post-processed
 * after initialization, as a factory's product is, and seen through a Spring AOP proxy); at a close
 * the lifecycle has ended its context already, and the destruction changes nothing.
 *
 * <p>Thread safety: as Spring's bean factory, which calls it.
 */
final class ShutdownProductDestruction implements BeanPostProcessor, BeanFactoryAware {
  private ConfigurableListableBeanFactory beans;

  @Override
  public void setBeanFactory(BeanFactory beanFactory) {
    beans = beanFactory instanceof ConfigurableListableBeanFactory c ? c : null;
  }

  @Override
  public Object postProcessAfterInitialization(Object bean, String beanName) throws BeansException {
    ShutdownContext product = ShutdownContext.targetOf(bean);
    if (product != null
        && beans instanceof DefaultSingletonBeanRegistry registry
        // Neither for an inner bean (no name to look up) nor an ancestor's bean.
        && (beans.containsSingleton(beanName) || beans.containsBeanDefinition(beanName))
        && beans.isFactoryBean(beanName)
        && beans.isSingleton(beanName)) {
      // Named after the factory, so that a product made again replaces the entry (one per factory).
      registry.registerDisposableBean(
          beanName + "#" + ShutdownContext.class.getName() + ".destroy", product::destroy);
    }
    return bean;
  }
}
