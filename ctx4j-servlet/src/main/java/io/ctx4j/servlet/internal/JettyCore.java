package io.ctx4j.servlet.internal;

import org.eclipse.jetty.server.Request;

/**
 * Jetty 12 core hooks, shared by the ee10 and ee11 layers. Loaded only when Jetty is present.
 *
 * <p>Only the core request's failure listener: it lives and dies with the request, so nothing has
 * to be removed when the request ends. No listener is put on the connection: every close of a
 * connection with a request in flight that Jetty 12.1 notices (an HTTP/2 connection the client
 * closes, a reset stream, a failed write) fails the request first and reaches the failure listener,
 * the filter's response wrapper or {@code AsyncListener.onError}; an add and a remove on the
 * connection's copy-on-write listener list for every request cost about 1/6 of the filter's time
 * and reported nothing more ({@code JettyConnectionCloseTest}).
 */
final class JettyCore {
  private JettyCore() {}

  static void attach(Request core, RequestScope scope) {
    core.addFailureListener(scope);
  }
}
