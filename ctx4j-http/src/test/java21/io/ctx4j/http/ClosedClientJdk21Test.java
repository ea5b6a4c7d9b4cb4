package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * JDK 21+: a client the caller has closed or shut down sends nothing through ContextHttp either.
 * The client follows redirects and the context has a deadline, so ContextHttp sends through its
 * copy of the client; on the old code the copy sent the request and its redirect hops for a closed
 * client, and was never shut down.
 */
@Timeout(60)
class ClosedClientJdk21Test {
  /** The paths the server was asked for, in order. */
  private final List<String> seen = new CopyOnWriteArrayList<>();
  /** Counted down when /held or /slow arrives, which then wait for {@link #proceed}. */
  private final CountDownLatch arrived = new CountDownLatch(1);
  private final CountDownLatch proceed = new CountDownLatch(1);
  private LoopbackServer server;
  private CancelableContext ctx;

  @BeforeEach
  void start() {
    // /first and /held redirect to /target, which answers "hello"; /held and /slow (200 "slow")
    // wait for the test to let them answer.
    server =
        new LoopbackServer(
            ex -> {
              String path = ex.getRequestURI().getPath();
              seen.add(path);
              if (path.equals("/held") || path.equals("/slow")) {
                arrived.countDown();
                try {
                  if (!proceed.await(30, TimeUnit.SECONDS)) {
                    throw new IOException("the test never let " + path + " answer");
                  }
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                  throw new IOException(e);
                }
              }
              if (path.equals("/slow")) {
                ContextHttpTest.respond(ex, 200, "slow");
              } else if (path.equals("/target")) {
                ContextHttpTest.respond(ex, 200, "hello");
              } else {
                ex.getResponseHeaders().set("Location", "/target");
                ContextHttpTest.respond(ex, 302, "");
              }
            });
    ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(1));
  }

  @AfterEach
  void stop() throws InterruptedException {
    proceed.countDown();
    ctx.close();
    server.close();
  }

  private static HttpClient following() {
    return HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .followRedirects(HttpClient.Redirect.NORMAL)
        .build();
  }

  private HttpRequest get(String path) {
    return HttpRequest.newBuilder(server.uri().resolve(path)).build();
  }

  /** Makes ContextHttp build its copy of {@code client} with one redirected call, and returns it. */
  private HttpClient warmCopy(HttpClient client) throws IOException, InterruptedException {
    HttpResponse<String> r = ContextHttp.send(ctx, client, get("/first"), BodyHandlers.ofString());
    assertEquals("200 hello", r.statusCode() + " " + r.body());
    HttpClient copy = ContextHttp.copyOf(client);
    assertNotNull(copy, "ContextHttp sent through a copy of the client");
    seen.clear();
    return copy;
  }

  private static Throwable failureOf(CompletableFuture<?> future) {
    return assertThrows(ExecutionException.class, () -> future.get(10, TimeUnit.SECONDS)).getCause();
  }

  /** The failure must be the client's own for a new request: same type, same message. */
  private static void assertSameFailure(Throwable own, Throwable ours) {
    assertEquals(own.getClass(), ours.getClass(), "type of " + ours);
    assertEquals(own.getMessage(), ours.getMessage());
  }

  /** ContextHttp.send fails as the client's own send does; returns ContextHttp's failure. */
  private IOException assertSendFailsAsTheClientsOwn(HttpClient client) {
    IOException own =
        assertThrows(IOException.class, () -> client.send(get("/first"), BodyHandlers.ofString()));
    IOException ours =
        assertThrows(
            IOException.class,
            () -> ContextHttp.send(ctx, client, get("/first"), BodyHandlers.ofString()));
    assertSameFailure(own, ours);
    return ours;
  }

  /** A call whose hop the server holds, and the copy of the client it was sent through. */
  private record InFlight(CompletableFuture<HttpResponse<String>> call, HttpClient copy) {}

  /** Starts a call of {@code path} through the copy, closes the client once it has arrived. */
  private InFlight closeWhileInFlight(HttpClient client, String path) throws InterruptedException {
    CompletableFuture<HttpResponse<String>> call =
        ContextHttp.sendAsync(ctx, client, get(path), BodyHandlers.ofString());
    assertTrue(arrived.await(10, TimeUnit.SECONDS), path + " never arrived");
    HttpClient copy = ContextHttp.copyOf(client);
    assertNotNull(copy, "ContextHttp sent through a copy of the client");
    client.close(); // returns at once: the hop in flight is the copy's, not the client's
    return new InFlight(call, copy);
  }

  /**
   * The copy has been shut down and dropped. Termination first: a caller may wake before the
   * call's own completion callback, which shuts the copy down, has run.
   */
  private static void assertCopyShutDown(HttpClient client, HttpClient copy)
      throws InterruptedException {
    assertTrue(copy.awaitTermination(Duration.ofSeconds(10)), "the copy's selector still runs");
    assertNull(ContextHttp.copyOf(client), "the copy is still cached");
  }

  @Test
  void aClosedClientSendsNothingAndFailsAsItsOwnSendAndItsCopyIsShutDown() throws Exception {
    HttpClient client = following();
    HttpClient copy = warmCopy(client);
    client.close();

    IOException failure = assertSendFailsAsTheClientsOwn(client);
    assertEquals("closed", failure.getMessage(), "JDK 21 to 25 say so");
    assertSameFailure(
        failureOf(client.sendAsync(get("/first"), BodyHandlers.ofString())),
        failureOf(ContextHttp.sendAsync(ctx, client, get("/first"), BodyHandlers.ofString())));

    assertEquals(List.of(), seen, "requests that reached the server");
    assertCopyShutDown(client, copy);
  }

  @Test
  void aClientClosedBeforeItsFirstCallGetsNoCopy() throws Exception {
    HttpClient client = following();
    client.close();

    assertSendFailsAsTheClientsOwn(client);
    assertEquals(List.of(), seen, "requests that reached the server");
    assertNull(ContextHttp.copyOf(client), "a copy was made for a closed client");
  }

  @Test
  void aClientShutDownIsSeenBeforeItHasTerminated() throws Exception {
    HttpClient client = following();
    HttpClient copy = warmCopy(client);
    assertNull(ClientState.refusal(client), "an open client takes requests");
    // An exchange of the client's own in flight: after shutdown() it keeps the client from
    // terminating until it ends, but the client already refuses new requests.
    CompletableFuture<HttpResponse<String>> slow =
        client.sendAsync(get("/slow"), BodyHandlers.ofString());
    assertTrue(arrived.await(10, TimeUnit.SECONDS), "/slow never arrived");
    client.shutdown();
    assertFalse(client.isTerminated(), "terminated with an exchange in flight");

    assertSendFailsAsTheClientsOwn(client);
    assertEquals(List.of("/slow"), seen, "requests that reached the server");
    assertCopyShutDown(client, copy);

    proceed.countDown();
    assertEquals("slow", slow.get(10, TimeUnit.SECONDS).body(), "the client's own exchange ran on");
    assertTrue(client.awaitTermination(Duration.ofSeconds(10)), "the client never terminated");
  }

  @Test
  void aClientClosedBetweenTwoHopsSendsNoFurtherHop() throws Exception {
    HttpClient client = following();
    InFlight held = closeWhileInFlight(client, "/held");
    proceed.countDown(); // the first hop's 302 comes back, and the client is closed

    IOException failure = assertInstanceOf(IOException.class, failureOf(held.call()));
    assertSameFailure(failureOf(client.sendAsync(get("/first"), BodyHandlers.ofString())), failure);
    assertEquals(List.of("/held"), seen, "requests that reached the server");
    assertCopyShutDown(client, held.copy());
  }

  @Test
  void aHopSentBeforeTheClientClosedRunsToItsEndAndThenTheCopyIsShutDown() throws Exception {
    HttpClient client = following();
    // No later call comes: the call in flight must shut the copy down when it ends.
    InFlight slow = closeWhileInFlight(client, "/slow");
    proceed.countDown();

    assertEquals(
        "slow", slow.call().get(10, TimeUnit.SECONDS).body(), "as the client's own exchange would");
    assertEquals(List.of("/slow"), seen, "requests that reached the server");
    assertCopyShutDown(client, slow.copy());
  }

  /**
   * A client per call, closed after it (try-with-resources), is never seen by a later call. The
   * clients are kept, so no GC can help: their copies must still be shut down, not pile up with
   * their selector threads and connections (10,000 of them ran a JDK 25 process out of file
   * descriptors on the old code).
   */
  @Test
  void copiesOfClientsClosedAfterTheirLastCallDoNotPileUp() throws Exception {
    int clients = 200;
    List<HttpClient> closed = new ArrayList<>();
    List<HttpClient> copies = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      try (HttpClient client = following()) {
        copies.add(warmCopy(client));
        closed.add(client);
      }
    }
    int cached = 0;
    for (int i = 0; i < clients; i++) {
      if (ContextHttp.copyOf(closed.get(i)) == null) {
        assertTrue(
            copies.get(i).awaitTermination(Duration.ofSeconds(10)),
            "a dropped copy's selector still runs");
      } else {
        cached++;
      }
    }
    assertTrue(cached <= 32, "copies of closed clients still cached: " + cached + " of " + clients);
  }
  /**
   * Two first calls through a new client at once both find no copy and both build one; one is
   * cached, and the other must be shut down rather than keep its selector thread until a GC. The
   * clients, and so their cached copies, are kept: only the copies that lost a race may end. The
   * JDK numbers its clients in sequence and ends a client's {@code toString} with "(id)", which
   * also names its selector thread: the ids between the first client and one made after the rounds
   * that are neither a caller's client nor its cached copy are the copies that lost.
   */
  @Test
  void theCopyThatLosesTheRaceForAClientIsShutDown() throws Exception {
    List<HttpClient> clients = new ArrayList<>();
    ExecutorService callers = Executors.newFixedThreadPool(2);
    try {
      for (int round = 0; round < 20; round++) {
        HttpClient client = following();
        clients.add(client);
        CyclicBarrier together = new CyclicBarrier(2);
        List<Future<HttpResponse<String>>> calls = new ArrayList<>();
        for (int caller = 0; caller < 2; caller++) {
          calls.add(
              callers.submit(
                  () -> {
                    together.await(10, TimeUnit.SECONDS);
                    return ContextHttp.send(ctx, client, get("/first"), BodyHandlers.ofString());
                  }));
        }
        for (Future<HttpResponse<String>> call : calls) {
          assertEquals("hello", call.get(10, TimeUnit.SECONDS).body());
        }
      }
    } finally {
      callers.shutdown();
    }
    Set<Long> kept = new HashSet<>();
    for (HttpClient client : clients) {
      kept.add(idOf(client));
      kept.add(idOf(ContextHttp.copyOf(client)));
    }
    long first = idOf(clients.get(0));
    long next;
    try (HttpClient after = HttpClient.newHttpClient()) {
      next = idOf(after);
    }
    List<Long> lost = new ArrayList<>();
    for (long id = first; id < next; id++) {
      if (!kept.contains(id)) {
        lost.add(id);
      }
    }
    assertFalse(lost.isEmpty(), "no two first calls raced: the test proves nothing");
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      String name = t.getName();
      if (name.startsWith("HttpClient-") && name.endsWith("-SelectorManager")) {
        long id = Long.parseLong(name.substring("HttpClient-".length(), name.length() - "-SelectorManager".length()));
        if (lost.contains(id)) {
          t.join(10_000);
          assertFalse(t.isAlive(), "the copy that lost the race still runs: " + name + " (" + lost.size() + " lost)");
        }
      }
    }
    clients.forEach(HttpClient::close);
  }

  /** The JDK's number of a client: its {@code toString} ends with "(id)". */
  private static long idOf(HttpClient client) {
    String s = String.valueOf(client);
    return Long.parseLong(s.substring(s.lastIndexOf('(') + 1, s.length() - 1));
  }
}
