package io.ctx4j.servlet;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import java.util.EnumSet;
import java.util.Map;
import org.apache.catalina.startup.Tomcat;
import org.eclipse.jetty.ee11.servlet.FilterHolder;
import org.eclipse.jetty.ee11.servlet.ServletContextHandler;
import org.eclipse.jetty.ee11.servlet.ServletHolder;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/** The two embedded containers of the matrix, each on 127.0.0.1, port 0, with h2c enabled. */
enum Containers {
  JETTY {
    @Override
    Running start(Filter filter, HttpServlet servlet, Map<String, String> init,
        EnumSet<DispatcherType> types, boolean errorPages) throws Exception {
      Server server = new Server();
      ServerConnector connector = h2cConnector(server);
      ServletContextHandler handler = new ServletContextHandler("/");
      ServletHolder sh = new ServletHolder(servlet);
      sh.setAsyncSupported(true);
      jakarta.servlet.MultipartConfigElement multipart = EmbeddedTomcat.multipartConfigOf(servlet);
      if (multipart != null) {
        sh.getRegistration().setMultipartConfig(multipart);
      }
      handler.addServlet(sh, "/*");
      FilterHolder fh = new FilterHolder(filter);
      fh.setAsyncSupported(true);
      fh.setInitParameters(init);
      handler.addFilter(fh, "/*", types);
      if (errorPages) {
        org.eclipse.jetty.ee11.servlet.ErrorPageErrorHandler errors =
            new org.eclipse.jetty.ee11.servlet.ErrorPageErrorHandler();
        errors.addErrorPage(ERROR_STATUS, ERROR_PAGE);
        errors.addErrorPage(LOW_ERROR_STATUS, ERROR_PAGE);
        errors.addErrorPage(ToErrorPage.class, ERROR_PAGE);
        handler.setErrorHandler(errors);
      }
      server.setHandler(handler);
      server.start();
      int port = connector.getLocalPort();
      return new Running(port, server, server::stop);
    }
  },
  TOMCAT {
    @Override
    Running start(Filter filter, HttpServlet servlet, Map<String, String> init,
        EnumSet<DispatcherType> types, boolean errorPages) throws Exception {
      Tomcat tomcat = EmbeddedTomcat.start(filter, servlet, init, types, errorPages);
      int port = tomcat.getConnector().getLocalPort();
      return new Running(
          port,
          tomcat,
          () -> {
            tomcat.stop();
            tomcat.destroy();
          });
    }
  };

  /** With the ERROR dispatcher type, a response sent with this status goes to {@link #ERROR_PAGE}. */
  static final int ERROR_STATUS = 503;

  /**
   * Also mapped to {@link #ERROR_PAGE}: {@code sendError} below 400 (as Spring's
   * {@code @ResponseStatus(FOUND)} does) is followed by an ERROR dispatch all the same.
   */
  static final int LOW_ERROR_STATUS = 302;

  /** The error page's path, served by the same servlet (on an ERROR dispatch). */
  static final String ERROR_PAGE = "/error-page";

  /** With the ERROR dispatcher type, a handler that throws this goes to {@link #ERROR_PAGE}. */
  static final class ToErrorPage extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ToErrorPage(String message) {
      super(message);
    }
  }

  /**
   * Sets the connector's idle timeout for the connections accepted from now on: Jetty's idle
   * timeout, Tomcat's {@code connectionTimeout} (which times out its reads of a request body, and
   * the wait of an async request's {@code ReadListener}).
   */
  static void idleTimeout(Running server, int millis) {
    if (server.server instanceof Server) {
      for (org.eclipse.jetty.server.Connector c : ((Server) server.server).getConnectors()) {
        ((ServerConnector) c).setIdleTimeout(millis);
      }
    } else if (!((Tomcat) server.server)
        .getConnector()
        .setProperty("connectionTimeout", Integer.toString(millis))) {
      throw new IllegalStateException("Tomcat refused connectionTimeout " + millis);
    }
  }

  /** Adds to {@code server} a connector on 127.0.0.1, port 0, for HTTP/1.1 and h2c (upgrade). */
  static ServerConnector h2cConnector(Server server) {
    HttpConfiguration cfg = new HttpConfiguration();
    ServerConnector connector =
        new ServerConnector(server, new HttpConnectionFactory(cfg), new HTTP2CServerConnectionFactory(cfg));
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    return connector;
  }

  /**
   * The arguments (container, case) of a parameterized test, for each container and each of
   * {@code cases}.
   */
  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> eachWith(
      Object... cases) {
    return java.util.Arrays.stream(values())
        .flatMap(
            c ->
                java.util.Arrays.stream(cases)
                    .map(x -> org.junit.jupiter.params.provider.Arguments.of(c, x)));
  }

  /**
   * Starts the container with {@code servlet} at every path and {@code filter} mapped for {@code
   * types}; with {@code errorPages}, {@link #ERROR_STATUS}, {@link #LOW_ERROR_STATUS} and {@link
   * ToErrorPage} go to {@link #ERROR_PAGE}, whether or not the filter sees that ERROR dispatch.
   */
  abstract Running start(Filter filter, HttpServlet servlet, Map<String, String> init,
      EnumSet<DispatcherType> types, boolean errorPages) throws Exception;

  /** As above, with the error pages if the filter is mapped for ERROR. */
  Running start(
      Filter filter, HttpServlet servlet, Map<String, String> init, EnumSet<DispatcherType> types)
      throws Exception {
    return start(filter, servlet, init, types, types.contains(DispatcherType.ERROR));
  }

  Running start(Filter filter, HttpServlet servlet, Map<String, String> init) throws Exception {
    return start(filter, servlet, init, EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC));
  }

  Running start(Filter filter, HttpServlet servlet) throws Exception {
    return start(filter, servlet, Map.of());
  }

  /** A started server; closing stops it. */
  static final class Running implements AutoCloseable {
    final int port;
    /** The container's own server object: Jetty's {@code Server} or a {@code Tomcat}. */
    final Object server;
    private final Stopper stopper;

    Running(int port, Object server, Stopper stopper) {
      this.port = port;
      this.server = server;
      this.stopper = stopper;
    }

    /**
     * Stops the server. A stop that takes over 20 s prints every thread's stack to the standard
     * error (the test's report keeps it), and goes on waiting: ci94 (JDK 25) saw one Jetty stop
     * wait in {@code ManagedSelector.doStop} until the test's 60 s timeout, which left no trace of
     * what held the selector's thread.
     */
    @Override
    public void close() throws Exception {
      java.util.concurrent.CountDownLatch stopped = new java.util.concurrent.CountDownLatch(1);
      Thread watchdog =
          new Thread(
              () -> {
                try {
                  if (!stopped.await(20, java.util.concurrent.TimeUnit.SECONDS)) {
                    System.err.println(
                        io.ctx4j.testing.ThreadDump.of("the server's stop has taken over 20 s"));
                  }
                } catch (InterruptedException e) {
                  // the stop ended: nothing to print
                }
              },
              "stop-watchdog-" + port);
      watchdog.setDaemon(true);
      watchdog.start();
      try {
        stopper.stop();
      } finally {
        stopped.countDown();
      }
    }
  }

  @FunctionalInterface
  interface Stopper {
    void stop() throws Exception;
  }
}
