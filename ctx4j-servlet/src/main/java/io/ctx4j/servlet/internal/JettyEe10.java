package io.ctx4j.servlet.internal;

import jakarta.servlet.ServletRequest;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;

/** Reaches Jetty's core request from an ee10 servlet request. Loaded only when Jetty ee10 is present. */
final class JettyEe10 {
  private JettyEe10() {}

  static boolean attach(ServletRequest request, RequestScope scope) {
    ServletContextRequest core;
    try {
      core = ServletContextRequest.getServletContextRequest(request);
    } catch (IllegalStateException e) {
      return false; // not a request of this Jetty layer after all
    }
    if (core == null) {
      return false;
    }
    JettyCore.attach(core, scope);
    return true;
  }
}
