package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.testing.Quietly;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

class ContextHttpTest {
  private static final HttpClient CLIENT =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @AfterAll
  static void releaseClient() {
    // HttpClient has no close() on JDK 17; its selector thread is a daemon.
  }

  static void respond(HttpExchange exchange, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  static HttpRequest get(LoopbackServer s) {
    return HttpRequest.newBuilder(s.uri()).build();
  }

  static boolean await(CountDownLatch latch) throws InterruptedException {
    return latch.await(10, TimeUnit.SECONDS);
  }

  @Test
  void requestCarriesRemainingTimeAndHandlerGetsThatDeadline() throws Exception {
    try (LoopbackServer s =
            new LoopbackServer(
                ex -> {
                  Context ctx = ContextFilter.current();
                  assertSame(ctx, ContextFilter.contextOf(ex));
                  long left = DeadlineHeader.remaining(ctx).orElseThrow().toMillis();
                  respond(ex, 200, ex.getRequestHeaders().getFirst(DeadlineHeader.NAME) + " " + left);
                });
        CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofSeconds(5))) {
      String[] seen = ContextHttp.send(ctx, CLIENT, get(s), BodyHandlers.ofString()).body().split(" ");
      long sent = Long.parseLong(seen[0]);
      long serverLeft = Long.parseLong(seen[1]);
      assertTrue(sent > 1000 && sent <= 5000, "header " + sent);
      assertTrue(serverLeft <= sent, "server has " + serverLeft + " ms of " + sent);
    }
  }

  @Test
  void withoutDeadlineNoHeaderIsSentEvenIfTheRequestHadOne() throws Exception {
    try (LoopbackServer s =
        new LoopbackServer(
            ex -> {
              boolean hasDeadline = ContextFilter.current().deadline().isPresent();
              respond(ex, 200, ex.getRequestHeaders().getFirst(DeadlineHeader.NAME) + " " + hasDeadline);
            })) {
      HttpRequest stale = HttpRequest.newBuilder(s.uri()).header(DeadlineHeader.NAME, "999").build();
      assertEquals(
          "null false",
          ContextHttp.send(Context.background(), CLIENT, stale, BodyHandlers.ofString()).body());
    }
  }

  @Test
  void slowHandlerIsAbortedByTheDeadlineOnBothSides() throws Exception {
    CountDownLatch handlerSawEnd = new CountDownLatch(1);
    AtomicReference<Object> handlerErr = new AtomicReference<>();
    try (LoopbackServer s =
        new LoopbackServer(
            ex -> {
              Context ctx = ContextFilter.current();
              Quietly.await(ctx, Duration.ofSeconds(10));
              handlerErr.set(ctx.err());
              handlerSawEnd.countDown();
              respond(ex, 503, "too late");
            })) {
      long t0 = System.nanoTime();
      try (CancelableContext ctx =
          Context.withTimeout(Context.background(), Duration.ofMillis(200))) {
        // The server's budget is the caller's less the transit allowance, so its 503 normally
        // arrives just before the caller's own deadline; on a loaded machine the caller's deadline
        // may fire first. Either way the call ends at about 200 ms, not 10 s.
        try {
          HttpResponse<String> r = ContextHttp.send(ctx, CLIENT, get(s), BodyHandlers.ofString());
          assertEquals(503, r.statusCode());
        } catch (DeadlineExceededException expected) {
          assertSame(Context.DEADLINE_EXCEEDED, ctx.err());
        }
      }
      long tookMs = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(tookMs >= 180 && tookMs < 3000, "returned after " + tookMs + " ms");
      assertTrue(await(handlerSawEnd), "handler never saw its context end");
      assertSame(Context.DEADLINE_EXCEEDED, handlerErr.get());
    }
  }

  @Test
  void callerCancelReturnsPromptlyAndStreamingHandlerSeesTheDisconnect() throws Exception {
    CountDownLatch streaming = new CountDownLatch(1);
    CountDownLatch handlerSawEnd = new CountDownLatch(1);
    AtomicReference<Throwable> handlerCause = new AtomicReference<>();
    try (LoopbackServer s =
        new LoopbackServer(
            ex -> {
              Context ctx = ContextFilter.current();
              ex.sendResponseHeaders(200, 0);
              OutputStream out = ex.getResponseBody();
              try {
                // Paced writes; each one is a chance to notice that the client went away.
                for (int i = 0; i < 2000 && !ctx.isDone(); i++) {
                  out.write(new byte[64]);
                  out.flush();
                  streaming.countDown();
                  ctx.await(Duration.ofMillis(5));
                }
              } catch (IOException expected) {
                // the client is gone; ContextFilter has cancelled ctx with this as cause
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              } finally {
                handlerCause.set(ctx.cause());
                handlerSawEnd.countDown();
              }
            })) {
      CancelableContext ctx = Context.withCancel(Context.background());
      CompletableFuture<HttpResponse<String>> call =
          ContextHttp.sendAsync(ctx, CLIENT, get(s), BodyHandlers.ofString());
      assertTrue(await(streaming), "handler never started streaming");
      long t0 = System.nanoTime();
      ctx.cancel();
      CancellationException e =
          assertThrows(CancellationException.class, () -> call.get(2, TimeUnit.SECONDS));
      // JDK 17 rethrows the failure itself; newer JDKs wrap it.
      assertInstanceOf(CanceledException.class, e instanceof CanceledException ? e : e.getCause());
      assertTrue((System.nanoTime() - t0) < TimeUnit.SECONDS.toNanos(1), "not prompt");
      assertTrue(await(handlerSawEnd), "handler kept streaming to a cancelled caller");
      assertInstanceOf(IOException.class, handlerCause.get(), "cause " + handlerCause.get());
    }
  }

  @Test
  void readerOfAStreamedBodyIsReleasedWhenTheContextEnds() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    try (LoopbackServer s =
        new LoopbackServer(
            ex -> {
              ex.sendResponseHeaders(200, 0);
              try (OutputStream out = ex.getResponseBody()) {
                out.write("first".getBytes(StandardCharsets.UTF_8));
                out.flush();
                await(release);
              } catch (IOException | InterruptedException ignored) {
                // the client left: nothing more to send
              }
            })) {
      CancelableContext ctx = Context.withCancel(Context.background());
      HttpResponse<InputStream> r = ContextHttp.send(ctx, CLIENT, get(s), BodyHandlers.ofInputStream());
      InputStream body = r.body();
      assertEquals('f', body.read());
      AtomicLong cancelledAt = new AtomicLong();
      CompletableFuture<Void> cancelled =
          OnceBlocked.run(
              Thread.currentThread(),
              () -> {
                cancelledAt.set(System.nanoTime());
                ctx.cancel();
              });
      try {
        assertThrows(IOException.class, () -> body.readAllBytes());
        long releasedAt = System.nanoTime();
        cancelled.get(30, TimeUnit.SECONDS); // the cancel came while this thread waited in the read
        assertTrue(releasedAt - cancelledAt.get() < TimeUnit.SECONDS.toNanos(5), "reader not released");
      } finally {
        release.countDown();
      }
    }
  }

  @Test
  void doneContextSendsNothingAndThrowsItsCause() throws Exception {
    AtomicInteger requests = new AtomicInteger();
    try (LoopbackServer s =
        new LoopbackServer(
            ex -> {
              requests.incrementAndGet();
              respond(ex, 200, "ok");
            })) {
      CancelableContext ctx = Context.withCancel(Context.background());
      IllegalStateException why = new IllegalStateException("shutting down");
      ctx.cancel(why);
      CanceledException e =
          assertThrows(
              CanceledException.class,
              () -> ContextHttp.send(ctx, CLIENT, get(s), BodyHandlers.ofString()));
      assertSame(why, e.getCause());
      assertEquals("ok", ContextHttp.send(Context.background(), CLIENT, get(s), BodyHandlers.ofString()).body());
      assertEquals(1, requests.get());
    }
  }

  @Test
  void malformedHeaderIsRejectedWith400BeforeTheHandler() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    try (LoopbackServer s =
        new LoopbackServer(
            ex -> {
              calls.incrementAndGet();
              respond(ex, 200, "ok");
            })) {
      HttpRequest bad = HttpRequest.newBuilder(s.uri()).header(DeadlineHeader.NAME, "250m").build();
      HttpResponse<String> r = CLIENT.send(bad, BodyHandlers.ofString());
      assertEquals(400, r.statusCode());
      assertTrue(r.body().contains(DeadlineHeader.NAME), r.body());
      assertEquals(0, calls.get());
    }
  }

  @Test
  void requestContextIsCancelledWhenTheHandlerReturns() throws Exception {
    CountDownLatch ended = new CountDownLatch(1);
    AtomicReference<Context> seen = new AtomicReference<>();
    try (LoopbackServer s =
        new LoopbackServer(
            ex -> {
              Context ctx = ContextFilter.current();
              seen.set(ctx);
              ctx.onDone(ended::countDown);
              respond(ex, 200, String.valueOf(ctx.isDone()));
            })) {
      assertEquals("false", ContextHttp.send(Context.background(), CLIENT, get(s), BodyHandlers.ofString()).body());
      assertTrue(await(ended));
      assertSame(Context.CANCELED, seen.get().err());
    }
  }

  @Test
  void cancellingTheServerRootEndsRequestsInFlight() throws Exception {
    CancelableContext root = Context.withCancel(Context.background());
    CountDownLatch entered = new CountDownLatch(1);
    try (LoopbackServer s =
        new LoopbackServer(
            root,
            ex -> {
              Context ctx = ContextFilter.current();
              entered.countDown();
              try {
                ctx.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              respond(ex, 503, ctx.cause().getMessage());
            })) {
      CompletableFuture<HttpResponse<String>> call =
          ContextHttp.sendAsync(Context.background(), CLIENT, get(s), BodyHandlers.ofString());
      assertTrue(await(entered));
      root.cancel(new IllegalStateException("server stopping"));
      HttpResponse<String> r = call.get(10, TimeUnit.SECONDS);
      assertEquals(503, r.statusCode());
      assertEquals("server stopping", r.body());
    }
  }

  @Test
  void currentOutsideAHandlerIsAnError() {
    IllegalStateException e = assertThrows(IllegalStateException.class, ContextFilter::current);
    assertTrue(e.getMessage().contains("ContextFilter"));
    assertFalse(Thread.currentThread().isInterrupted());
  }

  @Test
  void nullArgumentsAreNamed() throws Exception {
    HttpRequest r = HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:9/")).build();
    Context bg = Context.background();
    assertEquals("ctx", assertThrows(NullPointerException.class, () -> ContextHttp.send(null, CLIENT, r, BodyHandlers.ofString())).getMessage());
    assertEquals("client", assertThrows(NullPointerException.class, () -> ContextHttp.send(bg, null, r, BodyHandlers.ofString())).getMessage());
    assertEquals("request", assertThrows(NullPointerException.class, () -> ContextHttp.send(bg, CLIENT, null, BodyHandlers.ofString())).getMessage());
    assertEquals("handler", assertThrows(NullPointerException.class, () -> ContextHttp.send(bg, CLIENT, r, null)).getMessage());
    assertEquals("root", assertThrows(NullPointerException.class, () -> ContextFilter.create(null)).getMessage());
    assertNull(ContextHttp.withDeadlineHeader(bg, r).headers().firstValue(DeadlineHeader.NAME).orElse(null));
  }
}
