package io.ctx4j.httpclient5;

import static io.ctx4j.testing.RequestMix.way;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.testing.Abandoned;
import io.ctx4j.testing.RequestMix;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.CloseableHttpResponse;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManager;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.io.entity.ByteArrayEntity;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.http.io.entity.StringEntity;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * No request leaves a registration on a long-lived context, however it ends.
 * The exact structural check is the core's count of live registrations (CoreInternals).
 */
@Timeout(600)
class HttpClient5RegistrationLeakTest {
  /**
   * 10,000 requests by default (a few seconds); the 100,000 with {@code
   * -Dctx4j.httpclient5.leakCalls=100000} (the stress mode of this test).
   */
  private static final int MANY = Integer.getInteger("ctx4j.httpclient5.leakCalls", 10_000);

  private static final byte[] SMALL = "hello".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] BIG = new byte[64 * 1024];

  private final CloseableHttpClient client = ContextHttpClient5.install(HttpClients.custom()).build();
  private final ExecutorService cancellers = Executors.newSingleThreadExecutor();
  private ClassicServer server;
  private CancelableContext longLived;

  @BeforeEach
  void start() {
    server =
        new ClassicServer(
            (request, response, context) -> {
              switch (request.getPath()) {
                case "/big":
                  response.setEntity(new ByteArrayEntity(BIG, ContentType.APPLICATION_OCTET_STREAM));
                  break;
                case "/none":
                  response.setCode(204);
                  break;
                default:
                  response.setEntity(new ByteArrayEntity(SMALL, ContentType.TEXT_PLAIN));
              }
            });
    longLived = Context.withTimeout(Context.background(), Duration.ofMinutes(30));
  }

  @AfterEach
  void stop() throws Exception {
    longLived.cancel();
    cancellers.shutdown();
    assertTrue(cancellers.awaitTermination(20, TimeUnit.SECONDS));
    client.close();
    server.close();
  }

  private String read(String path, Context ctx) throws IOException {
    return client.execute(
        new HttpGet(server.url(path)),
        ContextHttpClient5.clientContext(ctx),
        r -> r.getEntity() == null ? null : EntityUtils.toString(r.getEntity()));
  }

  @Test
  void requestsEndingEveryWayLeaveNoRegistration() throws Exception {
    String refused = "http://127.0.0.1:" + RequestMix.refusedPort() + "/";
    String report =
        RequestMix.run(
            MANY,
            "requests",
            way("read", () -> assertEquals("hello", read("/", longLived))), // by a response handler
            way("closed early", () -> { // a 64 KiB body closed after one byte
              try (CloseableHttpResponse r =
                  client.execute(new HttpGet(server.url("/big")), ContextHttpClient5.clientContext(longLived))) {
                assertEquals(0, r.getEntity().getContent().read());
              }
            }),
            way("context cancelled", () -> { // a per-request context cancelled by another thread meanwhile
              try (CancelableContext child = Context.withCancel(longLived)) {
                cancellers.execute(child::cancel);
                try {
                  read("/", child);
                } catch (IOException endedEitherWay) {
                  // the cancel won the race, or the request did
                }
              }
            }),
            way("request cancelled", () -> { // cancelled by the caller through HttpClient's own API
              HttpGet cancelled = new HttpGet(server.url("/"));
              cancelled.cancel();
              assertThrows(
                  IOException.class,
                  () -> client.execute(cancelled, ContextHttpClient5.clientContext(longLived), r -> null));
            }),
            way("without body", () -> assertNull(read("/none", longLived))),
            way("refused", () -> assertThrows(
                IOException.class,
                () -> client.execute(new HttpGet(refused), ContextHttpClient5.clientContext(longLived), r -> null))));
    assertEquals(0, CoreInternals.registrationCount(longLived), "registrations left after " + MANY + " requests");
    System.out.printf("httpclient5: %s%nregistrations left: %d%n", report, CoreInternals.registrationCount(longLived));
  }

  /**
   * A response interceptor of the caller's that throws a checked exception it does not declare
   * (Kotlin, a sneaky-throw helper) once the connection is leased: the caller gets it as thrown,
   * and neither the registration nor the connection stays (one connection in all here: a kept one
   * would make the next request wait for it until its timeout).
   */
  @Test
  void anInterceptorThrowingACheckedExceptionSneakilyLeavesNoRegistrationNorConnection()
      throws Exception {
    TimeoutException failure = new TimeoutException("a user interceptor gave up");
    try (CloseableHttpClient failing =
        HttpClient5HostileUseTest.failingClient(
            HttpClient5HostileUseTest.poolOfOne(), new AtomicReference<>(failure))) {
      HttpGet get = new HttpGet(server.url("/"));
      assertSame(
          failure,
          assertThrows(
              TimeoutException.class,
              () -> failing.execute(get, ContextHttpClient5.clientContext(longLived), r -> null)));
      assertEquals(0, CoreInternals.registrationCount(longLived), "the failed request kept its registration");
      assertEquals(
          "hello",
          failing.execute(
              new HttpGet(server.url("/")),
              ContextHttpClient5.clientContext(longLived),
              r -> EntityUtils.toString(r.getEntity())),
          "the connection of the failed request must be free");
    }
  }

  @Test
  void aRegistrationIsReleasedAtOnceWhenTheBodyEnds() throws Exception {
    try (CloseableHttpResponse r =
        client.execute(new HttpGet(server.url("/big")), ContextHttpClient5.clientContext(longLived))) {
      assertEquals(1, CoreInternals.registrationCount(longLived), "the request holds one until its body ends");
      r.getEntity().getContent().read();
    }
    assertEquals(0, CoreInternals.registrationCount(longLived), "closing the response must release it");
    try (CloseableHttpResponse r =
        client.execute(new HttpGet(server.url("/")), ContextHttpClient5.clientContext(longLived))) {
      assertEquals(5, r.getEntity().getContent().readAllBytes().length); // to the end, not closed
      assertEquals(0, CoreInternals.registrationCount(longLived));
    }
  }

  /**
   * A response whose entity the application replaced (a response handler, or the caller of
   * {@code executeOpen}): HttpClient's close then closes only the replacement, and the registration,
   * which went with ctx4j's entity, was left until the garbage collector found that entity.
   */
  @Test
  void aResponseWhoseEntityWasReplacedReleasesTheRegistrationWhenClosed() throws Exception {
    PoolingHttpClientConnectionManager pool = new PoolingHttpClientConnectionManager();
    try (CloseableHttpClient pooled =
        ContextHttpClient5.install(HttpClients.custom().setConnectionManager(pool)).build()) {
      String body =
          pooled.execute(
              new HttpGet(server.url("/big")),
              ContextHttpClient5.clientContext(longLived),
              r -> {
                r.setEntity(new StringEntity("replaced"));
                return EntityUtils.toString(r.getEntity());
              });
      assertEquals("replaced", body);
      assertEquals(0, pool.getTotalStats().getLeased(), "a response handler's: connections leased");
      assertEquals(0, CoreInternals.registrationCount(longLived), "a response handler's: registrations left");
      try (ClassicHttpResponse r =
          pooled.executeOpen(null, new HttpGet(server.url("/big")), ContextHttpClient5.clientContext(longLived))) {
        assertEquals(1, CoreInternals.registrationCount(longLived), "the request holds one until it is over");
        r.setEntity(new StringEntity("replaced"));
      }
      assertEquals(0, pool.getTotalStats().getLeased(), "executeOpen's: connections leased");
      assertEquals(0, CoreInternals.registrationCount(longLived), "executeOpen's: registrations left");
    }
  }

  @Test
  void aBodySkippedToItsEndReleasesTheRegistrationAsHttpClientReleasesItsConnection()
      throws Exception {
    // HttpClient's own body stream skips by reading and gives its connection back to the pool at
    // the end a skip reaches, as at the end a read reaches: the exchange is over for it then.
    PoolingHttpClientConnectionManager pool = new PoolingHttpClientConnectionManager();
    try (CloseableHttpClient pooled =
        ContextHttpClient5.install(HttpClients.custom().setConnectionManager(pool)).build()) {
      for (String path : new String[] {"/", "/big"}) {
        try (CloseableHttpResponse r =
            pooled.execute(new HttpGet(server.url(path)), ContextHttpClient5.clientContext(longLived))) {
          InputStream in = r.getEntity().getContent();
          assertTrue(in.read() >= 0, path);
          assertEquals(path.equals("/") ? 4 : BIG.length - 1, in.skip(Long.MAX_VALUE), path);
          assertEquals(0, pool.getTotalStats().getLeased(), path + ": HttpClient's connection is back");
          assertEquals(0, CoreInternals.registrationCount(longLived), path + ": registrations left at the end of a skip");
        }
      }
    }
  }

  @Test
  void abandonedResponsesAreReleasedWhenCollected() throws Exception {
    // Fewer than the pool's 5 connections per route: HttpClient never gets these back.
    Abandoned.releasedWhenCollected(
        4,
        () -> {
          @SuppressWarnings("resource")
          CloseableHttpResponse r =
              client.execute(new HttpGet(server.url("/")), ContextHttpClient5.clientContext(longLived));
          assertEquals(200, r.getCode()); // neither read nor closed
          return r;
        },
        () -> CoreInternals.registrationCount(longLived),
        "responses");
  }
}
