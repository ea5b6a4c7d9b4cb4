package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import java.io.InputStream;
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
 * Completed exchanges leave no registration behind on long-lived contexts, on either side. The
 * count of live registrations (the core's internal accessor, CoreInternals) is the exact check.
 */
class HttpRegistrationLeakTest {
  private static final int REQUESTS = 50;

  @Test
  void completedExchangesReleaseTheirRegistrationsOnBothSides() throws Exception {
    CancelableContext serverRoot = Context.withCancel(Context.background());
    CancelableContext client = Context.withTimeout(Context.background(), Duration.ofMinutes(5));
    CountDownLatch requestContextsEnded = new CountDownLatch(REQUESTS * 2);
    try (LoopbackServer server =
        new LoopbackServer(
            serverRoot,
            ex -> {
              ContextFilter.current().onDone(requestContextsEnded::countDown);
              byte[] body = "hello".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
              ex.sendResponseHeaders(200, body.length);
              try (var out = ex.getResponseBody()) {
                out.write(body);
              }
            })) {
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      URI uri = server.uri();
      for (int i = 0; i < REQUESTS; i++) {
        assertEquals("hello", ContextHttp.send(client, http, HttpRequest.newBuilder(uri).build(), BodyHandlers.ofString()).body());
        // A streamed body: the registration lives until the body has been read to its end.
        try (InputStream in = ContextHttp.send(client, http, HttpRequest.newBuilder(uri).build(), BodyHandlers.ofInputStream()).body()) {
          assertEquals(5, in.readAllBytes().length);
        }
      }
      assertEquals(0, CoreInternals.registrationCount(client), "client-side abort hooks left registered");
      assertTrue(requestContextsEnded.await(10, TimeUnit.SECONDS), "request contexts outlived exchanges");
      assertEquals(0, CoreInternals.registrationCount(serverRoot), "request contexts left on the server root");
    } finally {
      client.cancel();
      serverRoot.cancel();
    }
  }

  /**
   * 4,000 by default, 1,000 each way: the count is exact, so a leak on any path shows after one
   * exchange, and what more exchanges add is more interleavings of the racing ends. 10,000 took
   * 45 s of CI's JDK 17 build (20 s on JDK 25), on the path the other modules wait for;
   * -Dctx4j.http.leakExchanges=N for a longer run.
   */
  private static final int MANY = Integer.getInteger("ctx4j.http.leakExchanges", 4_000);

  /**
   * Thousands of exchanges on one long-lived client context and one server root, ending every way an
   * exchange can: body read, a 1 MiB streamed body closed after a byte, future cancelled at once, and a
   * per-exchange child context cancelled by another thread while the exchange runs. Not one
   * registration may be left on either long-lived context.
   */
  @Test
  void thousandsOfExchangesEndingEveryWayLeaveNoRegistration() throws Exception {
    CancelableContext serverRoot = Context.withCancel(Context.background());
    CancelableContext client = Context.withTimeout(Context.background(), Duration.ofMinutes(10));
    ExecutorService cancellers = Executors.newSingleThreadExecutor();
    byte[] body = new byte[2048];
    try (LoopbackServer server =
        new LoopbackServer(
            serverRoot,
            ex -> {
              // "?big": 1 MiB, so that a client closing after one byte abandons most of it.
              int chunks = "big".equals(ex.getRequestURI().getQuery()) ? 512 : 1;
              ex.sendResponseHeaders(200, (long) chunks * body.length);
              try (var out = ex.getResponseBody()) {
                for (int c = 0; c < chunks; c++) {
                  out.write(body);
                }
              } catch (java.io.IOException clientLeft) {
                // the client abandoned the exchange
              }
            })) {
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      URI uri = server.uri();
      HttpRequest get = HttpRequest.newBuilder(uri).build();
      HttpRequest big = HttpRequest.newBuilder(uri.resolve("/?big")).build();
      for (int i = 0; i < MANY; i++) {
        switch (i % 4) {
          case 0:
            assertEquals(2048, ContextHttp.send(client, http, get, BodyHandlers.ofByteArray()).body().length);
            break;
          case 1:
            try (InputStream in = ContextHttp.send(client, http, big, BodyHandlers.ofInputStream()).body()) {
              assertEquals(0, in.read());
            }
            break;
          case 2:
            ContextHttp.sendAsync(client, http, get, BodyHandlers.ofByteArray()).cancel(true);
            break;
          default:
            try (CancelableContext child = Context.withCancel(client)) {
              var call = ContextHttp.sendAsync(child, http, get, BodyHandlers.ofByteArray());
              cancellers.execute(child::cancel);
              try {
                call.get(10, TimeUnit.SECONDS);
              } catch (java.util.concurrent.CancellationException
                  | java.util.concurrent.ExecutionException endedEitherWay) {
                // the cancel won the race; or the exchange did, which is fine too
              }
            }
        }
      }
      assertEquals(0, CoreInternals.registrationCount(client), "client-side hooks left after " + MANY + " exchanges");
    } finally {
      cancellers.shutdown();
      assertTrue(cancellers.awaitTermination(30, TimeUnit.SECONDS));
      client.cancel();
    }
    // Every handler has returned, so every request context must have been cancelled and removed.
    assertEquals(0, CoreInternals.registrationCount(serverRoot), "request contexts left on the server root");
    serverRoot.cancel();
  }
}
