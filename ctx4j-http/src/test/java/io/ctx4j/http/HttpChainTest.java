package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpHandler;
import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.testing.Quietly;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Three services on loopback, A calls B calls C, each with ContextHttp behind a ContextFilter. */
class HttpChainTest {
  private static final HttpClient CLIENT =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private final ConcurrentHashMap<String, Long> remainingMs = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Object> errors = new ConcurrentHashMap<>();
  private final CountDownLatch allReturned = new CountDownLatch(3);

  /** A hop that records its budget, calls the next hop (if any), and records how it ended. */
  private HttpHandler hop(String name, URI next) {
    return exchange -> {
      if ("ping".equals(exchange.getRequestURI().getQuery())) {
        exchange.sendResponseHeaders(204, -1);
        exchange.close();
        return;
      }
      Context ctx = ContextFilter.current();
      try {
        remainingMs.put(name, DeadlineHeader.remaining(ctx).orElseThrow().toMillis());
        if (next == null) {
          ctx.await(); // C: slow, ends only with its context
        } else {
          ContextHttp.send(ctx, CLIENT, HttpRequest.newBuilder(next).build(), BodyHandlers.ofString());
        }
      } catch (DeadlineExceededException | InterruptedException | IOException e) {
        // expected: the budget ran out
      } finally {
        // The next hop's budget is rounded down, so its failure can come back a few milliseconds
        // before this hop's own deadline; give that deadline a bounded moment to fire.
        Quietly.await(ctx, Duration.ofSeconds(5));
        errors.put(name, ctx.err() == null ? "live" : ctx.err());
        allReturned.countDown();
        exchange.sendResponseHeaders(504, -1);
        exchange.close();
      }
    };
  }

  @Test
  void deadlineOfA_reachesC_smallerAndEndsEveryHop() throws Exception {
    try (LoopbackServer c = new LoopbackServer(hop("C", null));
        LoopbackServer b = new LoopbackServer(hop("B", c.uri()));
        LoopbackServer a = new LoopbackServer(hop("A", b.uri()))) {
      for (LoopbackServer s : new LoopbackServer[] {a, b, c}) {
        // Warm up, so that class loading and the first connections are not charged to the 300 ms.
        ContextHttp.send(Context.background(), CLIENT, HttpRequest.newBuilder(s.uri().resolve("/?ping")).build(), BodyHandlers.discarding());
      }
      AtomicLong took = new AtomicLong();
      long t0 = System.nanoTime();
      try (CancelableContext ctx =
          Context.withTimeout(Context.background(), Duration.ofMillis(300))) {
        // Each hop's budget is its caller's less the transit allowance, so A's 504 normally comes
        // back just before the caller's own deadline; on a loaded machine the deadline may win.
        try {
          int status =
              ContextHttp.send(ctx, CLIENT, HttpRequest.newBuilder(a.uri()).build(), BodyHandlers.ofString())
                  .statusCode();
          assertEquals(504, status);
        } catch (DeadlineExceededException expected) {
          assertSame(Context.DEADLINE_EXCEEDED, ctx.err());
        }
      }
      took.set((System.nanoTime() - t0) / 1_000_000);
      assertTrue(took.get() >= 280 && took.get() < 3000, "caller returned after " + took + " ms");
      assertTrue(allReturned.await(10, TimeUnit.SECONDS), "a hop kept running: " + errors);
      long atA = remainingMs.get("A");
      long atB = remainingMs.get("B");
      long atC = remainingMs.get("C");
      // C's budget is normally well above zero; on an overloaded machine it may arrive spent
      // (DeadlineHeader sends 0 then), which is still the deadline reaching C.
      assertTrue(atA <= 295 && atB <= atA - 5 && atC <= atB - 5 && atC >= 0, "A " + atA + ", B " + atB + ", C " + atC);
      for (String hop : new String[] {"A", "B", "C"}) {
        assertSame(Context.DEADLINE_EXCEEDED, errors.get(hop), hop + " ended with " + errors.get(hop));
      }
    }
  }
}
