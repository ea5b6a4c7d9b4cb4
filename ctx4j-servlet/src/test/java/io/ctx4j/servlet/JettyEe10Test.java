package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.DispatcherType;
import java.util.EnumSet;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The ee10 hook: the same HTTP/2 reset cell as the matrix, on Jetty 12.1's ee10 servlet layer. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class JettyEe10Test {
  @Test
  void http2ResetOfASyncHandlerIsReportedOnEe10() throws Exception {
    Probe probe = new Probe();
    Server server = new Server();
    ServerConnector connector = Containers.h2cConnector(server);
    ServletContextHandler handler = new ServletContextHandler("/");
    handler.addServlet(new ServletHolder(new ContainerMatrixTest.WriteUntilFailure().servlet(probe)), "/*");
    handler.addFilter(new FilterHolder(ContextServletFilter.create()), "/*",
        EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC));
    server.setHandler(handler);
    server.start();
    try {
      ContainerMatrixTest.resetOnceEntered(connector.getLocalPort(), probe);
      assertTrue(probe.ended.await(10, TimeUnit.SECONDS), "the ee10 failure listener reports the reset");
      assertEquals(Reason.CLIENT_DISCONNECTED, probe.reason(), String.valueOf(probe.cause));
      assertTrue(probe.currentIsRequestContext);
    } finally {
      probe.go.countDown();
      server.stop();
    }
  }
}
