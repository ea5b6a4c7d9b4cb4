package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import java.time.Duration;
import java.util.Map;
import java.util.Queue;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.reactivestreams.Subscriber;
import org.reactivestreams.Subscription;
import org.springframework.http.client.reactive.ReactorClientHttpConnector;
import org.springframework.web.reactive.function.client.ClientResponse;
import org.springframework.web.reactive.function.client.WebClient;
import org.springframework.web.reactive.function.client.WebClientResponseException;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Hooks;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;

/**
 * A WebClient response that arrives just as its context ends: the Tomcat chain's service C
 * (HTTP/1.1), {@code /late}, which sends the response's head at once and its body when the test
 * releases it. A probe filter, nearer the connector than ctx4j's, ends the context at the moment
 * the connector hands the response over, in four orders, each a few hundred rounds. In every round
 * the caller must get the context's error, never the response or its body nor an exception of
 * Spring's or Reactor Netty's own; no registration may stay on the long-lived parent; and the
 * client's one pooled connection must come back: the next call on a pool of one would otherwise
 * wait out its acquire timeout and fail. After each order, Reactor must have dropped no error (a
 * dropped error is logged at ERROR in an application).
 */
@Timeout(600)
class WebClientRaceTest {
  /** Rounds per order; -Dctx4j.spring.raceRounds=N to change. */
  private static final int ROUNDS = Integer.getInteger("ctx4j.spring.raceRounds", 300);

  /** One connection: one leaked by a round holds up every later call. */
  private static final ConnectionProvider POOL =
      ConnectionProvider.builder("ctx4j-race")
          .maxConnections(1)
          .pendingAcquireTimeout(Duration.ofSeconds(30))
          .build();

  /** Where the context ends, relative to the response reaching ctx4j's filter and its body. */
  enum Order {
    /**
     * The context ends as the connector hands the response over, which then goes straight on: it
     * races ctx4j's end signal (emitted from a thread of {@code afterFunc}) to the filter; the
     * caller reads the body ({@code retrieve()}).
     */
    RESPONSE_FIRST,
    /**
     * The context ends as the connector hands the response over, and the response goes on only
     * once ctx4j's end signal has cancelled the exchange: it reaches the filter after the cancel
     * (an operator between the two forwards it, as a plain map or doOnNext does), and the connector
     * has given its body up. The caller reads the body ({@code retrieve()}).
     */
    END_FIRST,
    /** The same; the caller only looks at the response's status ({@code exchangeToMono}). */
    END_FIRST_STATUS,
    /** The caller has the response ({@code exchangeToMono}); the context ends; then the body is read. */
    BODY_AFTER_THE_END
  }

  /** The round under way, seen by the probe filter; null for the check calls between rounds. */
  private static volatile Round round;

  /** One round: what the probe does at each signal of the exchange between the connector and ctx4j. */
  private static final class Round {
    final String name;
    final Order order;
    final CancelableContext ctx;
    final RuntimeException cause;
    final Hops.Hop server;
    final boolean bodySent;
    final CountDownLatch exchangeCancelled = new CountDownLatch(1);
    final CountDownLatch handedOver = new CountDownLatch(1);
    final CountDownLatch cancelPropagated = new CountDownLatch(1);

    Round(String name, Order order, CancelableContext ctx, Hops.Hop server, boolean bodySent) {
      this.name = name;
      this.order = order;
      this.ctx = ctx;
      this.cause = new RuntimeException(name);
      this.server = server;
      this.bodySent = bodySent;
    }

    boolean endFirst() {
      return order == Order.END_FIRST || order == Order.END_FIRST_STATUS;
    }

    /** On the event loop, before the response goes on towards ctx4j's filter. */
    void atResponse() {
      if (bodySent) {
        server.release.countDown();
      }
      if (order == Order.BODY_AFTER_THE_END) {
        return;
      }
      ctx.cancel(cause);
      if (endFirst()) {
        await(exchangeCancelled, name + ": the context's end never cancelled the exchange");
      }
    }

    /**
     * In the thread of ctx4j's end signal, while its cancel goes up towards the connector: holds
     * the cancel there until the response has reached ctx4j's filter, so that the filter completes
     * the exchange (and the connector gives the body up) only after that.
     */
    void cancelled() {
      exchangeCancelled.countDown();
      if (endFirst()) {
        await(handedOver, name + ": the response never reached ctx4j's filter");
      }
    }
  }

  /** Runs {@code action} on the round under way, if any (not during the check calls). */
  private static void inRound(Consumer<Round> action) {
    Round r = round;
    if (r != null) {
      action.accept(r);
    }
  }

  /**
   * Errors Reactor dropped (by default it logs each at ERROR): Reactor Netty's refusal of a second
   * reader ("Rejecting additional inbound receiver") of a body the connector has already given up.
   */
  private static final Queue<Throwable> DROPPED = new ConcurrentLinkedQueue<>();

  @BeforeAll
  static void watchDroppedErrors() {
    Hooks.onErrorDropped(DROPPED::add);
  }

  @AfterAll
  static void closePool() {
    Hooks.resetOnErrorDropped();
    POOL.dispose();
  }

  private static WebClient webClient() throws Exception {
    return Chains.get().tomcat.a().getBean(WebClient.Builder.class)
        .baseUrl(Chains.get().tomcat.url("C"))
        .clientConnector(new ReactorClientHttpConnector(HttpClient.create(POOL)))
        .filter((request, next) -> {
          Mono<ClientResponse> probed = next.exchange(request)
              .doOnCancel(() -> inRound(Round::cancelled))
              .doOnNext(response -> inRound(Round::atResponse));
          // fromDirect: Mono.from would cancel the source after its response, as if the caller had.
          return Mono.fromDirect(s -> probed.subscribe(new HandOver(s)));
        })
        .build();
  }

  /**
   * Passes every signal on; counts the round's {@code handedOver} down once a response has, and
   * {@code cancelPropagated} once a cancel has gone all the way up to the connector. In the
   * END_FIRST orders it holds the exchange's completion until then, so that the caller gets the
   * response (old code) only after the connector has reacted to the cancel.
   */
  private static final class HandOver implements CoreSubscriber<ClientResponse> {
    private final Subscriber<? super ClientResponse> actual;

    HandOver(Subscriber<? super ClientResponse> actual) {
      this.actual = actual;
    }

    @Override
    public reactor.util.context.Context currentContext() {
      return actual instanceof CoreSubscriber<?> c ? c.currentContext() : reactor.util.context.Context.empty();
    }

    @Override
    public void onSubscribe(Subscription s) {
      actual.onSubscribe(
          new Subscription() {
            @Override
            public void request(long n) {
              s.request(n);
            }

            @Override
            public void cancel() {
              s.cancel();
              inRound(r -> r.cancelPropagated.countDown());
            }
          });
    }

    @Override
    public void onNext(ClientResponse response) {
      actual.onNext(response);
      inRound(r -> r.handedOver.countDown());
    }

    @Override
    public void onError(Throwable t) {
      actual.onError(t);
    }

    @Override
    public void onComplete() {
      inRound(r -> {
        if (r.endFirst()) {
          await(r.cancelPropagated, r.name + ": the cancel never reached the connector");
        }
      });
      actual.onComplete();
    }
  }

  @ParameterizedTest
  @EnumSource(Order.class)
  void aResponseMeetingTheContextsEndGivesTheCallerItsErrorAndLeaksNothing(Order order) throws Exception {
    WebClient web = webClient();
    Hops hops = Chains.get().tomcat.hops;
    CancelableContext longLived = Context.withCancel(Context.background());
    Map<String, Integer> outcomes = new TreeMap<>();
    DROPPED.clear();
    try {
      for (int i = 0; i < ROUNDS; i++) {
        String id = "race-" + order + "-" + i;
        // Every other round the body is on its way before the context ends; else it is held until
        // the caller has its outcome.
        Round r = new Round(order + " round " + i, order, Context.withCancel(longLived), hops.get(id), i % 2 == 0);
        round = r;
        String uri = "/late?id=" + id;
        Mono<String> call =
            switch (order) {
              case RESPONSE_FIRST, END_FIRST -> web.get().uri(uri).retrieve().bodyToMono(String.class);
              case END_FIRST_STATUS -> web.get().uri(uri).exchangeToMono(response -> Mono.just("status " + response.statusCode()));
              case BODY_AFTER_THE_END -> web.get().uri(uri).exchangeToMono(response -> {
                r.ctx.cancel(r.cause);
                return response.bodyToMono(String.class);
              });
            };
        // handle(), not get(): get() throws a CancellationException (the context's errors are
        // ones) as itself, unwrapped, like a cancel of the future.
        Object outcome;
        try {
          outcome = call.contextWrite(c -> c.put(Context.class, r.ctx)).toFuture()
              .handle((body, e) -> e != null ? e : body).get(60, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
          throw new AssertionError(r.name + ": the caller got no outcome within 60 s", e);
        }
        round = null;
        r.server.release.countDown();
        if (!(outcome instanceof Throwable failure)) {
          throw new AssertionError(r.name + ": the caller got \"" + outcome + "\" although the context had ended"
              + (order == Order.BODY_AFTER_THE_END ? " before it read the body" : " before ctx4j's filter had the response"));
        }
        outcomes.merge(kind(failure) + (r.bodySent ? ", body sent" : ", body held"), 1, Integer::sum);
        assertSame(r.cause, contextError(r.name, failure).getCause(), r.name);

        String next;
        try {
          next = web.get().uri("/echo").retrieve().bodyToMono(String.class).block(Duration.ofSeconds(90));
        } catch (RuntimeException e) {
          throw new AssertionError(r.name + ": the next call on the pool of one failed: the connection was not given back", e);
        }
        assertEquals("none", next, r.name);
        assertEquals(0, CoreInternals.registrationCount(longLived), r.name + ": registrations left");
      }
    } finally {
      round = null;
      longLived.cancel();
    }
    System.out.printf("webclient race, %s: %s, %d errors dropped%n", order, outcomes, DROPPED.size());
    assertEquals(0, DROPPED.size(), () -> order + ": Reactor dropped " + DROPPED.size() + " errors, the first: " + DROPPED.peek());
  }

  /**
   * The context's error as the caller sees it: itself, or (a body failing under {@code retrieve()})
   * the direct cause of Spring's {@code WebClientResponseException}. Anything else (Spring's
   * "released already due to cancellation", a Reactor Netty {@code PrematureCloseException}...)
   * fails the test.
   */
  private static CanceledException contextError(String round, Throwable failure) {
    if (failure instanceof CanceledException c) {
      return c;
    }
    if (failure instanceof WebClientResponseException w && w.getCause() instanceof CanceledException c) {
      return c;
    }
    throw new AssertionError(round + ": the caller got something other than the context's error", failure);
  }

  private static String kind(Throwable failure) {
    return failure instanceof CanceledException ? "CanceledException" : failure.getClass().getSimpleName();
  }

  /** Waits up to 30 s for {@code latch}; fails with {@code what} if it does not open. */
  static void await(CountDownLatch latch, String what) {
    try {
      assertTrue(latch.await(30, TimeUnit.SECONDS), what);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(what, e);
    }
  }
}
