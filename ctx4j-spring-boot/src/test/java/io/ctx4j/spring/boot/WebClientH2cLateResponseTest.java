package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.http.client.reactive.ReactorClientHttpConnector;
import org.springframework.web.reactive.function.client.ExchangeFilterFunction;
import org.springframework.web.reactive.function.client.WebClient;
import org.springframework.web.reactive.function.client.WebClientResponseException;
import reactor.core.publisher.Hooks;
import reactor.netty.http.HttpProtocol;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.resources.LoopResources;

/**
 * WebClient calls over h2c cancelled by their context's end as their response comes, each moment
 * forced on every call with latches: the two leak patterns that CancelAnywhereTest's WEBCLIENT_H2C
 * row traced (1 to 3 buffers of about 28,500 never released, in about half its runs of 4,500
 * calls) were (1) a call cancelled before its response's head reached it, the head and the whole
 * body coming just after and never read, and (2) a body's read ended by the context as a buffer was
 * on its way. Three cases:
 *
 * <ul>
 *   <li>The response read just after the cancel: the test holds the client's one event loop (a
 *       task that waits) while the server (the Jetty chain's service C, {@code /held}) writes the
 *       head and the body, so that they wait in the socket, then a handler at the head of the
 *       connection's pipeline holds the loop inside the read of those bytes, before the HTTP/2
 *       codec sees them; the context is cancelled there. Bodies of 0, 1 and 16 KiB (not more: the
 *       server must write the whole response while the client reads nothing, within the client's
 *       HTTP/2 windows). Passed on the old code too: Reactor Netty's cancel, reaching its exchange
 *       before the head, releases what comes after.
 *   <li>The head in Reactor Netty as the call is cancelled, held on the event loop in an observer
 *       of the head ({@code doOnResponse}), or as Reactor Netty's exchange emits it to Spring's
 *       connector ({@code mapConnect}). The second is pattern (1): there neither Reactor Netty's
 *       cancel (its exchange has emitted) nor Spring's (its connector has no response yet) gives the
 *       response up, and nobody reads it. Bodies of 0, 1, 16 KiB and 70 KiB. On the old code
 *       every call with a body of 1 byte or 16 KiB left its read buffer unreleased (20 of 20; 0 of
 *       the 10 with an empty body).
 *   <li>Pattern (2): a probe filter nearer the connector than ctx4j's holds the body's first buffer,
 *       on the event loop, until the context's end has ended the body's read and the call has
 *       failed, then passes it on to ctx4j's filter. On the old code every call's buffer was never
 *       released (10 of 10): Reactor's {@code takeUntilOther} dropped it.
 * </ul>
 *
 * <p>Each call must fail with its context's {@link CanceledException}. After each case: the client's
 * one connection serves another call, every buffer the client allocated (a counting allocator) is
 * released (polled for up to 10 s once the event loop has run what was queued), and Reactor dropped
 * no error. {@value #CALLS} calls per body size and case by default, {@code
 * -Dctx4j.spring.lateResponseCalls=N} for more.
 */
@Timeout(300)
class WebClientH2cLateResponseTest {
  /** Calls per body size and case; -Dctx4j.spring.lateResponseCalls=N to change. */
  private static final int CALLS = Integer.getInteger("ctx4j.spring.lateResponseCalls", 10);

  /** Errors Reactor dropped (by default it logs each at ERROR). */
  private static final Queue<Throwable> DROPPED = new ConcurrentLinkedQueue<>();

  @BeforeAll
  static void watchDroppedErrors() {
    Hooks.onErrorDropped(DROPPED::add);
  }

  @AfterAll
  static void stopWatching() {
    Hooks.resetOnErrorDropped();
  }

  /** A read of the connection to hold the event loop in, once armed. */
  private static final class Gate {
    final CountDownLatch reached = new CountDownLatch(1);
    final CountDownLatch resume = new CountDownLatch(1);
    /** The bytes of the held read. */
    volatile int bytes;
  }

  /**
   * At the head of a connection's pipeline: holds the first read after {@link #gate} is armed until
   * the test resumes it, then passes it on.
   */
  private static final class Hold extends ChannelInboundHandlerAdapter {
    private final AtomicReference<Gate> gate;

    Hold(AtomicReference<Gate> gate) {
      this.gate = gate;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      Gate g = msg instanceof ByteBuf ? gate.getAndSet(null) : null;
      if (g != null) {
        g.bytes = ((ByteBuf) msg).readableBytes();
        g.reached.countDown();
        WebClientRaceTest.await(g.resume, "the test never resumed the held read");
      }
      ctx.fireChannelRead(msg);
    }
  }

  /**
   * The client: ctx4j's WebClient (the Tomcat chain's service A's builder, with ctx4j's filter) and
   * {@code probe} nearer the connector, on Reactor Netty over h2c to the Jetty chain's service C: one
   * event loop, one connection, the counting allocator, {@link Hold} at the head of the connection's
   * pipeline.
   */
  private static final class Client implements AutoCloseable {
    final ReactorBodyReleaseTest.CountingAllocator allocator = new ReactorBodyReleaseTest.CountingAllocator();
    final LoopResources loop = LoopResources.create("ctx4j-late-response", 1, true);
    final ConnectionProvider pool =
        ConnectionProvider.builder("ctx4j-late-response")
            .maxConnections(1)
            .pendingAcquireTimeout(Duration.ofSeconds(30))
            .build();
    /** Armed by a test to hold the connection's next read. */
    final AtomicReference<Gate> read = new AtomicReference<>();
    /** The connections opened, in order. */
    final List<Channel> connections = new ArrayList<>();
    final WebClient web;

    Client(ExchangeFilterFunction probe) throws Exception {
      this(probe, http -> http);
    }

    Client(ExchangeFilterFunction probe, UnaryOperator<HttpClient> hooks) throws Exception {
      HttpClient http =
          HttpClient.create(pool)
              .runOn(loop)
              .protocol(HttpProtocol.H2C)
              .option(ChannelOption.ALLOCATOR, allocator)
              .doOnChannelInit(
                  (observer, channel, address) -> {
                    synchronized (connections) {
                      connections.add(channel);
                    }
                    channel.pipeline().addFirst("ctx4j-test-hold", new Hold(read));
                  });
      http = hooks.apply(http);
      Chains chains = Chains.get();
      web =
          chains.tomcat.a().getBean(WebClient.Builder.class)
              .baseUrl(chains.jetty.url("C"))
              .filter(probe)
              .clientConnector(new ReactorClientHttpConnector(http))
              .build();
    }

    Channel connection() {
      synchronized (connections) {
        return connections.get(connections.size() - 1);
      }
    }

    String get(String uri) {
      return web.get().uri(uri).retrieve().bodyToMono(String.class).block(Duration.ofSeconds(30));
    }

    /** Runs a task on the connection's event loop and waits for it: what was queued before is done. */
    void drainLoop() throws Exception {
      connection().eventLoop().submit(() -> {}).get(30, TimeUnit.SECONDS);
    }

    /**
     * The buffers not released once the loop has run everything queued after the last call, polled
     * for up to 10 s: a release may still be on its way from another thread.
     */
    long unreleasedAfterAWhile() throws Exception {
      drainLoop();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      long n;
      while ((n = allocator.unreleased()) > 0 && System.nanoTime() < deadline) {
        TimeUnit.MILLISECONDS.sleep(10); // a bounded poll of a count, not a synchronisation
      }
      return n;
    }

    /** The calls among {@code ids} whose bodies a buffer never released was written with. */
    List<String> leaking(List<String> ids) {
      List<String> leaking = new ArrayList<>();
      for (ByteBuf buffer : allocator.allocated) {
        String written = buffer.refCnt() > 0 ? ReactorBodyReleaseTest.CountingAllocator.written(buffer) : "";
        for (String id : ids) {
          if (written.contains(id + " ") && !leaking.contains(id)) {
            leaking.add(id);
          }
        }
      }
      return leaking;
    }

    /** The buffers still unreleased, each described. */
    String unreleased() {
      StringBuilder b = new StringBuilder("buffers the client allocated and never released:");
      for (ByteBuf buffer : allocator.allocated) {
        if (buffer.refCnt() > 0) {
          b.append("\n  ").append(ReactorBodyReleaseTest.CountingAllocator.describe(buffer));
        }
      }
      return b.toString();
    }

    @Override
    public void close() {
      read.set(null);
      pool.dispose();
      loop.dispose();
    }
  }

  /**
   * A call cancelled before its response's head has reached Reactor Netty, the head and the whole
   * body read at once just after: the cancel's close of the stream is queued on the event loop
   * behind that read.
   */
  @ParameterizedTest(name = "body of {0} bytes")
  @ValueSource(ints = {0, 1, 16 * 1024})
  void aResponseReadJustAfterItsCallsCancelIsReleased(int size) throws Exception {
    Chains chains = Chains.get();
    Chains.warm(chains.jetty);
    CancelableContext longLived = Context.withCancel(Context.background());
    DROPPED.clear();
    List<Integer> heldReads = new ArrayList<>();
    List<String> ids = new ArrayList<>();
    try (Client client = new Client((request, next) -> next.exchange(request))) {
      // The connection opened, and the stream's machinery loaded, before the first held call.
      assertEquals(HopApp.slowBody("first", 100), client.get("/slow?id=first&head=0&body=0&size=100"));
      for (int i = 0; i < CALLS; i++) {
        String id = "late-head-" + size + "-" + i;
        Hops.Hop server = chains.jetty.hops.get(id);
        CancelableContext ctx = Context.withCancel(longLived);
        CompletableFuture<Object> call = call(client, "/held?id=" + id + "&size=" + size, ctx);
        WebClientRaceTest.await(server.entered, id + ": the request never reached the server");
        Channel connection = client.connection();
        // The loop held while the response is written: it waits in the socket.
        CountDownLatch loopHeld = new CountDownLatch(1);
        CountDownLatch loopGo = new CountDownLatch(1);
        connection.eventLoop().execute(() -> {
          loopHeld.countDown();
          WebClientRaceTest.await(loopGo, "the test never let the event loop go");
        });
        WebClientRaceTest.await(loopHeld, id + ": the event loop never ran the test's task");
        server.release.countDown();
        WebClientRaceTest.await(server.sent, id + ": the server never wrote the response");
        Gate g = new Gate();
        client.read.set(g);
        loopGo.countDown();
        WebClientRaceTest.await(g.reached, id + ": the response never reached the connection");
        ctx.cancel();
        Object outcome = call.get(30, TimeUnit.SECONDS);
        g.resume.countDown();
        heldReads.add(g.bytes);
        assertCanceled(id, outcome);
        ids.add(id);
      }
      assertReleased(client, "response read after its call's cancel, body of " + size + " bytes", ids,
          ", held reads of " + heldReads + " bytes");
    } finally {
      longLived.cancel();
    }
  }

  /** Where Reactor Netty holds a response's head, on the event loop, as its call is cancelled. */
  enum HeadHeld {
    /** In an observer of the head ({@code doOnResponse}), before Reactor Netty's exchange emits. */
    BEFORE_THE_EXCHANGE_EMITS,
    /** As Reactor Netty's exchange emits it ({@code mapConnect}), before Spring's connector has it. */
    AS_THE_EXCHANGE_EMITS
  }

  /**
   * A call cancelled while its response's head is in Reactor Netty, on the event loop, on its way
   * to Spring's connector; its body read after.
   */
  @ParameterizedTest(name = "{0}")
  @EnumSource(HeadHeld.class)
  void aResponseWhoseHeadIsInAsItsCallIsCancelledIsReleased(HeadHeld where) throws Exception {
    Chains chains = Chains.get();
    Chains.warm(chains.jetty);
    CancelableContext longLived = Context.withCancel(Context.background());
    AtomicReference<Gate> head = new AtomicReference<>();
    Runnable hold = () -> {
      Gate g = head.getAndSet(null);
      if (g != null) {
        g.reached.countDown();
        WebClientRaceTest.await(g.resume, "the test never let the head go");
      }
    };
    UnaryOperator<HttpClient> hooks =
        switch (where) {
          case BEFORE_THE_EXCHANGE_EMITS -> http -> http.doOnResponse((response, c) -> hold.run());
          case AS_THE_EXCHANGE_EMITS -> http -> http.mapConnect(connect -> connect.doOnNext(c -> hold.run()));
        };
    DROPPED.clear();
    List<String> ids = new ArrayList<>();
    try (Client client = new Client((request, next) -> next.exchange(request), hooks)) {
      assertEquals(HopApp.slowBody("first", 100), client.get("/slow?id=first&head=0&body=0&size=100"));
      for (int size : new int[] {0, 1, 16 * 1024, 70 * 1024}) {
        for (int i = 0; i < CALLS; i++) {
          String id = "late-" + where + "-" + size + "-" + i;
          Gate g = new Gate();
          head.set(g);
          cancelWhileHeld(client, id, "/held?id=" + id + "&size=" + size, longLived, g, "Reactor Netty's hook");
          ids.add(id);
        }
      }
      head.set(null);
      assertReleased(client, "head held " + where, ids, "");
    } finally {
      head.set(null);
      longLived.cancel();
    }
  }

  /**
   * A call whose context ends while a buffer of its body is on its way to ctx4j's filter: a probe
   * nearer the connector holds the body's first buffer, on the event loop, until the context's end
   * has ended the body's read and the call has failed, then passes it on.
   */
  @Test
  void aBodyBufferInFlightAsTheContextEndsIsReleased() throws Exception {
    Chains chains = Chains.get();
    Chains.warm(chains.jetty);
    CancelableContext longLived = Context.withCancel(Context.background());
    AtomicReference<Gate> body = new AtomicReference<>();
    ExchangeFilterFunction probe =
        (request, next) ->
            next.exchange(request)
                .map(r -> r.mutate()
                    .body(b -> b.doOnNext(buffer -> {
                      Gate g = body.getAndSet(null);
                      if (g != null) {
                        g.bytes = buffer.readableByteCount();
                        g.reached.countDown();
                        WebClientRaceTest.await(g.resume, "the test never let the body's buffer go");
                      }
                    }))
                    .build());
    DROPPED.clear();
    List<String> ids = new ArrayList<>();
    try (Client client = new Client(probe)) {
      assertEquals(HopApp.slowBody("first", 100), client.get("/slow?id=first&head=0&body=0&size=100"));
      for (int i = 0; i < CALLS; i++) {
        String id = "late-body-" + i;
        Gate g = new Gate();
        body.set(g);
        // /late: the head at once, the body once released.
        cancelWhileHeld(client, id, "/late?id=" + id, longLived, g, "the probe");
        ids.add(id);
      }
      body.set(null);
      assertReleased(client, "body buffer in flight as the context ends", ids, "");
    } finally {
      body.set(null);
      longLived.cancel();
    }
  }

  /**
   * After the calls of a case ({@code ids}): the client serves another call; every buffer it
   * allocated is released; Reactor dropped no error. Prints what came of the calls.
   */
  private static void assertReleased(Client client, String what, List<String> ids, String more)
      throws Exception {
    assertEquals(
        HopApp.slowBody("later", 5_000),
        client.get("/slow?id=later&head=0&body=0&size=5000"),
        what + ": a later call on the client's one connection");
    long unreleased = client.unreleasedAfterAWhile();
    List<String> leaking = client.leaking(ids);
    System.out.printf(
        "WebClientH2cLateResponseTest, %s: %d calls, %d buffers never released of %d (written with"
            + " the bodies of %d of the calls), %d connections, %d errors dropped%s%n",
        what, ids.size(), unreleased, client.allocator.allocated.size(), leaking.size(),
        client.connections.size(), DROPPED.size(), more);
    assertEquals(0, unreleased, () -> what + ": " + client.unreleased() + "\nwritten with the bodies of " + leaking);
    assertEquals(0, DROPPED.size(), () -> what + ": Reactor dropped " + DROPPED.size() + " errors, the first: " + DROPPED.peek());
  }

  /**
   * A call of {@code uri} (which the server, once it has the request, is released to answer) under
   * a new child of {@code parent}, cancelled once {@code g}, armed by the caller, holds the event
   * loop at {@code where}, and let go once the call has returned: it must fail with the context's
   * error.
   */
  private static void cancelWhileHeld(
      Client client, String id, String uri, CancelableContext parent, Gate g, String where)
      throws Exception {
    Hops.Hop server = Chains.get().jetty.hops.get(id);
    CancelableContext ctx = Context.withCancel(parent);
    CompletableFuture<Object> call = call(client, uri, ctx);
    WebClientRaceTest.await(server.entered, id + ": the request never reached the server");
    server.release.countDown();
    WebClientRaceTest.await(g.reached, id + ": the response never reached " + where);
    ctx.cancel();
    Object outcome = call.get(30, TimeUnit.SECONDS);
    g.resume.countDown();
    assertCanceled(id, outcome);
  }

  /** A {@code retrieve()} of {@code uri} under {@code ctx}: its body, or how it failed. */
  private static CompletableFuture<Object> call(Client client, String uri, Context ctx) {
    return client.web.get().uri(uri).retrieve().bodyToMono(String.class)
        .contextWrite(c -> c.put(Context.class, ctx))
        .toFuture()
        .handle((body, e) -> e != null ? e : body);
  }

  /** The call failed with its context's error: itself, or the cause of Spring's exception. */
  private static void assertCanceled(String id, Object outcome) {
    if (outcome instanceof CanceledException
        || outcome instanceof WebClientResponseException w && w.getCause() instanceof CanceledException) {
      return;
    }
    if (outcome instanceof Throwable t) {
      throw new AssertionError(id + ": the call failed otherwise than with its context's error", t);
    }
    throw new AssertionError(id + ": the call returned \"" + outcome + "\" though its context had ended");
  }
}
