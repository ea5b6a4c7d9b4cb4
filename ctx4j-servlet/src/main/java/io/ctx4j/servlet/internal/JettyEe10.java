package io.ctx4j.servlet.internal;

import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import org.eclipse.jetty.ee10.servlet.ServletApiRequest;
import org.eclipse.jetty.ee10.servlet.ServletApiResponse;
import org.eclipse.jetty.ee10.servlet.ServletChannel;
import org.eclipse.jetty.ee10.servlet.ServletContextRequest;

/** Reaches Jetty's core request from an ee10 servlet request. Loaded only when Jetty ee10 is present. */
final class JettyEe10 {
  private JettyEe10() {}

  static boolean attach(ServletRequest request, RequestScope scope) {
    ServletContextRequest core = core(request);
    if (core == null) {
      return false;
    }
    JettyCore.attach(core, scope);
    return true;
  }

  /** Whether the connection of Jetty's request under {@code request} can still read. */
  static boolean inputOpen(ServletRequest request) {
    ServletContextRequest core = core(request);
    return core != null && JettyCore.inputOpen(core);
  }

  /** {@link JettyCore#cutBody} of the connection of Jetty's request under {@code request}. */
  static java.io.IOException cutBody(ServletRequest request) {
    ServletContextRequest core = core(request);
    return core == null ? null : JettyCore.cutBody(core.getConnectionMetaData());
  }

  /** {@link JettyCore#cutBody} of the connection of Jetty's response {@code response}. */
  static java.io.IOException cutBody(ServletResponse response) {
    if (!(response instanceof ServletApiResponse)) {
      return null;
    }
    ServletChannel channel = ((ServletApiResponse) response).getServletChannel();
    return channel == null ? null : JettyCore.cutBody(channel.getConnectionMetaData());
  }

  /** Whether the connector of Jetty's response {@code response} is stopping. */
  static boolean serverStopping(ServletResponse response) {
    if (!(response instanceof ServletApiResponse)) {
      return false;
    }
    ServletChannel channel = ((ServletApiResponse) response).getServletChannel();
    return channel != null && JettyCore.stopping(channel.getConnectionMetaData());
  }

  /** Jetty's request under {@code request}, or null if it is none of this layer's. */
  private static ServletContextRequest core(ServletRequest request) {
    try {
      return ServletContextRequest.getServletContextRequest(request);
    } catch (IllegalStateException e) {
      return null; // not a request of this Jetty layer after all
    }
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
