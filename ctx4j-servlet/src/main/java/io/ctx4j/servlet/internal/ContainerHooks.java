package io.ctx4j.servlet.internal;

import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletRequestWrapper;
import java.util.concurrent.atomic.LongAdder;

/**
 * Container-specific early notice of a request's failure, where the container offers one. Not part
 * of the API.
 *
 * <p>Jetty 12.1 (ee11 or ee10 servlet layer): the core request's failure listener (an HTTP/2 reset,
 * a failed connection, a fatal idle timeout) and the connection's close listener. The Jetty classes
 * are touched only when the request is a Jetty request and the class was found by {@link
 * Class#forName(String, boolean, ClassLoader)}, so this module runs without Jetty. Tomcat 11 offers
 * a filter nothing beyond the Servlet API. Thread-safe.
 */
public final class ContainerHooks {
  private static final boolean EE11 = present("org.eclipse.jetty.ee11.servlet.ServletContextRequest");
  private static final boolean EE10 = present("org.eclipse.jetty.ee10.servlet.ServletContextRequest");

  /**
   * Set when a Jetty on the class path turned out to lack the API the hooks were compiled against
   * (a LinkageError): the filter then goes on with the Servlet API alone instead of failing every
   * request.
   */
  private static volatile boolean incompatible;

  /** Connection listeners now registered by this module: for leak tests. */
  static final LongAdder LIVE_CONNECTION_LISTENERS = new LongAdder();

  private ContainerHooks() {}

  private static boolean present(String name) {
    try {
      Class.forName(name, false, ContainerHooks.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }

  /**
   * Attaches the container's failure notices, if any, to {@code scope}; they are withdrawn when the
   * scope ends.
   *
   * @param request the request as the filter got it
   * @param scope its state
   * @return the name of the hooks attached ({@code "jetty-ee11"}, {@code "jetty-ee10"}), or null
   */
  public static String attach(ServletRequest request, RequestScope scope) {
    if ((!EE11 && !EE10) || incompatible) {
      return null;
    }
    ServletRequest inner = request;
    // Bounded: a wrapper chain is finite, but a broken wrapper may return itself.
    for (int i = 0; i < 64 && inner instanceof ServletRequestWrapper; i++) {
      inner = ((ServletRequestWrapper) inner).getRequest();
    }
    String name = inner.getClass().getName();
    try {
      if (EE11 && name.startsWith("org.eclipse.jetty.ee11.")) {
        return JettyEe11.attach(request, scope) ? "jetty-ee11" : null;
      }
      if (EE10 && name.startsWith("org.eclipse.jetty.ee10.")) {
        return JettyEe10.attach(request, scope) ? "jetty-ee10" : null;
      }
    } catch (LinkageError e) {
      incompatible = true;
    }
    return null;
  }

  /**
   * Returns how many connection listeners this module has registered and not yet removed, in this
   * class loader: zero when no request is in flight.
   *
   * @return the count
   */
  public static long liveConnectionListeners() {
    return LIVE_CONNECTION_LISTENERS.sum();
  }
}
