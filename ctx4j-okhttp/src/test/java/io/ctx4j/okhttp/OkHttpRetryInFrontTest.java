package io.ctx4j.okhttp;

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
import io.ctx4j.testing.RequestMix;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.Interceptor;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * An application interceptor placed in front of ctx4j's that proceeds more than once (a retry
 * interceptor), proceeds on another thread, or throws after proceeding, from a review of the
 * module: a first attempt's context that ended after its body ended cancelled the second attempt
 * (a pending cancel of a run that was over). Real OkHttp 5 against the JDK HttpServer on loopback.
 */
@Timeout(600)
class OkHttpRetryInFrontTest {
  private static final byte[] HELLO = "hello".getBytes(StandardCharsets.US_ASCII);
  private static final int MANY = 2_000;

  private final ExecutorService other = Executors.newCachedThreadPool();

  @AfterEach
  void stop() throws InterruptedException {
    other.shutdownNow();
    assertTrue(other.awaitTermination(20, TimeUnit.SECONDS));
  }

  private static void shut(OkHttpClient c) {
    c.dispatcher().executorService().shutdown();
    c.connectionPool().evictAll();
  }

  /**
   * A retry interceptor with a budget per attempt reads the first attempt's body to its end (to
   * decide whether to retry), the attempt's context ends (its per-attempt deadline, or a cancel),
   * then it closes that response and retries under a fresh, live context. The second attempt must
   * run under its own context: nothing of the first attempt's context may cancel it.
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"cancel", "deadline (manual clock)", "control: cancel after close"})
  void aFirstAttemptsContextEndingAfterItsBodyEndedLeavesTheNextAttemptAlone(String how)
      throws Exception {
    ManualTimeSource time = ManualTimeSource.startingAt(Instant.parse("2040-01-01T00:00:00Z"));
    Context timed = Context.withTimeSource(Context.background(), time);
    CancelableContext first =
        how.startsWith("deadline")
            ? Context.withTimeout(timed, Duration.ofSeconds(1))
            : Context.withCancel(timed);
    CancelableContext second = Context.withTimeout(timed, Duration.ofSeconds(7));
    Interceptor perAttempt =
        chain -> {
          Request r = chain.request();
          Response r1 = chain.proceed(ContextOkHttp.withContext(r, first));
          assertEquals("hello", r1.body().source().readUtf8()); // to its end, not closed yet
          if (how.startsWith("control")) {
            r1.close();
            first.cancel();
          } else {
            if (how.equals("cancel")) {
              first.cancel();
            } else {
              time.advance(Duration.ofSeconds(2)); // fires the first attempt's deadline
            }
            assertTrue(first.isDone(), "the first attempt's context ended");
            assertTrue(!chain.call().isCanceled(), "the call was cancelled at once by the first context's end");
            r1.close();
            assertTrue(!chain.call().isCanceled(), "the call was cancelled by the first response's close");
          }
          return chain.proceed(ContextOkHttp.withContext(r, second));
        };
    java.util.concurrent.atomic.AtomicReference<String> cancelledAt = new java.util.concurrent.atomic.AtomicReference<>();
    OkHttpClient c =
        ContextOkHttp.install(
                new OkHttpClient.Builder()
                    .addInterceptor(perAttempt)
                    .eventListener(
                        new okhttp3.EventListener() {
                          @Override
                          public void canceled(okhttp3.Call call) {
                            StringBuilder b = new StringBuilder();
                            for (StackTraceElement e : new Throwable().getStackTrace()) {
                              if (b.length() < 900) {
                                b.append(" <- ").append(e.getClassName().replaceAll(".*\\.", "")).append('.').append(e.getMethodName());
                              }
                            }
                            cancelledAt.set(b.toString());
                          }
                        }))
            .build();
    try (Loopback server = new Loopback(ex -> Loopback.reply(ex, 200, HELLO))) {
      try (Response r = c.newCall(new Request.Builder().url(server.url("/")).build()).execute()) {
        assertEquals("hello", r.body().string());
      } catch (IOException e) {
        fail(
            how
                + ": the second attempt, under a live context ("
                + (second.isDone() ? "done" : "live")
                + "), failed: "
                + e
                + " cause "
                + e.getCause()
                + "; Call.cancel() came from"
                + cancelledAt.get(),
            e);
      }
      assertEquals(2, server.requests.get());
      server.seen.take();
      String expected = how.startsWith("deadline") ? "/=4995" : "/=6995";
      assertEquals(expected, server.seen.take(), "the second attempt's budget");
      assertEquals(0, CoreInternals.registrationCount(first));
      assertEquals(0, CoreInternals.registrationCount(second));
    } finally {
      first.close();
      second.close();
      shut(c);
    }
  }

  /**
   * Retries in front, on one long-lived context: the same context for both attempts, the
   * interceptor proceeding twice in several ways, on another thread, after a refused first attempt,
   * or throwing after proceeding. No registration may be left.
   */
  @Test
  void manyCallsThroughARetryInterceptorInFrontLeaveNoRegistration() throws Exception {
    int refusedPort = RequestMix.refusedPort();
    AtomicInteger n = new AtomicInteger();
    List<String> kinds =
        List.of(
            "proceed, close, proceed",
            "proceed, string(), proceed",
            "proceed, read 1 byte of 64 KiB, close, proceed",
            "refused, proceed",
            "proceed on another thread, twice",
            "proceed, close, throw");
    Interceptor retry =
        chain -> {
          String kind = kinds.get(Math.floorMod(n.getAndIncrement(), kinds.size()));
          Request r = chain.request();
          switch (kind) {
            case "proceed, close, proceed":
              chain.proceed(r).close();
              return chain.proceed(r);
            case "proceed, string(), proceed":
              chain.proceed(r).body().string();
              return chain.proceed(r);
            case "proceed, read 1 byte of 64 KiB, close, proceed":
              try (Response big = chain.proceed(r.newBuilder().url(r.url().resolve("/big")).build())) {
                big.body().byteStream().read();
              }
              return chain.proceed(r);
            case "refused, proceed":
              try {
                chain.proceed(r.newBuilder().url("http://127.0.0.1:" + refusedPort + "/").build()).close();
                throw new AssertionError("the refused port answered");
              } catch (IOException expected) {
                return chain.proceed(r);
              }
            case "proceed on another thread, twice":
              try {
                other.submit(() -> {
                  chain.proceed(r).close();
                  return null;
                }).get(20, TimeUnit.SECONDS);
                return other.submit(() -> chain.proceed(r)).get(20, TimeUnit.SECONDS);
              } catch (InterruptedException | ExecutionException | TimeoutException e) {
                throw new IOException(e);
              }
            default:
              chain.proceed(r).close();
              throw new IOException("the retry interceptor gave up");
          }
        };
    OkHttpClient c = ContextOkHttp.install(new OkHttpClient.Builder().addInterceptor(retry)).build();
    byte[] big = new byte[64 * 1024];
    CancelableContext longLived = Context.withTimeout(Context.background(), Duration.ofMinutes(30));
    try (Loopback server =
        new Loopback(
            ex -> {
              try {
                Loopback.reply(ex, 200, "/big".equals(ex.getRequestURI().getPath()) ? big : HELLO);
              } catch (IOException clientLeft) {
                // the client closed the big body early
              }
            })) {
      Request request =
          ContextOkHttp.withContext(new Request.Builder().url(server.url("/")).build(), longLived);
      int failed = 0;
      for (int i = 0; i < MANY; i++) {
        try (Response r = c.newCall(request).execute()) {
          assertEquals("hello", r.body().string());
        } catch (IOException e) {
          if (!"the retry interceptor gave up".equals(e.getMessage())) {
            throw e;
          }
          failed++;
        }
      }
      assertEquals(MANY / kinds.size() + (MANY % kinds.size() > 5 ? 1 : 0), failed);
      assertEquals(0, CoreInternals.registrationCount(longLived), "registrations left after " + MANY + " calls");
    } finally {
      longLived.close();
      shut(c);
    }
  }

  /**
   * A retry in front, both attempts under one context: the first attempt's header states the time
   * left then, the second the time left at its own start (not stale), and a cancel while the
   * second attempt is in flight fails the call with the context's error.
   */
  @Test
  void aRetryUnderOneContextStatesEachAttemptsBudgetAndTheCancelReachesTheSecond() throws Exception {
    ManualTimeSource time = ManualTimeSource.startingAt(Instant.parse("2040-01-01T00:00:00Z"));
    CancelableContext ctx =
        Context.withTimeout(Context.withTimeSource(Context.background(), time), Duration.ofSeconds(10));
    CountDownLatch secondIn = new CountDownLatch(1);
    AtomicInteger seen = new AtomicInteger();
    Interceptor retry =
        chain -> {
          chain.proceed(chain.request()).close();
          time.advance(Duration.ofSeconds(3));
          return chain.proceed(chain.request());
        };
    OkHttpClient c =
        ContextOkHttp.install(new OkHttpClient.Builder().readTimeout(Duration.ZERO).addInterceptor(retry))
            .build();
    Loopback[] s = new Loopback[1];
    s[0] =
        new Loopback(
            ex -> {
              if (seen.getAndIncrement() == 0) {
                Loopback.reply(ex, 200, HELLO);
              } else {
                secondIn.countDown();
                s[0].holdThenReply(ex, HELLO);
              }
            });
    try (Loopback server = s[0]) {
      Request request = ContextOkHttp.withContext(new Request.Builder().url(server.url("/")).build(), ctx);
      CompletableFuture<String> call =
          CompletableFuture.supplyAsync(
              () -> {
                try (Response r = c.newCall(request).execute()) {
                  return r.body().string();
                } catch (IOException e) {
                  throw new java.util.concurrent.CompletionException(e);
                }
              },
              other);
      assertTrue(secondIn.await(20, TimeUnit.SECONDS), "the second attempt never arrived");
      ctx.cancel();
      ExecutionException e = assertThrows(ExecutionException.class, () -> call.get(10, TimeUnit.SECONDS));
      InterruptedIOException io = assertInstanceOf(InterruptedIOException.class, e.getCause());
      assertInstanceOf(CanceledException.class, io.getCause());
      assertEquals(List.of("/=9995", "/=6995"), List.of(server.seen.take(), server.seen.take()));
      assertEquals(0, CoreInternals.registrationCount(ctx));
    } finally {
      ctx.close();
      shut(c);
    }
  }
}
