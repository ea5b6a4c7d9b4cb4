package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.Registration;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.concurrent.InterruptScope;
import io.ctx4j.internal.CoreInternals;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.boot.http.client.ClientHttpRequestFactoryBuilder;
import org.springframework.http.client.ClientHttpRequestFactory;
import org.springframework.http.client.JdkClientHttpRequestFactory;
import org.springframework.http.client.JettyClientHttpRequestFactory;
import org.springframework.http.client.ReactorClientHttpRequestFactory;
import org.springframework.http.client.reactive.ReactorClientHttpConnector;
import org.springframework.web.client.RestClient;
import org.springframework.web.reactive.function.client.WebClient;
import org.springframework.web.reactive.function.client.WebClientResponseException;
import reactor.netty.http.HttpProtocol;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.resources.LoopResources;

/**
 * "Cancel anywhere": for each client path the module ties to the ctx4j context, many calls on one
 * client (and one pool), some of whose contexts are cancelled at a random moment, from before the
 * call starts, through the wait for a pooled connection, the request's write, the wait for the
 * response's head and the read of a body that arrives in two parts, to after the call returned;
 * interleaved, three at a time, with calls whose context never ends. Cancelling one call must
 * never break another (the defect 02e5a43 fixed: a refused Reactor Netty request's connection,
 * back in the pool open, closed a moment later under the next call, "Connection prematurely closed
 * BEFORE response"), leak a buffer, or leave a registration.
 *
 * <p>Each call asks the Tomcat chain's service C (HTTP/1.1; the Jetty chain's for h2c) for {@code
 * /slow}: a body naming the call, of 1 byte to 70 KiB, after 0 to 20 ms, its second half 0 to 20
 * ms after the first. Checked per call: a call whose context never ended returns its own body, a
 * cancelled one returns its own body or fails with the context's {@link CanceledException}
 * (always, when cancelled before it started); no registration is left on its context once it
 * returned, and its thread is not interrupted, then or after the cancel has run. Checked per path
 * afterwards: no registration on the long-lived parent context the calls ran under (the contexts
 * that end are its children), the client still serves a call, and on Reactor Netty (a pool of one
 * connection, one event loop, {@link ReactorBodyReleaseTest.CountingAllocator}) every buffer the
 * client allocated was released.
 *
 * <p>Run by default: RestClient on the JDK client and on Apache HttpClient 5. Left out, as they fail
 * today (open defects, found by this test and not yet fixed; the module README's "Cancel anywhere"
 * paragraph has the measurements), and run when named in {@code -Dctx4j.spring.cancelAnywherePaths}:
 *
 * <ul>
 *   <li>{@link Path#WEBCLIENT_H2C}: a cancelled call, its context ended, did not return within 60 s
 *       (in 6 of about 20 runs of 4,500 calls under load; once in the 120 calls of a CI run); a
 *       few buffers of about 28,000 never released (in 4 of 8 runs on 2026-12-05; the failure
 *       names the calls each was written for, and what they did; two causes fixed since, {@link
 *       WebClientH2cLateResponseTest}: 5 of 5 runs leaked before, 2 of 9 after; a third, a response
 *       dropped at the filter's closed gate, fixed since: 0 of 20 runs leaked); rarely, a call
 *       whose context never ended failed with "Connection prematurely closed". Its control {@link
 *       Path#WEBCLIENT_H2C_WITHOUT_CTX4J} also has such premature closes (4 and 12 of 4,500) and
 *       opened 7 connections where the row with ctx4j opens one.
 *   <li>{@link Path#REACTOR}: a call whose context never ended failed with "Connection
 *       prematurely closed BEFORE response", or waited 30 s for the pool's one connection (held by
 *       a cancelled call) and failed with Reactor Netty's PoolAcquireTimeoutException; the three
 *       causes found are fixed ({@link ReactorCancelledExchangeTest}), but a rare hold of the pool
 *       (twice in 111 runs of 900 calls: the second traced to a call cancelled before its head
 *       came, whose connection stayed open; since its exchange is also disposed on cancel, none
 *       in 60 runs) and a rare unreleased buffer (1 of about 2,400, once in 81 runs) are not
 *       explained yet.
 *   <li>{@link Path#REACTOR_H2C}: response buffers of cancelled calls were never released, even
 *       once the pool was disposed (2 of about 5,600, in 2 runs of 4); none in 12 runs since a
 *       cancelled exchange is disposed on its event loop. Its control {@link
 *       Path#REACTOR_H2C_WITHOUT_CTX4J} does worse: buffers never released (23 of 6,463 once),
 *       calls whose context never ended stuck or prematurely closed.
 *   <li>{@link Path#WEBCLIENT}: a call whose context never ended failed with "Connection
 *       prematurely closed BEFORE response" (fixed; {@link ReactorCancelledExchangeTest}, 0 of 900
 *       in 5 runs since, too few to run it by default); {@link Path#WEBCLIENT_WITHOUT_CTX4J}, the
 *       same calls cancelled at the same moments without ctx4j's filter, does not.
 *   <li>{@link Path#JETTY}: once, a call did not return within 60 s (not seen again in about 2,200
 *       calls); the test prints the callers' stacks when that happens. Likely cause: a call of the
 *       first round interrupted the start of Jetty's client, which Spring ran lazily inside it;
 *       the auto-configuration now starts the client when the factory is built ({@link
 *       ClientCustomizersTest#restClientOnJettyStartsTheClientBeforeTheFirstCall}).
 * </ul>
 *
 * <p>The inputs are drawn from a seed, printed with every failure: {@code
 * -Dctx4j.spring.cancelAnywhereSeed=N} draws the same calls again (the timing is the machine's).
 * {@code -Dctx4j.spring.cancelAnywhereRounds=N} sets the rounds of three calls per path (40 by
 * default, which keeps the class to seconds in CI; a long run takes thousands).
 */
@Timeout(600)
class CancelAnywhereTest {
  private static final int ROUNDS = Integer.getInteger("ctx4j.spring.cancelAnywhereRounds", 40);
  private static final int CALLS_PER_ROUND = 3;
  private static final long SEED = Long.getLong("ctx4j.spring.cancelAnywhereSeed", System.nanoTime());

  private static final ExecutorService CALLERS = Executors.newCachedThreadPool();
  /** Runs the cancels of the calls cancelled while under way, after their random delay. */
  private static final ScheduledExecutorService CANCELLERS = Executors.newScheduledThreadPool(2);

  private final ReactorBodyReleaseTest.CountingAllocator allocator =
      new ReactorBodyReleaseTest.CountingAllocator();
  /**
   * What each call and, on Reactor Netty, each connection did, in order ("µs call event"), for the
   * message of a call gone wrong: a connection held by an earlier call shows there.
   */
  private final Queue<String> trace = new ConcurrentLinkedQueue<>();
  /** The call whose request a Reactor Netty connection carries last. */
  private final Map<Channel, String> callOn = new ConcurrentHashMap<>();
  private final LoopResources loop = LoopResources.create("ctx4j-cancel-anywhere", 1, true);
  /**
   * One connection; no bound on the calls waiting for it (ConnectionProvider.create's is twice the
   * connections, which the three calls of a round and a cancelled call's connection not yet back
   * in the pool can exceed, failing a call with "Pending acquire queue has reached its maximum").
   */
  private final ConnectionProvider pool =
      ConnectionProvider.builder("ctx4j-cancel-anywhere")
          .maxConnections(1)
          .pendingAcquireMaxCount(-1)
          .pendingAcquireTimeout(Duration.ofSeconds(30))
          .build();
  /** The contexts the calls run under: those that end are its children. */
  private final CancelableContext parent = Context.withCancel(Context.background());
  /** The context of each call under way, for the report of a call that does not return. */
  private final Map<Call, Context> running = new ConcurrentHashMap<>();
  /** What the test built and must dispose of. */
  private final List<DisposableBean> factories = new ArrayList<>();

  @BeforeEach
  void traceExchanges() {
    ContextReactorHttpClient.trace =
        (ch, what) ->
            event(
                ch == null ? "-" : callOn.getOrDefault(ch, "-"),
                (ch == null ? "" : ch.id().asShortText() + " ") + what);
  }

  @AfterEach
  void dispose() throws Exception {
    ContextReactorHttpClient.trace = null;
    parent.cancel();
    for (DisposableBean f : factories) {
      f.destroy();
    }
    pool.dispose();
    loop.dispose();
  }

  @AfterAll
  static void stopThreads() {
    CALLERS.shutdownNow();
    CANCELLERS.shutdownNow();
  }

  /** The client paths. */
  enum Path {
    /** RestClient on Spring's factory for the JDK HttpClient (HTTP/1.1). */
    JDK,
    /** RestClient on Reactor Netty with {@link ContextReactorHttpClient}, HTTP/1.1. */
    REACTOR,
    /** The same over h2c (prior knowledge), against Jetty. */
    REACTOR_H2C,
    /** RestClient on Jetty's HttpClient as Spring Boot builds it: ContextJettyHttpClient. */
    JETTY,
    /** RestClient on Apache HttpClient 5 as Spring Boot builds it, ctx4j-httpclient5's handlers. */
    APACHE,
    /** WebClient on Reactor Netty, HTTP/1.1. */
    WEBCLIENT,
    /** WebClient on Reactor Netty over h2c, against Jetty. */
    WEBCLIENT_H2C,
    /**
     * The control for {@link #WEBCLIENT}: a plain WebClient (no ctx4j filter) on the same Reactor
     * Netty client, whose call's subscription ({@code toFuture()}) is cancelled when the context
     * ends.
     */
    WEBCLIENT_WITHOUT_CTX4J,
    /** The control for {@link #WEBCLIENT_H2C}, as {@link #WEBCLIENT_WITHOUT_CTX4J} is for WEBCLIENT. */
    WEBCLIENT_H2C_WITHOUT_CTX4J,
    /**
     * The control for {@link #REACTOR_H2C}: a plain RestClient (no ctx4j interceptor, no {@link
     * ContextReactorHttpClient}) on the same Reactor Netty client, whose calling thread is
     * interrupted when the context ends (an {@link InterruptScope}), the way Spring's Reactor
     * factory is meant to be stopped; a cancelled call may fail with whatever that interrupt makes
     * of it.
     */
    REACTOR_H2C_WITHOUT_CTX4J;

    /**
     * The paths left out by default: those that fail today (see the class documentation), and the
     * control; run only when named in {@code -Dctx4j.spring.cancelAnywherePaths}.
     */
    boolean open() {
      return this != JDK && this != APACHE;
    }

    boolean reactor() {
      return this != JDK && this != JETTY && this != APACHE;
    }

    boolean h2c() {
      return this == REACTOR_H2C
          || this == WEBCLIENT_H2C
          || this == WEBCLIENT_H2C_WITHOUT_CTX4J
          || this == REACTOR_H2C_WITHOUT_CTX4J;
    }
  }

  /** A GET of a URI on the path's client, returning the body. */
  private interface Client {
    String get(String uri) throws Exception;
  }

  private reactor.netty.http.client.HttpClient reactorNetty(Path path) {
    return reactor.netty.http.client.HttpClient.create(pool)
        .runOn(loop)
        .protocol(path.h2c() ? HttpProtocol.H2C : HttpProtocol.HTTP11)
        .option(ChannelOption.ALLOCATOR, allocator)
        .doOnRequest(
            (request, c) -> {
              String uri = request.uri();
              int at = uri.indexOf("id=");
              if (at >= 0) {
                int end = uri.indexOf('&', at);
                String id = uri.substring(at + 3, end < 0 ? uri.length() : end);
                callOn.put(c.channel(), id);
                event(id, "request on " + c.channel().id().asShortText());
              }
            })
        .observe(
            (c, state) ->
                event(
                    callOn.getOrDefault(c.channel(), "-"),
                    c.channel().id().asShortText() + " " + state));
  }

  private void event(String call, String what) {
    trace.add(System.nanoTime() / 1000 + " " + call + " " + what);
  }

  /** The trace of the calls {@code k - 12} to {@code k}: those that may hold what call k waited for. */
  private String traceBefore(int k, List<Call> everyCall) {
    StringBuilder b = new StringBuilder("\nthe calls " + (k - 12) + " to " + k + ":");
    Set<String> ids = new HashSet<>();
    for (Call c : everyCall) {
      if (c.k() >= k - 12 && c.k() <= k) {
        ids.add(c.id());
        b.append("\n  ").append(c);
      }
    }
    b.append("\nwhat they and their connections did (µs, call, event):");
    for (String e : trace) {
      String[] f = e.split(" ", 3);
      if (ids.contains(f[1])) {
        b.append("\n  ").append(e);
      }
    }
    return b.toString();
  }

  private Client client(Path path) throws Exception {
    Chains chains = Chains.get();
    String server = path.h2c() ? chains.jetty.url("C") : chains.tomcat.url("C");
    var app = chains.tomcat.a();
    if (path == Path.WEBCLIENT_WITHOUT_CTX4J || path == Path.WEBCLIENT_H2C_WITHOUT_CTX4J) {
      WebClient web =
          WebClient.builder()
              .baseUrl(server)
              .clientConnector(new ReactorClientHttpConnector(reactorNetty(path)))
              .build();
      return uri -> {
        // Reactor's toFuture() cancels its subscription when the future is cancelled.
        CompletableFuture<String> f = web.get().uri(uri).retrieve().bodyToMono(String.class).toFuture();
        Registration r = Context.afterFunc(CurrentContext.get(), () -> f.cancel(true));
        try {
          return f.get(30, TimeUnit.SECONDS);
        } finally {
          r.stop();
        }
      };
    }
    if (path == Path.REACTOR_H2C_WITHOUT_CTX4J) {
      RestClient rest =
          RestClient.builder()
              .baseUrl(server)
              .requestFactory(new ReactorClientHttpRequestFactory(reactorNetty(path)))
              .build();
      return uri -> {
        try (InterruptScope stop = InterruptScope.open(CurrentContext.get())) {
          return rest.get().uri(uri).retrieve().body(String.class);
        }
      };
    }
    if (path == Path.WEBCLIENT || path == Path.WEBCLIENT_H2C) {
      WebClient web =
          app.getBean(WebClient.Builder.class)
              .baseUrl(server)
              .clientConnector(new ReactorClientHttpConnector(reactorNetty(path)))
              .build();
      return uri -> web.get().uri(uri).retrieve().bodyToMono(String.class).block();
    }
    ClientHttpRequestFactory factory =
        switch (path) {
          case JDK ->
              new JdkClientHttpRequestFactory(
                  HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build());
          case REACTOR, REACTOR_H2C ->
              new ReactorClientHttpRequestFactory(ContextReactorHttpClient.install(reactorNetty(path)));
          case JETTY -> {
            JettyClientHttpRequestFactory f =
                ClientCustomizersTest.jettyAsBootBuildsIt(app)
                    .withHttpClientCustomizer(c -> c.setMaxConnectionsPerDestination(1))
                    .build();
            // Jetty aborts a request after the factory's read timeout (10 s by default): far
            // above any call here, so that it cannot stand in for the context's end.
            f.setReadTimeout(Duration.ofMinutes(2));
            factories.add(f);
            yield f;
          }
          case APACHE -> {
            ClientHttpRequestFactory f =
                ClientCustomizersTest.asBootBuildsIt(app, ClientHttpRequestFactoryBuilder.httpComponents())
                    .withConnectionManagerCustomizer(m -> m.setMaxConnTotal(1).setMaxConnPerRoute(1))
                    .build();
            factories.add((DisposableBean) f);
            yield f;
          }
          default -> throw new IllegalArgumentException(path.name());
        };
    RestClient rest = app.getBean(RestClient.Builder.class).baseUrl(server).requestFactory(factory).build();
    return uri -> rest.get().uri(uri).retrieve().body(String.class);
  }

  /** When a call's context is cancelled. */
  enum When {
    /** Never: the call runs under the long-lived parent. */
    NEVER,
    /** Before the call starts. */
    BEFORE,
    /** After a random delay from the call's start, on another thread. */
    DURING,
    /** After the call returned. */
    AFTER
  }

  /** One call's inputs. */
  record Call(int k, String id, int head, int body, int size, When when, long delayMicros) {
    String uri() {
      return "/slow?id=" + id + "&head=" + head + "&body=" + body + "&size=" + size;
    }

    String expected() {
      return HopApp.slowBody(id, size);
    }
  }

  /** What came of a call. */
  record Outcome(
      Call call, String body, Throwable failure, int registrationsLeft, boolean interruptedAtReturn,
      boolean interruptedAfterTheCancel) {}

  private static Call draw(SplittableRandom r, Path path, int k) {
    int w = r.nextInt(100);
    When when = w < 50 ? When.NEVER : w < 55 ? When.BEFORE : w < 60 ? When.AFTER : When.DURING;
    int head = r.nextInt(3) == 0 ? 0 : r.nextInt(1, 21);
    int body = r.nextInt(3) == 0 ? 0 : r.nextInt(1, 21);
    int size = r.nextBoolean() ? r.nextInt(1, 200) : r.nextInt(1_000, 70_001);
    // Up to a few ms past the server's waits: the call's whole life, on a loaded machine most of
    // it, with about one in six cancels at once.
    long delay = r.nextInt(6) == 0 ? 0 : r.nextLong((head + body + 5) * 1000L);
    return new Call(k, path.name().toLowerCase(Locale.ROOT) + "-" + k, head, body, size, when, delay);
  }

  private Outcome run(Client client, Call call) throws Exception {
    CancelableContext own = call.when == When.NEVER ? null : Context.withCancel(parent);
    Context ctx = own == null ? parent : own;
    running.put(call, ctx);
    Future<?> cancel = CompletableFuture.completedFuture(null);
    if (call.when == When.BEFORE) {
      own.cancel();
    } else if (call.when == When.DURING) {
      cancel =
          CANCELLERS.schedule(
              () -> {
                event(call.id(), "cancel");
                own.cancel();
              },
              call.delayMicros,
              TimeUnit.MICROSECONDS);
    }
    String body = null;
    Throwable failure = null;
    event(call.id(), "start");
    try {
      body = CurrentContext.call(ctx, () -> client.get(call.uri()));
    } catch (Throwable t) {
      failure = t;
    }
    event(call.id(), failure == null ? "returned" : "failed: " + failure.getClass().getSimpleName());
    int left = CoreInternals.registrationCount(ctx);
    boolean interruptedAtReturn = Thread.interrupted();
    boolean interruptedLater;
    try {
      cancel.get(30, TimeUnit.SECONDS);
      interruptedLater = Thread.interrupted();
    } catch (InterruptedException e) {
      interruptedLater = true;
    }
    if (own != null) {
      own.cancel(); // AFTER, and never a child left on the parent
    }
    running.remove(call);
    return new Outcome(
        call, body, failure, own == null ? 0 : left, interruptedAtReturn, interruptedLater);
  }

  /** What is wrong with {@code o}, or null. */
  private static String wrong(Outcome o) {
    Call c = o.call;
    if (o.interruptedAtReturn) {
      return "the caller's thread was left interrupted as the call returned";
    }
    if (o.interruptedAfterTheCancel) {
      return "the caller's thread was interrupted after the call returned";
    }
    if (o.registrationsLeft != 0) {
      return o.registrationsLeft + " registrations left on the call's context";
    }
    if (o.failure == null) {
      if (c.when == When.BEFORE) {
        return "succeeded though its context had ended before it started";
      }
      return c.expected().equals(o.body)
          ? null
          : "got another body: " + abbreviate(o.body) + " instead of " + abbreviate(c.expected());
    }
    if (c.when == When.NEVER || c.when == When.AFTER) {
      return "failed though its context never ended while it ran: " + chain(o.failure);
    }
    // WebClient's retrieve() wraps a failed body in a WebClientResponseException, whose cause is
    // then the context's error (the module's README says so).
    // The control's cancelled future throws a plain CancellationException.
    return o.failure instanceof CanceledException
            || (c.id.contains("webclient") && c.id.contains("without_ctx4j")
                && o.failure instanceof CancellationException)
            || c.id.startsWith("reactor_h2c_without_ctx4j")
            || (o.failure instanceof WebClientResponseException w
                && w.getCause() instanceof CanceledException)
        ? null
        : "failed otherwise than with the context's error: " + chain(o.failure);
  }

  private static String abbreviate(String s) {
    return s == null ? "null" : s.length() <= 40 ? s : s.substring(0, 40) + "...(" + s.length() + ")";
  }

  /**
   * The stacks of the threads with a frame of ctx4j (the callers, the cancels, ctx4j's callbacks),
   * Reactor or Netty, for a call that did not return.
   */
  private static String callerStacks() {
    StringBuilder b = new StringBuilder();
    Thread.getAllStackTraces().forEach((t, stack) -> {
      if (Arrays.stream(stack).anyMatch(f -> f.getClassName().startsWith("io.ctx4j.")
          || f.getClassName().startsWith("reactor.") || f.getClassName().startsWith("io.netty."))) {
        b.append("\n").append(t.getName()).append(" (").append(t.getState()).append("):");
        for (StackTraceElement f : stack) {
          b.append("\n  at ").append(f);
        }
      }
    });
    return b.toString();
  }

  /** {@code t} and its causes, one line. */
  private static String chain(Throwable t) {
    StringBuilder b = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      b.append(b.length() == 0 ? "" : " <- ").append(c);
      if (c.getCause() == null && c.getSuppressed().length > 0) {
        b.append(" (suppressed: ").append(c.getSuppressed()[0]).append(')');
      }
    }
    return b.toString();
  }

  /**
   * The paths to run: those not {@link Path#open}, or those named in {@code
   * -Dctx4j.spring.cancelAnywherePaths=REACTOR,JDK}.
   */
  static List<Path> paths() {
    String only = System.getProperty("ctx4j.spring.cancelAnywherePaths", "");
    List<String> named = List.of(only.split(","));
    for (String n : named) {
      if (!n.isBlank()) {
        Path.valueOf(n.strip()); // a clear IllegalArgumentException for a name that is none
      }
    }
    return Arrays.stream(Path.values())
        .filter(p -> only.isBlank() ? !p.open() : named.stream().anyMatch(n -> n.strip().equals(p.name())))
        .toList();
  }

  @ParameterizedTest
  @MethodSource("paths")
  void cancellingOneCallNeverBreaksAnotherLeaksOrLeavesARegistration(Path path) throws Exception {
    long seed = SEED + path.ordinal();
    String rerun = "seed " + seed + " (-Dctx4j.spring.cancelAnywhereSeed=" + SEED + ")";
    SplittableRandom random = new SplittableRandom(seed);
    Client client = client(path);
    List<String> problems = new ArrayList<>();
    int cancelled = 0;
    int cancelledFailed = 0;
    int k = 0;
    int firstWrong = -1;
    List<Call> everyCall = new ArrayList<>();
    for (int round = 0; round < ROUNDS; round++) {
      List<Future<Outcome>> calls = new ArrayList<>();
      List<Call> drawn = new ArrayList<>();
      for (int i = 0; i < CALLS_PER_ROUND; i++) {
        Call call = draw(random, path, k++);
        drawn.add(call);
        everyCall.add(call);
        calls.add(CALLERS.submit(() -> run(client, call)));
      }
      for (Future<Outcome> f : calls) {
        Outcome o;
        try {
          o = f.get(60, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
          List<String> stuck = new ArrayList<>();
          for (int i = 0; i < calls.size(); i++) {
            if (!calls.get(i).isDone()) {
              Context ctx = running.get(drawn.get(i));
              stuck.add(drawn.get(i) + " (its context "
                  + (ctx == null ? "unknown" : ctx.isDone() ? "ended: " + ctx.err() : "not ended") + ")");
            }
          }
          fail(path + ", " + rerun + ": " + stuck + " of round " + round
              + " did not return within 60 s; the threads in ctx4j, Reactor or Netty: " + callerStacks());
          return;
        }
        String w = wrong(o);
        if (w != null) {
          problems.add(o.call + ": " + w);
          if (firstWrong < 0) {
            firstWrong = o.call.k();
          }
        }
        if (o.call.when == When.BEFORE || o.call.when == When.DURING) {
          cancelled++;
          if (o.failure != null) {
            cancelledFailed++;
          }
        }
      }
    }
    System.out.printf(
        "CancelAnywhereTest %s: %d calls, %d cancelled before or during (%d failed with the"
            + " context's error), %d wrong, %s%n",
        path, k, cancelled, cancelledFailed, problems.size(), rerun);
    int wrongAt = firstWrong;
    assertTrue(
        problems.isEmpty(),
        () -> path + ", " + rerun + ": " + problems.size() + " of " + CALLS_PER_ROUND * ROUNDS
            + " calls went wrong, the first: " + String.join("\n", problems.subList(0, Math.min(5, problems.size())))
            + traceBefore(wrongAt, everyCall));
    assertEquals(
        0, CoreInternals.registrationCount(parent), path + ", " + rerun + ": registrations left on the parent");
    Call later = new Call(k, path.name().toLowerCase(Locale.ROOT) + "-later", 0, 0, 5_000, When.NEVER, 0);
    Outcome o = CALLERS.submit(() -> run(client, later)).get(60, TimeUnit.SECONDS);
    assertEquals(null, wrong(o), path + ", " + rerun + ": a later call");
    if (path.reactor()) {
      // A task on the event loop after the later call: whatever it still had to release is done.
      loop.onClient(true).next().submit(() -> {}).get(30, TimeUnit.SECONDS);
      assertEquals(
          0,
          allocator.unreleased(),
          () -> path + ", " + rerun + ": buffers the client allocated and never released (of "
              + allocator.allocated.size() + "): " + unreleased(everyCall));
    }
  }

  /**
   * The buffers never released, each with the calls whose id it holds (a body names its call):
   * among the bytes still to read, else among all it was written, since a buffer read through may
   * still be held by a slice of it (over h2c, a DATA frame's payload).
   */
  private String unreleased(List<Call> everyCall) {
    StringBuilder b = new StringBuilder();
    Set<String> holders = new HashSet<>();
    for (io.netty.buffer.ByteBuf buffer : allocator.allocated) {
      if (buffer.refCnt() <= 0) {
        continue;
      }
      String described = ReactorBodyReleaseTest.CountingAllocator.describe(buffer);
      String written = ReactorBodyReleaseTest.CountingAllocator.written(buffer);
      b.append("\n  ").append(described);
      for (Call c : everyCall) {
        if (described.contains(c.id() + " ")) {
          b.append("\n    of ").append(c);
          holders.add(c.id());
        } else if (written.contains(c.id() + " ")) {
          b.append("\n    written for ").append(c);
          holders.add(c.id());
        }
      }
    }
    if (!holders.isEmpty()) {
      b.append("\nwhat those calls did (µs, call, event):");
      for (String e : trace) {
        if (holders.contains(e.split(" ", 3)[1])) {
          b.append("\n  ").append(e);
        }
      }
    }
    return b.toString();
  }
}
