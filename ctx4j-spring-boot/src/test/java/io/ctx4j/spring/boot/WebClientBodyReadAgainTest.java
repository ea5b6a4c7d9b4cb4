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
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.http.client.reactive.ReactorClientHttpConnector;
import org.springframework.web.reactive.function.client.ExchangeFilterFunction;
import org.springframework.web.reactive.function.client.WebClient;
import org.springframework.web.reactive.function.client.WebClientResponseException;
import reactor.netty.http.HttpProtocol;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.resources.LoopResources;

/**
 * A WebClient {@code retrieve()} call whose context ends as it reads the response's body must
 * return, with the context's error, however the end meets the read. Two ways it did not, both seen
 * as hangs in CancelAnywhereTest's WEBCLIENT_H2C row (6 of about 20 runs of 4,500 calls on a loaded
 * machine), both found with a trace of every Reactor operator's signals, both the same flaw of
 * Reactor's {@code takeUntilOther}, on which {@link ContextExchangeFilterFunction}'s end signal
 * stood: the other side (the end, on a ctx4j thread) may complete the subscribers below while the
 * source's subscription is still being handed down to them (on the event loop), and some then
 * never signal again.
 *
 * <ul>
 *   <li>The end came as the body's first read was being subscribed: over h2c (Jetty) 5 of 30 such
 *       calls did not return in 5 s on the old code. The end signal is now armed only once the
 *       body is asked for data, when every subscriber below has its subscription.
 *   <li>Spring's {@code retrieve()} reads the body again once the first read failed with the
 *       context's error (to put the body in its {@code WebClientResponseException}), and Reactor
 *       Netty refused that second reader from the event loop as the end signal, the context over,
 *       completed it. The filter now answers a second read after the end with the context's error
 *       itself, and the connector's body is read once.
 * </ul>
 *
 * <p>Each case makes {@value #CALLS} real calls (a body whose second half comes 10 s after the
 * first; the call's context cancelled once its read started), with a filter on each side of
 * ctx4j's that counts the reads. On the old code the h2c case failed with a blocking read's
 * timeout and the HTTP/1.1 case (Tomcat) with {@code the reads of the connector's body ==>
 * expected: <1> but was: <2>}.
 */
@Timeout(120)
class WebClientBodyReadAgainTest {
  private static final int CALLS = 20;

  @ParameterizedTest(name = "h2c={0}")
  @ValueSource(booleans = {false, true})
  void aCallWhoseContextEndsAsItReadsTheBodyReturnsWithTheContextsError(boolean h2c)
      throws Exception {
    Chains chains = Chains.get();
    String server = h2c ? chains.jetty.url("C") : chains.tomcat.url("C");
    ConnectionProvider pool = ConnectionProvider.builder("ctx4j-read-again").maxConnections(1).build();
    LoopResources loop = LoopResources.create("ctx4j-read-again", 1, true);
    ExecutorService caller = Executors.newSingleThreadExecutor();
    AtomicReference<CountDownLatch> reading = new AtomicReference<>();
    AtomicInteger outerReads = new AtomicInteger();
    AtomicInteger innerReads = new AtomicInteger();
    ExchangeFilterFunction outer =
        (request, next) ->
            next.exchange(request)
                .map(r -> r.mutate()
                    .body(b -> b.doOnSubscribe(s -> {
                      outerReads.incrementAndGet();
                      reading.get().countDown();
                    }))
                    .build());
    ExchangeFilterFunction inner =
        (request, next) ->
            next.exchange(request)
                .map(r -> r.mutate().body(b -> b.doOnSubscribe(s -> innerReads.incrementAndGet())).build());
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
      for (int i = 0; i < CALLS; i++) {
        int k = i;
        String call = "call " + k + " of " + CALLS;
        reading.set(new CountDownLatch(1));
        outerReads.set(0);
        innerReads.set(0);
        CancelableContext ctx = Context.withCancel(Context.background());
        // Half of the body at once, the rest 10 s later: the read is under way as the context ends.
        Future<String> result =
            caller.submit(() -> CurrentContext.call(ctx, () ->
                web.get().uri("/slow?id=read-again-" + k + "&head=0&body=10000&size=2000")
                    .retrieve().bodyToMono(String.class).block(Duration.ofSeconds(5))));
        assertTrue(reading.get().await(10, TimeUnit.SECONDS), call + ": the body's read never started");
        ctx.cancel();
        ExecutionException e =
            assertThrows(ExecutionException.class, () -> result.get(30, TimeUnit.SECONDS), call);
        // Not the blocking read's timeout (an IllegalStateException): the call's Mono did signal.
        WebClientResponseException w =
            assertInstanceOf(WebClientResponseException.class, e.getCause(),
                () -> call + " ended with " + e.getCause());
        assertInstanceOf(CanceledException.class, w.getCause(), call + ": the cause of retrieve()'s exception");
        // A task on the event loop after the call: a read of the connector's body handed to it is in.
        loop.onClient(true).next().submit(() -> {}).get(10, TimeUnit.SECONDS);
        assertEquals(2, outerReads.get(), call + ": the reads of the body as retrieve() makes them");
        assertEquals(1, innerReads.get(), call + ": the reads of the connector's body");
      }
    } finally {
      caller.shutdownNow();
      pool.dispose();
      loop.dispose();
    }
  }
}
