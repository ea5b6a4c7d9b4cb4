package io.ctx4j.servlet.quickstart;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.ee11.servlet.ServletContextHandler;
import org.eclipse.jetty.ee11.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The README's Quick start, compiled and run on embedded Jetty. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class QuickStartTest {
  @Test
  void quickStartRuns() throws Exception {
    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    ServletContextHandler handler = new ServletContextHandler("/");
    Ctx4jSetup setup = new Ctx4jSetup();
    handler.addEventListener(setup);
    handler.addServlet(QuoteServlet.class, "/quote");
    // A request in flight when the shutdown begins: it waits for its context to end, then answers
    // with the cause.
    CountDownLatch holding = new CountDownLatch(1);
    handler.addServlet(
        new ServletHolder(
            new HttpServlet() {
              @Override
              protected void doGet(HttpServletRequest req, HttpServletResponse resp)
                  throws IOException {
                Context ctx = CurrentContext.get();
                CountDownLatch ended = new CountDownLatch(1);
                ctx.onDone(ended::countDown);
                holding.countDown();
                try {
                  resp.getWriter().print(ended.await(10, TimeUnit.SECONDS) ? ctx.cause().getMessage() : "still live");
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
            }),
        "/hold");
    server.setHandler(handler);
    server.start();
    try {
      HttpClient client = HttpClient.newHttpClient();
      URI uri = URI.create("http://127.0.0.1:" + connector.getLocalPort() + "/quote");
      HttpResponse<String> r =
          client.send(HttpRequest.newBuilder(uri).header("Ctx4j-Timeout-Ms", "500").build(), BodyHandlers.ofString());
      long left = Long.parseLong(r.body().replace(" ms left", ""));
      assertTrue(left > 0 && left <= 500, r.body());
      HttpResponse<String> capped = client.send(HttpRequest.newBuilder(uri).build(), BodyHandlers.ofString());
      long max = Long.parseLong(capped.body().replace(" ms left", ""));
      assertTrue(max > 20_000 && max <= 30_000, "the 30 s server maximum applies: " + capped.body());
      CompletableFuture<HttpResponse<String>> inFlight =
          client.sendAsync(
              HttpRequest.newBuilder(uri.resolve("/hold")).build(), BodyHandlers.ofString());
      assertTrue(holding.await(10, TimeUnit.SECONDS), "the request in flight never arrived");
      setup.beginShutdown();
      assertEquals("server shutdown", inFlight.get(10, TimeUnit.SECONDS).body(), "its cause");
      HttpResponse<String> late = client.send(HttpRequest.newBuilder(uri).build(), BodyHandlers.ofString());
      assertEquals(200, late.statusCode());
    } finally {
      server.stop();
    }
  }
}
