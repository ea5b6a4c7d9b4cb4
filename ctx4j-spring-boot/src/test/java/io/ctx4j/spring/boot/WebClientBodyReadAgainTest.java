package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.http.client.reactive.ReactorClientHttpConnector;
import org.springframework.web.reactive.function.client.ExchangeFilterFunction;
import org.springframework.web.reactive.function.client.WebClient;
import org.springframework.web.reactive.function.client.WebClientResponseException;
import reactor.netty.http.HttpProtocol;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.resources.LoopResources;

/**
 * A WebClient {@code retrieve()} call whose context ends while it reads the body must return, with
 * the context's error. Spring's {@code retrieve()} answers a failed read by reading the body again
 * (to put it in its {@code WebClientResponseException}); {@link ContextExchangeFilterFunction}'s
 * end signal, the context being over, completes that second read at once from a ctx4j thread, while
 * Reactor Netty refuses the second reader from the event loop ("Rejecting additional inbound
 * receiver"). If the refusal comes while the completion is still handing the read's subscription
 * down, Reactor's {@code takeUntilOther} passes it on to operators not yet subscribed, and the
 * call's {@code Mono} may never signal: CancelAnywhereTest's WEBCLIENT_H2C row saw such calls hang,
 * their context ended, in 6 of about 20 runs of 4,500 calls on a loaded machine (a trace of every
 * operator's signals showed the refusal's error reach Spring's operators before their
 * subscription).
 *
 * <p>So, once the context has ended, the filter answers a second read of the body with the
 * context's error itself, and the connector's body is read once only. The test makes a real call
 * (HTTP/1.1 to Tomcat) whose context ends as its body is read, with a filter on each side of
 * ctx4j's that counts the reads: retrieve() reads twice, the connector's body once. The hang itself
 * needs the two threads to meet inside one operator, which a test cannot force; on the old code
 * this test fails on the count ({@code expected: <1> but was: <2>}). Over h2c (Jetty) the same call
 * still does not return in 2 of 4 runs with this change: an open defect, not found yet (the module
 * README's "Open defects"), so h2c is not among the cases here.
 */
@Timeout(60)
class WebClientBodyReadAgainTest {

  @Test
  void aCallWhoseContextEndsAsItReadsTheBodyReturnsWithTheContextsError() throws Exception {
    boolean h2c = false;
    Chains chains = Chains.get();
    String server = h2c ? chains.jetty.url("C") : chains.tomcat.url("C");
    ConnectionProvider pool = ConnectionProvider.builder("ctx4j-read-again").maxConnections(1).build();
    LoopResources loop = LoopResources.create("ctx4j-read-again", 1, true);
    ExecutorService caller = Executors.newSingleThreadExecutor();
    CountDownLatch reading = new CountDownLatch(1);
    AtomicInteger outerReads = new AtomicInteger();
    AtomicInteger innerReads = new AtomicInteger();
    ExchangeFilterFunction outer =
        (request, next) ->
            next.exchange(request)
                .map(r -> r.mutate()
                    .body(b -> b.doOnSubscribe(s -> {
                      outerReads.incrementAndGet();
                      reading.countDown();
                    }))
                    .build());
    ExchangeFilterFunction inner =
        (request, next) ->
            next.exchange(request)
                .map(r -> r.mutate()
                    .body(b -> b.doOnSubscribe(s -> innerReads.incrementAndGet()))
                    .build());
    try {
      WebClient web =
          chains.tomcat.a().getBean(WebClient.Builder.class)
              .baseUrl(server)
              .clientConnector(new ReactorClientHttpConnector(
                  HttpClient.create(pool).runOn(loop)
                      .protocol(h2c ? HttpProtocol.H2C : HttpProtocol.HTTP11)))
              .filters(f -> {
                f.add(0, outer);
                f.add(inner);
              })
              .build();
      CancelableContext ctx = Context.withCancel(Context.background());
      // Half of the body at once, the rest 10 s later: the read is under way when the context ends.
      Future<String> call =
          caller.submit(() -> CurrentContext.call(ctx, () ->
              web.get().uri("/slow?id=read-again&head=0&body=10000&size=2000")
                  .retrieve().bodyToMono(String.class).block(Duration.ofSeconds(20))));
      assertTrue(reading.await(10, TimeUnit.SECONDS), "the body's read never started");
      ctx.cancel();
      ExecutionException e =
          assertThrows(ExecutionException.class, () -> call.get(30, TimeUnit.SECONDS));
      // Not a blocking read's timeout (IllegalStateException): the call's Mono did signal.
      WebClientResponseException w =
          assertInstanceOf(WebClientResponseException.class, e.getCause(), () -> "the call ended with " + e.getCause());
      assertInstanceOf(CanceledException.class, w.getCause(), "the cause of retrieve()'s exception");
      // A task on the event loop after the call: a read of the connector's body handed to it is in.
      loop.onClient(true).next().submit(() -> {}).get(10, TimeUnit.SECONDS);
      assertEquals(2, outerReads.get(), "the reads of the body as retrieve() makes them");
      assertEquals(1, innerReads.get(), "the reads of the connector's body");
    } finally {
      caller.shutdownNow();
      pool.dispose();
      loop.dispose();
    }
  }
}
