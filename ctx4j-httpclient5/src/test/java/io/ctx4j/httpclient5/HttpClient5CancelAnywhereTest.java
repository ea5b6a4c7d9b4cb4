package io.ctx4j.httpclient5;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CanceledException;
import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.testing.CancelAnywhere;
import io.ctx4j.testing.CancelAnywhere.Shape;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.apache.hc.client5.http.DnsResolver;
import org.apache.hc.client5.http.SchemePortResolver;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.classic.methods.HttpPost;
import org.apache.hc.client5.http.classic.methods.HttpUriRequestBase;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.CloseableHttpResponse;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.DefaultHttpClientConnectionOperator;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManager;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder;
import org.apache.hc.client5.http.io.HttpClientConnectionOperator;
import org.apache.hc.client5.http.ssl.TlsSocketStrategy;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.config.RegistryBuilder;
import org.apache.hc.core5.http.io.entity.ByteArrayEntity;
import org.apache.hc.core5.http.io.entity.EntityTemplate;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * "Cancel anywhere": on one classic client whose pool holds one connection, requests whose context
 * is cancelled at a random moment (before the request, while the connection is leased, the request
 * written, the head awaited, a late or streaming body read, or after the request is over, under a
 * later one) are interleaved with requests whose context never ends. A cancel must never break
 * another request on the pool: every request whose context never ends gets its body, every
 * cancelled one its body or the context's error, no interrupt outlives a request, and afterwards
 * no registration is left on the long-lived context, no connection is leased, and a further
 * request succeeds. A socket close that a cancel makes is held up 0 to 500 µs, as a canceller
 * descheduled inside HttpClient's abort would be.
 *
 * <p>Seeded: the seed is in every failure message; {@code -Dctx4j.fuzz.seed=N} replays one.
 * {@code -Dctx4j.httpclient5.fuzzCalls=N} sets the requests per path (long mode).
 */
@Timeout(300)
class HttpClient5CancelAnywhereTest {
  private static final int CALLS = Integer.getInteger("ctx4j.httpclient5.fuzzCalls", 1_000);

  private final ScheduledExecutorService cancellers = CancelAnywhere.cancellers();
  private final AtomicInteger connects = new AtomicInteger();
  private final AtomicInteger heldCloses = new AtomicInteger();
  private final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
  private final ClassicServer server = new ClassicServer(HttpClient5CancelAnywhereTest::answer);
  private final PoolingHttpClientConnectionManager pool =
      new PoolingHttpClientConnectionManagerBuilder() {
        @Override
        protected HttpClientConnectionOperator createConnectionOperator(
            SchemePortResolver ports, DnsResolver dns, TlsSocketStrategy tls) {
          return new DefaultHttpClientConnectionOperator(
              proxy -> heldUpSocket(), ports, dns, RegistryBuilder.<TlsSocketStrategy>create().build());
        }
      }.setMaxConnTotal(1).setMaxConnPerRoute(1).build();
  private final CloseableHttpClient client =
      ContextHttpClient5.install(HttpClients.custom().setConnectionManager(pool)).build();
  private final CancelableContext longLived =
      Context.withTimeout(Context.background(), Duration.ofMinutes(30));

  @AfterEach
  void stop() throws Exception {
    longLived.cancel();
    cancellers.shutdownNow();
    assertTrue(cancellers.awaitTermination(20, TimeUnit.SECONDS));
    client.close();
    server.close();
  }

  /** A socket whose close, when a cancel makes it on a canceller thread, is held up a little. */
  private Socket heldUpSocket() {
    connects.incrementAndGet();
    return new Socket() {
      @Override
      public void close() throws IOException {
        if (CancelAnywhere.holdUpACanceller()) {
          heldCloses.incrementAndGet();
        }
        super.close();
      }
    };
  }

  /**
   * /k/n/late/gap: reads the request body, waits {@code late} µs before the head, then sends the
   * {@code n} bytes of {@link #body} in four writes {@code gap} µs apart (fixed length).
   */
  private static void answer(
      org.apache.hc.core5.http.ClassicHttpRequest request,
      org.apache.hc.core5.http.ClassicHttpResponse response,
      org.apache.hc.core5.http.protocol.HttpContext context)
      throws IOException {
    long[] p = Shape.parse(request.getPath());
    int k = (int) p[0];
    int n = (int) p[1];
    long late = p[2];
    long gap = p[3];
    if (request.getEntity() != null) {
      EntityUtils.consume(request.getEntity());
    }
    LockSupport.parkNanos(late * 1000); // the input: a late head
    byte[] b = CancelAnywhere.body(k, n);
    response.setEntity(
        new EntityTemplate(
            n,
            ContentType.APPLICATION_OCTET_STREAM,
            null,
            out -> {
              int step = Math.max(1, (n + 3) / 4);
              for (int off = 0; off < n; off += step) {
                out.write(b, off, Math.min(step, n - off));
                out.flush();
                LockSupport.parkNanos(gap * 1000); // the input: a body that streams
              }
            }));
  }

  /** The request of shape {@code s}: a GET, or a POST of its upload. */
  private HttpUriRequestBase request(Shape s) {
    String url = server.url(s.path());
    if (s.upload < 0) {
      return new HttpGet(url);
    }
    HttpPost post = new HttpPost(url);
    post.setEntity(new ByteArrayEntity(new byte[s.upload], ContentType.APPLICATION_OCTET_STREAM));
    return post;
  }

  /** Checks a request's outcome: its body, or (only if its context ended) the context's error. */
  private void check(Shape s, Context ctx, byte[] got, Throwable failure, Map<String, Integer> tally) {
    if (!CancelAnywhere.failedAfterItsEnd(s, ctx, got, failure, failures, tally)) {
      return;
    }
    if (failure instanceof InterruptedIOException
        && failure.getCause() instanceof CanceledException) {
      tally.merge("context's error", 1, Integer::sum);
    } else {
      failures.add(
          CancelAnywhere.describe(
              s + ": failed with something else than the context's error", failure));
    }
  }

  /** One way of running a request and reading its body. */
  private interface Way {
    byte[] run(HttpUriRequestBase request, Context ctx) throws IOException;
  }

  private void fuzz(String path, long seed, Way way) throws Exception {
    Random r = new Random(seed);
    Map<String, Integer> tally = new ConcurrentHashMap<>();
    List<ScheduledFuture<?>> pending = new ArrayList<>();
    for (int k = 1; k <= CALLS; k++) {
      Shape s = new Shape(k, r);
      Context ctx = CancelAnywhere.contextFor(s, longLived, cancellers, pending);
      byte[] got = null;
      Throwable failure = null;
      try {
        got = way.run(request(s), ctx);
      } catch (IOException | RuntimeException e) {
        failure = e;
      }
      check(s, ctx, got, failure, tally);
    }
    CancelAnywhere.awaitAll(pending); // every cancel has run
    // No connection leased (bounded wait on that condition).
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (pool.getTotalStats().getLeased() != 0 && System.nanoTime() < until) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }
    int leased = pool.getTotalStats().getLeased();
    Shape finalRequest = new Shape(0, new Random(seed));
    byte[] last = way.run(request(finalRequest), longLived);
    int left = CoreInternals.registrationCount(longLived);
    String report =
        CancelAnywhere.report(path, CALLS, tally, connects.get(), heldCloses.get());
    System.out.println("httpclient5 cancel anywhere, " + report);
    assertNull(CancelAnywhere.failed(report, failures));
    assertEquals(0, leased, "connections still leased 20 s after the fuzz, " + report);
    assertEquals(0, left, "registrations left on the long-lived context, " + report);
    assertEquals(0, pool.getTotalStats().getLeased(), "after the final request, " + report);
    assertArrayEquals(
        CancelAnywhere.body(0, finalRequest.n), last, "the final request's body, " + report);
  }

  @Test
  void requestsWithAResponseHandlerCancelledAnywhereNeverBreakAnother() throws Exception {
    fuzz(
        "execute with a response handler",
        CancelAnywhere.SEED,
        (request, ctx) ->
            client.execute(
                request,
                ContextHttpClient5.clientContext(ctx),
                response ->
                    response.getEntity() == null
                        ? new byte[0]
                        : EntityUtils.toByteArray(response.getEntity())));
  }

  @Test
  void requestsWhoseResponseIsReadThenClosedCancelledAnywhereNeverBreakAnother()
      throws Exception {
    fuzz(
        "execute, the response read then closed",
        CancelAnywhere.SEED + 1,
        (request, ctx) -> {
          try (CloseableHttpResponse response =
              client.execute(request, ContextHttpClient5.clientContext(ctx))) {
            return response.getEntity() == null
                ? new byte[0]
                : response.getEntity().getContent().readAllBytes();
          }
        });
  }
}
