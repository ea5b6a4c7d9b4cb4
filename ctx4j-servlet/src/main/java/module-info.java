/**
 * ctx4j-servlet: Go's {@code http.Request.Context()} for Jakarta Servlet 6.1 containers. Start with
 * {@link io.ctx4j.servlet.ContextServletFilter}.
 *
 * <p>The container provides {@code jakarta.servlet}. Jetty's modules are optional ({@code requires
 * static}): when Jetty 12.1 is on the module path and resolved, the filter also uses its request
 * failure listener; without it, the Servlet API alone.
 */
module io.ctx4j.servlet {
  requires transitive io.ctx4j;
  // The request context is the current context of io.ctx4j.concurrent (CurrentContext.get()).
  requires transitive io.ctx4j.concurrent;
  requires transitive jakarta.servlet;
  requires io.ctx4j.http;
  requires static org.eclipse.jetty.server;
  requires static org.eclipse.jetty.io;
  requires static org.eclipse.jetty.ee11.servlet;
  requires static org.eclipse.jetty.ee10.servlet;

  exports io.ctx4j.servlet;
}
