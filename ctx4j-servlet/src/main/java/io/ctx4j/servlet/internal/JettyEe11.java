package io.ctx4j.servlet.internal;

import jakarta.servlet.ServletRequest;
import org.eclipse.jetty.ee11.servlet.ServletApiRequest;
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

  /** The budget from Jetty's own request's fields; {@code NOT_READ} if it is not one. */
  static IncomingDeadline readDeadline(ServletRequest request) {
    if (!(request instanceof ServletApiRequest)) {
      return IncomingDeadline.NOT_READ;
    }
    // ServletApiRequest.getHeader and getHeaders read these same fields.
    return JettyCore.readDeadline(((ServletApiRequest) request).getFields());
  }
}
