package io.ctx4j.httpclient5;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
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
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.DefaultHttpRequestRetryStrategy;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.CloseableHttpResponse;
import org.apache.hc.client5.http.impl.classic.HttpClientBuilder;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.classic.RequestFailedException;
import org.apache.hc.client5.http.protocol.HttpClientContext;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.Header;
import org.apache.hc.core5.http.HttpResponse;
import org.apache.hc.core5.http.io.entity.AbstractHttpEntity;
import org.apache.hc.core5.http.io.entity.ByteArrayEntity;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.http.protocol.HttpContext;
import org.apache.hc.core5.util.TimeValue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** ContextHttpClient5 against HttpCore 5's classic server on loopback, with a real HttpClient 5. */
@Timeout(60)
class ContextHttpClient5Test {
  static final byte[] HELLO = "hello".getBytes(StandardCharsets.US_ASCII);

  private final CloseableHttpClient client = ContextHttpClient5.install(HttpClients.custom()).build();
  private final ExecutorService callers = Executors.newCachedThreadPool();
  private final CountDownLatch entered = new CountDownLatch(1);

  @AfterEach
  void stop() throws Exception {
    callers.shutdownNow();
    assertTrue(callers.awaitTermination(20, TimeUnit.SECONDS));
    client.close();
  }

  private static ClassicServer hello() {
    return new ClassicServer((request, response, context) -> response.setEntity(new ByteArrayEntity(HELLO, ContentType.TEXT_PLAIN)));
  }

  private ClassicServer blocking() {
    ClassicServer[] server = new ClassicServer[1];
    server[0] =
        new ClassicServer(
            (request, response, context) -> {
              entered.countDown();
              try {
                server[0].awaitRelease();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              response.setEntity(new ByteArrayEntity(HELLO, ContentType.TEXT_PLAIN));
            });
    return server[0];
  }

  private String get(String url, HttpClientContext http) throws IOException {
    return client.execute(new HttpGet(url), http, r -> EntityUtils.toString(r.getEntity()));
  }

  private String get(String url, Context ctx) throws IOException {
    return get(url, ContextHttpClient5.clientContext(ctx));
  }

  private static Context manual(ManualTimeSource time) {
    return Context.withTimeSource(Context.background(), time);
  }

  private static ManualTimeSource clock() {
    return ManualTimeSource.startingAt(Instant.parse("2040-01-01T00:00:00Z"));
  }

  // ------------------------------------------------------------------------------------ the header

  @Test
  void theHeaderStatesTheTimeLeftLessTheTransitAllowance() throws Exception {
    ManualTimeSource time = clock();
    try (ClassicServer server = hello();
        CancelableContext ctx = Context.withTimeout(manual(time), Duration.ofSeconds(10))) {
      assertEquals("hello", get(server.url("/"), ctx));
      assertEquals("/=9995", server.seen.take());
    }
  }

  @Test
  void theHeaderIsLessThanTheCallersBudgetOnTheSystemClock() throws Exception {
    try (ClassicServer server = hello();
        CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofSeconds(20))) {
      assertEquals("hello", get(server.url("/"), ctx));
      long sent = Long.parseLong(server.seen.take().substring(2));
      assertTrue(sent > 0 && sent <= 20_000 - 5, "sent " + sent);
    }
  }

  /**
   * A request that carries the header more than once (added twice, or forwarded from an incoming
   * request that had it twice) goes out with ctx4j's value alone, with a deadline or without: the
   * receiver takes the smallest value, so a stale one left beside ctx4j's would cut the budget.
   */
  @ParameterizedTest
  @ValueSource(strings = {"a deadline", "no deadline"})
  void severalStaleHeadersOfTheCallersAreAllReplaced(String which) throws Exception {
    BlockingQueue<String> values = new LinkedBlockingQueue<>();
    ManualTimeSource time = clock();
    try (ClassicServer server =
            new ClassicServer(
                (request, response, context) -> {
                  List<String> v = new ArrayList<>();
                  for (Header h : request.getHeaders(DeadlineHeader.NAME)) {
                    v.add(h.getValue());
                  }
                  values.add(v.toString());
                  response.setEntity(new ByteArrayEntity(HELLO, ContentType.TEXT_PLAIN));
                });
        CancelableContext ctx =
            which.equals("a deadline")
                ? Context.withTimeout(manual(time), Duration.ofSeconds(10))
                : Context.withCancel(manual(time))) {
      HttpGet stale = new HttpGet(server.url("/"));
      stale.addHeader(DeadlineHeader.NAME, "77");
      stale.addHeader(DeadlineHeader.NAME.toLowerCase(Locale.ROOT), "88");
      assertEquals(
          "hello",
          client.execute(stale, ContextHttpClient5.clientContext(ctx), r -> EntityUtils.toString(r.getEntity())));
      assertEquals(which.equals("a deadline") ? "[9995]" : "[]", values.take());
    }
  }

  @Test
  void noDeadlineSendsNoHeaderAndDropsAStaleOne() throws Exception {
    try (ClassicServer server = hello();
        CancelableContext ctx = Context.withCancel(Context.background())) {
      HttpGet stale = new HttpGet(server.url("/"));
      stale.setHeader(DeadlineHeader.NAME, "77");
      assertEquals(
          "hello",
          client.execute(stale, ContextHttpClient5.clientContext(ctx), r -> EntityUtils.toString(r.getEntity())));
      assertEquals("/=-", server.seen.take());
    }
  }

  @Test
  void withoutAnExplicitContextTheCallersCurrentContextIsUsed() throws Exception {
    ManualTimeSource time = clock();
    try (ClassicServer server = hello();
        CancelableContext ctx = Context.withTimeout(manual(time), Duration.ofSeconds(3))) {
      HttpClientContext plain = HttpClientContext.create();
      assertEquals("hello", CurrentContext.call(ctx, () -> get(server.url("/"), plain)));
      assertEquals("/=2995", server.seen.take());
      ctx.cancel();
      InterruptedIOException e =
          assertThrows(InterruptedIOException.class, () -> CurrentContext.call(ctx, () -> get(server.url("/"), plain)));
      assertInstanceOf(CanceledException.class, e.getCause());
      assertEquals(1, server.requests.get(), "a request under an ended current context was sent");
    }
  }

  @Test
  void anAttributeThatIsNotAContextIsRefusedByName() {
    HttpClientContext wrong = HttpClientContext.create();
    wrong.setAttribute(ContextHttpClient5.CONTEXT_ATTRIBUTE, "300ms");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ContextHttpClient5.contextOf(wrong));
    assertTrue(e.getMessage().contains(ContextHttpClient5.CONTEXT_ATTRIBUTE), e.getMessage());
  }

  // --------------------------------------------------------------------------- ending the context

  @Test
  void anEndedContextFailsTheRequestWithoutSendingIt() throws Exception {
    IllegalStateException why = new IllegalStateException("shutting down");
    try (ClassicServer server = hello();
        CancelableContext ctx = Context.withCancelCause(Context.background())) {
      ctx.cancel(why);
      InterruptedIOException e = assertThrows(InterruptedIOException.class, () -> get(server.url("/"), ctx));
      CanceledException err = assertInstanceOf(CanceledException.class, e.getCause());
      assertSame(why, err.getCause());
      assertEquals(0, server.requests.get(), "a request under an ended context reached the server");
    }
  }

  @Test
  void cancellingMidExchangeAbortsPromptlyWithTheContextsError() throws Exception {
    IllegalStateException why = new IllegalStateException("user went away");
    try (ClassicServer server = blocking();
        CancelableContext ctx = Context.withCancelCause(Context.background())) {
      CompletableFuture<String> call = supplyAsync(() -> get(server.url("/slow"), ctx));
      long ms = InFlight.cancelFailsTheRequest(entered, ctx, why, call, InterruptedIOException.class);
      System.out.println("httpclient5: cancel to failed request " + ms + " ms");
    }
  }

  /**
   * A gap the README states: the host name lookup runs on the calling thread inside the connection
   * operator, and the JDK's resolver ignores both the exchange's abort and the interrupt. A context
   * that ends during it is acted on when the lookup returns: the request then fails with the
   * context's error, and nothing is sent.
   */
  @Test
  void aContextEndingDuringTheHostLookupIsActedOnWhenTheLookupReturns() throws Exception {
    SlowLookup lookup = new SlowLookup();
    try (CloseableHttpClient slowDns = lookup.client(org.apache.hc.core5.util.Timeout.ofMinutes(3));
        ClassicServer server = hello();
        CancelableContext ctx = Context.withCancel(Context.background())) {
      String url = server.url("/").replace("127.0.0.1", "ctx4j-lookup.test");
      CompletableFuture<String> call =
          supplyAsync(
              () ->
                  slowDns.execute(
                      new HttpGet(url), ContextHttpClient5.clientContext(ctx), r -> EntityUtils.toString(r.getEntity())));
      assertTrue(lookup.entered.await(20, TimeUnit.SECONDS), "the client never looked the host up");
      ctx.cancel();
      assertFalse(call.isDone(), "the gap is closed: update the README's 'What happens' section");
      lookup.mayReturn.countDown();
      ExecutionException e = assertThrows(ExecutionException.class, () -> call.get(20, TimeUnit.SECONDS));
      InterruptedIOException io = assertInstanceOf(InterruptedIOException.class, e.getCause());
      assertInstanceOf(CanceledException.class, io.getCause(), () -> "failed otherwise: " + io);
      assertEquals(0, server.requests.get(), "the request was sent after its context ended");
    } finally {
      lookup.mayReturn.countDown();
    }
  }

  /**
   * The context ends while the host lookup runs; the lookup returns and the client connects to
   * the address before it notices. That connection belongs to no one (the abort discarded the
   * pooled entry that was to hold it), so unless it is closed there and then it stays open until a
   * garbage collection finds its socket. The listener here is a bare socket, so the test sees the
   * connection itself: accepted and then closed, or never made.
   */
  @Test
  void aConnectionMadeAfterTheLookupOfAnEndedRequestIsClosed() throws Exception {
    SlowLookup lookup = new SlowLookup();
    try (java.net.ServerSocket listener =
            new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        CloseableHttpClient slowDns = lookup.client(org.apache.hc.core5.util.Timeout.ofMinutes(3))) {
      endDuringLookup(lookup, slowDns, listener.getLocalPort());
      // The call has failed, so any connection it made is already queued at the listener, ahead of
      // this marker: accept up to the marker and check that each one before it has been closed.
      try (java.net.Socket marker = new java.net.Socket(listener.getInetAddress(), listener.getLocalPort())) {
        listener.setSoTimeout(20_000);
        for (; ; ) {
          try (java.net.Socket s = listener.accept()) {
            if (s.getPort() == marker.getLocalPort()) {
              break;
            }
            s.setSoTimeout(10_000);
            try {
              assertEquals(-1, s.getInputStream().read(), "the client sent something");
            } catch (java.net.SocketTimeoutException open) {
              throw new AssertionError("the client left its connection open after the request failed", open);
            } catch (java.net.SocketException reset) {
              // Closed too: an immediate close resets the connection.
            }
          }
        }
      }
    } finally {
      lookup.mayReturn.countDown();
    }
  }

  /**
   * The same lookup, then a connect that hangs: the listener's accept queue is full, so the
   * kernel drops the client's SYN. The context ended during the lookup; the connect that follows
   * must be aborted too, long before its 60 s connect timeout.
   */
  @Test
  void aContextEndingDuringTheLookupAlsoAbortsTheConnectThatFollows() throws Exception {
    SlowLookup lookup = new SlowLookup();
    try (FullListener full = new FullListener(java.net.InetAddress.getLoopbackAddress());
        CloseableHttpClient slowDns = lookup.client(org.apache.hc.core5.util.Timeout.ofSeconds(60))) {
      long tookMillis = endDuringLookup(lookup, slowDns, full.port());
      assertTrue(tookMillis < 20_000, "the connect ran " + tookMillis + " ms after its context had ended");
    } finally {
      lookup.mayReturn.countDown();
    }
  }

  /**
   * Pins what ctx4j cannot reach (README, "What happens when the context ends"): a host with two
   * addresses, the first one's connect hanging. The deferred abort closes the first socket, and
   * HttpClient goes on to the second address with a new socket on the connection it had already
   * given back, which no one can close then. The call still fails with the context's error.
   */
  @Test
  void aSecondAddressTriedAfterTheAbortGetsAConnectionNobodyCloses() throws Exception {
    java.net.InetAddress first = java.net.InetAddress.getByName("127.0.0.1");
    java.net.InetAddress second = java.net.InetAddress.getByName("127.0.0.2");
    SlowLookup lookup =
        new SlowLookup() {
          @Override
          public java.net.InetAddress[] resolve(String host) throws java.net.UnknownHostException {
            super.resolve(host);
            return new java.net.InetAddress[] {first, second};
          }
        };
    try (FullListener full = new FullListener(first);
        java.net.ServerSocket open = new java.net.ServerSocket(full.port(), 50, second);
        CloseableHttpClient slowDns = lookup.client(org.apache.hc.core5.util.Timeout.ofSeconds(60))) {
      endDuringLookup(lookup, slowDns, full.port());
      open.setSoTimeout(20_000);
      try (java.net.Socket s = open.accept()) {
        s.setSoTimeout(1_000);
        assertThrows(
            java.net.SocketTimeoutException.class,
            () -> s.getInputStream().read(),
            "the connection to the second address was closed: HttpClient no longer binds a socket to a"
                + " connection it gave back; update the README's 'What happens' section");
      }
    } finally {
      lookup.mayReturn.countDown();
    }
  }

  @Test
  void theCallersOwnCancelStillAbortsTheExchange() throws Exception {
    try (ClassicServer server = blocking();
        CancelableContext ctx = Context.withCancel(Context.background())) {
      HttpGet request = new HttpGet(server.url("/slow"));
      CompletableFuture<String> call =
          supplyAsync(
              () ->
                  client.execute(
                      request, ContextHttpClient5.clientContext(ctx), r -> EntityUtils.toString(r.getEntity())));
      assertTrue(entered.await(20, TimeUnit.SECONDS), "the request never reached the handler");
      request.cancel();
      ExecutionException e = assertThrows(ExecutionException.class, () -> call.get(20, TimeUnit.SECONDS));
      assertInstanceOf(IOException.class, e.getCause());
      assertFalse(ctx.isDone(), "the caller's cancel is not the context's");
    }
  }

  @Test
  void aRequestTheCallerCancelledBeforeExecutingIsNotSent() throws Exception {
    try (ClassicServer server = hello();
        CancelableContext ctx = Context.withCancel(Context.background())) {
      HttpGet request = new HttpGet(server.url("/"));
      request.cancel();
      RequestFailedException e =
          assertThrows(
              RequestFailedException.class,
              () -> client.execute(request, ContextHttpClient5.clientContext(ctx), r -> null));
      assertEquals("Request aborted", e.getMessage());
      assertEquals(0, server.requests.get());
    }
  }

  @Test
  void theDeadlineEndsARequestThatOutlivesIt() throws Exception {
    try (ClassicServer server = blocking();
        CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMillis(300))) {
      long t0 = System.nanoTime();
      InterruptedIOException e = assertThrows(InterruptedIOException.class, () -> get(server.url("/slow"), ctx));
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      assertInstanceOf(DeadlineExceededException.class, e.getCause());
      assertTrue(ms >= 295 && ms < 10_000, "ended after " + ms + " ms");
    }
  }

  /** A cancel while the body streams fails the blocked read, or skip, with the context's error. */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"read", "skip"})
  void cancellingWhileTheBodyStreamsFailsTheBlockedReadWithTheContextsError(String call) throws Exception {
    ClassicServer[] server = new ClassicServer[1];
    server[0] =
        new ClassicServer(
            (request, response, context) ->
                response.setEntity(
                    new AbstractHttpEntity(ContentType.TEXT_PLAIN, null, true) {
                      @Override
                      public void writeTo(OutputStream out) throws IOException {
                        out.write(HELLO);
                        out.flush();
                        try {
                          server[0].awaitRelease();
                        } catch (InterruptedException e) {
                          Thread.currentThread().interrupt();
                        }
                      }

                      @Override
                      public InputStream getContent() {
                        throw new UnsupportedOperationException();
                      }

                      @Override
                      public long getContentLength() {
                        return -1;
                      }

                      @Override
                      public boolean isRepeatable() {
                        return false;
                      }

                      @Override
                      public boolean isStreaming() {
                        return true;
                      }

                      @Override
                      public void close() {}
                    }));
    try (ClassicServer s = server[0];
        CancelableContext ctx = Context.withCancel(Context.background());
        CloseableHttpResponse r = client.execute(new HttpGet(s.url("/stream")), ContextHttpClient5.clientContext(ctx))) {
      InputStream in = r.getEntity().getContent();
      assertEquals("hello", new String(in.readNBytes(5), StandardCharsets.US_ASCII));
      CompletableFuture<Long> blockedRead = supplyAsync(() -> call.equals("read") ? in.read() : in.skip(1));
      ctx.cancel();
      ExecutionException e = assertThrows(ExecutionException.class, () -> blockedRead.get(20, TimeUnit.SECONDS));
      InterruptedIOException io = assertInstanceOf(InterruptedIOException.class, e.getCause());
      assertInstanceOf(CanceledException.class, io.getCause());
    }
  }

  /**
   * Guard (passes on the code before it was written; pins "while ... waiting for the response": the
   * entity is written inside the exchange): a context that ends while a large streaming request
   * entity is being written, to a server that reads none of it, fails the request with the
   * context's error, its cause kept, leaves the thread's interrupt status clear and no
   * registration.
   */
  @Test
  void cancellingWhileALargeRequestEntityIsSentFailsTheRequestWithTheContextsError() throws Exception {
    IllegalStateException why = new IllegalStateException("upload abandoned");
    CountDownLatch writing = new CountDownLatch(1);
    org.apache.hc.client5.http.classic.methods.HttpPost upload;
    CompletableFuture<Boolean> interruptedAfter = new CompletableFuture<>();
    try (ClassicServer server = blocking();
        CancelableContext ctx = Context.withCancelCause(Context.background())) {
      upload = new org.apache.hc.client5.http.classic.methods.HttpPost(server.url("/upload"));
      upload.setEntity(
          new AbstractHttpEntity(ContentType.APPLICATION_OCTET_STREAM, null, true) {
            @Override
            public long getContentLength() {
              return -1;
            }

            @Override
            public InputStream getContent() {
              throw new UnsupportedOperationException("written only");
            }

            @Override
            public boolean isStreaming() {
              return true;
            }

            @Override
            public boolean isRepeatable() {
              return false;
            }

            @Override
            public void writeTo(OutputStream out) throws IOException {
              byte[] chunk = new byte[64 * 1024];
              for (int i = 0; i < 16 * 1024; i++) { // 1 GiB at most: far more than the socket buffers
                out.write(chunk);
                out.flush();
                writing.countDown();
              }
            }

            @Override
            public void close() {}
          });
      CompletableFuture<String> call =
          supplyAsync(
              () -> {
                try {
                  return client.execute(
                      upload, ContextHttpClient5.clientContext(ctx), r -> EntityUtils.toString(r.getEntity()));
                } finally {
                  interruptedAfter.complete(Thread.interrupted());
                }
              });
      assertTrue(entered.await(20, TimeUnit.SECONDS), "the request never reached the server");
      assertTrue(writing.await(20, TimeUnit.SECONDS), "the entity was never written");
      ctx.cancel(why);
      ExecutionException e = assertThrows(ExecutionException.class, () -> call.get(20, TimeUnit.SECONDS));
      InterruptedIOException io = assertInstanceOf(InterruptedIOException.class, e.getCause());
      assertSame(why, assertInstanceOf(CanceledException.class, io.getCause()).getCause());
      assertFalse(interruptedAfter.get(), "the request left its thread interrupted");
      assertEquals(0, CoreInternals.registrationCount(ctx));
    }
  }

  // --------------------------------------------------------------------- redirects and retries

  /** /first advances the manual clock by 400 ms (the hop's own time) and redirects to /target. */
  private static ClassicServer redirecting(ManualTimeSource time, int status) {
    return new ClassicServer(
        (request, response, context) -> {
          if (request.getPath().equals("/first")) {
            time.advance(Duration.ofMillis(400));
            response.setCode(status);
            response.setHeader("Location", "/target");
          } else {
            response.setEntity(new ByteArrayEntity(HELLO, ContentType.TEXT_PLAIN));
          }
        });
  }

  @Test
  void everyRedirectHopStatesTheTimeLeftAtThatHop() throws Exception {
    for (int status : new int[] {301, 302, 303, 307, 308}) {
      ManualTimeSource time = clock();
      try (ClassicServer server = redirecting(time, status);
          CancelableContext ctx = Context.withTimeout(manual(time), Duration.ofSeconds(1))) {
        assertEquals("hello", get(server.url("/first"), ctx));
        assertEquals("/first=995", server.seen.take(), "status " + status);
        assertEquals("/target=595", server.seen.take(), "status " + status);
      }
    }
  }

  @Test
  void aStaleHeaderOfTheCallersRequestIsDroppedOnEveryHop() throws Exception {
    ManualTimeSource time = clock();
    try (ClassicServer server = redirecting(time, 302)) {
      HttpGet stale = new HttpGet(server.url("/first"));
      stale.setHeader(DeadlineHeader.NAME, "77");
      client.execute(stale, ContextHttpClient5.clientContext(Context.background()), r -> EntityUtils.toString(r.getEntity()));
      assertEquals("/first=-", server.seen.take());
      assertEquals("/target=-", server.seen.take());
    }
  }

  @Test
  void aRetriedRequestStatesTheTimeLeftAtTheRetry() throws Exception {
    // The default retry strategy retries a 503 once, after Retry-After (0 s here).
    ManualTimeSource time = clock();
    try (ClassicServer server =
            firstAnswerAfter300Ms(
                time,
                response -> {
                  response.setCode(503);
                  response.setHeader("Retry-After", "0");
                });
        CancelableContext ctx = Context.withTimeout(manual(time), Duration.ofSeconds(1))) {
      assertEquals("hello", get(server.url("/"), ctx));
      assertEquals("/=995", server.seen.take());
      assertEquals("/=695", server.seen.take());
    }
  }

  @Test
  void aDeadlinePassedDuringARedirectStopsTheNextHop() throws Exception {
    ManualTimeSource time = clock();
    try (ClassicServer server =
            new ClassicServer(
                (request, response, context) -> {
                  if (request.getPath().equals("/first")) {
                    time.advance(Duration.ofSeconds(2)); // past the 1 s deadline
                    response.setCode(302);
                    response.setHeader("Location", "/target");
                  } else {
                    response.setEntity(new ByteArrayEntity(HELLO, ContentType.TEXT_PLAIN));
                  }
                });
        CancelableContext ctx = Context.withTimeout(manual(time), Duration.ofSeconds(1))) {
      InterruptedIOException e = assertThrows(InterruptedIOException.class, () -> get(server.url("/first"), ctx));
      assertInstanceOf(DeadlineExceededException.class, e.getCause());
      assertEquals("/first=995", server.seen.take());
      assertEquals(1, server.requests.get(), "the redirect target was called after the deadline");
    }
  }

  @Test
  void aContextEndingDuringTheRetryPauseEndsTheCallAtOnce() throws Exception {
    // The retry handler sleeps between attempts with no connection to abort; only an interrupt
    // wakes it. The strategy says when the pause starts and makes it 60 s.
    CountDownLatch pausing = new CountDownLatch(1);
    DefaultHttpRequestRetryStrategy slowRetries =
        new DefaultHttpRequestRetryStrategy(1, TimeValue.ofSeconds(60)) {
          @Override
          public TimeValue getRetryInterval(HttpResponse response, int execCount, HttpContext context) {
            pausing.countDown();
            return TimeValue.ofSeconds(60);
          }
        };
    try (CloseableHttpClient retrying =
            ContextHttpClient5.install(HttpClients.custom().setRetryStrategy(slowRetries)).build();
        ClassicServer server = new ClassicServer((request, response, context) -> response.setCode(503));
        CancelableContext ctx = Context.withCancel(Context.background())) {
      CompletableFuture<Boolean> interruptedAfter = new CompletableFuture<>();
      CompletableFuture<String> call =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return retrying.execute(
                      new HttpGet(server.url("/")),
                      ContextHttpClient5.clientContext(ctx),
                      r -> String.valueOf(r.getCode()));
                } catch (IOException e) {
                  throw new CompletionException(e);
                } finally {
                  interruptedAfter.complete(Thread.interrupted());
                }
              },
              callers);
      assertTrue(pausing.await(20, TimeUnit.SECONDS), "the client never paused to retry");
      ctx.cancel();
      ExecutionException e =
          assertThrows(ExecutionException.class, () -> call.get(20, TimeUnit.SECONDS), "the call slept on");
      InterruptedIOException io = assertInstanceOf(InterruptedIOException.class, e.getCause());
      assertInstanceOf(CanceledException.class, io.getCause());
      assertFalse(interruptedAfter.get(), "the call left its thread interrupted");
      assertEquals(1, server.requests.get(), "the request was sent again after its context ended");
    }
  }

  // ------------------------------------------------------------------------------ install again

  /**
   * ctx4j installed twice on one builder (Spring Boot's customizer and the application's, a builder
   * passed around), installed again on a builder a client was built from, or its handlers added by
   * hand besides: each call pays once, as with one install. What a call pays: the registrations on
   * its context while the server answers and while the body is open, and how often the handlers
   * ask the context anything (both handlers ask, so a second copy of either shows).
   */
  @ParameterizedTest
  @ValueSource(
      strings = {"install twice", "install, build, install again", "added by hand, then install", "two copies by hand, then install"})
  void installingAgainPaysOnce(String row) throws Exception {
    AtomicReference<Context> current = new AtomicReference<>();
    BlockingQueue<Integer> whileAnswering = new LinkedBlockingQueue<>();
    List<CloseableHttpClient> clients = new ArrayList<>();
    try (ClassicServer server =
        new ClassicServer(
            (request, response, context) -> {
              whileAnswering.add(CoreInternals.registrationCount(current.get()));
              response.setEntity(new ByteArrayEntity(HELLO, ContentType.TEXT_PLAIN));
            })) {
      String once = payment(client, server, current, whileAnswering);
      assertEquals("1 1 0", once.substring(0, once.lastIndexOf(' ')), "one install");
      HttpClientBuilder builder = HttpClients.custom();
      switch (row) {
        case "install twice":
          clients.add(ContextHttpClient5.install(ContextHttpClient5.install(builder)).build());
          break;
        case "install, build, install again":
          clients.add(ContextHttpClient5.install(builder).build());
          clients.add(ContextHttpClient5.install(builder).build());
          break;
        case "added by hand, then install":
          builder
              .addExecInterceptorFirst("mine", ContextHttpClient5.callHandler())
              .addExecInterceptorLast("my-hop", ContextHttpClient5.hopHandler());
          clients.add(ContextHttpClient5.install(builder).build());
          break;
        default: // three copies of each in one chain
          builder
              .addExecInterceptorFirst("mine", ContextHttpClient5.callHandler())
              .addExecInterceptorFirst("mine too", ContextHttpClient5.callHandler())
              .addExecInterceptorLast("my-hop", ContextHttpClient5.hopHandler())
              .addExecInterceptorLast("my-hop too", ContextHttpClient5.hopHandler());
          clients.add(ContextHttpClient5.install(builder).build());
      }
      for (CloseableHttpClient c : clients) {
        assertEquals(
            once,
            payment(c, server, current, whileAnswering),
            row + ": registrations while the server answers, with the body open, after it; context queries");
        assertTrue(server.seen.take().matches("/=\\d+"), "the header");
      }
    } finally {
      for (CloseableHttpClient c : clients) {
        c.close();
      }
    }
  }

  /**
   * A nested {@code execute} on the caller's {@code HttpContext} (here from an exec interceptor
   * below the call handler), which carries no context attribute of the caller's, runs under the
   * current context of its own caller, as any such request does: not under the outer call's,
   * whose call handler is at work on that {@code HttpContext}.
   */
  @Test
  void aNestedCallOnTheSameHttpContextRunsUnderItsOwnCurrentContext() throws Exception {
    AtomicReference<CloseableHttpClient> nesting = new AtomicReference<>();
    BlockingQueue<String> inner = new LinkedBlockingQueue<>();
    try (ClassicServer server =
            new ClassicServer(
                (request, response, context) -> response.setEntity(new ByteArrayEntity(HELLO, ContentType.TEXT_PLAIN)));
        CloseableHttpClient c =
            ContextHttpClient5.install(HttpClients.custom())
                .addExecInterceptorAfter(
                    ContextHttpClient5.CALL_HANDLER,
                    "nesting",
                    (request, scope, chain) -> {
                      if (request.getPath().equals("/outer")) {
                        try (CancelableContext mine = Context.withTimeout(Context.background(), Duration.ofSeconds(5))) {
                          inner.add(
                              CurrentContext.call(
                                  mine,
                                  () ->
                                      nesting
                                          .get()
                                          .execute(
                                              new HttpGet(server.url("/inner")),
                                              scope.clientContext,
                                              r -> EntityUtils.toString(r.getEntity()))));
                        } catch (Exception e) {
                          inner.add(e.toString());
                        }
                      }
                      return chain.proceed(request, scope);
                    })
                .build();
        CancelableContext outer = Context.withTimeout(Context.background(), Duration.ofMinutes(10))) {
      nesting.set(c);
      HttpClientContext shared = HttpClientContext.create();
      assertEquals(
          "hello",
          CurrentContext.call(
              outer, () -> c.execute(new HttpGet(server.url("/outer")), shared, r -> EntityUtils.toString(r.getEntity()))));
      assertEquals("hello", inner.take());
      String innerSeen = server.seen.take();
      assertTrue(innerSeen.startsWith("/inner="), innerSeen);
      long budget = Long.parseLong(innerSeen.substring("/inner=".length()));
      assertTrue(budget <= 5_000, "the nested call's budget, under its caller's current context of 5 s: " + innerSeen);
      assertTrue(server.seen.take().matches("/outer=\\d{6}"), "the outer call's own budget");
      assertEquals(null, shared.getAttribute(ContextHttpClient5.CONTEXT_ATTRIBUTE), "nothing left on the HttpContext");
    }
  }

  /**
   * A hop handler added by hand above the retry handler, or above the authentication handler ({@code
   * ProtocolExec}, which sends its next round within that copy's pass), besides {@code install}'s
   * (and one more below): a copy below passes on only the request the first has just stated, on
   * its way down, so a retry or authentication round still gets the time left at that round.
   */
  @ParameterizedTest
  @ValueSource(strings = {"RETRY", "PROTOCOL", "PROTOCOL, one more below"})
  void aHopHandlerAlsoAddedAboveLeavesEachRoundItsOwnBudget(String row) throws Exception {
    String above = row.split(",")[0];
    HttpClientBuilder builder = HttpClients.custom();
    if (row.endsWith("below")) {
      builder.addExecInterceptorLast("my-hop below", ContextHttpClient5.hopHandler());
    }
    ManualTimeSource time = clock();
    org.apache.hc.client5.http.impl.auth.BasicCredentialsProvider credentials = userAndSecret();
    try (CloseableHttpClient both =
            ContextHttpClient5.install(
                    builder
                        .setDefaultCredentialsProvider(credentials)
                        .addExecInterceptorBefore(above, "my-hop", ContextHttpClient5.hopHandler()))
                .build();
        ClassicServer server =
            firstAnswerAfter300Ms(
                time,
                response -> {
                  if (above.equals("RETRY")) {
                    response.setCode(503);
                    response.setHeader("Retry-After", "0");
                  } else {
                    response.setCode(401);
                    response.setHeader("WWW-Authenticate", "Basic realm=\"ctx4j\"");
                  }
                });
        CancelableContext ctx = Context.withTimeout(manual(time), Duration.ofSeconds(1))) {
      assertEquals(
          "hello",
          both.execute(new HttpGet(server.url("/")), ContextHttpClient5.clientContext(ctx), r -> EntityUtils.toString(r.getEntity())));
      assertEquals("/=995", server.seen.take());
      assertEquals("/=695", server.seen.take(), "the second round");
    }
  }

  /**
   * Guard of the rule the README and the javadoc of {@code hopHandler()} state (passes on the code
   * before it was written): a hop handler above {@code RedirectExec} and the retry handler (added
   * with {@code addExecInterceptorFirst}) sees a call's first request only, so with no copy below
   * them a redirect hop or a retry goes out as HttpClient builds it from the caller's request: here
   * with no budget at all ("-"), not the time left at that hop; with {@code install}'s copy below as
   * well, each gets its own budget. ctx4j cannot see the
   * chain below a handler, so it cannot refuse the first setup without refusing the second.
   */
  @ParameterizedTest
  @ValueSource(strings = {"REDIRECT, no copy below", "REDIRECT, install's copy below", "RETRY, no copy below", "RETRY, install's copy below"})
  void aHopHandlerAddedFirstStatesTheFirstRequestOnlyUnlessACopySitsBelow(String row) throws Exception {
    boolean below = row.endsWith("install's copy below");
    HttpClientBuilder builder =
        HttpClients.custom()
            .addExecInterceptorFirst("my-hop", ContextHttpClient5.hopHandler())
            .addExecInterceptorFirst("my-call", ContextHttpClient5.callHandler());
    ManualTimeSource time = clock();
    try (CloseableHttpClient c = (below ? ContextHttpClient5.install(builder) : builder).build();
        ClassicServer server =
            row.startsWith("REDIRECT")
                ? redirecting(time, 302)
                : firstAnswerAfter300Ms(
                    time,
                    response -> {
                      response.setCode(503);
                      response.setHeader("Retry-After", "0");
                    });
        CancelableContext ctx = Context.withTimeout(manual(time), Duration.ofSeconds(1))) {
      String url = server.url(row.startsWith("REDIRECT") ? "/first" : "/");
      assertEquals("hello", c.execute(new HttpGet(url), ContextHttpClient5.clientContext(ctx), r -> EntityUtils.toString(r.getEntity())));
      List<String> seen = List.of(server.seen.take(), server.seen.take());
      List<String> expected =
          row.startsWith("REDIRECT")
              ? List.of("/first=995", below ? "/target=595" : "/target=-")
              : List.of("/=995", below ? "/=695" : "/=-");
      assertEquals(expected, seen, row);
      assertEquals(0, CoreInternals.registrationCount(ctx));
    }
  }

  /**
   * Guard (passes on the code before it was written): the round a proxy's 407 asks for ({@code
   * ProtocolExec}, with the proxy's credentials) states the time left at that round.
   */
  @Test
  void aProxyAuthenticationRoundStatesTheTimeLeftAtThatRound() throws Exception {
    ManualTimeSource time = clock();
    try (ClassicServer proxy =
            firstAnswerAfter300Ms(
                time,
                response -> {
                  response.setCode(407);
                  response.setHeader("Proxy-Authenticate", "Basic realm=\"ctx4j\"");
                });
        CancelableContext ctx = Context.withTimeout(manual(time), Duration.ofSeconds(1))) {
      java.net.URI at = java.net.URI.create(proxy.url("/"));
      org.apache.hc.client5.http.impl.auth.BasicCredentialsProvider credentials =
          new org.apache.hc.client5.http.impl.auth.BasicCredentialsProvider();
      credentials.setCredentials(
          new org.apache.hc.client5.http.auth.AuthScope(at.getHost(), at.getPort()),
          new org.apache.hc.client5.http.auth.UsernamePasswordCredentials("user", "secret".toCharArray()));
      try (CloseableHttpClient proxied =
          ContextHttpClient5.install(
                  HttpClients.custom()
                      .setProxy(new org.apache.hc.core5.http.HttpHost(at.getHost(), at.getPort()))
                      .setDefaultCredentialsProvider(credentials))
              .build()) {
        // The target is the proxy's own address: HttpCore's server answers only for its own host.
        assertEquals(
            "hello",
            proxied.execute(
                new HttpGet("http://" + at.getHost() + ":9/resource"),
                ContextHttpClient5.clientContext(ctx),
                r -> EntityUtils.toString(r.getEntity())));
      }
      assertEquals(List.of("/resource=995", "/resource=695"), List.of(proxy.seen.take(), proxy.seen.take()));
    }
  }

  /**
   * A server whose first answer is {@code first}'s, given 300 ms later on {@code time}; "hello"
   * after that.
   */
  private static ClassicServer firstAnswerAfter300Ms(
      ManualTimeSource time, java.util.function.Consumer<org.apache.hc.core5.http.ClassicHttpResponse> first) {
    AtomicInteger n = new AtomicInteger();
    return new ClassicServer(
        (request, response, context) -> {
          if (n.getAndIncrement() == 0) {
            time.advance(Duration.ofMillis(300));
            first.accept(response);
          } else {
            response.setEntity(new ByteArrayEntity(HELLO, ContentType.TEXT_PLAIN));
          }
        });
  }

  /**
   * One call under a context of its own that counts the questions put to it: "registrations while
   * the server answers, with the body open, after it, context queries".
   */
  private static String payment(
      CloseableHttpClient c, ClassicServer server, AtomicReference<Context> current, BlockingQueue<Integer> whileAnswering)
      throws Exception {
    server.seen.clear();
    try (CancelableContext real = Context.withTimeout(Context.background(), Duration.ofMinutes(10))) {
      current.set(real);
      AtomicInteger queries = new AtomicInteger();
      Context counted =
          new Context() {
            @Override
            public io.ctx4j.ContextException err() {
              queries.incrementAndGet();
              return real.err();
            }

            @Override
            public java.util.Optional<Instant> deadline() {
              queries.incrementAndGet();
              return real.deadline();
            }

            @Override
            public <T> T value(io.ctx4j.Key<T> key) {
              queries.incrementAndGet();
              return real.value(key);
            }

            @Override
            public io.ctx4j.Registration onDone(Runnable callback) {
              queries.incrementAndGet();
              return real.onDone(callback);
            }
          };
      int open;
      try (CloseableHttpResponse r = c.execute(new HttpGet(server.url("/")), ContextHttpClient5.clientContext(counted))) {
        open = CoreInternals.registrationCount(real);
        assertEquals("hello", EntityUtils.toString(r.getEntity()));
      }
      return whileAnswering.take() + " " + open + " " + CoreInternals.registrationCount(real) + " " + queries.get();
    }
  }

  interface IoSupplier<T> {
    T get() throws IOException;
  }

  /**
   * A listener on {@code address} whose accept queue is full, so that a connect to it hangs (the
   * kernel drops the SYN): a backlog of 1 holds the two connections made here, which nobody accepts.
   */
  private static final class FullListener implements AutoCloseable {
    private final java.net.ServerSocket server;
    private final java.util.List<java.net.Socket> queued = new java.util.ArrayList<>();

    FullListener(java.net.InetAddress address) throws IOException {
      server = new java.net.ServerSocket(0, 1, address);
      try {
        for (int i = 0; i < 2; i++) {
          queued.add(new java.net.Socket(address, server.getLocalPort()));
        }
      } catch (IOException e) {
        close();
        throw e;
      }
    }

    int port() {
      return server.getLocalPort();
    }

    @Override
    public void close() throws IOException {
      for (java.net.Socket s : queued) {
        s.close();
      }
      server.close();
    }
  }

  /**
   * A host lookup that blocks until the test lets it return (loopback then), and ignores
   * interrupts meanwhile, as the JDK's resolver does.
   */
  /** Credentials for any host: user "user", password "secret". */
  static org.apache.hc.client5.http.impl.auth.BasicCredentialsProvider userAndSecret() {
    org.apache.hc.client5.http.impl.auth.BasicCredentialsProvider credentials =
        new org.apache.hc.client5.http.impl.auth.BasicCredentialsProvider();
    credentials.setCredentials(
        new org.apache.hc.client5.http.auth.AuthScope(null, -1),
        new org.apache.hc.client5.http.auth.UsernamePasswordCredentials("user", "secret".toCharArray()));
    return credentials;
  }

  private static class SlowLookup extends org.apache.hc.client5.http.SystemDefaultDnsResolver {
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch mayReturn = new CountDownLatch(1);

    @Override
    public java.net.InetAddress[] resolve(String host) throws java.net.UnknownHostException {
      entered.countDown();
      if (!io.ctx4j.testing.Quietly.awaitIgnoringInterrupts(mayReturn, Duration.ofSeconds(30))) {
        throw new java.net.UnknownHostException("the test never released the lookup of " + host);
      }
      return new java.net.InetAddress[] {java.net.InetAddress.getLoopbackAddress()};
    }

    /** A ctx4j client whose connections look hosts up here. */
    CloseableHttpClient client(org.apache.hc.core5.util.Timeout connectTimeout) {
      return ContextHttpClient5.install(
              HttpClients.custom()
                  .setConnectionManager(
                      org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder.create()
                          .setDnsResolver(this)
                          .setDefaultConnectionConfig(
                              org.apache.hc.client5.http.config.ConnectionConfig.custom()
                                  .setConnectTimeout(connectTimeout)
                                  .build())
                          .build()))
          .build();
    }
  }

  /**
   * Calls {@code port} of a host that {@code lookup} resolves, ends the call's context during the
   * lookup, lets the lookup return, and checks that the call fails with the context's error.
   *
   * @return milliseconds from the lookup's return to the call's failure
   */
  private long endDuringLookup(SlowLookup lookup, CloseableHttpClient client, int port) throws Exception {
    try (CancelableContext ctx = Context.withCancel(Context.background())) {
      String url = "http://ctx4j-lookup.test:" + port + "/";
      CompletableFuture<String> call =
          supplyAsync(
              () -> client.execute(new HttpGet(url), ContextHttpClient5.clientContext(ctx), r -> EntityUtils.toString(r.getEntity())));
      assertTrue(lookup.entered.await(20, TimeUnit.SECONDS), "the client never looked the host up");
      ctx.cancel();
      long released = System.nanoTime();
      lookup.mayReturn.countDown();
      ExecutionException e = assertThrows(ExecutionException.class, () -> call.get(30, TimeUnit.SECONDS));
      long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - released);
      assertInstanceOf(CanceledException.class, e.getCause().getCause(), () -> "failed otherwise: " + e.getCause());
      return tookMillis;
    }
  }

  private <T> CompletableFuture<T> supplyAsync(IoSupplier<T> s) {
    return CompletableFuture.supplyAsync(
        () -> {
          try {
            return s.get();
          } catch (IOException e) {
            throw new CompletionException(e);
          }
        },
        callers);
  }
}
