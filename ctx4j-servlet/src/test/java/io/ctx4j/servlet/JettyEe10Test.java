package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.DispatcherType;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.util.EnumSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
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
    HttpConfiguration cfg = new HttpConfiguration();
    ServerConnector connector =
        new ServerConnector(server, new HttpConnectionFactory(cfg), new HTTP2CServerConnectionFactory(cfg));
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    ServletContextHandler handler = new ServletContextHandler("/");
    handler.addServlet(new ServletHolder(new TestServlet((req, res) -> {
      if (req.getRequestURI().equals("/warm")) {
        res.getWriter().print("warm");
        return;
      }
      Context ctx = CurrentContext.get();
      probe.enter(ctx, ctx == ContextServletFilter.contextOf(req));
      probe.awaitGo();
    })), "/*");
    handler.addFilter(new FilterHolder(ContextServletFilter.create()), "/*",
        EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC));
    server.setHandler(handler);
    server.start();
    try {
      HttpClient h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
      URI base = URI.create("http://127.0.0.1:" + connector.getLocalPort());
      HttpResponse<String> warm = h2.send(HttpRequest.newBuilder(base.resolve("/warm")).build(), BodyHandlers.ofString());
      assertEquals(HttpClient.Version.HTTP_2, warm.version());
      CompletableFuture<HttpResponse<InputStream>> r =
          h2.sendAsync(HttpRequest.newBuilder(base.resolve("/x")).build(), BodyHandlers.ofInputStream());
      assertTrue(probe.entered.await(10, TimeUnit.SECONDS));
      r.cancel(true);
      assertTrue(probe.ended.await(10, TimeUnit.SECONDS), "the ee10 failure listener reports the reset");
      assertEquals(Reason.CLIENT_DISCONNECTED, probe.reason(), String.valueOf(probe.cause));
      assertTrue(probe.currentIsRequestContext);
    } finally {
      probe.go.countDown();
      server.stop();
    }
  }
}
