package io.ctx4j.spring.boot;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.servlet.RequestCanceledException;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import java.util.concurrent.atomic.AtomicLong;
import org.springframework.aop.framework.AopProxyUtils;
import org.springframework.beans.factory.BeanFactoryUtils;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.beans.factory.FactoryBean;
import org.springframework.beans.factory.NoUniqueBeanDefinitionException;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.context.ApplicationContext;
import org.springframework.context.ApplicationContextAware;
import org.springframework.context.ApplicationListener;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.Lifecycle;
import org.springframework.context.SmartLifecycle;
import org.springframework.context.event.ApplicationContextEvent;
import org.springframework.context.event.ContextClosedEvent;
import org.springframework.context.event.ContextStartedEvent;
import org.springframework.context.event.ContextStoppedEvent;
import org.springframework.context.support.AbstractApplicationContext;

/**
 * A context that ends when the Spring application shuts down, at the moment in-flight work should
 * stop: after the web server's graceful-shutdown drain and before the server stops. The request
 * contexts of {@link io.ctx4j.servlet.ContextServletFilter} are its children when the
 * auto-configuration builds the filter, so requests still running when the drain is over end with
 * this context's cause; derive background work from {@link #context()} to stop it at the same time.
 *
 * <h2>Why a lifecycle phase, not {@code ContextClosedEvent} or a signal handler</h2>
 *
 * Closing a Spring application context publishes {@code ContextClosedEvent} first and then stops
 * the lifecycle beans, phase by phase, highest first. Spring Boot's graceful shutdown is the
 * lifecycle bean of phase {@code WebServerApplicationContext.GRACEFUL_SHUTDOWN_PHASE} ({@code
 * SmartLifecycle.DEFAULT_PHASE - 1024}): it stops accepting requests and waits for those in flight,
 * at most {@code spring.lifecycle.timeout-per-shutdown-phase} (30 s by default); the server itself
 * stops in {@code START_STOP_LIFECYCLE_PHASE} ({@code GRACEFUL_SHUTDOWN_PHASE - 1024}). This bean's
 * {@link #PHASE} lies between the two, so it is stopped once the drain is over (every request done,
 * or the drain's time up) and before the server stops. Cancelling on {@code ContextClosedEvent}
 * would end every request before the drain had a chance to let them finish; taking over SIGTERM
 * would bypass Spring's own shutdown hook and its ordering. Without a web server (or with {@code
 * server.shutdown=immediate}) the bean simply ends its context during the context's close.
 *
 * <p>The cause is a {@link RequestCanceledException} whose reason is {@link
 * Reason#SERVER_SHUTDOWN}, its detail saying that the application context closed after the
 * graceful-shutdown drain ({@code application context closed, graceful-shutdown drain over}), or
 * that there was none: with {@code server.shutdown=immediate} ({@code application context closed,
 * no graceful-shutdown drain (server.shutdown=immediate)}), in an application context without a
 * web server of its own ({@code application context closed, no graceful-shutdown drain (no web
 * server in this application context)}), at a close after a stop, which stopped the server ({@code
 * application context closed after a stop, the web server stopped then: no graceful-shutdown drain
 * at the close}); requests see it as {@code ctx.cause()}. A bean that knows no application context
 * says so instead: at its {@link #stop()} ({@code stopped outside an application context, no close
 * or graceful-shutdown drain awaited}), or at a close that reached it as a listener added by hand
 * ({@code application context closed, no graceful-shutdown drain awaited (this ShutdownContext is
 * not one of its beans)}).
 *
 * <p>In an application context only a close ends the context. A {@code
 * ConfigurableApplicationContext.stop()} without a close
 * (a CRaC checkpoint does one, then {@code start()} on restore) stops the web server but leaves the
 * context live, because a context cannot be revived once ended and the requests served after the
 * {@code start()} are its children. For the same reason the bean cannot be paused ({@link
 * #isPauseable()} is false). A close after such a stop ends the context at once, at {@code
 * ContextClosedEvent}: Spring does not stop a bean twice, and the server is already stopped, so
 * there is no drain to wait for. A startup that fails after the bean was made has no close either:
 * the context ends when Spring destroys the beans ({@link #destroy()}), with a detail that says so.
 * A bean used outside an application context (Spring never called {@link
 * #setApplicationContext}, and no event reached it from an application context of which it is a
 * singleton) has no close to wait for: there {@link #stop()} ends the context. A bean registered
 * with {@code registerSingleton} gets no {@code setApplicationContext} call; it learns its
 * application context from the first of its events that reaches it (the refresh). Registered after
 * the refresh, it gets no event (it is no listener of that context) and no start, nor any {@link
 * #destroy()} ({@code registerSingleton} registers none); but it runs from construction ({@link
 * #isRunning()}), so the close's lifecycle stops it in its phase, after the drain, and that ends
 * the context (with the detail of a stop outside an application context, as it cannot tell a close
 * from a stop).
 * One added to an application context by hand as a listener only ({@code addApplicationListener},
 * {@code SpringApplication.addListeners}) is no lifecycle bean of it: its close ends the context at
 * {@code ContextClosedEvent}, before any drain, even if it was started by hand (no lifecycle will
 * stop it); make it a bean to have the drain first.
 *
 * <p>A bean is recognised as such however it was made: defined, registered with {@code
 * registerSingleton}, wrapped in a Spring AOP proxy (a JDK proxy by its interfaces, as the class is
 * final; the lifecycle stops it through the proxy), or made by a singleton {@code FactoryBean}. The
 * last is no lifecycle bean (Spring stops top-level singletons only, and tells a factory's product
 * neither its application context nor its destruction): at the close it registers a lifecycle
 * bean of {@link #PHASE} in the closing application context that stops it, so it too ends when the
 * drain is over; as it learns its application context from the first of that context's events
 * (the refresh), a child's close does not end it. Nor is it destroyed when a startup fails: the
 * auto-configuration's {@code ctx4jShutdownContextDestruction} post-processor has Spring destroy it
 * with the other singletons ({@link #destroy()}); without the auto-configuration, have the factory
 * do it.
 *
 * <p>Thread safety: all methods are thread-safe. Memory consistency effects: actions before the
 * call that ends the context ({@link #shutdown}, or {@link #stop()} during a close) happen-before a
 * thread observes {@link #context()} done.
 *
 * @since 0.1
 */
public final class ShutdownContext
    implements SmartLifecycle,
        ApplicationListener<ApplicationContextEvent>,
        ApplicationContextAware,
        DisposableBean {

  /**
   * This bean's lifecycle phase: {@code SmartLifecycle.DEFAULT_PHASE - 1536}, between Spring Boot's
   * {@code GRACEFUL_SHUTDOWN_PHASE} ({@code DEFAULT_PHASE - 1024}) and {@code
   * START_STOP_LIFECYCLE_PHASE} ({@code DEFAULT_PHASE - 2048}).
   */
  public static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 1536;

  /** The detail of the cause. */
  static final String DETAIL = "application context closed, graceful-shutdown drain over";

  /** The detail of the cause at a close with {@code server.shutdown=immediate}: there is no drain. */
  static final String IMMEDIATE_DETAIL =
      "application context closed, no graceful-shutdown drain (server.shutdown=immediate)";

  /**
   * The detail of the cause at the close of an application context without a web server of its own
   * (a non-web application, a parent of web children, a war in an external container): nothing
   * drains its requests.
   */
  static final String NO_WEB_SERVER_DETAIL =
      "application context closed, no graceful-shutdown drain (no web server in this application context)";

  /**
   * The detail of the cause at a close after a {@code stop()}: the stop stopped the web server, so
   * the close has nothing to drain.
   */
  static final String AFTER_STOP_DETAIL =
      "application context closed after a stop, the web server stopped then: no graceful-shutdown drain at the close";

  /**
   * The bean Spring Boot registers in an application context that runs a web server of its own
   * (servlet or reactive), for the server's graceful shutdown: named, not typed, since the class
   * lives in a module the application may not have.
   */
  private static final String WEB_SERVER_DRAIN_BEAN = "webServerGracefulShutdown";

  /**
   * The detail of the cause at a {@link #stop()} of a bean that knows no application context (made
   * by hand, or registered after its application context's refresh): it waited for no close and no
   * drain.
   */
  static final String OUTSIDE_DETAIL =
      "stopped outside an application context, no close or graceful-shutdown drain awaited";

  /**
   * The detail of the cause at the close of an application context of which this bean is no bean
   * (it was added as a listener by hand, or given to {@code SpringApplication} as one): the close
   * reached it, but it was not one of the lifecycle beans that wait for the drain.
   */
  static final String NOT_A_BEAN_CLOSE_DETAIL =
      "application context closed, no graceful-shutdown drain awaited (this ShutdownContext is not one of its beans)";

  /** Names the lifecycle beans registered to stop a factory's product at the close. */
  private static final AtomicLong PHASE_STOPS = new AtomicLong();

  /** The detail of the cause when the beans are destroyed without a close: a failed startup. */
  static final String DESTROYED_DETAIL = "application context failed to start, its beans destroyed";

  private final CancelableContext context;
  /**
   * True from construction, as the context is live from then on: so that the lifecycle of an
   * application context stops, at its close, even a bean it never started (one registered with
   * {@code registerSingleton} after the refresh, which nothing else would end). False once stopped,
   * until started again.
   */
  private volatile boolean running = true;

  /** Set at {@code ContextClosedEvent}: from then on a {@link #stop()} is the close's. */
  private volatile boolean closing;

  /**
   * The application context this bean belongs to, if it is a bean; null otherwise. Also set for a
   * listener given to {@code SpringApplication}, which Spring Boot tells of its application context
   * though it is none of its beans: so a close checks the beans themselves.
   */
  private volatile ApplicationContext owner;

  /** Creates a shutdown context that is a child of {@link Context#background()}. */
  public ShutdownContext() {
    this(Context.background());
  }

  /**
   * Creates a shutdown context under {@code parent}: cancelling the parent ends it too.
   *
   * @param parent the parent
   * @throws NullPointerException if {@code parent} is null
   */
  public ShutdownContext(Context parent) {
    this.context = Context.withCancel(parent);
  }

  /**
   * Returns the context that ends when the application shuts down (after the drain).
   *
   * @return the context, never null
   */
  public Context context() {
    return context;
  }

  /**
   * Ends the context now, with the given detail in its cause ({@link Reason#SERVER_SHUTDOWN}).
   * Idempotent: the first call's cause stays.
   *
   * @param detail what happened, for the message; may be null
   * @return true if this call ended the context
   */
  public boolean shutdown(String detail) {
    running = false;
    return context.cancel(new RequestCanceledException(Reason.SERVER_SHUTDOWN, detail, null));
  }

  /**
   * The detail for a close, which must not claim a drain that did not happen: {@link
   * #NO_WEB_SERVER_DETAIL} when the application context runs no web server, {@link
   * #AFTER_STOP_DETAIL} when a stop before the close stopped it, {@link #IMMEDIATE_DETAIL} when its
   * {@code server.shutdown} is {@code immediate}, else {@link #DETAIL}. Outside an application
   * context, {@link #OUTSIDE_DETAIL}: it waited for no drain. (A close that reaches a bean that is
   * none of the closing context's beans takes {@link #NOT_A_BEAN_CLOSE_DETAIL} without asking.)
   *
   * @param afterStop whether the bean was stopped when the close began
   */
  private String closeDetail(boolean afterStop) {
    ApplicationContext mine = owner;
    if (mine == null) {
      // No application context told this bean of itself, so no lifecycle of one stopped it after
      // a drain it knows of: saying "drain over" would claim what nobody waited for.
      return OUTSIDE_DETAIL;
    }
    if (!mine.containsLocalBean(WEB_SERVER_DRAIN_BEAN)) {
      return NO_WEB_SERVER_DETAIL;
    }
    if (afterStop) {
      return AFTER_STOP_DETAIL;
    }
    String mode = mine.getEnvironment().getProperty("server.shutdown");
    return mode != null && mode.trim().equalsIgnoreCase("immediate") ? IMMEDIATE_DETAIL : DETAIL;
  }

  /**
   * Marks the bean running again after a {@link #stop()} without a close; the context is live from
   * construction on, and the bean running (Spring does not start a bean that says it runs).
   */
  @Override
  public void start() {
    running = true;
  }

  /**
   * During a close, or outside an application context, ends the context: the application is
   * shutting down and the graceful drain is over. Otherwise (a stop that a {@code start()} may
   * follow) only marks the bean stopped.
   */
  @Override
  public void stop() {
    if (closing || owner == null) {
      shutdown(closeDetail(false));
    } else {
      running = false;
    }
  }

  /**
   * At an event of an application context of which this bean is a singleton, records that
   * application context if Spring did not tell it ({@link #setApplicationContext} is not called for
   * a bean registered with {@code registerSingleton}, nor for a factory's product), so that a later
   * {@link #stop()} without a close leaves the context live. At a close, notes that the application
   * context is closing, so that the lifecycle's {@link #stop()} ends the context; if the bean is
   * already stopped (by a stop before the close), Spring will not stop it again: the context ends
   * now. So it does if the bean is none of the closing context's beans (a listener added by hand,
   * started by hand or not): no lifecycle will stop it. A factory's product, which no lifecycle
   * stops either, gets a lifecycle bean of its phase that stops it. Events of other application
   * contexts (a child's refresh and close reach its parent's listeners) are ignored, also by a
   * listener added by hand to the parent; other events too.
   *
   * @param event an event of an application context
   */
  @Override
  public void onApplicationEvent(ApplicationContextEvent event) {
    ApplicationContext mine = owner;
    ApplicationContext source = event.getApplicationContext();
    if (mine == null && membershipOf(source) != Membership.NONE) {
      // One of its singletons (registered with registerSingleton, or a factory's product, so not
      // told by Spring): this is its application context. Only that proves it: a listener added by
      // hand to a parent sees its children's events too.
      owner = mine = source;
    }
    if (mine != null && source != mine) {
      return;
    }
    if (mine != null && event instanceof ContextStoppedEvent) {
      // The lifecycle stopped a plain bean already; a factory's product it does not stop, and a
      // close after this stop must know that the stop stopped the web server.
      running = false;
      return;
    }
    if (mine != null && event instanceof ContextStartedEvent) {
      running = true;
      return;
    }
    if (!(event instanceof ContextClosedEvent)) {
      return;
    }
    if (mine == null && belongsToAnAncestorOf(source)) {
      // A child's close, reaching the listeners of the parent this bean belongs to: ending here
      // would cancel everything under the parent's shutdown context while the parent runs on.
      return;
    }
    closing = true;
    Membership membership = membershipOf(source);
    if (membership == Membership.NONE) {
      // Not one of the closing context's beans (a listener added by hand): no lifecycle will ever
      // stop it, so waiting for a stop() would leave the context live after the close. Knowing
      // the context is no proof: Spring Boot tells a listener given to SpringApplication its
      // application context too (setApplicationContext), though it is none of its beans.
      shutdown(NOT_A_BEAN_CLOSE_DETAIL);
    } else if (!running) {
      shutdown(closeDetail(true));
    } else if (membership == Membership.NOT_STOPPED) {
      stopInThisPhase((ConfigurableApplicationContext) source);
    }
  }

  /**
   * Has the closing application context's lifecycle stop this factory's product in {@link
   * #PHASE}, after the drain, as it stops a plain bean: Spring stops top-level singletons only, and
   * the lifecycle beans of a close are looked up after {@code ContextClosedEvent}, so one
   * registered now is stopped in its phase (as one registered with {@code registerSingleton} after
   * the refresh is). If the bean factory refuses it, the context ends now, saying so.
   */
  private void stopInThisPhase(ConfigurableApplicationContext app) {
    String name = ShutdownContext.class.getName() + ".phaseStop#" + PHASE_STOPS.incrementAndGet();
    try {
      app.getBeanFactory().registerSingleton(name, new PhaseStop(this));
    } catch (RuntimeException refused) {
      shutdown("application context closed, no graceful-shutdown drain awaited (" + refused + ")");
    }
  }

  /**
   * Stops a {@code ShutdownContext} that no lifecycle stops (a factory's product) in {@link
   * #PHASE}. Registered at the close only, so neither auto-startup nor a pause concerns it. Thread
   * safety: as its target's.
   */
  private static final class PhaseStop implements SmartLifecycle {
    private final ShutdownContext target;
    private volatile boolean running = true;

    PhaseStop(ShutdownContext target) {
      this.target = target;
    }

    @Override
    public void start() {
      running = true;
    }

    @Override
    public void stop() {
      running = false;
      target.stop();
    }

    @Override
    public boolean isRunning() {
      return running;
    }

    @Override
    public int getPhase() {
      return PHASE;
    }
  }

  /**
   * Tells whether this instance is a singleton of, or a listener added by hand to, a proper
   * ancestor of {@code app}: then {@code app}'s events reach it only because they propagate to
   * the ancestors' listeners.
   */
  private boolean belongsToAnAncestorOf(ApplicationContext app) {
    for (ApplicationContext above = app.getParent(); above != null; above = above.getParent()) {
      if (membershipOf(above) != Membership.NONE
          || (above instanceof AbstractApplicationContext abstractContext
              && abstractContext.getApplicationListeners().contains(this))) {
        return true;
      }
    }
    return false;
  }

  /** How an instance belongs to an application context's beans. */
  private enum Membership {
    /** Not one of its beans. */
    NONE,
    /** A top-level lifecycle singleton, itself or behind a proxy: the lifecycle stops it. */
    LIFECYCLE_BEAN,
    /** A bean no lifecycle stops: the product of a singleton {@code FactoryBean}. */
    NOT_STOPPED
  }

  /**
   * Tells how this instance is one of the beans of {@code app} itself (not of an ancestor): a
   * singleton, defined or registered with {@code registerSingleton}, or the target of a Spring AOP
   * proxy that is one, or the product of a singleton {@code FactoryBean}. Looks at the listeners
   * (this instance is one, and so is a proxy of it by its interfaces, which is no {@code
   * ShutdownContext}), and only at those already made, so that it creates no bean: a factory's
   * product typed as a listener was made to deliver the first event, before any listener ran.
   */
  private Membership membershipOf(ApplicationContext app) {
    if (!(app instanceof ConfigurableApplicationContext configurable)) {
      return Membership.NONE;
    }
    try {
      ConfigurableListableBeanFactory beans = configurable.getBeanFactory();
      for (String name : beans.getBeanNamesForType(ApplicationListener.class, false, false)) {
        String bare = BeanFactoryUtils.transformedBeanName(name);
        if (!beans.containsSingleton(bare)) {
          continue;
        }
        Object singleton = beans.getSingleton(bare);
        if (!(singleton instanceof FactoryBean<?> factory)) {
          if (targetOf(singleton) == this) {
            // Spring's lifecycle stops the top-level singletons that are Lifecycles.
            return singleton instanceof Lifecycle ? Membership.LIFECYCLE_BEAN : Membership.NOT_STOPPED;
          }
        } else if (!BeanFactoryUtils.isFactoryDereference(name)
            && factory.isSingleton()
            && targetOf(beans.getBean(bare)) == this) {
          return Membership.NOT_STOPPED;
        }
      }
      return Membership.NONE;
    } catch (IllegalStateException notActive) {
      // A refreshable application context whose bean factory is gone: this is none of its beans.
      return Membership.NONE;
    }
  }

  /**
   * The shutdown context of {@code app} itself or, if it has none, of its nearest ancestor that has
   * one; null if none has. A bean of the type (a plain one, a factory's product) is taken as {@code
   * getBean} takes it (a primary among several); a Spring AOP proxy of one, which is no {@code
   * ShutdownContext} and which no look-up by the type finds, is taken by its target when it is the
   * only one of its application context. Creates no bean that a look-up by the type would not.
   *
   * @param app an application context, refreshed
   * @return the shutdown context, or null
   */
  static ShutdownContext nearest(ApplicationContext app) {
    for (ApplicationContext level = app; level != null; level = level.getParent()) {
      ShutdownContext own = ownOf(level);
      if (own != null) {
        return own;
      }
    }
    return null;
  }

  /** The shutdown context of {@code app} itself (not an ancestor's), or null: see {@link #nearest}. */
  private static ShutdownContext ownOf(ApplicationContext app) {
    if (app.getBeanNamesForType(ShutdownContext.class).length > 0) {
      try {
        return app.getBean(ShutdownContext.class);
      } catch (NoUniqueBeanDefinitionException ambiguous) {
        return null; // as getBeanProvider(...).getIfUnique() takes none of them
      }
    }
    if (!(app instanceof ConfigurableApplicationContext configurable)) {
      return null;
    }
    // A proxy by interfaces: a singleton that is a listener (as this class is) and stands for one.
    ShutdownContext found = null;
    try {
      ConfigurableListableBeanFactory beans = configurable.getBeanFactory();
      for (String name : beans.getBeanNamesForType(ApplicationListener.class, false, false)) {
        String bare = BeanFactoryUtils.transformedBeanName(name);
        Object singleton = beans.containsSingleton(bare) ? beans.getSingleton(bare) : null;
        ShutdownContext target = singleton instanceof FactoryBean<?> ? null : targetOf(singleton);
        if (target != null && found != null && target != found) {
          return null; // two: as a look-up by the type would, take neither
        }
        found = target != null ? target : found;
      }
    } catch (IllegalStateException notActive) {
      return null; // its bean factory is gone
    }
    return found;
  }

  /**
   * The {@code ShutdownContext} that {@code bean} is or stands for: itself, or the target of a
   * Spring AOP proxy with a single target (proxies of proxies too); null for anything else.
   *
   * @param bean a bean, or null
   * @return the shutdown context, or null
   */
  static ShutdownContext targetOf(Object bean) {
    Object candidate = bean;
    for (int depth = 0; candidate != null && depth < 16; depth++) {
      if (candidate instanceof ShutdownContext shutdown) {
        return shutdown;
      }
      candidate = AopProxyUtils.getSingletonTarget(candidate);
    }
    return null;
  }

  /**
   * Ends the context if nothing has yet (Spring calls this when it destroys the bean). In a close
   * the lifecycle stop has ended it already; but a startup that fails after this bean was made
   * never closes: Spring only destroys the beans made so far, and work already derived from {@link
   * #context()} must stop then.
   */
  @Override
  public void destroy() {
    shutdown(DESTROYED_DETAIL);
  }

  /**
   * Records the application context this bean belongs to (Spring calls this).
   *
   * @param applicationContext the bean's application context
   */
  @Override
  public void setApplicationContext(ApplicationContext applicationContext) {
    this.owner = applicationContext;
  }

  /**
   * Tells whether the bean runs: from construction (its context is live from then on, so no
   * {@link #start()} is needed) until a {@link #stop()} or the end of its context, and again after
   * a {@link #start()}. Running from construction, it is stopped by the close of the application
   * context it is a singleton of even when that context never started it (registered with {@code
   * registerSingleton} after the refresh).
   *
   * @return true while running
   */
  @Override
  public boolean isRunning() {
    return running;
  }

  /**
   * Returns {@link #PHASE}.
   *
   * @return the phase
   */
  @Override
  public int getPhase() {
    return PHASE;
  }

  /**
   * Returns false: a pause must not end the context for good.
   *
   * @return false
   */
  @Override
  public boolean isPauseable() {
    return false;
  }

  /**
   * Returns a description with the context's state.
   *
   * @return a short description
   */
  @Override
  public String toString() {
    return "ShutdownContext[" + context + (context.isDone() ? ", done" : "") + "]";
  }
}
