package io.ctx4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.ctx4j.http.ContextFilter;
import io.ctx4j.http.ContextHttp;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Completed exchanges leave no registration behind on long-lived contexts, on either side. In
 * package io.ctx4j for CancelCtx's package-private registrationCount(), the exact structural check.
 */
class HttpRegistrationLeakTest {
  private static final int REQUESTS = 50;

  @Test
  void completedExchangesReleaseTheirRegistrationsOnBothSides() throws Exception {
    CancelCtx serverRoot = (CancelCtx) Context.withCancel(Context.background());
    CancelCtx client = (CancelCtx) Context.withTimeout(Context.background(), Duration.ofMinutes(5));
    CountDownLatch requestContextsEnded = new CountDownLatch(REQUESTS * 2);
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    ExecutorService pool = Executors.newCachedThreadPool();
    server.setExecutor(pool);
    server
        .createContext(
            "/",
            ex -> {
              ContextFilter.current().onDone(requestContextsEnded::countDown);
              byte[] body = "hello".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
              ex.sendResponseHeaders(200, body.length);
              try (var out = ex.getResponseBody()) {
                out.write(body);
              }
            })
        .getFilters()
        .add(ContextFilter.create(serverRoot));
    server.start();
    try {
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      URI uri = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/");
      for (int i = 0; i < REQUESTS; i++) {
        assertEquals("hello", ContextHttp.send(client, http, HttpRequest.newBuilder(uri).build(), BodyHandlers.ofString()).body());
        // A streamed body: the registration lives until the body has been read to its end.
        try (InputStream in = ContextHttp.send(client, http, HttpRequest.newBuilder(uri).build(), BodyHandlers.ofInputStream()).body()) {
          assertEquals(5, in.readAllBytes().length);
        }
      }
      assertEquals(0, client.registrationCount(), "client-side abort hooks left registered");
      assertTrue(requestContextsEnded.await(10, TimeUnit.SECONDS), "request contexts outlived exchanges");
      assertEquals(0, serverRoot.registrationCount(), "request contexts left on the server root");
    } finally {
      server.stop(0);
      pool.shutdown();
      assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
      client.cancel();
      serverRoot.cancel();
    }
  }
}
