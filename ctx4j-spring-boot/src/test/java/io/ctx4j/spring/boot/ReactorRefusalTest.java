package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.testing.LaggingClock;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.http.client.ReactorClientHttpRequestFactory;
import org.springframework.http.client.reactive.ReactorClientHttpConnector;
import org.springframework.web.client.RestClient;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.netty.Connection;
import reactor.netty.ConnectionObserver;
import reactor.netty.http.HttpProtocol;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.resources.LoopResources;

/**
 * Every place where ctx4j fails a Reactor Netty request with its own error, a {@code
 * CancellationException} (which Netty takes for a cancelled write rather than a failed one), on a
 * real Reactor Netty client against a real server on loopback: the call must fail at once (within
 * a generous bound, never waiting for the context's timer: the clock lags), release every buffer
 * the client allocated, and leave the pool's one connection (or the HTTP/2 connection's streams)
 * to a later call.
 *
 * <ul>
 *   <li>RestClient, {@link ContextReactorHttpClient}: the context ends as Reactor Netty has the
 *       connection (a callback of the application's before ctx4j's), so ctx4j's {@code doOnRequest}
 *       throws the context's error; or the deadline passes just before the write (a callback after
 *       ctx4j's), so the handler refuses the write.
 *   <li>WebClient, {@link ContextExchangeFilterFunction}: the deadline passes before the write, so
 *       the filter's {@code httpRequest} consumer throws from inside Reactor Netty's send.
 * </ul>
 *
 * Over HTTP/1.1 (Tomcat's service C) and h2c (Jetty's service C, prior knowledge).
 */
@Timeout(120)
class ReactorRefusalTest {
  private static final ExecutorService CALLERS = Executors.newCachedThreadPool();

  private final ReactorBodyReleaseTest.CountingAllocator allocator =
      new ReactorBodyReleaseTest.CountingAllocator();
  private final LoopResources loop = LoopResources.create("ctx4j-refusal-test", 1, true);
  private final ConnectionProvider pool = ConnectionProvider.create("ctx4j-refusal-test", 1);
  /** The calls' clock, which never fires the context's timer by itself. */
  private final LaggingClock clock = new LaggingClock();
  /** The call's context: 1 s on the lagging clock, which the tests move past it. */
  private final CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(1));
  /** The test's trigger fires on the first request only, not on the later call. */
  private final AtomicBoolean armed = new AtomicBoolean(true);
  /** The channel of the last request. */
  private final AtomicReference<Channel> channel = new AtomicReference<>();

  @AfterEach
  void dispose() {
    ctx.cancel();
    pool.dispose();
    loop.dispose();
  }

  /** The client, on the counting allocator, one loop thread and a pool of one connection. */
  private HttpClient http(String protocol) {
    return HttpClient.create(pool)
        .runOn(loop)
        .protocol(protocol.equals("h2c") ? HttpProtocol.H2C : HttpProtocol.HTTP11)
        .option(ChannelOption.ALLOCATOR, allocator)
        .doOnRequest((request, connection) -> channel.set(connection.channel()));
  }

  private static String server(String protocol) throws Exception {
    return protocol.equals("h2c") ? Chains.get().jetty.url("C") : Chains.get().tomcat.url("C");
  }

  /**
   * Makes the call under the test's context on another thread, and returns how it failed: within 30 s,
   * which a call that waits for a response that cannot come (the clock lags, so the context's timer
   * never ends it) does not.
   */
  private Throwable failureOf(java.util.concurrent.Callable<?> call) throws Exception {
    Future<?> f = CALLERS.submit(() -> CurrentContext.call(ctx, call));
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS), "the call");
    return e.getCause();
  }

  /** A later call goes through the pool's one connection; then every buffer was released. */
  private void assertLeftNothing(java.util.concurrent.Callable<String> later) throws Exception {
    assertEquals("none", CALLERS.submit(later).get(30, TimeUnit.SECONDS), "a later call");
    // A task on the event loop after the later call: whatever it still had to release is done.
    channel.get().eventLoop().submit(() -> {}).get(30, TimeUnit.SECONDS);
    assertEquals(
        0,
        allocator.unreleased(),
        "buffers the client allocated and never released (of " + allocator.allocated.size() + ")");
  }

  /** Whether {@code state} is the refused request's connection going back into the pool open. */
  private static boolean isReleasedOpen(
      Connection c, ConnectionObserver.State state, AtomicReference<Channel> refused) {
    return state == ConnectionObserver.State.RELEASED
        && c.channel() == refused.get()
        && c.channel().isActive();
  }

  /** Each protocol, with the context ended as the connection is there or the deadline passing. */
  static Stream<Arguments> refusals() {
    return Stream.of("http/1.1", "h2c")
        .flatMap(p -> Stream.of(
            Arguments.of(p, "ended as Reactor Netty has the connection"),
            Arguments.of(p, "deadline passes just before the write")));
  }

  @ParameterizedTest(name = "{0}, {1}")
  @MethodSource("refusals")
  void aRestClientRequestRefusedOnReactorNettyFailsAtOnceAndLeavesNothing(
      String protocol, String when) throws Exception {
    boolean before = when.startsWith("ended");
    Consumer<Object> trigger =
        x -> {
          if (armed.getAndSet(false)) {
            if (before) {
              ctx.cancel();
            } else {
              clock.pass(Duration.ofSeconds(2));
            }
          }
        };
    // The refused request's connection, and whether Reactor Netty took it back into its pool open.
    AtomicReference<Channel> refused = new AtomicReference<>();
    AtomicBoolean releasedOpen = new AtomicBoolean();
    HttpClient h =
        http(protocol)
            .doOnRequest((r, c) -> refused.compareAndSet(null, c.channel()))
            .observe((c, state) -> releasedOpen.compareAndSet(false, isReleasedOpen(c, state, refused)));
    HttpClient installed =
        before
            ? ContextReactorHttpClient.install(h.doOnRequest((r, c) -> trigger.accept(r)))
            : ContextReactorHttpClient.install(h).doOnRequest((r, c) -> trigger.accept(r));
    RestClient rest =
        Chains.get().tomcat.a().getBean(RestClient.Builder.class)
            .baseUrl(server(protocol))
            .requestFactory(new ReactorClientHttpRequestFactory(installed))
            .build();
    // With a body of 64 KiB in the client's buffers, written after the head: a refused head must
    // leave none of them behind. The server has no POST /echo: a request that went out would fail
    // with a 405, not with the context's error.
    byte[] body = new byte[64 * 1024];
    Throwable failure =
        failureOf(() -> rest.post().uri("/echo").body(body).retrieve().body(String.class));
    Class<?> expected = before ? CanceledException.class : DeadlineExceededException.class;
    assertInstanceOf(expected, failure, () -> "failed otherwise: " + failure);
    assertEquals(0, CoreInternals.registrationCount(ctx), "the call left a registration");
    // Closed, not pooled: the context's end also interrupts the calling thread, whose cancel of
    // the exchange closes the connection later, under the next call that takes it ("prematurely
    // closed BEFORE response" in the later call below). A task on the event loop after the failure:
    // Reactor Netty has let the connection go.
    refused.get().eventLoop().submit(() -> {}).get(30, TimeUnit.SECONDS);
    assertTrue(!releasedOpen.get(), "the refused request's connection went back into the pool open");
    assertLeftNothing(() -> rest.get().uri("/echo").retrieve().body(String.class));
  }

  @ParameterizedTest(name = "{0}, {1}")
  @MethodSource("refusals")
  void aWebClientRequestRefusedAtTheWriteFailsAtOnceAndLeavesNothing(String protocol, String when)
      throws Exception {
    boolean ended = when.startsWith("ended");
    AtomicReference<Channel> refused = new AtomicReference<>();
    AtomicBoolean releasedOpen = new AtomicBoolean();
    HttpClient h =
        http(protocol)
            .doOnRequest(
                (r, c) -> {
                  if (armed.getAndSet(false)) {
                    refused.set(c.channel());
                    // After the filter's check, before the write.
                    if (ended) {
                      ctx.cancel(); // and the filter's end signal cancels the exchange meanwhile
                    } else {
                      clock.pass(Duration.ofSeconds(2));
                    }
                  }
                })
            .observe((c, state) -> releasedOpen.compareAndSet(false, isReleasedOpen(c, state, refused)));
    WebClient web =
        Chains.get().tomcat.a().getBean(WebClient.Builder.class)
            .baseUrl(server(protocol))
            .clientConnector(new ReactorClientHttpConnector(h))
            .build();
    Throwable failure =
        failureOf(() -> web.get().uri("/echo").retrieve().bodyToMono(String.class).block());
    Class<?> expected = ended ? CanceledException.class : DeadlineExceededException.class;
    assertInstanceOf(expected, failure, () -> "failed otherwise: " + failure);
    assertTrue(ended || ctx.err() == null, "the clock fired the timer");
    assertEquals(0, CoreInternals.registrationCount(ctx), "the call left a registration");
    // Closed, not pooled: the context's end signal cancels the exchange from another thread, and
    // Reactor Netty's cancel closes the connection later, under the next call that takes it ("ended"
    // over HTTP/1.1: the later call below failed with "Connection prematurely closed BEFORE
    // response" in 14 of 100 runs of a loop on the old code).
    refused.get().eventLoop().submit(() -> {}).get(30, TimeUnit.SECONDS);
    assertTrue(!releasedOpen.get(), "the refused request's connection went back into the pool open");
    assertLeftNothing(() -> web.get().uri("/echo").retrieve().bodyToMono(String.class).block());
  }
}
