package io.ctx4j.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.sun.net.httpserver.HttpExchange;
import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
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
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.Call;
import okhttp3.Credentials;
import okhttp3.EventListener;
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
 * A call's later requests (a redirect, a retry of a 408, an authentication round) against a real
 * JDK HttpServer on loopback: the context's end cancels them as it cancels the first. OkHttp
 * reports the end of every response body it reads, the first hop's included, and the interceptor
 * once stopped cancelling at the first such end: a follow-up in flight ran on to its response or
 * to OkHttp's timeouts. The client here has no read timeout, so such a call shows as one still
 * running seconds after its context ended.
 */
@Timeout(90)
class OkHttpFollowUpTest {
  private static final byte[] HELLO = "hello".getBytes(StandardCharsets.US_ASCII);
  /** How long a call may take to fail once its context ended: the README measures 3 to 26 ms. */
  private static final long FAIL_WITHIN_SECONDS = 10;

  private final OkHttpClient client =
      ContextOkHttp.install(new OkHttpClient.Builder().readTimeout(Duration.ZERO)).build();
  private final ExecutorService callers = Executors.newCachedThreadPool();

  @AfterEach
  void stop() throws InterruptedException {
    callers.shutdownNow();
    assertTrue(callers.awaitTermination(20, TimeUnit.SECONDS));
    client.dispatcher().executorService().shutdown();
    client.connectionPool().evictAll();
  }

  /** What a test server does with the requests after the first. */
  private interface Then {
    void handle(Loopback server, HttpExchange ex) throws IOException;
  }

  /** Answers the first request with {@code status} and {@code header}, later ones with {@code then}. */
  private static Loopback firstThen(int status, Then then, String... header) {
    AtomicInteger n = new AtomicInteger();
    Loopback[] server = new Loopback[1];
    server[0] =
        new Loopback(
            ex -> {
              if (n.getAndIncrement() > 0) {
                then.handle(server[0], ex);
                return;
              }
              for (int i = 0; i + 1 < header.length; i += 2) {
                ex.getResponseHeaders().set(header[i], header[i + 1]);
              }
              Loopback.reply(ex, status, new byte[0]);
            });
    return server[0];
  }

  /** The same, later requests counting {@code entered} down and held until the server closes. */
  private static Loopback firstThenHold(int status, CountDownLatch entered, String... header) {
    return firstThen(
        status,
        (server, ex) -> {
          entered.countDown();
          server.holdThenReply(ex, HELLO);
        },
        header);
  }

  private CompletableFuture<String> start(OkHttpClient c, Request request) {
    return CompletableFuture.supplyAsync(
        () -> {
          try (Response r = c.newCall(request).execute()) {
            return r.body().string();
          } catch (IOException e) {
            throw new CompletionException(e);
          }
        },
        callers);
  }

  /** The failure of {@code call}, which must come within the bound once its context has ended. */
  private static Throwable failureOf(CompletableFuture<?> call, String what) throws Exception {
    try {
      return fail(what + ": succeeded after its context ended: " + call.get(FAIL_WITHIN_SECONDS, TimeUnit.SECONDS));
    } catch (TimeoutException e) {
      return fail(what + ": still running " + FAIL_WITHIN_SECONDS + " s after its context ended");
    } catch (ExecutionException e) {
      return e.getCause();
    }
  }

  private static Request at(String url, Context ctx) {
    return ContextOkHttp.withContext(new Request.Builder().url(url).build(), ctx);
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"redirect 302", "redirect 307", "retry 408", "authentication 401"})
  void aContextEndingWhileAFollowUpIsInFlightCancelsTheCall(String kind) throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    Loopback server;
    OkHttpClient c = client;
    if (kind.startsWith("redirect")) {
      server = firstThenHold(Integer.parseInt(kind.substring(9)), entered, "Location", "/target");
    } else if (kind.startsWith("retry")) {
      server = firstThenHold(408, entered);
    } else {
      server = firstThenHold(401, entered, "WWW-Authenticate", "Basic realm=\"r\"");
      c =
          client.newBuilder()
              .authenticator(
                  (route, response) ->
                      response.request().newBuilder()
                          .header("Authorization", Credentials.basic("u", "p"))
                          .build())
              .build();
    }
    try (Loopback s = server;
        CancelableContext ctx = Context.withCancel(Context.background())) {
      CompletableFuture<String> call = start(c, at(s.url("/first"), ctx));
      assertTrue(entered.await(20, TimeUnit.SECONDS), "the follow-up never reached the server");
      ctx.cancel();
      Throwable t = failureOf(call, kind);
      InterruptedIOException io = assertInstanceOf(InterruptedIOException.class, t);
      assertInstanceOf(CanceledException.class, io.getCause(), () -> "failed otherwise: " + io);
      assertEquals(2, s.requests.get());
      assertEquals(0, CoreInternals.registrationCount(ctx));
    }
  }

  @Test
  void theDeadlineEndsACallWhoseRedirectTargetHolds() throws Exception {
    ManualTimeSource time = ManualTimeSource.startingAt(Instant.parse("2040-01-01T00:00:00Z"));
    CountDownLatch entered = new CountDownLatch(1);
    try (Loopback s = firstThenHold(302, entered, "Location", "/target");
        CancelableContext ctx =
            Context.withTimeout(Context.withTimeSource(Context.background(), time), Duration.ofSeconds(1))) {
      CompletableFuture<String> call = start(client, at(s.url("/first"), ctx));
      assertTrue(entered.await(20, TimeUnit.SECONDS), "the redirect target never got the request");
      time.advance(Duration.ofSeconds(2));
      Throwable t = failureOf(call, "the call past its deadline");
      InterruptedIOException io = assertInstanceOf(InterruptedIOException.class, t);
      assertInstanceOf(DeadlineExceededException.class, io.getCause(), () -> "failed otherwise: " + io);
    }
  }

  @Test
  void aContextEndingWhileARedirectTargetsBodyIsReadFailsTheRead() throws Exception {
    Loopback server = firstThen(302, (srv, ex) -> srv.streamThenHold(ex, HELLO), "Location", "/stream");
    try (Loopback s = server;
        CancelableContext ctx = Context.withCancel(Context.background());
        Response r = client.newCall(at(s.url("/first"), ctx)).execute()) {
      CompletableFuture<Byte> blocked = Loopback.readPast(r.body().source(), "hello", callers);
      ctx.cancel();
      Throwable t = failureOf(blocked, "the read of the redirect target's body");
      IOException io = assertInstanceOf(IOException.class, t);
      assertInstanceOf(CanceledException.class, io.getCause(), () -> "failed otherwise: " + io);
    }
  }

  /**
   * The context ends between the first response and the redirect it asks for: after the first
   * body's end, before the next request is sent. With the application interceptor alone (no
   * network interceptor to refuse the hop), the call is cancelled as OkHttp starts on that
   * request, and the redirect target never gets it.
   */
  @Test
  void aContextEndingBetweenTwoRequestsOfACallCancelsTheSecond() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CancelableContext ctx = Context.withCancel(Context.background());
    OkHttpClient c =
        new OkHttpClient.Builder()
            .readTimeout(Duration.ZERO)
            .addInterceptor(ContextOkHttp.interceptor())
            .eventListener(
                new EventListener() {
                  @Override
                  public void followUpDecision(Call call, Response networkResponse, Request next) {
                    if (next != null) {
                      ctx.cancel();
                    }
                  }
                })
            .build();
    try (Loopback s = firstThenHold(302, entered, "Location", "/target")) {
      Throwable t = failureOf(start(c, at(s.url("/first"), ctx)), "the redirected call");
      InterruptedIOException io = assertInstanceOf(InterruptedIOException.class, t);
      assertInstanceOf(CanceledException.class, io.getCause(), () -> "failed otherwise: " + io);
      assertEquals(1, s.requests.get(), "requests the server got");
      assertEquals(1, entered.getCount(), "the redirect target got the request");
      assertEquals(0, CoreInternals.registrationCount(ctx));
    } finally {
      ctx.close();
      c.dispatcher().executorService().shutdown();
      c.connectionPool().evictAll();
    }
  }

  /**
   * An application interceptor ahead of ctx4j's may call {@code proceed()} more than once, here
   * each time under a context of its own (a budget per attempt): each attempt goes out under its
   * own context, stating its budget, though the first attempt's context has ended by then (after
   * its response was closed: while an attempt's response is open, its context's end cancels the
   * call, which OkHttp then fails whole).
   */
  @Test
  void eachProceedOfAnInterceptorAheadRunsUnderItsOwnContext() throws Exception {
    ManualTimeSource time = ManualTimeSource.startingAt(Instant.parse("2040-01-01T00:00:00Z"));
    Context timed = Context.withTimeSource(Context.background(), time);
    CancelableContext first = Context.withTimeout(timed, Duration.ofSeconds(1));
    CancelableContext second = Context.withTimeout(timed, Duration.ofSeconds(7));
    Interceptor perAttempt =
        chain -> {
          Request r = chain.request();
          chain.proceed(ContextOkHttp.withContext(r, first)).close();
          first.cancel(); // that attempt is over: its end cancels nothing of the call's
          return chain.proceed(ContextOkHttp.withContext(r, second));
        };
    OkHttpClient c =
        ContextOkHttp.install(new OkHttpClient.Builder().addInterceptor(perAttempt)).build();
    try (Loopback server = new Loopback(ex -> Loopback.reply(ex, 200, HELLO))) {
      try (Response r = c.newCall(new Request.Builder().url(server.url("/")).build()).execute()) {
        assertEquals("hello", r.body().string());
      }
      assertEquals(List.of("/=995", "/=6995"), List.of(server.seen.take(), server.seen.take()));
      assertEquals(0, CoreInternals.registrationCount(first));
      assertEquals(0, CoreInternals.registrationCount(second));
    } finally {
      first.close();
      second.close();
      c.dispatcher().executorService().shutdown();
      c.connectionPool().evictAll();
    }
  }
}
