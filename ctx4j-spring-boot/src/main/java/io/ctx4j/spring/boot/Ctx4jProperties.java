package io.ctx4j.spring.boot;

import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.core.Ordered;

/**
 * The settings of ctx4j's Spring Boot auto-configuration, under {@code ctx4j.*}. Every piece can be
 * switched off on its own ({@code ctx4j.servlet.enabled=false} and so on); the servlet filter's
 * deadline settings are those of {@code ContextServletFilter.Builder}.
 *
 * <p>Bound in every application where ctx4j's auto-configuration runs (servlet, reactive or none):
 * a value that cannot be bound, or that a setter refuses, fails the startup with a message that
 * names the property. Unknown names under {@code ctx4j} are ignored, as Spring Boot ignores unknown
 * properties.
 *
 * <p>Thread safety: bound once by Spring while the application context starts, then only read; not
 * meant to be changed afterwards.
 *
 * @since 0.1
 */
@ConfigurationProperties("ctx4j")
public class Ctx4jProperties {

  /** The default order of the servlet filter: early, so that every later filter sees the context. */
  public static final int DEFAULT_FILTER_ORDER = Ordered.HIGHEST_PRECEDENCE + 10;

  /** The longest {@code ctx4j.servlet.max-timeout}: {@code Long.MAX_VALUE} milliseconds. */
  private static final Duration LONGEST_MAX_TIMEOUT = Duration.ofMillis(Long.MAX_VALUE);

  private final Servlet servlet = new Servlet();
  private final Toggle restClient = new Toggle();
  private final Toggle webClient = new Toggle();
  private final Toggle taskDecorator = new Toggle();
  private final Toggle shutdown = new Toggle();

  /** Creates the settings with their defaults: every piece on, no server maximum. */
  public Ctx4jProperties() {}

  /**
   * Returns the servlet filter's settings ({@code ctx4j.servlet.*}).
   *
   * @return the settings, never null
   */
  public Servlet getServlet() {
    return servlet;
  }

  /**
   * Returns whether the RestClient customizer is on ({@code ctx4j.rest-client.enabled}).
   *
   * @return the switch, never null
   */
  public Toggle getRestClient() {
    return restClient;
  }

  /**
   * Returns whether the WebClient customizer is on ({@code ctx4j.web-client.enabled}).
   *
   * @return the switch, never null
   */
  public Toggle getWebClient() {
    return webClient;
  }

  /**
   * Returns whether the context-carrying {@code TaskDecorator} is on ({@code
   * ctx4j.task-decorator.enabled}).
   *
   * @return the switch, never null
   */
  public Toggle getTaskDecorator() {
    return taskDecorator;
  }

  /**
   * Returns whether the shutdown context is on ({@code ctx4j.shutdown.enabled}).
   *
   * @return the switch, never null
   */
  public Toggle getShutdown() {
    return shutdown;
  }

  /** A piece of the auto-configuration that can be switched off. */
  public static class Toggle {
    /** Whether this piece is configured. */
    private boolean enabled = true;

    /** Creates a switch that is on. */
    public Toggle() {}

    /**
     * Returns whether this piece is configured.
     *
     * @return true unless switched off
     */
    public boolean isEnabled() {
      return enabled;
    }

    /**
     * Switches this piece on or off.
     *
     * @param enabled false to leave it out
     */
    public void setEnabled(boolean enabled) {
      this.enabled = enabled;
    }
  }

  /**
   * The settings of the servlet filter ({@code ContextServletFilter}), for servlet applications
   * only: a reactive (WebFlux) application has no such filter, and if any of them is set there
   * (other than {@code enabled=false}) a warning at startup names it ({@link
   * Ctx4jPropertiesAutoConfiguration}).
   */
  public static class Servlet extends Toggle {
    /**
     * The longest time any request may take, measured from when the filter sees it; with a timeout
     * header the smaller applies. Unset: no server maximum. Servlet applications only: set in a
     * reactive (WebFlux) application, it does nothing, and a warning at startup says so.
     */
    private Duration maxTimeout;

    /**
     * Whether the Ctx4j-Timeout-Ms, Connect-Timeout-Ms and grpc-timeout request headers set the
     * request's deadline. Turn it off for untrusted callers (only max-timeout applies then).
     * Servlet applications only: set in a reactive (WebFlux) application, it does nothing, and a
     * warning at startup says so.
     */
    private boolean trustTimeoutHeaders = true;

    /** The order of the filter's registration among the servlet filters. */
    private int filterOrder = DEFAULT_FILTER_ORDER;

    /** Creates the defaults. */
    public Servlet() {}

    /**
     * Returns the server maximum.
     *
     * @return the maximum, or null for none
     */
    public Duration getMaxTimeout() {
      return maxTimeout;
    }

    /**
     * Sets the server maximum. Checked here, so that the binder refuses a bad value in every kind of
     * application, naming the property, and not only where the filter is built.
     *
     * @param maxTimeout the maximum, or null for none
     * @throws IllegalArgumentException if {@code maxTimeout} is zero or negative, or longer than
     *     {@code Long.MAX_VALUE} milliseconds
     */
    public void setMaxTimeout(Duration maxTimeout) {
      if (maxTimeout != null && (maxTimeout.isNegative() || maxTimeout.isZero())) {
        throw new IllegalArgumentException(
            "ctx4j.servlet.max-timeout must be positive, got " + maxTimeout);
      }
      if (maxTimeout != null && maxTimeout.compareTo(LONGEST_MAX_TIMEOUT) > 0) {
        // The filter's builder refuses it too, but under its own name: this names the property.
        throw new IllegalArgumentException(
            "ctx4j.servlet.max-timeout is too large, got "
                + maxTimeout
                + " (at most "
                + LONGEST_MAX_TIMEOUT
                + ")");
      }
      this.maxTimeout = maxTimeout;
    }

    /**
     * Returns whether the timeout headers are honoured.
     *
     * @return true by default
     */
    public boolean isTrustTimeoutHeaders() {
      return trustTimeoutHeaders;
    }

    /**
     * Sets whether the timeout headers are honoured.
     *
     * @param trustTimeoutHeaders false to ignore them
     */
    public void setTrustTimeoutHeaders(boolean trustTimeoutHeaders) {
      this.trustTimeoutHeaders = trustTimeoutHeaders;
    }

    /**
     * Returns the order of the filter registration.
     *
     * @return the order; {@link #DEFAULT_FILTER_ORDER} by default
     */
    public int getFilterOrder() {
      return filterOrder;
    }

    /**
     * Sets the order of the filter registration.
     *
     * @param filterOrder the order (lower runs earlier)
     */
    public void setFilterOrder(int filterOrder) {
      this.filterOrder = filterOrder;
    }
  }
}
