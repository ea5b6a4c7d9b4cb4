package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.Filter;
import com.sun.net.httpserver.HttpExchange;
import io.ctx4j.Context;
import io.ctx4j.ManualTimeSource;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.net.InetAddress;
import java.net.Socket;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** ContextFilter at the edges of its contract, over a real JDK server. */
@Timeout(120)
class ContextFilterEdgeTest {
  private static final HttpClient CLIENT =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private static void reply(com.sun.net.httpserver.HttpExchange ex, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.sendResponseHeaders(200, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"+5", "-1", "000000050", "123456789", "99999999999999999999", "0x10", "5 0", "1e3"})
  void signsOverlongValuesAndOverflowAreRejectedWith400(String value) throws Exception {
    try (LoopbackServer s = new LoopbackServer(ex -> reply(ex, "handler ran"))) {
      HttpResponse<String> r =
          CLIENT.send(HttpRequest.newBuilder(s.uri()).header(DeadlineHeader.NAME, value).build(), BodyHandlers.ofString());
      assertEquals(400, r.statusCode());
      assertTrue(r.body().contains(DeadlineHeader.NAME) && r.body().contains(value), r.body());
    }
  }

  /**
   * A HEAD request may have no body in its answer: the JDK server ends the exchange as soon as the
   * 400's headers are out, and writing the message as body then failed, so that ContextFilter threw
   * an IOException at the filters in front of it and the connection was closed.
   */
  @Test
  void aMalformedHeaderOnAHeadRequestIsAnswered400WithoutTheFilterFailing() throws Exception {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch filtered = new CountDownLatch(1);
    Filter outer =
        new Filter() {
          @Override
          public void doFilter(HttpExchange ex, Chain chain) throws IOException {
            try {
              chain.doFilter(ex);
            } catch (IOException | RuntimeException e) {
              failure.set(e);
              throw e;
            } finally {
              filtered.countDown();
            }
          }

          @Override
          public String description() {
            return "records what the filters behind it throw";
          }
        };
    try (LoopbackServer s = new LoopbackServer(ex -> reply(ex, "handler ran"))) {
      s.server
          .createContext("/head", ex -> reply(ex, "handler ran"))
          .getFilters()
          .addAll(List.of(outer, ContextFilter.create()));
      HttpRequest head =
          HttpRequest.newBuilder(s.uri().resolve("/head"))
              .method("HEAD", HttpRequest.BodyPublishers.noBody())
              .header(DeadlineHeader.NAME, "soon")
              .build();
      assertEquals(400, CLIENT.send(head, BodyHandlers.discarding()).statusCode());
      assertTrue(filtered.await(10, TimeUnit.SECONDS), "the filter never ran");
      assertNull(failure.get(), "ContextFilter failed answering 400 to a HEAD request");
    }
  }

  /**
   * Skipping the request body reads it as much as read() does, and fails as read() does when the
   * client has left halfway (JDK 25's server; JDK 17's skips the raw connection, so a filter in
   * front gives the request body JDK 25's skip here): the request context must end with that
   * failure, as it does for a failed read.
   */
  @Test
  void aSkipOfTheRequestBodyThatFailsEndsTheContextWithItsFailure() throws Exception {
    AtomicReference<Throwable> skipFailure = new AtomicReference<>();
    AtomicReference<Throwable> causeAfterIt = new AtomicReference<>();
    CountDownLatch skipped = new CountDownLatch(1);
    Filter readingSkip =
        Filter.beforeHandler(
            "a request body whose skip reads, as on JDK 25",
            ex -> ex.setStreams(new ReadingSkip(ex.getRequestBody()), null));
    try (LoopbackServer s = new LoopbackServer(ex -> reply(ex, "unused"))) {
      s.server
          .createContext(
              "/skip",
              ex -> {
                try {
                  ex.getRequestBody().skip(1_000_000);
                } catch (IOException e) {
                  skipFailure.set(e);
                  causeAfterIt.set(ContextFilter.current().cause());
                  throw e;
                } finally {
                  skipped.countDown();
                }
                reply(ex, "all skipped");
              })
          .getFilters()
          .addAll(List.of(readingSkip, ContextFilter.create()));
      try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), s.server.getAddress().getPort())) {
        String head =
            "POST /skip HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n0123456789";
        socket.getOutputStream().write(head.getBytes(StandardCharsets.ISO_8859_1));
        socket.getOutputStream().flush();
      } // the client leaves with 999,990 bytes of its body unsent
      assertTrue(skipped.await(10, TimeUnit.SECONDS), "the handler never ran");
      assertTrue(skipFailure.get() instanceof IOException, "the skip did not fail: " + skipFailure.get());
      assertSame(skipFailure.get(), causeAfterIt.get(), "the request context's cause after the failed skip");
    }
  }

  /**
   * Closing the request body reads the unread rest of it (the JDK server drains it, up to {@code
   * sun.net.httpserver.drainAmount}), and fails when the client has left halfway: the request
   * context must end with that failure, as it does for a failed read or skip.
   */
  @Test
  void aCloseOfTheRequestBodyThatFailsEndsTheContextWithItsFailure() throws Exception {
    AtomicReference<Throwable> closeFailure = new AtomicReference<>();
    AtomicReference<Throwable> causeAfterIt = new AtomicReference<>();
    CountDownLatch closed = new CountDownLatch(1);
    CountDownLatch clientLeft = new CountDownLatch(1);
    try (LoopbackServer s =
        new LoopbackServer(
            ex -> {
              try {
                assertTrue(clientLeft.await(30, TimeUnit.SECONDS));
                ex.getRequestBody().close();
              } catch (IOException e) {
                closeFailure.set(e);
                causeAfterIt.set(ContextFilter.current().cause());
                throw e;
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              } finally {
                closed.countDown();
              }
              reply(ex, "closed");
            })) {
      try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), s.server.getAddress().getPort())) {
        String head = "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n0123456789";
        socket.getOutputStream().write(head.getBytes(StandardCharsets.ISO_8859_1));
        socket.getOutputStream().flush();
      } // the client leaves with 999,990 bytes of its body unsent
      clientLeft.countDown();
      assertTrue(closed.await(30, TimeUnit.SECONDS), "the handler never ran, or its close never returned");
      assertTrue(closeFailure.get() instanceof IOException, "the close did not fail: " + closeFailure.get());
      assertSame(closeFailure.get(), causeAfterIt.get(), "the request context's cause after the failed close");
    }
  }

  /** A request body whose skip reads what it skips, and fails if the body ends early. */
  private static final class ReadingSkip extends FilterInputStream {
    ReadingSkip(InputStream in) {
      super(in);
    }

    @Override
    public long skip(long n) throws IOException {
      long left = n;
      for (byte[] buf = new byte[8192]; left > 0; ) {
        int r = in.read(buf, 0, (int) Math.min(buf.length, left));
        if (r < 0) {
          throw new IOException("connection closed before all data received");
        }
        left -= r;
      }
      return n;
    }
  }

  @Test
  void zeroGivesTheHandlerAContextThatIsAlreadyOutOfTime() throws Exception {
    try (LoopbackServer s =
        new LoopbackServer(ex -> reply(ex, String.valueOf(ContextFilter.current().err())))) {
      HttpResponse<String> r =
          CLIENT.send(HttpRequest.newBuilder(s.uri()).header(DeadlineHeader.NAME, "0").build(), BodyHandlers.ofString());
      assertEquals(String.valueOf(Context.DEADLINE_EXCEEDED), r.body());
    }
  }

  @Test
  void theLargestValueAndLeadingZerosAreAccepted() throws Exception {
    try (LoopbackServer s =
        new LoopbackServer(
            ex ->
                reply(
                    ex,
                    Long.toString(
                        Duration.between(Instant.now(), ContextFilter.current().deadline().orElseThrow())
                            .toMillis())))) {
      for (String[] c : new String[][] {{"99999999", "99990000"}, {"00050000", "40000"}}) {
        HttpResponse<String> r =
            CLIENT.send(HttpRequest.newBuilder(s.uri()).header(DeadlineHeader.NAME, c[0]).build(), BodyHandlers.ofString());
        long left = Long.parseLong(r.body());
        assertTrue(left > Long.parseLong(c[1]) && left <= Long.parseLong(c[0]), c[0] + " gave " + left);
      }
    }
  }

  @Test
  void aRootClockNearTheEndOfTimeSaturatesTheDeadline() throws Exception {
    ManualTimeSource time = ManualTimeSource.startingAt(Instant.MAX.minusSeconds(60));
    Context root = Context.withTimeSource(Context.background(), time);
    try (LoopbackServer s =
        new LoopbackServer(root, ex -> reply(ex, ContextFilter.current().deadline().orElseThrow().toString()))) {
      HttpResponse<String> r =
          CLIENT.send(HttpRequest.newBuilder(s.uri()).header(DeadlineHeader.NAME, "99999999").build(), BodyHandlers.ofString());
      assertEquals(Instant.MAX.toString(), r.body());
    }
  }

  @Test
  void aHandlerThatThrowsStillEndsItsRequestContext() throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    CountDownLatch thrown = new CountDownLatch(1);
    try (LoopbackServer s =
        new LoopbackServer(
            ex -> {
              seen.set(ContextFilter.current());
              thrown.countDown();
              throw new IllegalStateException("handler fails");
            })) {
      try {
        CLIENT.send(HttpRequest.newBuilder(s.uri()).build(), BodyHandlers.ofString());
      } catch (IOException expected) {
        // the JDK server closes the connection without a response
      }
      assertTrue(thrown.await(10, TimeUnit.SECONDS));
      seen.get().await(Duration.ofSeconds(10));
      assertSame(Context.CANCELED, seen.get().err());
    }
  }

  /**
   * The JDK server drains up to 64 KiB of an unread body after the exchange closes
   * ({@code sun.net.httpserver.drainAmount}) and keeps the connection; beyond that it closes the
   * connection with the rest of the body unread, and the kernel then answers with a TCP reset that
   * may destroy the response before the client reads it. So the response is checked where the
   * protocol guarantees it, and the context's end in both cases.
   */
  @ParameterizedTest
  @ValueSource(ints = {1_000, 100_000})
  void aHandlerThatNeverReadsTheRequestBodyEndsItsContextOnReturn(int bodyBytes) throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    CountDownLatch returned = new CountDownLatch(1);
    try (LoopbackServer s =
        new LoopbackServer(
            ex -> {
              seen.set(ContextFilter.current());
              try {
                reply(ex, "ignored your body");
              } finally {
                returned.countDown();
              }
            })) {
      HttpRequest post =
          HttpRequest.newBuilder(s.uri()).POST(HttpRequest.BodyPublishers.ofByteArray(new byte[bodyBytes])).build();
      String body;
      try {
        body = CLIENT.send(post, BodyHandlers.ofString()).body();
      } catch (IOException resetAfterTheServerClosed) {
        assertTrue(bodyBytes > 64 * 1024, "only a body the server does not drain may lose the response: " + resetAfterTheServerClosed);
        body = "ignored your body";
      }
      assertEquals("ignored your body", body);
      assertTrue(returned.await(10, TimeUnit.SECONDS), "the handler never ran");
      seen.get().await(Duration.ofSeconds(10));
      assertSame(Context.CANCELED, seen.get().err());
    }
  }

  /**
   * Two requests at once on one {@code HttpContext}: each handler's {@code contextOf(exchange)} is
   * its own request's context, while the other runs and after it has ended. The JDK server keeps
   * an exchange's attributes in its {@code HttpContext}'s map, shared by every exchange of that
   * context, so an attribute alone holds whichever request's filter ran last.
   */
  @Test
  void contextOfGivesEachOfTwoConcurrentExchangesItsOwnContext() throws Exception {
    CountDownLatch firstIn = new CountDownLatch(1);
    CountDownLatch secondIn = new CountDownLatch(1);
    CountDownLatch secondDone = new CountDownLatch(1);
    List<String> wrong = new java.util.concurrent.CopyOnWriteArrayList<>();
    try (LoopbackServer s =
        new LoopbackServer(
            ex -> {
              Context own = ContextFilter.current();
              try {
                if (ex.getRequestURI().getPath().equals("/first")) {
                  firstIn.countDown();
                  assertTrue(secondIn.await(30, TimeUnit.SECONDS));
                  if (ContextFilter.contextOf(ex) != own) {
                    wrong.add("first, while the second runs: " + ContextFilter.contextOf(ex));
                  }
                  assertTrue(secondDone.await(30, TimeUnit.SECONDS));
                  if (ContextFilter.contextOf(ex) != own) {
                    wrong.add("first, after the second ended: " + ContextFilter.contextOf(ex));
                  }
                } else {
                  if (ContextFilter.contextOf(ex) != own) {
                    wrong.add("second: " + ContextFilter.contextOf(ex));
                  }
                  secondIn.countDown();
                }
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              reply(ex, "ok");
            })) {
      HttpRequest first =
          HttpRequest.newBuilder(s.uri().resolve("/first")).header(DeadlineHeader.NAME, "60000").build();
      var firstCall = CLIENT.sendAsync(first, BodyHandlers.ofString());
      assertTrue(firstIn.await(30, TimeUnit.SECONDS));
      HttpResponse<String> second =
          CLIENT.send(HttpRequest.newBuilder(s.uri().resolve("/second")).build(), BodyHandlers.ofString());
      assertEquals("ok", second.body());
      secondDone.countDown();
      assertEquals("ok", firstCall.get(30, TimeUnit.SECONDS).body());
    }
    assertEquals(List.of(), wrong, "handlers whose contextOf(exchange) was another request's");
  }

  /**
   * contextOf keeps nothing of its own: after 10,000 requests, ContextFilter's static state holds
   * no entry, though every exchange is still reachable (held here), and each still gives its own
   * request's context, ended, from another thread after its handler returned. The first version
   * kept each exchange in a synchronized WeakHashMap (one lock for every request of the server, and
   * an entry until a GC collected the exchange).
   */
  @Test
  void contextOfKeepsNothingOnceTenThousandExchangesAreDone() throws Exception {
    int requests = 10_000;
    List<Map.Entry<HttpExchange, Context>> served = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.Queue<Map.Entry<HttpExchange, Context>> seen = new java.util.concurrent.ConcurrentLinkedQueue<>();
    // The JDK client may send a GET again when the server closed a kept-alive connection under it
    // (ci92 saw 10,001 exchanges), so each call carries its number and the count is of numbers.
    java.util.Set<String> ids = java.util.concurrent.ConcurrentHashMap.newKeySet();
    try (LoopbackServer s =
        new LoopbackServer(
            ex -> {
              seen.add(Map.entry(ex, ContextFilter.current()));
              ids.add(ex.getRequestHeaders().getFirst("X-Call"));
              ex.sendResponseHeaders(204, -1);
              ex.close();
            })) {
      java.util.concurrent.Semaphore inFlight = new java.util.concurrent.Semaphore(8);
      List<java.util.concurrent.CompletableFuture<?>> calls = new java.util.ArrayList<>();
      for (int i = 0; i < requests; i++) {
        HttpRequest request =
            HttpRequest.newBuilder(s.uri())
                .header(DeadlineHeader.NAME, "60000")
                .header("X-Call", Integer.toString(i))
                .build();
        inFlight.acquire();
        calls.add(
            CLIENT
                .sendAsync(request, BodyHandlers.discarding())
                .whenComplete((r, f) -> inFlight.release()));
      }
      for (java.util.concurrent.CompletableFuture<?> call : calls) {
        call.get(60, TimeUnit.SECONDS);
      }
    }
    served.addAll(seen);
    assertEquals(requests, ids.size(), "calls the handler saw");
    assertTrue(served.size() >= requests, "exchanges the handler saw: " + served.size());
    for (Field f : ContextFilter.class.getDeclaredFields()) {
      if (Modifier.isStatic(f.getModifiers())
          && (Map.class.isAssignableFrom(f.getType()) || java.util.Collection.class.isAssignableFrom(f.getType()))) {
        f.setAccessible(true);
        Object held = f.get(null);
        int size = held instanceof Map ? ((Map<?, ?>) held).size() : ((java.util.Collection<?>) held).size();
        assertEquals(0, size, "entries ContextFilter." + f.getName() + " holds after " + requests + " requests");
      }
    }
    java.util.Set<Context> distinct = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    for (Map.Entry<HttpExchange, Context> e : served) {
      assertSame(e.getValue(), ContextFilter.contextOf(e.getKey()), "contextOf after the handler returned");
      assertTrue(e.getValue().isDone(), "a request context still running after its handler returned");
      distinct.add(e.getValue());
    }
    assertEquals(served.size(), distinct.size(), "distinct request contexts");
  }

  /**
   * A filter in front of ContextFilter, and a handler behind an {@code Authenticator} (the JDK's
   * AuthFilter, which takes the exchange for the JDK's own class), see the exchange as the server
   * made it, and contextOf gives them the request's context: ContextFilter passes the exchange on
   * as it is, rather than a wrapper of its own.
   */
  @Test
  void contextOfAnswersAFilterInFrontAndAHandlerBehindAnAuthenticator() throws Exception {
    AtomicReference<Context> handlers = new AtomicReference<>();
    AtomicReference<Object> inFront = new AtomicReference<>();
    AtomicReference<String> principal = new AtomicReference<>();
    Filter front =
        new Filter() {
          @Override
          public void doFilter(HttpExchange ex, Chain chain) throws IOException {
            chain.doFilter(ex);
            inFront.set(ContextFilter.contextOf(ex));
          }

          @Override
          public String description() {
            return "in front of ContextFilter";
          }
        };
    try (LoopbackServer s = new LoopbackServer(ex -> reply(ex, "unused"))) {
      com.sun.net.httpserver.HttpContext hc =
          s.server.createContext(
              "/auth",
              ex -> {
                handlers.set(ContextFilter.contextOf(ex));
                principal.set(ex.getPrincipal() == null ? null : ex.getPrincipal().getUsername());
                reply(ex, "in");
              });
      hc.getFilters().addAll(List.of(front, ContextFilter.create()));
      hc.setAuthenticator(
          new com.sun.net.httpserver.BasicAuthenticator("ctx4j") {
            @Override
            public boolean checkCredentials(String user, String password) {
              return user.equals("u") && password.equals("p");
            }
          });
      String basic =
          "Basic " + java.util.Base64.getEncoder().encodeToString("u:p".getBytes(StandardCharsets.UTF_8));
      HttpResponse<String> r =
          CLIENT.send(
              HttpRequest.newBuilder(s.uri().resolve("/auth")).header("Authorization", basic).build(),
              BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), r.body());
      assertEquals("in", r.body());
    }
    assertEquals("u", principal.get(), "the principal the authenticator set");
    assertTrue(handlers.get() != null && handlers.get().isDone(), "the handler's request context");
    assertSame(handlers.get(), inFront.get(), "contextOf in the filter in front, after the chain");
  }
}
