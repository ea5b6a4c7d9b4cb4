package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.internal.CoreInternals;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.util.ReferenceCountUtil;
import java.io.InputStream;
import java.lang.reflect.Field;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Flow;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.http.client.ClientHttpResponse;
import org.springframework.http.client.ReactorClientHttpRequestFactory;
import org.springframework.http.client.reactive.ReactorClientHttpConnector;
import org.springframework.web.client.RestClient;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.netty.ConnectionObserver;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionPoolMetrics;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.resources.LoopResources;

/**
 * A RestClient call on Reactor Netty (HTTP/1.1, {@link ContextReactorHttpClient}) whose context
 * ends while it waits for the response's head must never leave its connection to the next call:
 * the context's end interrupts the calling thread, whose {@code Mono.block()} cancels the
 * exchange, and Reactor Netty's cancel closes the connection from that thread, that is later, on
 * the connection's event loop. If the event loop reads the whole response before it gets to that
 * close, Reactor Netty ends the exchange as a clean one and gives the connection back to its pool,
 * where the next call takes it, and the close then breaks that call ("Connection prematurely
 * closed BEFORE response"; CancelAnywhereTest's REACTOR row saw it in calls whose context never
 * ended).
 *
 * <p>The test forces that order every time on a real client against a real server on loopback (a
 * pool of one connection, one event loop): a handler at the head of the connection's pipeline
 * holds the bytes of the first response back until the connection is closed, and hands them on
 * just before the close goes through, as the event loop would if it read them before running the
 * close; the next call is waiting for the pool's connection by then. The same for a WebClient
 * call, whose cancel comes from {@link ContextExchangeFilterFunction}'s end signal. Each case then
 * checks that a later call's connection is pooled: only a cancelled exchange's is kept out.
 *
 * <p>Nor may a response that comes just as the context's end interrupts the calling thread hold
 * its connection: Reactor's {@code Mono.block()} then throws though the response is there, and
 * drops it, and nobody asks for its body, which Reactor Netty reads only on demand. The second
 * case ends the context as the head is in, before Reactor Netty hands the response on, and holds
 * the first cancel back until it has: the response comes out and is dropped every time.
 */
@Timeout(120)
class ReactorCancelledExchangeTest {
  private static final ExecutorService CALLERS = Executors.newCachedThreadPool();

  private final ReactorBodyReleaseTest.CountingAllocator allocator =
      new ReactorBodyReleaseTest.CountingAllocator();
  private final LoopResources loop = LoopResources.create("ctx4j-cancelled-exchange", 1, true);
  /** The pool's metrics, once Reactor Netty has made the pool (at the first request). */
  private final AtomicReference<ConnectionPoolMetrics> metrics = new AtomicReference<>();
  private final ConnectionProvider pool =
      ConnectionProvider.builder("ctx4j-cancelled-exchange")
          .maxConnections(1)
          .metrics(true, () -> (poolName, id, address, m) -> metrics.set(m))
          .build();
  private final CancelableContext ctx = Context.withCancel(Context.background());
  /** The connections the client opened (doOnConnected runs at every acquisition from the pool). */
  private final Set<Channel> connections = ConcurrentHashMap.newKeySet();

  @AfterEach
  void dispose() {
    ctx.cancel();
    pool.dispose();
    loop.dispose();
  }

  @AfterAll
  static void stopThreads() {
    CALLERS.shutdownNow();
  }

  /**
   * Holds back what the connection reads until the connection is closed, and hands it on just
   * before the close: the event loop reading the response before it runs a close queued from
   * another thread. Only for the first response; the connection's later reads pass.
   */
  private static final class HoldTheFirstResponse extends ChannelDuplexHandler {
    private final List<Object> held = new ArrayList<>();
    private final StringBuilder text = new StringBuilder();
    /** Counted down when the whole first response is held. */
    final CountDownLatch complete = new CountDownLatch(1);
    private boolean holding = true;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      if (!holding) {
        ctx.fireChannelRead(msg);
        return;
      }
      held.add(msg);
      text.append(((ByteBuf) msg).toString(StandardCharsets.ISO_8859_1));
      if (isWhole(text)) {
        complete.countDown();
      }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
      if (!holding) {
        ctx.fireChannelReadComplete();
      } else if (complete.getCount() > 0) {
        // Reactor Netty reads on demand (auto-read off), and asks for the next read as what it
        // was handed is consumed: the response may come in more than one read (Tomcat flushes
        // the head with the body's first half), none of which it sees yet.
        ctx.read();
      }
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) throws Exception {
      if (holding) {
        holding = false;
        for (Object msg : held) {
          ctx.fireChannelRead(msg);
        }
        held.clear();
        ctx.fireChannelReadComplete();
      }
      super.close(ctx, promise);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
      held.forEach(ReferenceCountUtil::safeRelease);
      held.clear();
    }

    /** Whether {@code response} is a whole response with a Content-Length. */
    private static boolean isWhole(CharSequence response) {
      String s = response.toString();
      int end = s.indexOf("\r\n\r\n");
      if (end < 0) {
        return false;
      }
      for (String line : s.substring(0, end).split("\r\n")) {
        if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
          int length = Integer.parseInt(line.substring("content-length:".length()).strip());
          return s.length() - end - 4 >= length;
        }
      }
      return false;
    }
  }

  /** A call, on a thread of its own, for 5 bytes of /slow at once. */
  private Future<String> call(Get rest, Context callCtx, String id) {
    return call(rest, callCtx, id, 5);
  }

  private Future<String> call(Get rest, Context callCtx, String id, int size) {
    String uri = "/slow?id=" + id + "&head=0&body=0&size=" + size;
    return CALLERS.submit(() -> CurrentContext.call(callCtx, (Callable<String>) () -> rest.get(uri)));
  }

  /** A GET of a URI on one of the clients, returning the body. */
  private interface Get {
    String get(String uri) throws Exception;
  }

  @Test
  void aCallCancelledAsItsResponseArrivesNeverHandsItsConnectionToTheNextCall() throws Exception {
    cancelledAsItsResponseArrives(
        h -> {
          RestClient rest =
              Chains.get().tomcat.a().getBean(RestClient.Builder.class)
                  .baseUrl(Chains.get().tomcat.url("C"))
                  .requestFactory(new ReactorClientHttpRequestFactory(ContextReactorHttpClient.install(h)))
                  .build();
          return uri -> rest.get().uri(uri).retrieve().body(String.class);
        });
  }

  /**
   * The same with a WebClient and {@link ContextExchangeFilterFunction}, whose end signal cancels
   * the exchange from a thread of the context's.
   */
  @Test
  void aWebClientCallCancelledAsItsResponseArrivesNeverHandsItsConnectionToTheNextCall()
      throws Exception {
    cancelledAsItsResponseArrives(
        h -> {
          WebClient web =
              Chains.get().tomcat.a().getBean(WebClient.Builder.class)
                  .baseUrl(Chains.get().tomcat.url("C"))
                  .clientConnector(new ReactorClientHttpConnector(h))
                  .build();
          return uri -> web.get().uri(uri).retrieve().bodyToMono(String.class).block();
        });
  }

  private interface ClientOn {
    Get client(HttpClient h) throws Exception;
  }

  private void cancelledAsItsResponseArrives(ClientOn clientOn) throws Exception {
    HoldTheFirstResponse hold = new HoldTheFirstResponse();
    AtomicReference<Channel> first = new AtomicReference<>();
    // Whether Reactor Netty took the cancelled call's connection back into its pool open.
    AtomicBoolean releasedOpen = new AtomicBoolean();
    HttpClient h =
        HttpClient.create(pool)
            .runOn(loop)
            .option(ChannelOption.ALLOCATOR, allocator)
            .doOnConnected(
                c -> {
                  connections.add(c.channel());
                  if (first.compareAndSet(null, c.channel())) {
                    c.channel().pipeline().addFirst("ctx4j.test.hold", hold);
                  }
                })
            .observe(
                (c, state) -> {
                  if (state == ConnectionObserver.State.RELEASED
                      && c.channel() == first.get()
                      && c.channel().isActive()) {
                    releasedOpen.set(true);
                  }
                });
    Get rest = clientOn.client(h);
    Future<String> cancelled = call(rest, ctx, "cancelled");
    assertTrue(hold.complete.await(30, TimeUnit.SECONDS), "the first response never arrived whole");
    // The next call, under a context that never ends, waits for the pool's one connection.
    Future<String> next = call(rest, Context.background(), "next");
    awaitPendingAcquire();
    ctx.cancel();
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> cancelled.get(30, TimeUnit.SECONDS), "the cancelled call");
    assertInstanceOf(CanceledException.class, e.getCause(), () -> "failed otherwise: " + e.getCause());
    assertEquals(
        HopApp.slowBody("next", 5),
        outcome(next),
        "the next call, whose context never ended, on the cancelled call's connection");
    assertTrue(first.get().closeFuture().await(30, TimeUnit.SECONDS), "the cancelled call's connection stayed open");
    assertTrue(!releasedOpen.get(), "the cancelled call's connection went back into the pool open");
    assertLeftNothing(rest, first.get());
  }

  @Test
  void aResponseThatComesAsItsCallIsInterruptedDoesNotHoldItsConnection() throws Exception {
    AtomicReference<Channel> first = new AtomicReference<>();
    AtomicBoolean armed = new AtomicBoolean(true);
    CountDownLatch emitted = new CountDownLatch(1);
    HttpClient h =
        ContextReactorHttpClient.install(
                countedClient(first)
                    // On the event loop, as the head is in and before Reactor Netty hands the
                    // response on: the interrupt reaches the calling thread first, so its
                    // Mono.block() throws, though the response follows at once.
                    .doOnResponse(
                        (response, c) -> {
                          if (armed.get()) {
                            ctx.cancel();
                          }
                        }))
            // Around ctx4j's: the first cancel (the calling thread's, as Mono.block() gives up, or
            // Spring's next() taking the response) goes up only once the response was handed on,
            // so that the response comes out and Mono.block() drops it, every time.
            .mapConnect(
                connect ->
                    connect
                        .doOnNext(c -> emitted.countDown())
                        .doOnCancel(
                            () -> {
                              if (armed.getAndSet(false)) {
                                awaitUninterruptibly(emitted);
                              }
                            }));
    RestClient restClient =
        Chains.get().tomcat.a().getBean(RestClient.Builder.class)
            .baseUrl(Chains.get().tomcat.url("C"))
            .requestFactory(new ReactorClientHttpRequestFactory(h))
            .build();
    Get rest = uri -> restClient.get().uri(uri).retrieve().body(String.class);
    // 70 KiB: Reactor Netty reads a body only as it is asked for, so a body nobody reads holds the
    // connection (until the server gives up on it: Tomcat after a minute).
    Future<String> cancelled = call(rest, ctx, "dropped", 70_000);
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> cancelled.get(30, TimeUnit.SECONDS), "the cancelled call");
    assertInstanceOf(CanceledException.class, e.getCause(), () -> "failed otherwise: " + e.getCause());
    assertTrue(emitted.getCount() == 0, "the response never came");
    assertTrue(
        first.get().closeFuture().await(30, TimeUnit.SECONDS),
        "the connection of the response that reached nobody is still open, held by its unread body");
    assertLeftNothing(rest, first.get());
  }

  /**
   * A body the interceptor gives up (the context ended before the response was closed) does not
   * hold its connection even when Spring's body stream lost the connection's subscription: the
   * give-up's close cancels the subscription the stream holds, and that is not always the
   * connection's. The stream takes the subscription in a plain field, and the interceptor hands it
   * one that does nothing before it closes the stream (so that a subscription that comes after the
   * close is cancelled); should the connection's subscription come at that very moment, from the
   * event loop, one of the two writes is lost, and if it is the connection's, nobody cancels it:
   * the unread body holds the connection until the server gives up on it. The test makes that
   * loss certain: once the connection's subscription is in, the stream's field is made to hold one
   * that does nothing, as the race leaves it.
   */
  @Test
  void aGivenUpBodyWhoseSubscriptionSpringLostDoesNotHoldItsConnection() throws Exception {
    AtomicReference<Channel> first = new AtomicReference<>();
    AtomicReference<ClientHttpResponse> factorys = new AtomicReference<>();
    HttpClient h = ContextReactorHttpClient.install(countedClient(first));
    RestClient restClient =
        Chains.get().tomcat.a().getBean(RestClient.Builder.class)
            .baseUrl(Chains.get().tomcat.url("C"))
            .requestFactory(new ReactorClientHttpRequestFactory(h))
            // After ctx4j's interceptor: sees the factory's own response.
            .requestInterceptor(
                (request, body, execution) -> {
                  ClientHttpResponse r = execution.execute(request, body);
                  factorys.set(r);
                  return r;
                })
            .build();
    // 4 MB: Reactor Netty reads a body only as it is asked for, and Spring's stream asks for 16
    // buffers ahead (at most 64 KiB each), so the rest of a body nobody reads holds the connection
    // (until the server gives up on it: Tomcat after a minute). A smaller one may arrive whole.
    Future<String> givenUp =
        CALLERS.submit(
            () ->
                CurrentContext.call(
                    ctx,
                    (Callable<String>)
                        () ->
                            restClient.get().uri("/slow?id=lost&head=0&body=0&size=4000000")
                                .exchange(
                                    (request, response) -> {
                                      response.getBody(); // Spring's stream subscribes
                                      loseTheSubscription(factorys.get().getBody());
                                      ctx.cancel(); // the response's close, next, gives it up
                                      return "given up";
                                    })));
    assertEquals("given up", givenUp.get(30, TimeUnit.SECONDS));
    assertTrue(
        first.get().closeFuture().await(30, TimeUnit.SECONDS),
        "the connection of the given-up body is still open, held by its unread body");
    assertLeftNothing(uri -> restClient.get().uri(uri).retrieve().body(String.class), first.get());
  }

  /**
   * A client on the test's pool and event loop, its buffers counted, that records every connection
   * it opens and the first in {@code first}.
   */
  private HttpClient countedClient(AtomicReference<Channel> first) {
    return HttpClient.create(pool)
        .runOn(loop)
        .option(ChannelOption.ALLOCATOR, allocator)
        .doOnConnected(
            c -> {
              connections.add(c.channel());
              first.compareAndSet(null, c.channel());
            });
  }

  /**
   * Waits (30 s at most) until the connection's subscription is in Spring's stream {@code raw},
   * then puts one that does nothing in its place: the stream no longer has the connection's.
   */
  private static void loseTheSubscription(InputStream raw) {
    try {
      Field f = raw.getClass().getDeclaredField("subscription");
      f.setAccessible(true);
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (f.get(raw) == null) {
        assertTrue(System.nanoTime() < end, "the connection never subscribed Spring's stream");
        LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(100));
      }
      f.set(
          raw,
          new Flow.Subscription() {
            @Override
            public void request(long n) {}

            @Override
            public void cancel() {}
          });
    } catch (ReflectiveOperationException e) {
      throw new AssertionError("Spring's body stream is not the one this test knows: " + raw.getClass(), e);
    }
  }

  /**
   * No registration is left on the cancelled call's context, a later call is served, and its
   * connection pooled (ctx4j keeps only a cancelled exchange's out of the pool), and then every
   * buffer the client allocated was released.
   */
  private void assertLeftNothing(Get rest, Channel channel) throws Exception {
    assertEquals(0, CoreInternals.registrationCount(ctx), "the call left a registration");
    assertEquals(
        HopApp.slowBody("later", 5), call(rest, Context.background(), "later").get(30, TimeUnit.SECONDS), "a later call");
    int opened = connections.size();
    assertEquals(
        HopApp.slowBody("again", 5), call(rest, Context.background(), "again").get(30, TimeUnit.SECONDS), "another call");
    assertEquals(opened, connections.size(), "the later call's connection was not pooled");
    // A task on the event loop after the later call: whatever it still had to release is done.
    channel.eventLoop().submit(() -> {}).get(30, TimeUnit.SECONDS);
    assertEquals(
        0,
        allocator.unreleased(),
        "buffers the client allocated and never released (of " + allocator.allocated.size() + ")");
  }

  private static void awaitUninterruptibly(CountDownLatch latch) {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          assertTrue(latch.await(30, TimeUnit.SECONDS), "the response never came");
          return;
        } catch (InterruptedException e) {
          interrupted = true; // the calling thread, interrupted by the context's end
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** The call's body, or how it failed. */
  private static String outcome(Future<String> call) throws Exception {
    try {
      return call.get(30, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      return "failed: " + e.getCause();
    }
  }

  /** Waits (30 s at most) until a call waits for the pool's connection. */
  private void awaitPendingAcquire() {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (metrics.get() == null || metrics.get().pendingAcquireSize() == 0) {
      assertTrue(System.nanoTime() < end, "the next call never waited for the pool's connection");
      LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(100));
    }
  }
}
