package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.ctx4j.Context;
import io.ctx4j.testing.Quietly;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * With ContextFilter.timingArrivals, a request's budget counts from the moment the server handed it
 * to its executor, not from the moment the filter ran.
 */
@Timeout(120)
class ArrivalTimingTest {

  @Test
  void theBudgetCountsFromTheHandOverToTheExecutor() throws Exception {
    ExecutorService pool = Executors.newCachedThreadPool();
    CountDownLatch queued = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    // A busy executor: the exchange waits for the test before any thread reads it.
    ExecutorService slow = Executors.newCachedThreadPool();
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.setExecutor(
        ContextFilter.timingArrivals(
            task ->
                slow.execute(
                    () -> {
                      queued.countDown();
                      Quietly.await(release, Duration.ofSeconds(30));
                      pool.execute(task);
                    })));
    server
        .createContext(
            "/",
            ex -> {
              long left =
                  Duration.between(Instant.now(), ContextFilter.current().deadline().orElseThrow())
                      .toMillis();
              byte[] body = Long.toString(left).getBytes(StandardCharsets.UTF_8);
              ex.sendResponseHeaders(200, body.length);
              try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
              }
            })
        .getFilters()
        .add(ContextFilter.create());
    server.start();
    try {
      HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      URI uri = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/");
      CompletableFuture<HttpResponse<String>> call =
          client.sendAsync(
              HttpRequest.newBuilder(uri).header(DeadlineHeader.NAME, "5000").build(),
              BodyHandlers.ofString());
      assertTrue(queued.await(10, TimeUnit.SECONDS), "the request never reached the executor");
      Context.withTimeout(Context.background(), Duration.ofMillis(100)).await();
      release.countDown();
      long left = Long.parseLong(call.get(10, TimeUnit.SECONDS).body());
      assertTrue(left <= 4900, "the handler had " + left + " ms of 5000 after a 100 ms wait");
    } finally {
      server.stop(0);
      slow.shutdown();
      pool.shutdown();
      assertTrue(slow.awaitTermination(10, TimeUnit.SECONDS));
      assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
    }
  }

  @Test
  void aNullExecutorOrTaskIsNamed() {
    assertEquals(
        "executor",
        assertThrows(NullPointerException.class, () -> ContextFilter.timingArrivals(null)).getMessage());
    assertEquals(
        "task",
        assertThrows(NullPointerException.class, () -> ContextFilter.timingArrivals(Runnable::run).execute(null))
            .getMessage());
  }
}
