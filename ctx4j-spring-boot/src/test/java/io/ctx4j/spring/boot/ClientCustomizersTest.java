package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.servlet.RequestCanceledException;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import io.ctx4j.testing.DroppingPeer;
import io.ctx4j.testing.LaggingClock;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.boot.http.client.ClientHttpRequestFactoryBuilder;
import org.springframework.boot.http.client.JettyClientHttpRequestFactoryBuilder;
import org.springframework.boot.http.client.autoconfigure.ClientHttpRequestFactoryBuilderCustomizer;
import org.springframework.boot.restclient.autoconfigure.RestClientBuilderConfigurer;
import org.springframework.boot.util.LambdaSafe;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.client.ClientHttpRequestFactory;
import org.springframework.http.client.HttpComponentsClientHttpRequestFactory;
import org.springframework.http.client.ClientHttpResponse;
import org.springframework.http.client.JdkClientHttpRequestFactory;
import org.springframework.http.client.JettyClientHttpRequestFactory;
import org.springframework.http.client.ReactorClientHttpRequestFactory;
import org.springframework.http.client.SimpleClientHttpRequestFactory;
import org.springframework.http.client.reactive.JdkClientHttpConnector;
import org.springframework.http.client.reactive.ReactorClientHttpConnector;
import org.springframework.web.client.RestClient;
import org.springframework.web.reactive.function.client.WebClient;
import reactor.core.publisher.Mono;
import reactor.netty.resources.ConnectionProvider;

/**
 * The RestClient and WebClient customizers against a real server (the Tomcat chain's service C,
 * HTTP/1.1), with the builders the application context provides: the header is sent, and the
 * exchange is aborted when the context ends, both while waiting for the response and while reading
 * its body. "Aborted" is checked on the server: once released, its writes fail, which only happens
 * if the client closed the connection, and its request context ends with CLIENT_DISCONNECTED.
 */
@Timeout(120)
class ClientCustomizersTest {
  private static final ExecutorService CALLERS = Executors.newCachedThreadPool();

  /** Built as Spring Boot builds it with spring.http.clients.imperative.factory=jetty, once. */
  private static JettyClientHttpRequestFactory jetty;

  @AfterAll
  static void stopCallers() throws Exception {
    CALLERS.shutdownNow();
    if (jetty != null) {
      jetty.destroy(); // stops its HttpClient and the client's threads
    }
  }

  /**
   * Spring Boot's Jetty builder with the application's {@code
   * ClientHttpRequestFactoryBuilderCustomizer} beans applied, as Spring Boot applies them to the
   * builder it makes with {@code spring.http.clients.imperative.factory=jetty} ({@code
   * ImperativeHttpClientAutoConfiguration}: through {@code LambdaSafe}, which skips a customizer
   * meant for another builder, such as ctx4j's for Apache HttpClient).
   */
  static JettyClientHttpRequestFactoryBuilder jettyAsBootBuildsIt(ConfigurableApplicationContext app) {
    return asBootBuildsIt(app, ClientHttpRequestFactoryBuilder.jetty());
  }

  /** {@code builder} with {@code app}'s customizers applied, as in {@link #jettyAsBootBuildsIt}. */
  @SuppressWarnings("unchecked")
  static <B extends ClientHttpRequestFactoryBuilder<?>> B asBootBuildsIt(ConfigurableApplicationContext app, B builder) {
    @SuppressWarnings("rawtypes")
    List<ClientHttpRequestFactoryBuilderCustomizer> customizers =
        app.getBeanProvider(ClientHttpRequestFactoryBuilderCustomizer.class).orderedStream().toList();
    ClientHttpRequestFactoryBuilder<?>[] customized = {builder};
    LambdaSafe.callbacks(ClientHttpRequestFactoryBuilderCustomizer.class, customizers, customized[0])
        .invoke(c -> customized[0] = c.customize(customized[0]));
    return (B) customized[0];
  }

  /** One factory, and so one Jetty HttpClient with its threads and pool, for the class's rows. */
  private static synchronized JettyClientHttpRequestFactory jetty() throws Exception {
    if (jetty == null) {
      jetty = jettyAsBootBuildsIt(client()).build();
      // Spring's factory gives each request a total timeout (10 s by default) after which Jetty
      // aborts it: far above the rows' waits, so that it cannot stand in for the context's end.
      jetty.setReadTimeout(Duration.ofMinutes(2));
    }
    return jetty;
  }

  private static ConfigurableApplicationContext client() throws Exception {
    return Chains.get().tomcat.a();
  }

  private static String server() throws Exception {
    return Chains.get().tomcat.url("C");
  }

  private static Hops serverHops() throws Exception {
    return Chains.get().tomcat.hops;
  }

  static RestClient restClient(String factory) throws Exception {
    return restClient(factory, false);
  }

  /**
   * A RestClient on {@code factory} from the builder Spring Boot hands out; {@code twice}: run
   * through Spring Boot's customizers once more, so that it carries two ctx4j interceptors, nested
   * (see RestClientCustomizedTwiceTest).
   */
  static RestClient restClient(String factory, boolean twice) throws Exception {
    RestClient.Builder b = client().getBean(RestClient.Builder.class).baseUrl(server());
    if (twice) {
      client().getBean(RestClientBuilderConfigurer.class).configure(b);
    }
    ClientHttpRequestFactory f =
        switch (factory) {
          case "jdk" -> new JdkClientHttpRequestFactory(
              HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build());
          case "reactor" -> new ReactorClientHttpRequestFactory();
          case "jetty" -> jetty();
          case "simple" -> new SimpleClientHttpRequestFactory();
          case "default" -> null;
          default -> throw new IllegalArgumentException(factory);
        };
    return (f == null ? b : b.requestFactory(f)).build();
  }

  static WebClient webClient() throws Exception {
    return client().getBean(WebClient.Builder.class).baseUrl(server()).build();
  }

  /**
   * A WebClient whose exchange goes through ctx4j's filter and then a probe, nearer the connector,
   * that counts {@code cancelled} down when the exchange or the response body is cancelled.
   */
  static WebClient probedWebClient(CountDownLatch cancelled) throws Exception {
    return client().getBean(WebClient.Builder.class).baseUrl(server())
        .filter((request, next) -> next.exchange(request)
            .doOnCancel(cancelled::countDown)
            .map(r -> r.mutate().body(b -> b.doOnCancel(cancelled::countDown)).build()))
        .build();
  }

  private static <T> T under(Context ctx, Callable<T> call) throws Exception {
    return CurrentContext.call(ctx, call);
  }

  @ParameterizedTest
  @ValueSource(strings = {"jdk", "reactor", "jetty", "default"})
  void restClientSendsTheTimeLeftAndReplacesAStaleHeader(String factory) throws Exception {
    RestClient rest = restClient(factory);
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofSeconds(5))) {
      long v = Long.parseLong(under(ctx, () -> rest.get().uri("/echo").header("Ctx4j-Timeout-Ms", "99999999").retrieve().body(String.class)));
      assertTrue(v > 0 && v < 5000, "sent " + v);
    }
    // No deadline: no header, and a stale one set by the caller is removed.
    assertEquals("none", rest.get().uri("/echo").header("Ctx4j-Timeout-Ms", "99999999").retrieve().body(String.class));
  }

  @Test
  void webClientSendsTheTimeLeftAndReplacesAStaleHeader() throws Exception {
    WebClient web = webClient();
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofSeconds(5))) {
      long v = Long.parseLong(under(ctx, () -> web.get().uri("/echo").header("Ctx4j-Timeout-Ms", "99999999").retrieve().bodyToMono(String.class).block()));
      assertTrue(v > 0 && v < 5000, "sent " + v);
      // The context may come in the Reactor context instead, for pipelines subscribed elsewhere.
      long w = Long.parseLong(web.get().uri("/echo").retrieve().bodyToMono(String.class)
          .contextWrite(c -> c.put(ContextExchangeFilterFunction.REACTOR_KEY, ctx)).block());
      assertTrue(w > 0 && w < 5000, "sent " + w);
    }
    assertEquals("none", web.get().uri("/echo").header("Ctx4j-Timeout-Ms", "99999999").retrieve().bodyToMono(String.class).block());
  }

  @Test
  void aContextAlreadyDoneSendsNothing() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    ctx.cancel();
    RestClient rest = restClient("jdk");
    assertThrows(CanceledException.class, () -> under(ctx, () -> rest.get().uri("/echo").retrieve().body(String.class)));
    WebClient web = webClient();
    assertThrows(CanceledException.class, () -> under(ctx, () -> web.get().uri("/echo").retrieve().bodyToMono(String.class).block()));
  }

  /** A call to {@code uri} under {@code ctx}, as the caller makes it. */
  @FunctionalInterface
  interface LateCall {
    Object run(Context ctx, String uri) throws Exception;
  }

  /**
   * Between a context's deadline and the moment its timer ends it, err() is still null while
   * remaining() is not positive; a clock whose timers never fire holds a real context there. A call
   * in that state must fail unsent with the deadline's error, as a call under an ended context does
   * ({@link #aContextAlreadyDoneSendsNothing}), not go out with {@code Ctx4j-Timeout-Ms: 0} (the
   * server's /work would enter, find its context born done, and answer "cancelled"). A request that
   * went out would have entered the handler before the blocking call returned, so the handler's
   * latch, still up once the call has failed, proves nothing was sent.
   */
  private static void assertSentNothingPastTheDeadline(LateCall call) throws Exception {
    LaggingClock clock = new LaggingClock();
    String id = UUID.randomUUID().toString();
    Hops.Hop server = serverHops().get(id);
    try (CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(1))) {
      clock.pass(Duration.ofSeconds(2));
      assertNull(ctx.err(), "the clock fired the timer");
      RuntimeException failure = assertThrows(RuntimeException.class, () -> call.run(ctx, "/work?id=" + id));
      DeadlineExceededException e =
          assertInstanceOf(DeadlineExceededException.class, failure, () -> "failed otherwise: " + failure);
      assertNull(e.getCause(), "a cause before the context has ended");
      assertEquals(1, server.entered.getCount(), "the request reached the server past its deadline");
      assertEquals(0, CoreInternals.registrationCount(ctx), "the call left a registration on its context");
      assertFalse(Thread.interrupted(), "the call left its thread interrupted");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"jdk", "reactor", "jetty", "simple", "default"})
  void restClientSendsNothingPastTheDeadlineThoughTheTimerHasNotEndedTheContextYet(String factory) throws Exception {
    RestClient rest = restClient(factory);
    assertSentNothingPastTheDeadline((ctx, uri) -> under(ctx, () -> rest.get().uri(uri).retrieve().body(String.class)));
  }

  /**
   * The same for WebClient, with the context current in the subscribing thread and with the
   * context in the subscriber's Reactor context: the exchange fails at subscription.
   */
  @ParameterizedTest
  @ValueSource(strings = {"current", "reactor-context"})
  void webClientSendsNothingPastTheDeadlineThoughTheTimerHasNotEndedTheContextYet(String from) throws Exception {
    WebClient web = webClient();
    assertSentNothingPastTheDeadline(
        (ctx, uri) -> {
          Mono<String> call = web.get().uri(uri).retrieve().bodyToMono(String.class);
          return from.equals("current")
              ? under(ctx, call::block)
              : call.contextWrite(c -> c.put(ContextExchangeFilterFunction.REACTOR_KEY, ctx)).block();
        });
  }

  /** A JDK HttpServer on loopback, on the callers' pool, with no handler yet; not started. */
  private static HttpServer loopbackServer() throws IOException {
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.setExecutor(CALLERS);
    return server;
  }

  /**
   * A started loopback server for a pool held busy: {@code /hold} counts {@code holding} down and
   * answers {@code held} once {@code release} is (or after 30 s); {@code /budget} records the
   * {@code Ctx4j-Timeout-Ms} it got in {@code budgets} and answers it ({@code null} without one).
   */
  private static HttpServer holdAndBudgetServer(CountDownLatch holding, CountDownLatch release, List<String> budgets)
      throws IOException {
    HttpServer server = loopbackServer();
    server.createContext("/hold", exchange -> {
      holding.countDown();
      awaitInHandler(release);
      respond(exchange, 200, "held");
    });
    server.createContext("/budget", exchange -> {
      String budget = String.valueOf(exchange.getRequestHeaders().getFirst("Ctx4j-Timeout-Ms"));
      budgets.add(budget);
      respond(exchange, 200, budget);
    });
    server.start();
    return server;
  }

  /** Answers {@code status} with {@code body} (none if null) and ends the exchange. */
  private static void respond(HttpExchange exchange, int status, String body) throws IOException {
    byte[] bytes = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
    exchange.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
    exchange.getResponseBody().write(bytes);
    exchange.close();
  }

  /** Waits for {@code latch} in a server's handler, keeping an interrupt for its thread. */
  private static void awaitInHandler(CountDownLatch latch) {
    try {
      latch.await(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * The exchange fails (the peer drops the connection before its answer, or halfway through the
   * body) after the deadline has passed but before the timer has ended the context: the caller gets
   * the deadline's error, as when the timer is on time, not the client library's failure wrapped by
   * Spring.
   */
  private static void assertFailsWithTheDeadlinePastIt(LateCall call, boolean cutShortFails)
      throws Exception {
    assertFailsWithTheDeadlinePastIt("", call);
    if (cutShortFails) {
      assertFailsWithTheDeadlinePastIt(CUT_SHORT, call);
    }
  }

  /** A response whose body the peer cuts short: the failure comes from a read of the body. */
  private static final String CUT_SHORT = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nhello";

  private static void assertFailsWithTheDeadlinePastIt(String answered, LateCall call) throws Exception {
    LaggingClock clock = new LaggingClock();
    try (CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(1));
        DroppingPeer peer = new DroppingPeer(answered, () -> clock.pass(Duration.ofSeconds(2)))) {
      RuntimeException failure = assertThrows(RuntimeException.class, () -> call.run(ctx, peer.url("/")));
      if (answered.isEmpty()) {
        assertInstanceOf(DeadlineExceededException.class, failure, () -> "dropped, failed otherwise: " + failure);
      } else {
        // Spring wraps a failed read of the body (RestClientException, WebClientResponseException).
        assertTrue(
            causedBy(failure, DeadlineExceededException.class),
            () -> "cut short, failed otherwise: " + failure);
      }
      peer.done();
      assertNull(ctx.err(), "the clock fired the timer");
      assertEquals(0, CoreInternals.registrationCount(ctx), "the call left a registration on its context");
      assertFalse(Thread.interrupted(), "the call left its thread interrupted");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"jdk", "reactor", "jetty", "simple", "default"})
  void restClientFailsWithTheDeadlineWhenTheExchangeFailsPastIt(String factory) throws Exception {
    RestClient rest = restClient(factory);
    // HttpURLConnection ("simple") hands over the 5 bytes of a body cut short as a whole one: no
    // read of it fails.
    assertFailsWithTheDeadlinePastIt(
        (ctx, uri) -> under(ctx, () -> rest.get().uri(uri).retrieve().body(String.class)),
        !factory.equals("simple"));
  }

  @Test
  void webClientFailsWithTheDeadlineWhenTheExchangeFailsPastIt() throws Exception {
    WebClient web = webClient();
    assertFailsWithTheDeadlinePastIt(
        (ctx, uri) -> under(ctx, web.get().uri(uri).retrieve().bodyToMono(String.class)::block), true);
  }

  /**
   * The deadline passes, the timer lagging, while the first hop is at the server, which then
   * redirects. Apache HttpClient follows the redirect itself, below the interceptor, and
   * ctx4j-httpclient5's hop handler refuses the second hop unsent; the caller must get the
   * deadline's error, as for a call refused before its first hop, not Spring's
   * ResourceAccessException around the handler's InterruptedIOException. (The JDK's, Reactor
   * Netty's and HttpURLConnection's factories send such a hop, with the first hop's stale header, as
   * the README says; Jetty's refuses it too: restClientOnJettyStatesTheTimeLeftOnARedirectHop.) Guard: the review that
   * wrote it found the ResourceAccessException on the code before
   * restClientFailsWithTheDeadlineWhenTheExchangeFailsPastIt's fix, which covers this path too.
   */
  @Test
  void restClientOnApacheGivesTheDeadlinesErrorForARedirectHopRefusedPastTheDeadline() throws Exception {
    CountDownLatch firstEntered = new CountDownLatch(1);
    CountDownLatch clockPassed = new CountDownLatch(1);
    CountDownLatch secondEntered = new CountDownLatch(1);
    HttpServer redirecting = loopbackServer();
    redirecting.createContext("/first", exchange -> {
      firstEntered.countDown();
      awaitInHandler(clockPassed);
      exchange.getResponseHeaders().set("Location", "/second");
      respond(exchange, 302, null);
    });
    redirecting.createContext("/second", exchange -> {
      secondEntered.countDown();
      respond(exchange, 200, null);
    });
    redirecting.start();
    try {
      String base = "http://127.0.0.1:" + redirecting.getAddress().getPort();
      RestClient rest = client().getBean(RestClient.Builder.class).baseUrl(base).build();
      LaggingClock clock = new LaggingClock();
      try (CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(1))) {
        Future<String> f = CALLERS.submit(() -> under(ctx, () -> rest.get().uri("/first").retrieve().body(String.class)));
        assertTrue(firstEntered.await(30, TimeUnit.SECONDS), "the first hop never reached the server");
        clock.pass(Duration.ofSeconds(2));
        clockPassed.countDown();
        ExecutionException thrown = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
        Throwable failure = thrown.getCause();
        assertNull(ctx.err(), "the clock fired the timer");
        assertInstanceOf(DeadlineExceededException.class, failure, () -> "failed otherwise: " + failure);
        assertNull(failure.getCause(), "a cause before the context has ended");
        assertEquals(1, secondEntered.getCount(), "the redirect hop reached the server past its deadline");
        assertEquals(0, CoreInternals.registrationCount(ctx), "the call left a registration on its context");
      }
    } finally {
      clockPassed.countDown();
      redirecting.stop(0);
    }
  }

  /**
   * A request that waits in Reactor Netty's connection pool (one connection, held by another call)
   * goes out only once the connection is free. The time it waited must not be added to the
   * receiver's budget, and a deadline that passed meanwhile (the timer lagging) must keep it from
   * going out, as at subscription: the header is computed, and the deadline checked, when the
   * request is written, not when it was subscribed. A context that ends while the request waits
   * (guard: passes on the old code) gives up its place in the pool: it never goes out later. In
   * every case a later call gets the pool's connection.
   */
  @ParameterizedTest
  @ValueSource(strings = {"waited 900 ms", "waited past the deadline", "cancelled"})
  void webClientStatesTheTimeLeftWhenARequestLeavesTheConnectionPool(String what) throws Exception {
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    List<String> budgets = new CopyOnWriteArrayList<>();
    HttpServer server = holdAndBudgetServer(holding, release, budgets);
    ConnectionProvider one = ConnectionProvider.create("one", 1);
    try {
      CountDownLatch secondSubscribed = new CountDownLatch(1);
      WebClient web = client().getBean(WebClient.Builder.class)
          .baseUrl("http://127.0.0.1:" + server.getAddress().getPort())
          .clientConnector(new ReactorClientHttpConnector(reactor.netty.http.client.HttpClient.create(one)))
          .filter((request, next) -> {
            if (request.url().getPath().equals("/budget")) {
              secondSubscribed.countDown(); // past ctx4j's filter, which comes first
            }
            return next.exchange(request);
          })
          .build();
      Future<String> first = CALLERS.submit(() -> web.get().uri("/hold").retrieve().bodyToMono(String.class).block());
      assertTrue(holding.await(30, TimeUnit.SECONDS), "the first call never reached the server");
      LaggingClock clock = new LaggingClock();
      try (CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(1))) {
        Future<String> second = CALLERS.submit(() -> under(ctx, () -> web.get().uri("/budget").retrieve().bodyToMono(String.class).block()));
        assertTrue(secondSubscribed.await(30, TimeUnit.SECONDS), "the second call never got past the filter");
        switch (what) {
          case "waited 900 ms" -> clock.pass(Duration.ofMillis(900));
          case "waited past the deadline" -> clock.pass(Duration.ofSeconds(2));
          default -> {
            ctx.cancel();
            Throwable failure = assertThrows(ExecutionException.class, () -> second.get(30, TimeUnit.SECONDS)).getCause();
            assertInstanceOf(CanceledException.class, failure, () -> "failed otherwise: " + failure);
          }
        }
        release.countDown();
        assertEquals("held", first.get(30, TimeUnit.SECONDS));
        if (what.equals("waited 900 ms")) {
          long budget = Long.parseLong(second.get(30, TimeUnit.SECONDS));
          assertTrue(budget <= 100, "the receiver's budget counts the wait in the pool: " + budget);
        } else if (what.equals("waited past the deadline")) {
          Throwable failure = assertThrows(ExecutionException.class, () -> second.get(30, TimeUnit.SECONDS)).getCause();
          assertInstanceOf(DeadlineExceededException.class, failure, () -> "failed otherwise: " + failure);
        }
        assertEquals("null", web.get().uri("/budget").retrieve().bodyToMono(String.class).block(), "a later call");
        assertEquals(what.equals("waited 900 ms") ? 2 : 1, budgets.size(), "requests that reached /budget");
        assertEquals(0, CoreInternals.registrationCount(ctx), "the call left a registration on its context");
      }
    } finally {
      release.countDown();
      one.dispose();
      server.stop(0);
    }
  }

  /**
   * With Apache HttpClient 5 on the class path (it is, for this module's tests), Spring Boot builds
   * RestClient on it; the "default" rows of the abort tests below then run through it, with the
   * handlers of ctx4j-httpclient5 that the auto-configuration installs.
   */
  @Test
  void theDefaultRequestFactoryIsApacheHttpClient() throws Exception {
    assertInstanceOf(HttpComponentsClientHttpRequestFactory.class, client().getBean(ClientHttpRequestFactoryBuilder.class).build());
  }

  @ParameterizedTest(name = "{0}, customized twice: {1}")
  @CsvSource({
    "jdk, false", "reactor, false", "jetty, false", "default, false",
    "jdk, true", "reactor, true", "jetty, true", "default, true"
  })
  void restClientIsAbortedWhileWaitingForTheResponse(String factory, boolean twice)
      throws Exception {
    RestClient rest = restClient(factory, twice);
    assertAbortedBeforeResponse(null, (ctx, id) -> CALLERS.submit(() -> under(ctx, () -> rest.get().uri("/hold?id=" + id).retrieve().body(String.class))));
  }

  /**
   * On Spring's {@code JettyClientHttpRequestFactory}, built as Spring Boot builds it ({@code
   * spring.http.clients.imperative.factory=jetty}: the application's customizers, ctx4j's among
   * them, applied), the context's end while the response is awaited aborts Jetty's request: the
   * server sees the client leave at once, long before the factory's read timeout (Spring's total
   * timeout for the request, 10 s by default, kept here) would end the exchange. Before, the call
   * returned at once (the interrupt ended Spring's wait) but Spring (7.0.8) left Jetty's request
   * running, and the server, released, wrote on until the read timeout aborted it, 10 s after the
   * send.
   */
  @Test
  void restClientOnJettyIsAbortedLongBeforeTheReadTimeout() throws Exception {
    JettyClientHttpRequestFactory factory = jettyAsBootBuildsIt(client()).build();
    try {
      RestClient rest = client().getBean(RestClient.Builder.class).baseUrl(server()).requestFactory(factory).build();
      assertServerSeesTheClientLeave(rest, "/hold?id=", 2);
    } finally {
      factory.destroy();
    }
  }

  /**
   * Jetty follows a redirect itself, sending the next hop from one of its own threads once the
   * first response is in: the context's end while that hop waits for its response aborts the hop,
   * which is the request in flight then (the first one is over).
   */
  @Test
  void restClientOnJettyAbortsTheRedirectHopInFlight() throws Exception {
    String target = server();
    HttpServer redirecting = loopbackServer();
    redirecting.createContext("/moved", exchange -> {
      exchange.getResponseHeaders().set("Location", target + "/hold?" + exchange.getRequestURI().getRawQuery());
      respond(exchange, 302, null);
    });
    redirecting.start();
    try {
      RestClient rest = restClient("jetty").mutate().baseUrl("http://127.0.0.1:" + redirecting.getAddress().getPort()).build();
      assertServerSeesTheClientLeave(rest, "/moved?id=", 5);
    } finally {
      redirecting.stop(0);
    }
  }

  /**
   * Jetty follows a redirect itself, below the interceptor, and copies the first request's headers
   * onto the hop: the hop must state the time left when it is sent, not the first hop's budget, and
   * a hop whose deadline passed while the first was at the server (the timer lagging) must not be
   * sent; the caller gets the deadline's error, as on Apache HttpClient with ctx4j-httpclient5. So
   * must Reactor Netty as Spring Boot builds it (it follows redirects too), whose hops {@link
   * ContextReactorHttpClient} states as they are written.
   */
  @ParameterizedTest(name = "{0}, {1}")
  @CsvSource({
    "jetty, 3 s at the server",
    "jetty, past the deadline at the server",
    "reactor, 3 s at the server",
    "reactor, past the deadline at the server",
  })
  void restClientOnJettyStatesTheTimeLeftOnARedirectHop(String factory, String what) throws Exception {
    boolean past = what.startsWith("past");
    CountDownLatch firstEntered = new CountDownLatch(1);
    CountDownLatch clockPassed = new CountDownLatch(1);
    List<String> budgets = new CopyOnWriteArrayList<>();
    HttpServer redirecting = loopbackServer();
    redirecting.createContext("/first", exchange -> {
      budgets.add("first " + exchange.getRequestHeaders().getFirst("Ctx4j-Timeout-Ms"));
      firstEntered.countDown();
      awaitInHandler(clockPassed);
      exchange.getResponseHeaders().set("Location", "/second");
      respond(exchange, 302, null);
    });
    redirecting.createContext("/second", exchange -> {
      budgets.add("second " + exchange.getRequestHeaders().getFirst("Ctx4j-Timeout-Ms"));
      respond(exchange, 200, "second");
    });
    redirecting.start();
    try {
      String base = "http://127.0.0.1:" + redirecting.getAddress().getPort();
      RestClient rest = factory.equals("jetty")
          ? restClient("jetty").mutate().baseUrl(base).build()
          : client().getBean(RestClient.Builder.class).baseUrl(base)
              .requestFactory(asBootBuildsIt(client(), ClientHttpRequestFactoryBuilder.reactor()).build())
              .build();
      LaggingClock clock = new LaggingClock();
      try (CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(past ? 1 : 10))) {
        Future<String> f = CALLERS.submit(() -> under(ctx, () -> rest.get().uri("/first").retrieve().body(String.class)));
        assertTrue(firstEntered.await(30, TimeUnit.SECONDS), "the first hop never reached the server");
        clock.pass(Duration.ofSeconds(past ? 2 : 3));
        clockPassed.countDown();
        if (past) {
          ExecutionException thrown = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
          Throwable failure = thrown.getCause();
          assertNull(ctx.err(), "the clock fired the timer");
          assertInstanceOf(DeadlineExceededException.class, failure, () -> "failed otherwise: " + failure);
          assertNull(failure.getCause(), "a cause before the context has ended");
          assertEquals(List.of("first 995"), budgets, "the redirect hop reached the server past its deadline");
        } else {
          assertEquals("second", f.get(30, TimeUnit.SECONDS));
          // The clock moves only by pass(): the budgets are exact.
          assertEquals(List.of("first 9995", "second 6995"), budgets, "the budgets the server saw");
        }
        assertEquals(0, CoreInternals.registrationCount(ctx), "the call left a registration on its context");
      }
    } finally {
      clockPassed.countDown();
      redirecting.stop(0);
    }
  }

  /**
   * Jetty queues a request that finds no free connection, and sends it when one is free: Spring's
   * own request (the call's first) must state the time left when it leaves Jetty's queue, not what
   * was left when the interceptor handed it on, and one whose deadline passed while it waited (the
   * timer lagging) must not be sent; the caller gets the deadline's error. A pool of one connection,
   * held by another call at the server, keeps the request queued while the clock moves. A context
   * that ends while its request waits (guard: passes on the old code) aborts it there: it never
   * goes out later. In every case a later call gets the pool's connection.
   */
  @ParameterizedTest
  @ValueSource(strings = {"waited 3 s", "waited past the deadline", "cancelled"})
  void restClientOnJettyStatesTheTimeLeftWhenARequestLeavesTheConnectionQueue(String what) throws Exception {
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch queued = new CountDownLatch(1);
    List<String> budgets = new CopyOnWriteArrayList<>();
    HttpServer server = holdAndBudgetServer(holding, release, budgets);
    // As Spring Boot builds it, with one connection per destination and a listener (after ctx4j's)
    // that says when the measured request is in Jetty's queue.
    JettyClientHttpRequestFactory onePool = jettyAsBootBuildsIt(client())
        .withHttpClientCustomizer(http -> {
          http.setMaxConnectionsPerDestination(1);
          http.getRequestListeners().addListener(new org.eclipse.jetty.client.Request.Listener() {
            @Override
            public void onQueued(org.eclipse.jetty.client.Request request) {
              if (request.getPath().equals("/budget")) {
                queued.countDown();
              }
            }
          });
        })
        .build();
    onePool.setReadTimeout(Duration.ofMinutes(2));
    try {
      String base = "http://127.0.0.1:" + server.getAddress().getPort();
      RestClient rest = client().getBean(RestClient.Builder.class).baseUrl(base).requestFactory(onePool).build();
      Future<String> held = CALLERS.submit(() -> rest.get().uri("/hold").retrieve().body(String.class));
      assertTrue(holding.await(30, TimeUnit.SECONDS), "the holding call never reached the server");
      LaggingClock clock = new LaggingClock();
      try (CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(what.equals("waited 3 s") ? 10 : 1))) {
        Future<String> f = CALLERS.submit(() -> under(ctx, () -> rest.get().uri("/budget").retrieve().body(String.class)));
        assertTrue(queued.await(30, TimeUnit.SECONDS), "the request was never queued");
        switch (what) {
          case "waited 3 s" -> clock.pass(Duration.ofSeconds(3));
          case "waited past the deadline" -> clock.pass(Duration.ofSeconds(2));
          default -> {
            ctx.cancel();
            Throwable failure = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS)).getCause();
            assertInstanceOf(CanceledException.class, failure, () -> "failed otherwise: " + failure);
          }
        }
        release.countDown(); // the connection is free once the holding call's answer is in
        assertEquals("held", held.get(30, TimeUnit.SECONDS));
        if (what.equals("waited 3 s")) {
          // The clock moves only by pass(): the budget is exact.
          assertEquals("6995", f.get(30, TimeUnit.SECONDS), "the budget the server saw");
        } else if (what.equals("waited past the deadline")) {
          Throwable failure = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS)).getCause();
          assertNull(ctx.err(), "the clock fired the timer");
          assertInstanceOf(DeadlineExceededException.class, failure, () -> "failed otherwise: " + failure);
          assertNull(failure.getCause(), "a cause before the context has ended");
        }
        assertEquals("null", rest.get().uri("/budget").retrieve().body(String.class), "a later call");
        assertEquals(what.equals("waited 3 s") ? List.of("6995", "null") : List.of("null"), budgets,
            "the budgets the server saw");
        assertEquals(0, CoreInternals.registrationCount(ctx), "the call left a registration on its context");
      }
    } finally {
      release.countDown();
      onePool.destroy();
      server.stop(0);
    }
  }

  /**
   * The other factories of RestClient that keep a pool of connections with a limit, each with one
   * connection held by another call at the server: the request waits for it below the interceptor,
   * which stated the budget before, while a lagging clock passes 3 s of 10, or 2 s of 1. Apache
   * HttpClient as Spring Boot builds it, with ctx4j-httpclient5's handlers (guard: its hop handler
   * runs below {@code ConnectExec}, which leases the connection, so it states the time left after
   * the wait and refuses a request past its deadline); Apache HttpClient without them, and
   * Reactor Netty ({@code ReactorClientHttpRequestFactory}: Spring's request copies its headers
   * onto Reactor Netty's once it has a connection, so the interceptor's value, computed before,
   * goes out) have no hook of ctx4j's after the wait: they send the interceptor's budget, stale by
   * the wait, and one past its deadline, as the README's gaps say. In every case a later call gets
   * the pool's connection.
   */
  @ParameterizedTest(name = "{0}, {1}")
  @CsvSource({
    "apache, waited 3 s, 6995",
    "apache, waited past the deadline, DeadlineExceededException",
    "apache without ctx4j-httpclient5, waited 3 s, 9995",
    "apache without ctx4j-httpclient5, waited past the deadline, 995",
    "reactor, waited 3 s, 6995",
    "reactor, waited past the deadline, DeadlineExceededException",
  })
  void restClientStatesTheTimeLeftWhenARequestLeavesTheConnectionPool(String factory, String what, String sent)
      throws Exception {
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch stated = new CountDownLatch(1);
    List<String> budgets = new CopyOnWriteArrayList<>();
    HttpServer server = holdAndBudgetServer(holding, release, budgets);
    ConnectionProvider one = ConnectionProvider.create("one", 1);
    ClientHttpRequestFactory onePool =
        switch (factory) {
          case "apache" -> asBootBuildsIt(client(), ClientHttpRequestFactoryBuilder.httpComponents())
              .withConnectionManagerCustomizer(m -> m.setMaxConnTotal(1).setMaxConnPerRoute(1))
              .build();
          case "apache without ctx4j-httpclient5" -> new HttpComponentsClientHttpRequestFactory(
              org.apache.hc.client5.http.impl.classic.HttpClients.custom()
                  .setConnectionManager(
                      org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManagerBuilder.create()
                          .setMaxConnTotal(1).setMaxConnPerRoute(1).build())
                  .build());
          case "reactor" -> asBootBuildsIt(client(), ClientHttpRequestFactoryBuilder.reactor())
              .withHttpClientFactory(() -> reactor.netty.http.client.HttpClient.create(one))
              .build();
          default -> throw new IllegalArgumentException(factory);
        };
    try {
      RestClient rest = client().getBean(RestClient.Builder.class)
          .baseUrl("http://127.0.0.1:" + server.getAddress().getPort())
          .requestFactory(onePool)
          .requestInterceptor((request, body, execution) -> {
            if (request.getURI().getPath().equals("/budget")) {
              stated.countDown(); // past ctx4j's interceptor, which comes first
            }
            return execution.execute(request, body);
          })
          .build();
      Future<String> held = CALLERS.submit(() -> rest.get().uri("/hold").retrieve().body(String.class));
      assertTrue(holding.await(30, TimeUnit.SECONDS), "the holding call never reached the server");
      LaggingClock clock = new LaggingClock();
      boolean waited = what.equals("waited 3 s");
      try (CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(waited ? 10 : 1))) {
        Future<String> f = CALLERS.submit(() -> under(ctx, () -> rest.get().uri("/budget").retrieve().body(String.class)));
        assertTrue(stated.await(30, TimeUnit.SECONDS), "the request never got past the interceptor");
        // The pool's one connection is at the server until release: the request cannot go out yet.
        clock.pass(Duration.ofSeconds(waited ? 3 : 2));
        release.countDown();
        assertEquals("held", held.get(30, TimeUnit.SECONDS));
        if (sent.equals("DeadlineExceededException")) {
          Throwable failure = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS)).getCause();
          assertNull(ctx.err(), "the clock fired the timer");
          assertInstanceOf(DeadlineExceededException.class, failure, () -> "failed otherwise: " + failure);
        } else {
          // The clock moves only by pass(): the budget is exact.
          assertEquals(sent, f.get(30, TimeUnit.SECONDS), "the budget the server saw");
        }
        assertEquals("null", rest.get().uri("/budget").retrieve().body(String.class), "a later call");
        List<String> expected = sent.equals("DeadlineExceededException") ? List.of("null") : List.of(sent, "null");
        assertEquals(expected, budgets, "the budgets the server saw");
        assertEquals(0, CoreInternals.registrationCount(ctx), "the call left a registration on its context");
      }
    } finally {
      release.countDown();
      if (onePool instanceof org.springframework.beans.factory.DisposableBean d) {
        d.destroy(); // Apache's factory closes its client
      }
      one.dispose();
      server.stop(0);
    }
  }

  /**
   * {@link ContextReactorHttpClient} checks the deadline once Reactor Netty has a connection for
   * the request ({@code doOnRequest}), and states the time left as the request is written; a
   * deadline that passes between the two (Spring copying the body, here a callback of the
   * application's after ctx4j's that moves a lagging clock past it) must not let the request out
   * with {@code 0}: the write is refused, and the call fails with the deadline's error, unsent, as
   * for a deadline passed before; on a new connection, and on one the pool hands over again (a
   * first call made it), where Reactor Netty reports the refused write differently. A later call
   * gets the pool's one connection.
   */
  @ParameterizedTest
  @ValueSource(strings = {"a new connection", "a pooled connection"})
  void restClientOnReactorSendsNothingWhoseDeadlinePassesJustBeforeTheWrite(String on) throws Exception {
    List<String> budgets = new CopyOnWriteArrayList<>();
    HttpServer server = holdAndBudgetServer(new CountDownLatch(1), new CountDownLatch(0), budgets); // /budget only
    ConnectionProvider one = ConnectionProvider.create("one", 1);
    LaggingClock clock = new LaggingClock();
    AtomicBoolean passOnce = new AtomicBoolean(false);
    ClientHttpRequestFactory factory = asBootBuildsIt(client(), ClientHttpRequestFactoryBuilder.reactor())
        .withHttpClientFactory(() -> reactor.netty.http.client.HttpClient.create(one))
        .withHttpClientCustomizer(http -> http.doOnRequest((request, connection) -> {
          if (passOnce.getAndSet(false)) {
            clock.pass(Duration.ofSeconds(2)); // after ctx4j's check, before the write
          }
        }))
        .build();
    try {
      RestClient rest = client().getBean(RestClient.Builder.class)
          .baseUrl("http://127.0.0.1:" + server.getAddress().getPort())
          .requestFactory(factory)
          .build();
      if (on.equals("a pooled connection")) {
        assertEquals("null", rest.get().uri("/budget").retrieve().body(String.class), "the first call");
        budgets.clear();
      }
      passOnce.set(true);
      try (CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(1))) {
        Future<String> f = CALLERS.submit(() -> under(ctx, () -> rest.get().uri("/budget").retrieve().body(String.class)));
        Throwable failure = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS)).getCause();
        assertEquals(List.of(), budgets, "the request reached the server past its deadline");
        assertNull(ctx.err(), "the clock fired the timer");
        assertInstanceOf(DeadlineExceededException.class, failure, () -> "failed otherwise: " + failure);
        assertNull(failure.getCause(), "a cause before the context has ended");
        assertEquals(0, CoreInternals.registrationCount(ctx), "the call left a registration on its context");
      }
      assertEquals("null", rest.get().uri("/budget").retrieve().body(String.class), "a later call");
      assertEquals(List.of("null"), budgets, "the budgets the server saw");
    } finally {
      one.dispose();
      server.stop(0);
    }
  }

  /**
   * A request the application sends itself, on the calling thread, while a RestClient call is in
   * the interceptor chain (a token fetch in a later interceptor), through the same Jetty or Reactor
   * Netty client but without ctx4j's interceptor (a RestClient without it, on the same factory), is
   * the application's: it keeps its own headers (none: the server's {@code /echo} answers "none"),
   * and it goes out though the call's deadline has passed (the timer lagging), while the call's own
   * request states the time left, or is refused past the deadline. Both the Jetty listener and the
   * Reactor Netty client found the call on the thread and took the application's request for the
   * call's.
   */
  @ParameterizedTest(name = "{0}, {1}")
  @CsvSource({"jetty, in time", "jetty, past the deadline", "reactor, in time", "reactor, past the deadline"})
  void aRequestOfTheApplicationsOwnInsideACallKeepsItsHeaders(String factory, String when) throws Exception {
    ClientHttpRequestFactory shared = factory.equals("jetty")
        ? jetty()
        : asBootBuildsIt(client(), ClientHttpRequestFactoryBuilder.reactor()).build();
    RestClient own = RestClient.builder().baseUrl(server()).requestFactory(shared).build();
    boolean past = when.startsWith("past");
    LaggingClock clock = new LaggingClock();
    List<String> fetched = new CopyOnWriteArrayList<>();
    RestClient rest = client().getBean(RestClient.Builder.class).baseUrl(server()).requestFactory(shared)
        .requestInterceptor((request, body, execution) -> {
          if (past) {
            clock.pass(Duration.ofSeconds(2));
          }
          fetched.add(own.get().uri("/echo").retrieve().body(String.class)); // the token fetch
          return execution.execute(request, body);
        })
        .build();
    try (CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(past ? 1 : 10))) {
      if (past) {
        RuntimeException failure = assertThrows(RuntimeException.class,
            () -> under(ctx, () -> rest.get().uri("/echo").retrieve().body(String.class)));
        assertEquals(List.of("none"), fetched, "what the application's own request carried");
        assertNull(ctx.err(), "the clock fired the timer");
        assertInstanceOf(DeadlineExceededException.class, failure, () -> "failed otherwise: " + failure);
        assertNull(failure.getCause(), "a cause before the context has ended");
      } else {
        // The clock moves only by pass(): the budget is exact.
        assertEquals("9995", under(ctx, () -> rest.get().uri("/echo").retrieve().body(String.class)));
        assertEquals(List.of("none"), fetched, "what the application's own request carried");
      }
      assertEquals(0, CoreInternals.registrationCount(ctx), "the call left a registration on its context");
    }
  }

  /**
   * The JDK {@code HttpClient} (HTTP/1.1) keeps no limit on its connections ({@code
   * jdk.httpclient.connectionPoolSize} bounds only the idle ones it keeps): with one connection
   * held by another call at the server, a request opens a new one at once and never waits for a
   * pooled connection, so the interceptor's budget is the one it sends.
   */
  @Test
  void restClientOnTheJdkClientWaitsForNoPooledConnection() throws Exception {
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    List<String> budgets = new CopyOnWriteArrayList<>();
    HttpServer server = holdAndBudgetServer(holding, release, budgets);
    try {
      RestClient rest = client().getBean(RestClient.Builder.class)
          .baseUrl("http://127.0.0.1:" + server.getAddress().getPort())
          .requestFactory(new JdkClientHttpRequestFactory(
              HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()))
          .build();
      Future<String> held = CALLERS.submit(() -> rest.get().uri("/hold").retrieve().body(String.class));
      assertTrue(holding.await(30, TimeUnit.SECONDS), "the holding call never reached the server");
      LaggingClock clock = new LaggingClock();
      try (CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(10))) {
        // Returns while the other call still holds its connection.
        assertEquals("9995", under(ctx, () -> rest.get().uri("/budget").retrieve().body(String.class)));
        release.countDown();
        assertEquals("held", held.get(30, TimeUnit.SECONDS));
        assertEquals(List.of("9995"), budgets, "the budgets the server saw");
      }
    } finally {
      release.countDown();
      server.stop(0);
    }
  }

  /**
   * A Jetty {@code HttpClient} the application builds itself, with {@link
   * ContextJettyHttpClient#install} and a factory of its own: aborted like the ones Spring Boot
   * builds.
   */
  @Test
  void anOwnJettyHttpClientWithContextJettyHttpClientIsAborted() throws Exception {
    org.eclipse.jetty.client.HttpClient own = new org.eclipse.jetty.client.HttpClient();
    assertSame(own, ContextJettyHttpClient.install(own));
    assertSame(own, ContextJettyHttpClient.install(own)); // again: adds nothing
    JettyClientHttpRequestFactory factory = new JettyClientHttpRequestFactory(own);
    try {
      RestClient rest = client().getBean(RestClient.Builder.class).baseUrl(server()).requestFactory(factory).build();
      assertServerSeesTheClientLeave(rest, "/hold?id=", 2);
    } finally {
      factory.destroy();
    }
    NullPointerException npe = assertThrows(NullPointerException.class, () -> ContextJettyHttpClient.install(null));
    assertEquals("client", npe.getMessage());
  }

  /**
   * Jetty's own pool, which holds every job it is given once {@link #hold} is called, until {@link
   * #release}: the moment a job is submitted is known, and nothing it was to do happens before.
   */
  static final class HeldPool extends org.eclipse.jetty.util.thread.QueuedThreadPool {
    /** Counted down when a job is submitted while holding. */
    private final CountDownLatch submitted;
    private final CountDownLatch release = new CountDownLatch(1);
    private volatile boolean holding;

    HeldPool(CountDownLatch submitted) {
      this.submitted = submitted;
    }

    void hold() {
      holding = true;
    }

    void release() {
      holding = false;
      release.countDown();
    }

    @Override
    public void execute(Runnable job) {
      if (!holding) {
        super.execute(job);
        return;
      }
      submitted.countDown();
      super.execute(() -> {
        awaitInHandler(release);
        job.run();
      });
    }
  }

  /**
   * A Jetty factory as Spring Boot builds it has its client started when it is built, not inside
   * the first call: Spring's factory starts its client lazily in the first {@code createRequest},
   * which runs inside the interceptor's interrupt scope, so a first call whose context ended while
   * Jetty's client was starting interrupted the start (in {@code ManagedSelector.doStart}), the
   * call returned seconds after its cancel and left the client {@code FAILED}, and a later call
   * whose context never ended failed. Here the first call is cancelled as soon as Jetty's pool is
   * given a job (held there) or the request is queued, whichever comes first: on the old code the
   * start's job, now the request's own.
   */
  @Test
  void restClientOnJettyStartsTheClientBeforeTheFirstCall() throws Exception {
    List<String> budgets = new CopyOnWriteArrayList<>();
    HttpServer server = holdAndBudgetServer(new CountDownLatch(1), new CountDownLatch(0), budgets);
    // Counted down by the first job Jetty's pool is given once held, or as the request is queued.
    CountDownLatch reached = new CountDownLatch(1);
    HeldPool pool = new HeldPool(reached);
    org.eclipse.jetty.client.HttpClient[] built = new org.eclipse.jetty.client.HttpClient[1];
    JettyClientHttpRequestFactory factory = jettyAsBootBuildsIt(client())
        .withHttpClientCustomizer(http -> {
          http.setExecutor(pool);
          http.getRequestListeners().addListener(new org.eclipse.jetty.client.Request.Listener() {
            @Override
            public void onQueued(org.eclipse.jetty.client.Request request) {
              reached.countDown();
            }
          });
          built[0] = http;
        })
        .build();
    org.eclipse.jetty.client.HttpClient jetty = built[0];
    try {
      String base = "http://127.0.0.1:" + server.getAddress().getPort();
      RestClient rest = client().getBean(RestClient.Builder.class).baseUrl(base).requestFactory(factory).build();
      pool.hold();
      String first;
      try (CancelableContext ctx = Context.withCancel(Context.background())) {
        Future<String> call = CALLERS.submit(() -> under(ctx, () -> rest.get().uri("/budget").retrieve().body(String.class)));
        assertTrue(reached.await(30, TimeUnit.SECONDS), "neither Jetty's pool nor its queue saw the call");
        ctx.cancel();
        long cancelled = System.nanoTime();
        Throwable failure = assertThrows(ExecutionException.class, () -> call.get(30, TimeUnit.SECONDS)).getCause();
        long ms = (System.nanoTime() - cancelled) / 1_000_000;
        first = failure.getClass().getSimpleName() + (ms < 1000 ? " at once" : " " + ms + " ms after the cancel");
      }
      pool.release();
      String state = jetty.getState();
      String later;
      try {
        later = rest.get().uri("/budget").retrieve().body(String.class);
      } catch (RuntimeException e) {
        later = e.toString();
      }
      assertEquals("CanceledException at once, Jetty's client STARTED, a later call: null",
          first + ", Jetty's client " + state + ", a later call: " + later);
    } finally {
      pool.release();
      jetty.stop(); // Spring's factory does not stop a client it was given
      server.stop(0);
    }
  }

  /**
   * A call of {@code rest} to {@code path + id} (which reaches the server's /hold) under a context
   * that ends while the server holds its answer: see {@link #assertAbortedBeforeResponse}, the server
   * to see the client leave within {@code seconds} of the cancel.
   */
  private static void assertServerSeesTheClientLeave(RestClient rest, String path, int seconds) throws Exception {
    assertAbortedBeforeResponse(
        null, (ctx, id) -> CALLERS.submit(() -> under(ctx, () -> rest.get().uri(path + id).retrieve().body(String.class))), seconds);
  }

  @Test
  void webClientIsAbortedWhileWaitingForTheResponse() throws Exception {
    CountDownLatch cancelled = new CountDownLatch(1);
    WebClient web = probedWebClient(cancelled);
    assertAbortedBeforeResponse(cancelled, (ctx, id) -> CALLERS.submit(() -> under(ctx, () -> web.get().uri("/hold?id=" + id).retrieve().bodyToMono(String.class).block())));
  }

  /**
   * The caller's pipeline (here a fallback that blocks) must not run inside {@code cancel()}: the
   * core asks {@code onDone} callbacks to be short, and a cancel is often made by a thread that has
   * other work (a request's end, a shutdown).
   */
  @Test
  void webClientDoesNotRunTheCallersFallbackInsideCancel() throws Exception {
    WebClient web = webClient();
    CountDownLatch inFallback = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    CancelableContext ctx = Context.withCancel(Context.background());
    String id = UUID.randomUUID().toString();
    Hops.Hop server = serverHops().get(id);
    Future<String> f = CALLERS.submit(() -> under(ctx, () -> web.get().uri("/hold?id=" + id)
        .retrieve().bodyToMono(String.class)
        .onErrorResume(e -> {
          inFallback.countDown();
          try {
            release.await(30, TimeUnit.SECONDS);
          } catch (InterruptedException interrupted) {
            Thread.currentThread().interrupt();
          }
          return Mono.just("fallback");
        })
        .block()));
    try {
      assertTrue(server.entered.await(30, TimeUnit.SECONDS), "request never reached the server");
      Future<?> cancel = CALLERS.submit(() -> {
        ctx.cancel();
      });
      cancel.get(10, TimeUnit.SECONDS); // times out if cancel() runs the fallback
      assertTrue(inFallback.await(30, TimeUnit.SECONDS), "the cancel never failed the call");
    } finally {
      release.countDown();
      server.release.countDown();
    }
    assertEquals("fallback", f.get(30, TimeUnit.SECONDS));
  }

  /** The response as the inner end of the chain gives it, saying when RestClient closes it. */
  private static class ClosingProbe implements ClientHttpResponse {
    private final ClientHttpResponse delegate;
    private final CountDownLatch closing;

    ClosingProbe(ClientHttpResponse delegate, CountDownLatch closing) {
      this.delegate = delegate;
      this.closing = closing;
    }

    @Override
    public HttpStatusCode getStatusCode() throws IOException {
      return delegate.getStatusCode();
    }

    @Override
    public String getStatusText() throws IOException {
      return delegate.getStatusText();
    }

    @Override
    public HttpHeaders getHeaders() {
      return delegate.getHeaders();
    }

    @Override
    public InputStream getBody() throws IOException {
      return delegate.getBody();
    }

    @Override
    public void close() {
      closing.countDown();
      delegate.close(); // Spring's response drains the rest of the body here
    }
  }

  /**
   * RestClient closes the response after exchange(), and Spring's close drains the rest of the body,
   * which /stream makes last 20 s (a chunk every 10 ms): the context's end must stop that drain,
   * whether it ends during the drain or before it, with the body never asked for. On every factory:
   * with {@code HttpURLConnection}, whose reads ignore the interrupt and whose stream is not closed
   * from another thread, the drain stops at the next chunk, as a read does; before, Spring's drain
   * read the raw stream, past the interceptor, to the body's end. Jetty's stream does not drain:
   * its close aborts the exchange, with or without the context's end.
   */
  @ParameterizedTest
  @ValueSource(strings = {"jdk", "reactor", "jetty", "simple", "default"})
  void restClientStopsDrainingTheBodyWhenTheContextEnds(String factory) throws Exception {
    RestClient rest = restClient(factory);
    CancelableContext during = Context.withCancel(Context.background());
    String id = UUID.randomUUID().toString();
    Hops.Hop server = serverHops().get(id);
    java.util.concurrent.atomic.AtomicReference<Thread> caller = new java.util.concurrent.atomic.AtomicReference<>();
    CountDownLatch called = new CountDownLatch(1);
    Future<String> f = CALLERS.submit(() -> {
      caller.set(Thread.currentThread());
      called.countDown();
      return under(during, () -> rest.get().uri("/stream?id=" + id)
          .exchange((req, res) -> {
            res.getBody().read(new byte[16]);
            return "read";
          }));
    });
    assertTrue(called.await(30, TimeUnit.SECONDS), "the call never started");
    if (!factory.equals("jetty")) {
      // RestClient closes the response once exchange() has returned: the drain is under way there.
      awaitStack(caller.get(), "the response's close", frame -> frame.endsWith("ContextClientHttpRequestInterceptor$Response.close"));
      during.cancel();
    }
    // Jetty's body stream does not drain at close: its close() fails what it holds and aborts the
    // exchange, so the call returns without the cancel, and the server sees the client leave.
    String read;
    try {
      read = f.get(10, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      throw new AssertionError("the drain went on after the context ended (10 s)", e);
    }
    assertEquals("read", read);
    assertTrue(server.ended.await(30, TimeUnit.SECONDS), "the server kept streaming: the connection was not closed");
    assertEquals(Reason.CLIENT_DISCONNECTED, ((RequestCanceledException) server.cause).reason(), String.valueOf(server.cause));

    CancelableContext before = Context.withCancel(Context.background());
    String id2 = UUID.randomUUID().toString();
    Hops.Hop server2 = serverHops().get(id2);
    Future<Integer> g = CALLERS.submit(() -> under(before, () -> rest.get().uri("/stream?id=" + id2)
        .exchange((req, res) -> {
          before.cancel();
          return res.getStatusCode().value();
        })));
    assertEquals(200, g.get(10, TimeUnit.SECONDS), "closing drained a body nobody asked for");
    assertTrue(server2.ended.await(30, TimeUnit.SECONDS), "the server kept streaming: the connection was not closed");
    assertEquals(Reason.CLIENT_DISCONNECTED, ((RequestCanceledException) server2.cause).reason(), String.valueOf(server2.cause));
  }

  /**
   * The context ends just as the response comes back through the interceptor (here the next
   * interceptor ends it): the caller gets the context's error, and the response (a 20 s stream) is
   * given up.
   */
  @ParameterizedTest
  @ValueSource(strings = {"jdk", "reactor", "jetty"})
  void aContextEndingAsTheResponseArrivesFailsTheCallWithItsError(String factory) throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    RestClient rest =
        restClient(factory).mutate()
            .requestInterceptor((request, body, execution) -> {
              ClientHttpResponse response = execution.execute(request, body);
              ctx.cancel();
              return response;
            })
            .build();
    String id = UUID.randomUUID().toString();
    Hops.Hop server = serverHops().get(id);
    assertThrows(CanceledException.class, () -> under(ctx, () -> rest.get().uri("/stream?id=" + id).retrieve().body(String.class)));
    assertEquals(0, CoreInternals.registrationCount(ctx), "the call left a registration on its context");
    assertFalse(Thread.interrupted(), "the call left its thread interrupted");
    assertTrue(server.ended.await(30, TimeUnit.SECONDS), "the server kept streaming: the connection was not closed");
    assertEquals(Reason.CLIENT_DISCONNECTED, ((RequestCanceledException) server.cause).reason(), String.valueOf(server.cause));
  }

  @Test
  void anErrorBelowTheInterceptorLeavesNoRegistrationAndNoLaterInterrupt() throws Exception {
    RestClient failing =
        restClient("jdk").mutate()
            .requestInterceptor((request, body, execution) -> {
              throw new AssertionError("a bug below the interceptor");
            })
            .build();
    CancelableContext ctx = Context.withCancel(Context.background());
    AssertionError e =
        assertThrows(AssertionError.class, () -> under(ctx, () -> failing.get().uri("/echo").retrieve().body(String.class)));
    assertEquals("a bug below the interceptor", e.getMessage());
    assertEquals(0, CoreInternals.registrationCount(ctx), "the call left a registration on its context");
    ctx.cancel();
    assertFalse(Thread.interrupted(), "the context's end interrupted a thread the call had left");
  }

  @SuppressWarnings("unchecked")
  private static <E extends Throwable> void sneakyThrow(Throwable t) throws E {
    throw (E) t;
  }

  /**
   * A response below the interceptor whose body read, or whose close, throws a checked exception
   * sneakily (a Kotlin or Lombok wrapper, say): RestClient lets it through as it is when the
   * interceptor is not there, so the interceptor must too, and leave nothing registered.
   */
  @ParameterizedTest
  @ValueSource(strings = {"read", "close"})
  void aCheckedExceptionThrownSneakilyBelowTheInterceptorGoesOnUnchanged(String where) throws Exception {
    Exception sneaky = new Exception("thrown sneakily by the " + where);
    org.springframework.http.client.ClientHttpRequestInterceptor evil =
        (request, body, execution) -> {
          ClientHttpResponse response = execution.execute(request, body);
          return new ClosingProbe(response, new CountDownLatch(1)) {
            @Override
            public InputStream getBody() throws IOException {
              InputStream in = super.getBody();
              return new java.io.FilterInputStream(in) {
                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                  if (where.equals("read")) {
                    ClientCustomizersTest.<RuntimeException>sneakyThrow(sneaky);
                  }
                  return super.read(b, off, len);
                }
              };
            }

            @Override
            public void close() {
              super.close();
              if (where.equals("close")) {
                ClientCustomizersTest.<RuntimeException>sneakyThrow(sneaky);
              }
            }
          };
        };
    // Without ctx4j: what RestClient itself does with it.
    RestClient plain =
        RestClient.builder().baseUrl(server())
            .requestFactory(new JdkClientHttpRequestFactory(HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()))
            .requestInterceptor(evil)
            .build();
    Throwable unwrapped = null;
    try {
      plain.get().uri("/echo").exchange((req, res) -> res.getBody().read(new byte[16]));
    } catch (Throwable t) {
      unwrapped = t;
    }
    assertEquals(sneaky, unwrapped, "RestClient itself no longer lets it through");
    RestClient rest = restClient("jdk").mutate().requestInterceptor(evil).build();
    CancelableContext ctx = Context.withCancel(Context.background());
    Throwable thrown = null;
    try {
      under(ctx, () -> rest.get().uri("/echo").exchange((req, res) -> res.getBody().read(new byte[16])));
    } catch (Throwable t) {
      thrown = t;
    }
    assertEquals(sneaky, thrown, "the call threw something else");
    assertEquals(0, CoreInternals.registrationCount(ctx), "the call left a registration on its context");
  }

  @FunctionalInterface
  interface Call {
    Future<?> start(Context ctx, String id) throws Exception;
  }

  /**
   * The call fails at once with the context's error and leaves nothing registered, and the server,
   * released, must see the connection closed (its next write fails) within {@code seconds} of the
   * cancel; for the WebClient ({@code connectorCancelled} not null), the subscription to the
   * connector must also have been cancelled, which is what the filter does (Reactor Netty then
   * closes the connection).
   */
  private static void assertAbortedBeforeResponse(CountDownLatch connectorCancelled, Call call) throws Exception {
    assertAbortedBeforeResponse(connectorCancelled, call, 30);
  }

  private static void assertAbortedBeforeResponse(CountDownLatch connectorCancelled, Call call, int seconds) throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    String id = UUID.randomUUID().toString();
    Hops.Hop server = serverHops().get(id);
    Future<?> f = call.start(ctx, id);
    assertTrue(server.entered.await(30, TimeUnit.SECONDS), "request never reached the server");
    long cancelled = System.nanoTime();
    ctx.cancel();
    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
    long returned = System.nanoTime();
    assertInstanceOf(CanceledException.class, e.getCause(), () -> "the call failed otherwise: " + e.getCause());
    assertEquals(0, CoreInternals.registrationCount(ctx), "the call left a registration on its context");
    server.release.countDown();
    if (connectorCancelled != null) {
      assertTrue(connectorCancelled.await(30, TimeUnit.SECONDS), "the exchange was not cancelled");
    }
    boolean left = server.ended.await(seconds, TimeUnit.SECONDS);
    assertTrue(left, () -> "the server did not see the client leave within " + seconds
        + " s of the cancel: the exchange went on (" + server.written + " chunks written since the release)");
    assertEquals(Reason.CLIENT_DISCONNECTED, ((RequestCanceledException) server.cause).reason(), String.valueOf(server.cause));
    System.out.printf("abort before response: the call returned %.1f ms after the cancel, the server saw the client leave %.1f ms after it%n",
        (returned - cancelled) / 1e6, (server.endedNanos - cancelled) / 1e6);
  }

  @ParameterizedTest(name = "{0}, customized twice: {1}")
  @CsvSource({
    "jdk, false", "reactor, false", "jetty, false", "simple, false", "default, false",
    "jdk, true", "reactor, true", "jetty, true", "default, true"
  })
  void restClientIsAbortedWhileReadingTheBody(String factory, boolean twice) throws Exception {
    RestClient rest = restClient(factory, twice);
    assertAbortedInBody(null, (ctx, id, firstChunk) -> CALLERS.submit(() -> under(ctx, () -> rest.get().uri("/stream?id=" + id)
        .exchange((req, res) -> {
          InputStream in = res.getBody();
          byte[] buf = new byte[64];
          in.read(buf);
          firstChunk.countDown();
          while (in.read(buf) >= 0) {
            // keep reading: the server streams until it is stopped
          }
          return "ended";
        }))));
  }

  /**
   * {@code HttpURLConnection}'s body stream closes under the lock that its read holds, so closing it
   * from another thread while the server is silent stops nothing and holds the closing thread (a
   * ctx4j callback thread) until the server writes again. The interceptor must not try: after the
   * cancel no thread may wait in that close, and once the server writes again the call fails with
   * the context's error.
   */
  @Test
  void aBodyReadFromASilentServerHoldsNoThreadInHttpUrlConnectionsClose() throws Exception {
    assertHoldsNoThreadInHttpUrlConnectionsClose(
        RestClient.builder()
            .requestFactory(new SimpleClientHttpRequestFactory())
            .requestInterceptor(new ContextClientHttpRequestInterceptor())
            .build());
  }

  /**
   * Reads a body with {@code rest} (on {@code SimpleClientHttpRequestFactory}) from a server that
   * goes silent after one chunk, cancels the call's context, and checks that no thread other than
   * the reader waits in {@code HttpURLConnection}'s close, and that the call fails with the
   * context's error once the server writes again, leaving no registration.
   */
  static void assertHoldsNoThreadInHttpUrlConnectionsClose(RestClient rest) throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    // Its own threads: other test classes call it, after this class's CALLERS may be shut down.
    ExecutorService callers = Executors.newCachedThreadPool();
    try (java.net.ServerSocket listener =
        new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
      Future<?> server = callers.submit(() -> silentAfterOneChunk(listener, release));
      CancelableContext ctx = Context.withCancel(Context.background());
      CountDownLatch firstChunk = new CountDownLatch(1);
      java.util.concurrent.atomic.AtomicReference<Thread> reader = new java.util.concurrent.atomic.AtomicReference<>();
      Future<String> f = callers.submit(() -> under(ctx, () -> rest.get()
          .uri("http://127.0.0.1:" + listener.getLocalPort() + "/silent")
          .exchange((req, res) -> {
            InputStream in = res.getBody();
            byte[] buf = new byte[64];
            in.read(buf);
            reader.set(Thread.currentThread());
            firstChunk.countDown();
            while (in.read(buf) >= 0) {
              // the server sends one more chunk once released
            }
            return "ended";
          })));
      try {
        assertTrue(firstChunk.await(30, TimeUnit.SECONDS), "no chunk arrived");
        awaitStack(reader.get(), "a blocked socket read", frame -> frame.contains("Socket") && frame.contains("read"));
        ctx.cancel();
        // Nothing to wait for when the fix is in: look for a thread in the stream's close for a
        // second (the old code's callback thread entered it within milliseconds of the cancel).
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
        while (System.nanoTime() < until) {
          for (java.util.Map.Entry<Thread, StackTraceElement[]> t : Thread.getAllStackTraces().entrySet()) {
            if (t.getKey() != reader.get()) {
              for (StackTraceElement e : t.getValue()) {
                assertFalse(
                    e.getClassName().startsWith("sun.net.www.") && e.getMethodName().equals("close"),
                    () -> t.getKey().getName() + " waits in HttpURLConnection's close: " + java.util.Arrays.toString(t.getValue()));
              }
            }
          }
          java.util.concurrent.locks.LockSupport.parkNanos(1_000_000L);
        }
      } finally {
        release.countDown();
      }
      ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
      assertInstanceOf(CanceledException.class, e.getCause(), () -> "the call failed otherwise: " + e.getCause());
      server.get(30, TimeUnit.SECONDS);
      assertEquals(0, CoreInternals.registrationCount(ctx), "the call left a registration on its context");
    } finally {
      release.countDown();
      callers.shutdownNow();
    }
  }

  /**
   * Serves one request on {@code listener}: a chunked 200 with one chunk, then nothing until
   * {@code release}, then a last chunk and the end of the body.
   */
  private static Void silentAfterOneChunk(java.net.ServerSocket listener, CountDownLatch release) throws Exception {
    try (java.net.Socket s = listener.accept()) {
      InputStream in = s.getInputStream();
      readRequestHead(in);
      java.io.OutputStream out = s.getOutputStream();
      out.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\na\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      out.flush();
      assertTrue(release.await(60, TimeUnit.SECONDS), "never released");
      try {
        out.write("2\r\nb\n\r\n0\r\n\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        out.flush();
      } catch (IOException gone) {
        // the client may have closed the connection by now: nothing more to send
      }
    }
    return null;
  }

  /** Reads a request's head from {@code in}, up to the CRLF CRLF that ends it. */
  static void readRequestHead(InputStream in) throws IOException {
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("the request ended before its head did");
      }
      matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
  }

  /** Waits (30 s at most) until one of {@code thread}'s frames matches {@code frame}. */
  private static void awaitStack(Thread thread, String what, java.util.function.Predicate<String> frame) {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < until) {
      for (StackTraceElement e : thread.getStackTrace()) {
        if (frame.test(e.getClassName() + "." + e.getMethodName())) {
          return;
        }
      }
      java.util.concurrent.locks.LockSupport.parkNanos(1_000_000L); // polls the stack; nothing to wait on
    }
    throw new AssertionError(thread.getName() + " never reached " + what + ": " + java.util.Arrays.toString(thread.getStackTrace()));
  }

  @Test
  void webClientIsAbortedWhileReadingTheBody() throws Exception {
    CountDownLatch cancelled = new CountDownLatch(1);
    WebClient web = probedWebClient(cancelled);
    assertAbortedInBody(cancelled, (ctx, id, firstChunk) -> CALLERS.submit(() -> under(ctx, () -> web.get().uri("/stream?id=" + id)
        .retrieve().bodyToFlux(String.class).doOnNext(s -> firstChunk.countDown()).blockLast())));
  }

  /**
   * On Spring's {@code JdkClientHttpConnector} (the JDK {@code HttpClient}, which {@code
   * spring.http.clients.reactive.connector=jdk} selects) the body fails with the context's error at
   * once too, but the cancel of its subscription does not close the HTTP/1.1 connection: the
   * server's request is not ended, and it writes on (its stream lasts 20 s). Reactor Netty closes
   * it ({@link #webClientIsAbortedWhileReadingTheBody}). A limit of the connector, pinned so that
   * the README's table stays true.
   */
  @Test
  void webClientOnTheJdkConnectorFailsTheBodyAtOnceButLeavesTheConnectionOpen() throws Exception {
    WebClient web = client().getBean(WebClient.Builder.class).baseUrl(server())
        .clientConnector(new JdkClientHttpConnector()).build();
    CancelableContext ctx = Context.withCancel(Context.background());
    String id = UUID.randomUUID().toString();
    Hops.Hop server = serverHops().get(id);
    CountDownLatch firstChunk = new CountDownLatch(1);
    Future<?> f = CALLERS.submit(() -> under(ctx, () -> web.get().uri("/stream?id=" + id)
        .retrieve().bodyToFlux(String.class).doOnNext(s -> firstChunk.countDown()).blockLast()));
    assertTrue(firstChunk.await(30, TimeUnit.SECONDS), "no chunk arrived");
    ctx.cancel();
    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
    assertTrue(causedBy(e.getCause(), CanceledException.class), () -> "the call failed otherwise: " + e.getCause());
    // A closed connection fails the server's next write (one every 10 ms) and ends its request.
    int written = server.written;
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (server.written < written + 20 && server.ended.getCount() > 0 && System.nanoTime() < until) {
      java.util.concurrent.locks.LockSupport.parkNanos(10_000_000L); // polls the server's count
    }
    assertEquals(1, server.ended.getCount(), () -> "the server's request ended: " + server.cause);
    assertTrue(server.written >= written + 20, "the server did not write on: " + server.written + " after " + written);
  }

  /**
   * WebClient's retrieve() wraps a failure of the body in a WebClientResponseException whose cause is
   * the context's error; RestClient throws it as is.
   */
  private static boolean causedBy(Throwable t, Class<?> type) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) {
        return true;
      }
    }
    return false;
  }

  @FunctionalInterface
  interface BodyCall {
    Future<?> start(Context ctx, String id, CountDownLatch firstChunk) throws Exception;
  }

  private static void assertAbortedInBody(CountDownLatch bodyCancelled, BodyCall call) throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    String id = UUID.randomUUID().toString();
    Hops.Hop server = serverHops().get(id);
    CountDownLatch firstChunk = new CountDownLatch(1);
    Future<?> f = call.start(ctx, id, firstChunk);
    assertTrue(firstChunk.await(30, TimeUnit.SECONDS), "no chunk arrived");
    long cancelled = System.nanoTime();
    ctx.cancel();
    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
    long returned = System.nanoTime();
    assertTrue(causedBy(e.getCause(), CanceledException.class), () -> "the call failed otherwise: " + e.getCause());
    if (bodyCancelled != null) {
      assertTrue(bodyCancelled.await(30, TimeUnit.SECONDS), "the body was not cancelled");
    }
    assertTrue(server.ended.await(30, TimeUnit.SECONDS), "the server kept streaming: the connection was not closed");
    assertEquals(Reason.CLIENT_DISCONNECTED, ((RequestCanceledException) server.cause).reason(), String.valueOf(server.cause));
    System.out.printf("abort in body: the call returned %.1f ms after the cancel, the server's write failed %.1f ms after it%n",
        (returned - cancelled) / 1e6, (server.endedNanos - cancelled) / 1e6);
  }

}
