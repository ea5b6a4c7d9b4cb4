package io.ctx4j.servlet;

import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.lang.reflect.Field;
import java.util.Collection;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.ServerConnector;

/** Test access to the embedded containers from other packages. */
public final class ContainerAccess {
  private ContainerAccess() {}

  /** A request handler. */
  @FunctionalInterface
  public interface Handler {
    /**
     * Handles a request.
     *
     * @param req the request
     * @param res the response
     * @throws Exception anything
     */
    void handle(HttpServletRequest req, HttpServletResponse res) throws Exception;
  }

  /** A running server. */
  public static final class Server implements AutoCloseable {
    private final Containers.Running running;

    Server(Containers.Running running) {
      this.running = running;
    }

    /**
     * Returns the port.
     *
     * @return the port
     */
    public int port() {
      return running.port;
    }

    /**
     * Counts, on every open Jetty connection, the event listeners that ctx4j registered, read from
     * the connection's own listener list.
     *
     * @return the count
     * @throws Exception if the list cannot be read
     */
    public int jettyConnectionListenersOfCtx4j() throws Exception {
      org.eclipse.jetty.server.Server server = (org.eclipse.jetty.server.Server) running.server;
      int n = 0;
      Field listeners = AbstractConnection.class.getDeclaredField("_listeners");
      listeners.setAccessible(true);
      for (org.eclipse.jetty.server.Connector c : server.getConnectors()) {
        for (EndPoint ep : ((ServerConnector) c).getConnectedEndPoints()) {
          Connection connection = ep.getConnection();
          if (connection instanceof AbstractConnection) {
            for (Object l : (Collection<?>) listeners.get(connection)) {
              if (l.getClass().getName().startsWith("io.ctx4j.")) {
                n++;
              }
            }
          }
        }
      }
      return n;
    }

    @Override
    public void close() throws Exception {
      running.close();
    }
  }

  /**
   * Starts {@code container} ("JETTY" or "TOMCAT") with the filter and a servlet running the handler.
   *
   * @param container the container's name
   * @param filter the filter
   * @param handler the handler
   * @return the running server
   * @throws Exception if it does not start
   */
  public static Server start(String container, Filter filter, Handler handler) throws Exception {
    return new Server(Containers.valueOf(container).start(filter, new TestServlet(handler::handle)));
  }
}
