package io.ctx4j.smoke.http;

import com.sun.net.httpserver.HttpServer;
import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.http.ContextFilter;
import io.ctx4j.http.ContextHttp;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * Module-path smoke test of io.ctx4j.http: the deadline header crosses a loopback exchange, and on
 * JDK 21+ the multi-release layer loads (a closed client sends nothing through ctx4j's copy).
 */
public final class Main {
  public static void main(String[] args) throws Exception {
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/", exchange -> {
      byte[] body = String.valueOf(ContextFilter.current().deadline().isPresent())
          .getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    }).getFilters().add(ContextFilter.create());
    server.start();
    String layer = "JDK 17, no layer";
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofSeconds(60))) {
      // Following redirects under a deadline: ctx4j sends through its copy of the client.
      HttpClient client = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL).build();
      HttpRequest request = HttpRequest.newBuilder(
          URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/")).build();
      String body = ContextHttp.send(ctx, client, request, HttpResponse.BodyHandlers.ofString()).body();
      if (!body.equals("true")) throw new AssertionError("server saw no deadline: " + body);
      // Compiled for 17, where HttpClient is not AutoCloseable; it is from JDK 21 on.
      if ((client instanceof AutoCloseable) != (Runtime.version().feature() >= 21)) {
        throw new AssertionError("HttpClient AutoCloseable on JDK " + Runtime.version().feature());
      }
      if (client instanceof AutoCloseable closeable) {
        closeable.close();
        try {
          ContextHttp.send(ctx, client, request, HttpResponse.BodyHandlers.ofString());
          throw new AssertionError("JDK 21 layer: a closed client's request was sent");
        } catch (IOException expected) {
          layer = "JDK 21 layer, closed client refused";
        }
      }
    } finally {
      server.stop(0);
    }
    System.out.println("io.ctx4j.http ok: " + layer);
  }
}
