package io.ctx4j.servlet.internal;

import jakarta.servlet.ServletRequest;
import org.eclipse.jetty.ee11.servlet.ServletContextRequest;

/** Reaches Jetty's core request from an ee11 servlet request. Loaded only when Jetty ee11 is present. */
final class JettyEe11 {
  private JettyEe11() {}

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
