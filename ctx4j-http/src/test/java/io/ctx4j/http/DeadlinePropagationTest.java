package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.testing.Quietly;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Authenticator;
import java.net.PasswordAuthentication;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The budget the receiver gets, over a real JDK HttpServer and HttpClient on loopback, in one JVM
 * so that both sides read the same clock (issue 15 items 7 and 8).
 */
@Timeout(120)
class DeadlinePropagationTest {
  /** What the sender withholds for the request's way to the receiver. */
  private static final Duration ALLOWANCE = Duration.ofMillis(5);

  /** A client that follows redirects, as ctx4j's redirect tests need. */
  /** An HTTP/1.1 client's builder, following redirects ({@code NORMAL}) or not. */
  private static HttpClient.Builder http11(boolean followsRedirects) {
    return HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .followRedirects(followsRedirects ? HttpClient.Redirect.NORMAL : HttpClient.Redirect.NEVER);
  }

  private static HttpClient following() {
    return HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .followRedirects(HttpClient.Redirect.NORMAL)
        .build();
  }

  private static void reply(HttpExchange ex, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  /** Answers with the request context's deadline and the header value it was made from. */
  private static void deadlineAndHeader(HttpExchange ex) throws IOException {
    reply(
        ex,
        200,
        ContextFilter.current().deadline().orElseThrow()
            + " "
            + ex.getRequestHeaders().getFirst(DeadlineHeader.NAME));
  }

  /**
   * The receiver's deadline is never later than the caller's, except by as much as the request took
   * beyond the allowance to get from the caller's clock read to the filter. The bound is exact, not
   * statistical: the caller's clock read is after {@code before}, the receiver's arrival is its
   * deadline minus the header value, so a request that arrived within the allowance must give the
   * receiver the earlier deadline. (Before the fix every request arrived 0.9-2.1 ms later.)
   */
  @Test
  void theReceiversDeadlineIsNeverLaterThanTheCallersBeyondTheTransitAllowance() throws Exception {
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    try (LoopbackServer s = new LoopbackServer(DeadlinePropagationTest::deadlineAndHeader)) {
      try (CancelableContext warmUp = Context.withTimeout(Context.background(), Duration.ofSeconds(5))) {
        ContextHttp.send(warmUp, client, HttpRequest.newBuilder(s.uri()).build(), BodyHandlers.discarding());
      }
      int earlierOrEqual = 0;
      List<String> late = new ArrayList<>();
      for (int i = 0; i < 40; i++) {
        try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofSeconds(5))) {
          Instant before = Instant.now();
          String[] seen =
              ContextHttp.send(ctx, client, HttpRequest.newBuilder(s.uri()).build(), BodyHandlers.ofString())
                  .body()
                  .split(" ");
          Instant receiverDeadline = Instant.parse(seen[0]);
          Instant arrival = receiverDeadline.minusMillis(Long.parseLong(seen[1]));
          Duration transitAtMost = Duration.between(before, arrival);
          Duration lateBy = Duration.between(ctx.deadline().orElseThrow(), receiverDeadline);
          Duration excess = transitAtMost.minus(ALLOWANCE);
          Duration bound = excess.isNegative() ? Duration.ZERO : excess;
          if (lateBy.compareTo(bound) > 0) {
            late.add("request " + i + ": " + lateBy.toNanos() / 1000 + " us late, transit <= " + transitAtMost.toNanos() / 1000 + " us");
          }
          if (!lateBy.isNegative() && !lateBy.isZero()) {
            continue;
          }
          earlierOrEqual++;
        }
      }
      assertTrue(late.isEmpty(), "receiver's deadline later than the caller's: " + late);
      System.out.println("DeadlinePropagationTest: receiver's deadline not later in " + earlierOrEqual + " of 40 requests");
    }
  }

  /**
   * With Redirect.NORMAL, a first hop that spends 400 ms of a 1 s budget before its 302: the
   * redirect target must get at most the 600 ms that are left, not the stale header of the first
   * request (961-985 ms before the fix).
   */
  @Test
  void aRedirectTargetGetsTheBudgetLeftAtItsHopNotTheFirstHopsHeader() throws Exception {
    ConcurrentLinkedQueue<String> secondHop = new ConcurrentLinkedQueue<>();
    try (LoopbackServer target =
            new LoopbackServer(
                ex -> {
                  secondHop.add(ex.getRequestHeaders().getFirst(DeadlineHeader.NAME));
                  reply(ex, 200, "arrived");
                });
        LoopbackServer first =
            new LoopbackServer(
                ex -> {
                  // A slow first hop: 400 ms on a timer before it redirects.
                  try {
                    Context.withTimeout(Context.background(), Duration.ofMillis(400)).await();
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                  }
                  ex.getResponseHeaders().set("Location", target.uri().toString());
                  reply(ex, 302, "");
                })) {
      try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofSeconds(1))) {
        HttpResponse<String> r =
            ContextHttp.send(ctx, following(), HttpRequest.newBuilder(first.uri()).build(), BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        assertEquals("arrived", r.body());
        assertEquals(URI.create(target.uri().toString()), r.uri());
        assertTrue(r.previousResponse().isPresent(), "the 302 is not in previousResponse()");
        assertEquals(302, r.previousResponse().get().statusCode());
      }
      assertEquals(1, secondHop.size());
      long sent = Long.parseLong(secondHop.peek());
      assertTrue(sent <= 600, "the redirect target was sent " + sent + " ms after 400 ms of 1000 had gone");
    }
  }

  /** A context that ends while ctx4j is on a redirect's second hop aborts that hop. */
  @Test
  void endingTheContextDuringARedirectHopAbortsIt() throws Exception {
    CountDownLatch secondHopEntered = new CountDownLatch(1);
    CountDownLatch testOver = new CountDownLatch(1);
    try (LoopbackServer target =
            new LoopbackServer(
                ex -> {
                  secondHopEntered.countDown();
                  Quietly.await(testOver, Duration.ofSeconds(30));
                  reply(ex, 200, "too late");
                });
        LoopbackServer first =
            new LoopbackServer(
                ex -> {
                  ex.getResponseHeaders().set("Location", target.uri().toString());
                  reply(ex, 302, "");
                })) {
      CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(1));
      CompletableFuture<HttpResponse<String>> call =
          ContextHttp.sendAsync(ctx, following(), HttpRequest.newBuilder(first.uri()).build(), BodyHandlers.ofString());
      try {
        assertTrue(secondHopEntered.await(10, TimeUnit.SECONDS), "the redirect was not followed");
        ctx.cancel();
        CancellationException e =
            assertThrows(CancellationException.class, () -> call.get(5, TimeUnit.SECONDS), "not aborted");
        // JDK 17 rethrows the failure itself; newer JDKs wrap it.
        assertInstanceOf(CanceledException.class, e instanceof CanceledException ? e : e.getCause());
      } finally {
        testOver.countDown();
      }
    }
  }

  /**
   * The README's known gap: a client with an {@code Authenticator} answers a {@code 401} by sending
   * the request again itself, inside the JDK, with the first request's {@code Ctx4j-Timeout-Ms},
   * stale by the 401's round trip (here 3 s of 10 on the context's clock, passed while the first
   * request was at the server). ctx4j sees neither the 401 nor the second request. Pinned so that
   * the README changes with it.
   */
  @ParameterizedTest(name = "client following redirects: {0}")
  @ValueSource(booleans = {false, true})
  void anAuthenticationRetryByTheJdkResendsTheFirstRequestsBudget(boolean followsRedirects)
      throws Exception {
    ManualTimeSource time = ManualTimeSource.startingAt(Instant.parse("2040-06-01T00:00:00Z"));
    List<String> budgets = new java.util.concurrent.CopyOnWriteArrayList<>();
    HttpClient client =
        http11(followsRedirects)
            .authenticator(
                new Authenticator() {
                  @Override
                  protected PasswordAuthentication getPasswordAuthentication() {
                    return new PasswordAuthentication("user", "secret".toCharArray());
                  }
                })
            .build();
    try (LoopbackServer s =
            new LoopbackServer(
                ex -> {
                  budgets.add(ex.getRequestHeaders().getFirst(DeadlineHeader.NAME));
                  if (ex.getRequestHeaders().getFirst("Authorization") == null) {
                    time.advance(Duration.ofSeconds(3)); // the first request's time at the server
                    ex.getResponseHeaders().set("WWW-Authenticate", "Basic realm=\"test\"");
                    reply(ex, 401, "");
                    return;
                  }
                  reply(ex, 200, "in");
                });
        CancelableContext ctx =
            Context.withTimeout(
                Context.withTimeSource(Context.background(), time), Duration.ofSeconds(10))) {
      HttpResponse<String> r =
          ContextHttp.send(ctx, client, HttpRequest.newBuilder(s.uri()).build(), BodyHandlers.ofString());
      assertEquals("in", r.body());
      assertEquals(List.of("9995", "9995"), budgets, "the budgets the server saw (6995 was left)");
    }
  }

  /**
   * The README's other known gap: a GET or HEAD whose connection the server closes before any byte
   * of the answer (a server restarted, a proxy's idle timeout) is sent again by the JDK itself, on
   * a new connection, with the first attempt's {@code Ctx4j-Timeout-Ms}, stale by the
   * time the server held it (here 3 s of 10 on the context's clock). ctx4j sees neither the failed
   * attempt nor the second one. A raw server: the first call is answered, the second is read on
   * the same, pooled connection and the connection closed unanswered (a fresh one is retried too,
   * JDK 17 to 25: Http1Exchange asks for the retry on every exchange), the retry answered on a new
   * one.
   */
  @ParameterizedTest(name = "client following redirects: {0}")
  @ValueSource(booleans = {false, true})
  void aRetryByTheJdkOfARequestWhosePooledConnectionClosedResendsItsBudget(
      boolean followsRedirects) throws Exception {
    ManualTimeSource time = ManualTimeSource.startingAt(Instant.parse("2040-06-01T00:00:00Z"));
    List<String> budgets = new java.util.concurrent.CopyOnWriteArrayList<>();
    HttpClient client = http11(followsRedirects).build();
    byte[] ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nin".getBytes(StandardCharsets.US_ASCII);
    try (java.net.ServerSocket server =
            new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        CancelableContext ctx =
            Context.withTimeout(
                Context.withTimeSource(Context.background(), time), Duration.ofSeconds(10))) {
      CompletableFuture<Void> served =
          CompletableFuture.runAsync(
              () -> {
                try (java.net.Socket pooled = server.accept()) {
                  budgets.add(budgetOf(pooled.getInputStream()));
                  pooled.getOutputStream().write(ok);
                  budgets.add(budgetOf(pooled.getInputStream()));
                  time.advance(Duration.ofSeconds(3)); // the second request's time at the server
                } catch (IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
                try (java.net.Socket fresh = server.accept()) {
                  budgets.add(budgetOf(fresh.getInputStream()));
                  fresh.getOutputStream().write(ok);
                } catch (IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              },
              r -> new Thread(r, "raw-server").start());
      HttpRequest get = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.getLocalPort() + "/")).build();
      assertEquals("in", ContextHttp.send(ctx, client, get, BodyHandlers.ofString()).body());
      assertEquals("in", ContextHttp.send(ctx, client, get, BodyHandlers.ofString()).body());
      served.get(10, TimeUnit.SECONDS);
      assertEquals(
          List.of("9995", "9995", "9995"), budgets, "the budgets the server saw (6995 was left)");
      assertEquals(Duration.ofSeconds(7), ctx.remaining().orElseThrow());
    }
  }

  /** Reads one request head from {@code in}; returns its Ctx4j-Timeout-Ms value, or null. */
  private static String budgetOf(java.io.InputStream in) throws IOException {
    StringBuilder head = new StringBuilder();
    while (head.length() < 4 || !head.substring(head.length() - 4).equals("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new java.io.EOFException("request head cut short: " + head);
      }
      head.append((char) b);
    }
    for (String line : head.toString().split("\r\n")) {
      int colon = line.indexOf(':');
      if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(DeadlineHeader.NAME)) {
        return line.substring(colon + 1).trim();
      }
    }
    return null;
  }
  /**
   * A caller with the transit allowance or less left sends its request with a budget of {@code 0},
   * as the README says, rather than fail before its deadline: its context has not ended and has no
   * cause to fail with, and the answer may still come in time. The receiver's request context is
   * over as the request arrives. (gRPC, Java and Go, likewise fails a call locally only once its
   * deadline has passed.) The caller's clock is a ManualTimeSource, so the caller's own deadline
   * does not pass during the exchange.
   */
  @ParameterizedTest(name = "{0} ms left")
  @CsvSource({"1, 0", "5, 0", "6, 1"})
  void aCallerWithTheTransitAllowanceOrLessLeftSendsABudgetOfZero(long leftMs, String sent)
      throws Exception {
    ManualTimeSource time = ManualTimeSource.startingAt(Instant.parse("2040-06-01T00:00:00Z"));
    List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    try (LoopbackServer s =
            new LoopbackServer(
                ex -> {
                  Context request = ContextFilter.current();
                  seen.add(ex.getRequestHeaders().getFirst(DeadlineHeader.NAME));
                  seen.add(String.valueOf(request.isDone() ? request.err() : "live"));
                  reply(ex, 200, "answered");
                });
        CancelableContext ctx =
            Context.withTimeout(
                Context.withTimeSource(Context.background(), time), Duration.ofSeconds(10))) {
      time.advance(Duration.ofSeconds(10).minusMillis(leftMs));
      HttpResponse<String> r =
          ContextHttp.send(ctx, following(), HttpRequest.newBuilder(s.uri()).build(), BodyHandlers.ofString());
      assertEquals("answered", r.body());
      assertEquals(sent, seen.get(0), "the budget sent with " + leftMs + " ms left");
      if (sent.equals("0")) {
        assertEquals(String.valueOf(Context.DEADLINE_EXCEEDED), seen.get(1), "the receiver's context");
      }
      assertEquals(null, ctx.err(), "the caller's context has not ended");
    }
  }
}
