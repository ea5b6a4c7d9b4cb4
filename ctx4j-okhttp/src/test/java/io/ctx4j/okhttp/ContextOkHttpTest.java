package io.ctx4j.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.http.DeadlineHeader;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.testing.InFlight;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import okhttp3.Dispatcher;
import okhttp3.Interceptor;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** ContextOkHttp against a real JDK HttpServer on loopback, with a real OkHttp 5 client. */
@Timeout(60)
class ContextOkHttpTest {
  private static final byte[] HELLO = "hello".getBytes(StandardCharsets.US_ASCII);

  private final OkHttpClient client = ContextOkHttp.install(new OkHttpClient.Builder()).build();
  private final ExecutorService callers = Executors.newCachedThreadPool();
  /** A handler that blocks until the test ends: counts {@link #entered} and waits on release. */
  private final CountDownLatch entered = new CountDownLatch(1);

  @AfterEach
  void stop() throws InterruptedException {
    callers.shutdownNow();
    assertTrue(callers.awaitTermination(20, TimeUnit.SECONDS));
    client.dispatcher().executorService().shutdown();
    client.connectionPool().evictAll();
  }

  private Loopback hello() {
    return new Loopback(ex -> Loopback.reply(ex, 200, HELLO));
  }

  private Loopback blocking() {
    Loopback[] server = new Loopback[1];
    server[0] =
        new Loopback(
            ex -> {
              entered.countDown();
              server[0].holdThenReply(ex, HELLO);
            });
    return server[0];
  }

  private String get(Request request) throws IOException {
    try (Response r = client.newCall(request).execute()) {
      return r.body().string();
    }
  }

  private static Request at(String url, Context ctx) {
    return ContextOkHttp.withContext(new Request.Builder().url(url).build(), ctx);
  }

  private static ManualTimeSource clock() {
    return ManualTimeSource.startingAt(Instant.parse("2040-01-01T00:00:00Z"));
  }

  /** A context with a deadline {@code timeout} after now on {@code time}. */
  private static CancelableContext withTimeout(ManualTimeSource time, Duration timeout) {
    return Context.withTimeout(Context.withTimeSource(Context.background(), time), timeout);
  }

  // ------------------------------------------------------------------------------------ the header

  @Test
  void theHeaderStatesTheTimeLeftLessTheTransitAllowance() throws Exception {
    ManualTimeSource time = clock();
    try (Loopback server = hello();
        CancelableContext ctx = withTimeout(time, Duration.ofSeconds(10))) {
      assertEquals("hello", get(at(server.url("/"), ctx)));
      assertEquals("/=9995", server.seen.take());
    }
  }

  @Test
  void theHeaderIsLessThanTheCallersBudgetOnTheSystemClock() throws Exception {
    try (Loopback server = hello();
        CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofSeconds(20))) {
      assertEquals("hello", get(at(server.url("/"), ctx)));
      long sent = Long.parseLong(server.seen.take().substring(2));
      assertTrue(sent > 0 && sent <= 20_000 - 5, "sent " + sent);
    }
  }

  @Test
  void noDeadlineSendsNoHeaderAndDropsAStaleOne() throws Exception {
    try (Loopback server = hello();
        CancelableContext ctx = Context.withCancel(Context.background())) {
      Request stale =
          new Request.Builder().url(server.url("/")).header(DeadlineHeader.NAME, "77").build();
      assertEquals("hello", get(ContextOkHttp.withContext(stale, ctx)));
      assertEquals("/=-", server.seen.take());
    }
  }

  @Test
  void executeUsesTheCallersCurrentContextWhenTheRequestHasNoTag() throws Exception {
    ManualTimeSource time = clock();
    try (Loopback server = hello();
        CancelableContext ctx = withTimeout(time, Duration.ofSeconds(3))) {
      Request untagged = new Request.Builder().url(server.url("/")).build();
      assertEquals("hello", CurrentContext.call(ctx, () -> get(untagged)));
      assertEquals("/=2995", server.seen.take());
      ctx.cancel();
      IOException e = assertThrows(IOException.class, () -> CurrentContext.call(ctx, () -> get(untagged)));
      assertInstanceOf(CanceledException.class, e.getCause());
      assertEquals(1, server.requests.get(), "a call under an ended current context was sent");
    }
  }

  @Test
  void anEnqueuedCallRunsUnderItsTaggedContext() throws Exception {
    ManualTimeSource time = clock();
    try (Loopback server = hello();
        CancelableContext ctx = withTimeout(time, Duration.ofSeconds(4))) {
      assertEquals("hello", enqueue(at(server.url("/"), ctx)).get(20, TimeUnit.SECONDS));
      assertEquals("/=3995", server.seen.take());
    }
  }

  /** Enqueues and returns the body, or the failure OkHttp reported to the callback. */
  private CompletableFuture<String> enqueue(Request request) {
    CompletableFuture<String> f = new CompletableFuture<>();
    client.newCall(request).enqueue(Loopback.bodyInto(f));
    return f;
  }

  // --------------------------------------------------------------------------- ending the context

  @Test
  void anEndedContextFailsTheCallWithoutSendingIt() throws Exception {
    IllegalStateException why = new IllegalStateException("shutting down");
    try (Loopback server = hello();
        CancelableContext ctx = Context.withCancelCause(Context.background())) {
      ctx.cancel(why);
      IOException e = assertThrows(IOException.class, () -> get(at(server.url("/"), ctx)));
      CanceledException err = assertInstanceOf(CanceledException.class, e.getCause());
      assertSame(why, err.getCause());
      assertTrue(e.getSuppressed().length == 0, "nothing failed but the context");
      ExecutionException async =
          assertThrows(ExecutionException.class, () -> enqueue(at(server.url("/"), ctx)).get(20, TimeUnit.SECONDS));
      assertInstanceOf(CanceledException.class, async.getCause().getCause());
      assertEquals(0, server.requests.get(), "a call under an ended context reached the server");
    }
  }

  /**
   * The documented gap: OkHttp runs no interceptor for a call still waiting in the dispatcher's
   * queue, so a context that ends there fails the call only when it gets its slot; it is never sent.
   */
  @Test
  void anEnqueuedCallWhoseContextEndsInTheQueueFailsWhenItGetsASlotUnsent() throws Exception {
    Dispatcher oneAtATime = new Dispatcher();
    oneAtATime.setMaxRequestsPerHost(1);
    OkHttpClient narrow = ContextOkHttp.install(new OkHttpClient.Builder().dispatcher(oneAtATime)).build();
    try (Loopback server = blocking();
        CancelableContext ctx = Context.withCancel(Context.background())) {
      CompletableFuture<String> first = new CompletableFuture<>();
      narrow.newCall(new Request.Builder().url(server.url("/first")).build()).enqueue(Loopback.bodyInto(first));
      assertTrue(entered.await(20, TimeUnit.SECONDS), "the first call never reached the server");
      CompletableFuture<String> queued = new CompletableFuture<>();
      narrow.newCall(at(server.url("/queued"), ctx)).enqueue(Loopback.bodyInto(queued));
      assertEquals(1, oneAtATime.queuedCallsCount());
      ctx.cancel();
      assertFalse(queued.isDone(), "the gap is closed: update the README's 'What happens' section");
      server.release.countDown();
      assertEquals("hello", first.get(20, TimeUnit.SECONDS));
      ExecutionException e = assertThrows(ExecutionException.class, () -> queued.get(20, TimeUnit.SECONDS));
      assertInstanceOf(CanceledException.class, e.getCause().getCause());
      assertEquals(1, server.requests.get(), "the queued call was sent after its context ended");
    } finally {
      narrow.dispatcher().executorService().shutdown();
      narrow.connectionPool().evictAll();
    }
  }

  /**
   * A gap the README states: OkHttp looks the host name up on the calling thread, before any
   * network interceptor and in code that neither {@code Call.cancel()} nor an interrupt stops. A
   * context that ends during the lookup is acted on when the lookup returns: the call then fails
   * with the context's error, and nothing is sent.
   */
  @Test
  void aContextEndingDuringTheHostLookupIsActedOnWhenTheLookupReturns() throws Exception {
    CountDownLatch inLookup = new CountDownLatch(1);
    CountDownLatch lookupMayReturn = new CountDownLatch(1);
    OkHttpClient slowDns =
        ContextOkHttp.install(
                new OkHttpClient.Builder()
                    .dns(host -> {
                      // Like the JDK's resolver: no interrupt ends the lookup.
                      inLookup.countDown();
                      if (!io.ctx4j.testing.Quietly.awaitIgnoringInterrupts(lookupMayReturn, Duration.ofSeconds(30))) {
                        throw new java.net.UnknownHostException("the test never released the lookup of " + host);
                      }
                      return java.util.List.of(java.net.InetAddress.getLoopbackAddress());
                    }))
            .build();
    try (Loopback server = hello();
        CancelableContext ctx = Context.withCancel(Context.background())) {
      // A name, not an address: OkHttp asks its Dns only for names.
      String url = server.url("/").replace("127.0.0.1", "ctx4j-lookup.test");
      CompletableFuture<Response> call =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return slowDns.newCall(at(url, ctx)).execute();
                } catch (IOException e) {
                  throw new java.util.concurrent.CompletionException(e);
                }
              },
              callers);
      assertTrue(inLookup.await(20, TimeUnit.SECONDS), "OkHttp never looked the host up");
      ctx.cancel();
      assertFalse(call.isDone(), "the gap is closed: update the README's 'What happens' section");
      lookupMayReturn.countDown();
      ExecutionException e = assertThrows(ExecutionException.class, () -> call.get(20, TimeUnit.SECONDS));
      IOException io = assertInstanceOf(IOException.class, e.getCause());
      assertInstanceOf(CanceledException.class, io.getCause(), () -> "failed otherwise: " + io);
      assertEquals(0, server.requests.get(), "the call was sent after its context ended");
    } finally {
      lookupMayReturn.countDown();
      slowDns.dispatcher().executorService().shutdown();
      slowDns.connectionPool().evictAll();
    }
  }

  /** The shape of OkHttp's Call before 5.4.0: no addEventListener. */
  interface CallBefore540 {
    void cancel();
  }

  @Test
  void anOkHttpWithoutCallAddEventListenerIsRefusedByVersion() {
    assertEquals(
        "ctx4j-okhttp needs OkHttp 5.4.0 or later (Call.addEventListener); the class path has OkHttp 5.3.2",
        ContextOkHttp.unsupported(CallBefore540.class, "5.3.2"));
    assertNull(ContextOkHttp.unsupported(okhttp3.Call.class, okhttp3.OkHttp.VERSION), "the OkHttp of the tests is refused");
  }

  @Test
  void cancellingMidExchangeAbortsPromptlyWithTheContextsError() throws Exception {
    IllegalStateException why = new IllegalStateException("user went away");
    try (Loopback server = blocking();
        CancelableContext ctx = Context.withCancelCause(Context.background())) {
      CompletableFuture<String> call =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return get(at(server.url("/slow"), ctx));
                } catch (IOException e) {
                  throw new java.util.concurrent.CompletionException(e);
                }
              },
              callers);
      long ms = InFlight.cancelFailsTheRequest(entered, ctx, why, call, IOException.class);
      System.out.println("okhttp: cancel to failed call " + ms + " ms");
    }
  }

  @Test
  void theDeadlineEndsACallThatOutlivesIt() throws Exception {
    try (Loopback server = blocking();
        CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMillis(300))) {
      long t0 = System.nanoTime();
      IOException e = assertThrows(IOException.class, () -> get(at(server.url("/slow"), ctx)));
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      assertInstanceOf(DeadlineExceededException.class, e.getCause());
      assertTrue(ms >= 295 && ms < 10_000, "ended after " + ms + " ms");
    }
  }

  @Test
  void cancellingWhileTheBodyStreamsFailsTheReadWithTheContextsError() throws Exception {
    Loopback[] server = new Loopback[1];
    server[0] = new Loopback(ex -> server[0].streamThenHold(ex, HELLO));
    try (Loopback s = server[0];
        CancelableContext ctx = Context.withCancel(Context.background())) {
      try (Response r = client.newCall(at(s.url("/stream"), ctx)).execute()) {
        CompletableFuture<Byte> blockedRead = Loopback.readPast(r.body().source(), "hello", callers);
        ctx.cancel();
        ExecutionException e = assertThrows(ExecutionException.class, () -> blockedRead.get(20, TimeUnit.SECONDS));
        IOException io = assertInstanceOf(IOException.class, e.getCause());
        assertInstanceOf(CanceledException.class, io.getCause());
      }
    }
  }

  /**
   * Guard (passes on the code before it was written; pins "while the request is in flight"): a
   * context that ends while a large streaming request body is being sent, to a server that reads
   * none of it, fails the call with the context's error, its cause kept, and leaves no
   * registration.
   */
  @Test
  void cancellingWhileALargeRequestBodyIsSentFailsTheCallWithTheContextsError() throws Exception {
    IllegalStateException why = new IllegalStateException("upload abandoned");
    CountDownLatch writing = new CountDownLatch(1);
    okhttp3.RequestBody endless =
        new okhttp3.RequestBody() {
          @Override
          public okhttp3.MediaType contentType() {
            return okhttp3.MediaType.get("application/octet-stream");
          }

          @Override
          public void writeTo(okio.BufferedSink sink) throws IOException {
            byte[] chunk = new byte[64 * 1024];
            for (int i = 0; i < 16 * 1024; i++) { // 1 GiB at most: far more than the socket buffers
              sink.write(chunk);
              sink.flush();
              writing.countDown();
            }
          }
        };
    try (Loopback server = blocking();
        CancelableContext ctx = Context.withCancelCause(Context.background())) {
      Request upload =
          ContextOkHttp.withContext(new Request.Builder().url(server.url("/upload")).post(endless).build(), ctx);
      CompletableFuture<String> call =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return get(upload);
                } catch (IOException e) {
                  throw new java.util.concurrent.CompletionException(e);
                }
              },
              callers);
      assertTrue(entered.await(20, TimeUnit.SECONDS), "the request never reached the server");
      assertTrue(writing.await(20, TimeUnit.SECONDS), "the body was never written");
      ctx.cancel(why);
      ExecutionException e = assertThrows(ExecutionException.class, () -> call.get(20, TimeUnit.SECONDS));
      java.io.InterruptedIOException io = assertInstanceOf(java.io.InterruptedIOException.class, e.getCause());
      assertSame(why, assertInstanceOf(CanceledException.class, io.getCause()).getCause());
      assertEquals(0, CoreInternals.registrationCount(ctx));
    }
  }

  // --------------------------------------------------------------------- redirects and retries

  /** /first advances the manual clock by 400 ms (the hop's own time) and redirects to /target. */
  private static Loopback redirecting(ManualTimeSource time, int status) {
    return new Loopback(
        ex -> {
          if (ex.getRequestURI().getPath().equals("/first")) {
            time.advance(Duration.ofMillis(400));
            ex.getResponseHeaders().set("Location", "/target");
            Loopback.reply(ex, status, new byte[0]);
          } else {
            Loopback.reply(ex, 200, HELLO);
          }
        });
  }

  @Test
  void everyRedirectHopStatesTheTimeLeftAtThatHop() throws Exception {
    for (int status : new int[] {301, 302, 303, 307, 308}) {
      ManualTimeSource time = clock();
      try (Loopback server = redirecting(time, status);
          CancelableContext ctx = withTimeout(time, Duration.ofSeconds(1))) {
        assertEquals("hello", get(at(server.url("/first"), ctx)));
        assertEquals("/first=995", server.seen.take(), "status " + status);
        assertEquals("/target=595", server.seen.take(), "status " + status);
      }
    }
  }

  @Test
  void theApplicationInterceptorAloneResendsTheFirstHopsBudget() throws Exception {
    // Why networkInterceptor() exists: OkHttp re-sends the first request's headers on a redirect.
    OkHttpClient appOnly = new OkHttpClient.Builder().addInterceptor(ContextOkHttp.interceptor()).build();
    ManualTimeSource time = clock();
    try (Loopback server = redirecting(time, 302);
        CancelableContext ctx = withTimeout(time, Duration.ofSeconds(1))) {
      try (Response r = appOnly.newCall(at(server.url("/first"), ctx)).execute()) {
        assertEquals("hello", r.body().string());
      }
      assertEquals("/first=995", server.seen.take());
      assertEquals("/target=995", server.seen.take(), "stale: 400 ms older than it says");
    } finally {
      appOnly.connectionPool().evictAll();
    }
  }

  /**
   * Guard (passes on the code before it was written; pins the README and the javadoc of {@code
   * networkInterceptor()}): the network interceptor alone registers nothing on the context, so a
   * context that ends while the request is in flight leaves the call running to its response; it
   * only refuses to send a request once the context has ended.
   */
  @Test
  void theNetworkInterceptorAloneNeverCancelsTheCall() throws Exception {
    OkHttpClient networkOnly =
        new OkHttpClient.Builder().addNetworkInterceptor(ContextOkHttp.networkInterceptor()).build();
    try (Loopback server = blocking();
        CancelableContext ctx = Context.withCancel(Context.background())) {
      CompletableFuture<String> inFlight = new CompletableFuture<>();
      networkOnly.newCall(at(server.url("/slow"), ctx)).enqueue(Loopback.bodyInto(inFlight));
      assertTrue(entered.await(20, TimeUnit.SECONDS), "the request never reached the server");
      assertEquals(0, CoreInternals.registrationCount(ctx), "the call registered on its context");
      ctx.cancel(); // runs any registered cancel before it returns: there is none
      server.release.countDown();
      assertEquals("hello", inFlight.get(20, TimeUnit.SECONDS), "the call ended with its context");
      IOException refused = assertThrows(IOException.class, () -> networkOnly.newCall(at(server.url("/"), ctx)).execute());
      assertInstanceOf(CanceledException.class, refused.getCause());
      assertEquals(1, server.requests.get(), "a request under an ended context was sent");
    } finally {
      networkOnly.dispatcher().executorService().shutdown();
      networkOnly.connectionPool().evictAll();
    }
  }

  /**
   * install on the newBuilder() of a client that has ctx4j's interceptors, or on a builder that has
   * either already, adds only what is missing: twice installed, every call would register on its
   * context, wrap its body and state its budget twice.
   */
  @Test
  void installingAgainAddsNothing() throws Exception {
    Interceptor mine = chain -> chain.proceed(chain.request());
    OkHttpClient again = ContextOkHttp.install(ContextOkHttp.install(client.newBuilder())).build();
    OkHttpClient byHand =
        ContextOkHttp.install(
                new OkHttpClient.Builder()
                    .addNetworkInterceptor(ContextOkHttp.networkInterceptor())
                    .addNetworkInterceptor(mine))
            .build();
    try (Loopback server = hello();
        CancelableContext ctx = Context.withCancel(Context.background())) {
      assertEquals(List.of(ContextOkHttp.interceptor()), again.interceptors(), "application");
      assertEquals(List.of(ContextOkHttp.networkInterceptor()), again.networkInterceptors(), "network");
      assertEquals(List.of(ContextOkHttp.interceptor()), byHand.interceptors(), "application, by hand");
      assertEquals(
          List.of(ContextOkHttp.networkInterceptor(), mine), byHand.networkInterceptors(), "network, by hand");
      try (Response r = again.newCall(at(server.url("/"), ctx)).execute()) {
        assertEquals(1, CoreInternals.registrationCount(ctx), "registrations of one call with its body open");
        assertEquals("hello", r.body().string());
      }
      assertEquals(0, CoreInternals.registrationCount(ctx));
    } finally {
      again.dispatcher().executorService().shutdown();
      again.connectionPool().evictAll();
      byHand.dispatcher().executorService().shutdown();
      byHand.connectionPool().evictAll();
    }
  }

  @Test
  void aRetriedRequestStatesTheTimeLeftAtTheRetry() throws Exception {
    // OkHttp retries a 408 once (RetryAndFollowUpInterceptor), below the application interceptors.
    ManualTimeSource time = clock();
    try (Loopback server = firstAnswerAfter300Ms(time, 408);
        CancelableContext ctx = withTimeout(time, Duration.ofSeconds(1))) {
      assertEquals("hello", get(at(server.url("/"), ctx)));
      assertEquals("/=995", server.seen.take());
      assertEquals("/=695", server.seen.take());
    }
  }

  @Test
  void aDeadlinePassedDuringARedirectStopsTheNextHop() throws Exception {
    ManualTimeSource time = clock();
    try (Loopback server =
            new Loopback(
                ex -> {
                  if (ex.getRequestURI().getPath().equals("/first")) {
                    time.advance(Duration.ofSeconds(2)); // past the 1 s deadline
                    ex.getResponseHeaders().set("Location", "/target");
                    Loopback.reply(ex, 302, new byte[0]);
                  } else {
                    Loopback.reply(ex, 200, HELLO);
                  }
                });
        CancelableContext ctx = withTimeout(time, Duration.ofSeconds(1))) {
      IOException e = assertThrows(IOException.class, () -> get(at(server.url("/first"), ctx)));
      assertInstanceOf(DeadlineExceededException.class, e.getCause());
      assertEquals("/first=995", server.seen.take());
      assertEquals(1, server.requests.get(), "the redirect target was called after the deadline");
    }
  }

  /**
   * A follow-up the application builds afresh (an {@code Authenticator} that answers a 401 with a
   * new {@code Request}, not with {@code response.request().newBuilder()}) carries no tag: its hop
   * states the time left of the call's context all the same, not that of whatever context is
   * current where OkHttp runs it (none here, or one that has ended).
   */
  @ParameterizedTest
  @ValueSource(strings = {"no current context", "an ended current context"})
  void aFollowUpBuiltAfreshStatesTheCallsBudget(String current) throws Exception {
    ManualTimeSource time = clock();
    OkHttpClient fresh =
        client.newBuilder()
            .authenticator(
                (route, response) ->
                    new Request.Builder()
                        .url(response.request().url())
                        .header("Authorization", okhttp3.Credentials.basic("user", "secret"))
                        .build())
            .build();
    try (Loopback server = firstAnswerAfter300Ms(time, 401, "WWW-Authenticate", "Basic realm=\"ctx4j\"");
        CancelableContext ctx = withTimeout(time, Duration.ofSeconds(1));
        CancelableContext ended = Context.withCancel(Context.background())) {
      ended.cancel();
      Context onThread = current.equals("no current context") ? Context.background() : ended;
      String body =
          CurrentContext.call(
              onThread,
              () -> {
                try (Response r = fresh.newCall(at(server.url("/"), ctx)).execute()) {
                  return r.body().string();
                }
              });
      assertEquals("hello", body);
      assertEquals(List.of("/=995", "/=695"), List.of(server.seen.take(), server.seen.take()), current);
      assertEquals(0, CoreInternals.registrationCount(ctx));
    } finally {
      fresh.connectionPool().evictAll();
    }
  }

  /**
   * Guard (passes on the code before it was written): the round a proxy's 407 asks for, answered
   * by the client's {@code proxyAuthenticator}, states the time left at that round.
   */
  @Test
  void aProxyAuthenticationRoundStatesTheTimeLeftAtThatRound() throws Exception {
    ManualTimeSource time = clock();
    try (Loopback proxy = firstAnswerAfter300Ms(time, 407, "Proxy-Authenticate", "Basic realm=\"ctx4j\"");
        CancelableContext ctx = withTimeout(time, Duration.ofSeconds(1))) {
      java.net.URI at = java.net.URI.create(proxy.url("/"));
      OkHttpClient proxied =
          client.newBuilder()
              .proxy(new java.net.Proxy(java.net.Proxy.Type.HTTP, new java.net.InetSocketAddress(at.getHost(), at.getPort())))
              .proxyAuthenticator(
                  (route, response) ->
                      response.request().newBuilder()
                          .header("Proxy-Authorization", okhttp3.Credentials.basic("user", "secret"))
                          .build())
              .build();
      try (Response r = proxied.newCall(at("http://ctx4j-proxied.test/resource", ctx)).execute()) {
        assertEquals("hello", r.body().string());
      } finally {
        proxied.connectionPool().evictAll();
      }
      assertEquals(List.of("/resource=995", "/resource=695"), List.of(proxy.seen.take(), proxy.seen.take()));
    }
  }

  /**
   * A server whose first answer, given 300 ms later on {@code time}, is {@code status} with {@code
   * header} (a name and its value, or nothing); "hello" after that.
   */
  private static Loopback firstAnswerAfter300Ms(ManualTimeSource time, int status, String... header) {
    java.util.concurrent.atomic.AtomicInteger n = new java.util.concurrent.atomic.AtomicInteger();
    return new Loopback(
        ex -> {
          if (n.getAndIncrement() == 0) {
            time.advance(Duration.ofMillis(300));
            if (header.length == 2) {
              ex.getResponseHeaders().set(header[0], header[1]);
            }
            Loopback.reply(ex, status, new byte[0]);
          } else {
            Loopback.reply(ex, 200, HELLO);
          }
        });
  }
}
