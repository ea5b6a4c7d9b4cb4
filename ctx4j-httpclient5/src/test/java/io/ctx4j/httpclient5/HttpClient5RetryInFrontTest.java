package io.ctx4j.httpclient5;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.internal.CoreInternals;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.hc.client5.http.classic.ExecChainHandler;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.DefaultHttpRequestRetryStrategy;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManager;
import org.apache.hc.core5.http.ClassicHttpResponse;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.io.entity.ByteArrayEntity;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.util.TimeValue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A guard from a review of the module (nothing failed): an exec-chain handler in front of ctx4j's call handler that proceeds twice (a
 * retry), HttpClient's own retry strategy, on one long-lived context and per attempt. Real
 * HttpClient 5 against HttpCore's classic server on loopback.
 */
@Timeout(600)
class HttpClient5RetryInFrontTest {
  private static final byte[] HELLO = "hello".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] BIG = new byte[64 * 1024];
  private static final int MANY = 2_000;

  private final ExecutorService callers = Executors.newCachedThreadPool();

  @AfterEach
  void stop() throws InterruptedException {
    callers.shutdownNow();
    assertTrue(callers.awaitTermination(20, TimeUnit.SECONDS));
  }

  /**
   * A retry handler in front with a context per attempt: the first attempt's context ends after its
   * body was read (or with the body unread), the response is closed, and the second attempt runs
   * under a fresh, live context: it must succeed and state its own budget.
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"read to its end, then cancel", "unread, cancel", "unread, deadline (manual clock)"})
  void aFirstAttemptsContextEndingLeavesTheNextAttemptAlone(String how) throws Exception {
    ManualTimeSource time = ManualTimeSource.startingAt(Instant.parse("2040-01-01T00:00:00Z"));
    Context timed = Context.withTimeSource(Context.background(), time);
    CancelableContext first =
        how.contains("deadline") ? Context.withTimeout(timed, Duration.ofSeconds(1)) : Context.withCancel(timed);
    CancelableContext second = Context.withTimeout(timed, Duration.ofSeconds(7));
    ExecChainHandler perAttempt =
        (request, scope, chain) -> {
          scope.clientContext.setAttribute(ContextHttpClient5.CONTEXT_ATTRIBUTE, first);
          ClassicHttpResponse r1 = chain.proceed(request, scope);
          if (how.startsWith("read")) {
            byte[] b = r1.getEntity().getContent().readAllBytes();
            assertEquals(5, b.length);
          }
          if (how.contains("deadline")) {
            time.advance(Duration.ofSeconds(2));
          } else {
            first.cancel();
          }
          assertTrue(first.isDone());
          r1.close();
          scope.clientContext.setAttribute(ContextHttpClient5.CONTEXT_ATTRIBUTE, second);
          return chain.proceed(request, scope);
        };
    try (ClassicServer server =
            new ClassicServer(
                (request, response, context) ->
                    response.setEntity(new ByteArrayEntity(HELLO, ContentType.TEXT_PLAIN)));
        CloseableHttpClient client =
            ContextHttpClient5.install(HttpClients.custom())
                .addExecInterceptorFirst("per-attempt", perAttempt)
                .build()) {
      String body;
      try {
        body = client.execute(new HttpGet(server.url("/")), r -> EntityUtils.toString(r.getEntity()));
      } catch (IOException e) {
        body = fail(how + ": the second attempt, under a live context, failed: " + e, e);
      }
      assertEquals("hello", body);
      server.seen.take();
      assertEquals(how.contains("deadline") ? "/=4995" : "/=6995", server.seen.take());
      assertEquals(0, CoreInternals.registrationCount(first));
      assertEquals(0, CoreInternals.registrationCount(second));
      assertFalseInterrupted();
    } finally {
      first.close();
      second.close();
    }
  }

  private static void assertFalseInterrupted() {
    assertTrue(!Thread.currentThread().isInterrupted(), "the caller was left interrupted");
  }

  /**
   * Many requests on one long-lived context through a retry handler in front (proceeding twice in
   * several ways) and HttpClient's own retry of a 503: no registration, no connection leased.
   */
  @Test
  void manyRetriedRequestsLeaveNoRegistrationAndNoLease() throws Exception {
    AtomicInteger n = new AtomicInteger();
    AtomicInteger hits = new AtomicInteger();
    List<String> kinds =
        List.of(
            "proceed, close, proceed",
            "proceed, consume, proceed",
            "proceed, read 1 byte of 64 KiB, close, proceed",
            "proceed, close, throw",
            "503 retried by HttpClient",
            "proceed on another thread, twice");
    ExecChainHandler retry =
        (request, scope, chain) -> {
          String kind = kinds.get(Math.floorMod(n.getAndIncrement(), kinds.size()));
          switch (kind) {
            case "proceed, close, proceed":
              chain.proceed(request, scope).close();
              return chain.proceed(request, scope);
            case "proceed, consume, proceed":
              EntityUtils.consume(chain.proceed(request, scope).getEntity());
              return chain.proceed(request, scope);
            case "proceed, read 1 byte of 64 KiB, close, proceed":
              request.setPath("/big");
              try (ClassicHttpResponse big = chain.proceed(request, scope)) {
                big.getEntity().getContent().read();
              }
              request.setPath("/");
              return chain.proceed(request, scope);
            case "proceed, close, throw":
              chain.proceed(request, scope).close();
              throw new IOException("the retry handler gave up");
            case "503 retried by HttpClient":
              request.setPath("/503-once");
              return chain.proceed(request, scope);
            default:
              try {
                callers.submit(() -> {
                  chain.proceed(request, scope).close();
                  return null;
                }).get(20, TimeUnit.SECONDS);
                return callers.submit(() -> chain.proceed(request, scope)).get(20, TimeUnit.SECONDS);
              } catch (Exception e) {
                throw new IOException(e);
              }
          }
        };
    PoolingHttpClientConnectionManager pool = new PoolingHttpClientConnectionManager();
    CancelableContext longLived = Context.withTimeout(Context.background(), Duration.ofMinutes(30));
    try (ClassicServer server =
            new ClassicServer(
                (request, response, context) -> {
                  if (request.getPath().equals("/503-once") && hits.getAndIncrement() % 2 == 0) {
                    response.setCode(503);
                    response.setHeader("Retry-After", "0");
                    response.setEntity(new ByteArrayEntity(new byte[10], ContentType.TEXT_PLAIN));
                    return;
                  }
                  response.setEntity(
                      new ByteArrayEntity(request.getPath().equals("/big") ? BIG : HELLO, ContentType.TEXT_PLAIN));
                });
        CloseableHttpClient client =
            ContextHttpClient5.install(
                    HttpClients.custom()
                        .setConnectionManager(pool)
                        .setRetryStrategy(new DefaultHttpRequestRetryStrategy(1, TimeValue.ZERO_MILLISECONDS)))
                .addExecInterceptorFirst("retry", retry)
                .build()) {
      int gaveUp = 0;
      for (int i = 0; i < MANY; i++) {
        try {
          assertEquals(
              "hello",
              client.execute(
                  new HttpGet(server.url("/")),
                  ContextHttpClient5.clientContext(longLived),
                  r -> EntityUtils.toString(r.getEntity())));
        } catch (IOException e) {
          if (!"the retry handler gave up".equals(e.getMessage())) {
            throw e;
          }
          gaveUp++;
        }
        if (Thread.interrupted()) {
          fail("request " + i + " left the caller interrupted");
        }
      }
      assertEquals(MANY / kinds.size() + (MANY % kinds.size() > 3 ? 1 : 0), gaveUp);
      assertEquals(0, CoreInternals.registrationCount(longLived), "registrations left after " + MANY + " requests");
      assertEquals(0, pool.getTotalStats().getLeased(), "connections left leased");
    } finally {
      longLived.close();
    }
  }

  /**
   * A retry in front under one context: a cancel while the second attempt is in flight fails the
   * request with the context's error (the right attempt is aborted), and no interrupt is left.
   */
  @Test
  void aCancelDuringTheSecondAttemptEndsTheRequest() throws Exception {
    CountDownLatch secondIn = new CountDownLatch(1);
    AtomicInteger seen = new AtomicInteger();
    ExecChainHandler retry =
        (request, scope, chain) -> {
          chain.proceed(request, scope).close();
          return chain.proceed(request, scope);
        };
    CancelableContext ctx = Context.withCancel(Context.background());
    ClassicServer[] s = new ClassicServer[1];
    s[0] =
        new ClassicServer(
            (request, response, context) -> {
              if (seen.getAndIncrement() > 0) {
                secondIn.countDown();
                try {
                  s[0].awaitRelease();
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
              response.setEntity(new ByteArrayEntity(HELLO, ContentType.TEXT_PLAIN));
            });
    try (ClassicServer server = s[0];
        CloseableHttpClient client =
            ContextHttpClient5.install(HttpClients.custom()).addExecInterceptorFirst("retry", retry).build()) {
      CompletableFuture<String> call =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return client.execute(
                      new HttpGet(server.url("/")),
                      ContextHttpClient5.clientContext(ctx),
                      r -> EntityUtils.toString(r.getEntity()));
                } catch (IOException e) {
                  throw new CompletionException(e);
                }
              },
              callers);
      assertTrue(secondIn.await(20, TimeUnit.SECONDS), "the second attempt never arrived");
      ctx.cancel();
      ExecutionException e = assertThrows(ExecutionException.class, () -> call.get(10, TimeUnit.SECONDS));
      InterruptedIOException io = assertInstanceOf(InterruptedIOException.class, e.getCause());
      assertInstanceOf(CanceledException.class, io.getCause());
      assertEquals(0, CoreInternals.registrationCount(ctx));
    } finally {
      ctx.close();
    }
  }
}
