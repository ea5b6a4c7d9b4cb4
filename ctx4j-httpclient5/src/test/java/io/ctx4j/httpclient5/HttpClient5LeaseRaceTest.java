package io.ctx4j.httpclient5;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.apache.hc.client5.http.HttpRoute;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.client5.http.impl.io.PoolingHttpClientConnectionManager;
import org.apache.hc.client5.http.io.ConnectionEndpoint;
import org.apache.hc.client5.http.io.HttpClientConnectionManager;
import org.apache.hc.client5.http.io.LeaseRequest;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.HttpHost;
import org.apache.hc.core5.http.io.entity.ByteArrayEntity;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.apache.hc.core5.http.protocol.HttpContext;
import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.util.TimeValue;
import org.apache.hc.core5.util.Timeout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A request cancelled while it waits for the pool's only connection, at the instant the pool hands
 * that connection to it, does not take the connection with it.
 *
 * <p>HttpClient cancels a lease only after the wait for it has failed: a caller interrupted in the
 * wait throws, and the pool may grant the lease before the caller's {@code cancel()}, which then
 * does nothing. The connection is then leased to no one, for good, and every later request on the
 * pool waits for it until its own deadline (the hang a fresh-clone CI run of 9609e70 met in {@link
 * HttpClient5CancelAnywhereTest}). So the context's end must cancel the lease before it interrupts
 * the caller. The test makes the race's bad order certain rather than likely: the pool's lease is
 * wrapped so that, should the interrupt come first, the pool grants the lease just as the
 * interrupted caller gives up on it (the connection a test-held lease was holding is released at
 * that moment), and any cancel of the lease from another thread waits until then.
 */
@org.junit.jupiter.api.Timeout(120)
class HttpClient5LeaseRaceTest {
  private final ClassicServer server =
      new ClassicServer(
          (request, response, context) ->
              response.setEntity(
                  new ByteArrayEntity(ContextHttpClient5Test.HELLO, ContentType.TEXT_PLAIN)));
  private final PoolingHttpClientConnectionManager pool = HttpClient5HostileUseTest.poolOfOne();
  private final RacingPool racing = new RacingPool(pool);
  private final CloseableHttpClient client =
      ContextHttpClient5.install(HttpClients.custom().setConnectionManager(racing)).build();
  private final ExecutorService callers = Executors.newSingleThreadExecutor();

  @AfterEach
  void stop() throws Exception {
    // The caller first: a call still waiting for the pool must not outlive the client.
    callers.shutdownNow();
    assertTrue(callers.awaitTermination(20, TimeUnit.SECONDS));
    client.close();
    server.close();
  }

  @Test
  void aLeaseGrantedAsTheCancelledCallerGivesUpGoesBackToThePool() throws Exception {
    String url = server.url("/");
    URI uri = URI.create(url);
    // The pool's only connection, held by the test until the race releases it (or the test does).
    racing.hold(new HttpRoute(new HttpHost(uri.getScheme(), uri.getHost(), uri.getPort())));
    CancelableContext ctx = Context.withCancel(Context.background());
    Future<Throwable> call =
        callers.submit(
            () -> {
              try {
                client.execute(
                    new HttpGet(url),
                    ContextHttpClient5.clientContext(ctx),
                    r -> EntityUtils.toByteArray(r.getEntity()));
                return null;
              } catch (IOException | RuntimeException e) {
                return e;
              }
            });
    Thread caller = racing.awaitCallerParked();
    ctx.cancel();
    Throwable failure = call.get(20, TimeUnit.SECONDS);
    assertInstanceOf(InterruptedIOException.class, failure, "the cancelled request's failure");
    assertInstanceOf(CanceledException.class, failure.getCause(), "its cause, the context's error");
    assertFalse(caller.isInterrupted(), "no interrupt outlives the call");
    racing.releaseHeld(); // if the race has not: the pool's connection is free from here on

    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (pool.getTotalStats().getLeased() != 0 && System.nanoTime() < until) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    }
    assertEquals(0, pool.getTotalStats().getLeased(), "connections leased after the cancelled request");
    // Bounded: were the connection lost, this request would wait for it until its deadline.
    try (CancelableContext next = Context.withTimeout(Context.background(), Duration.ofSeconds(20))) {
      byte[] got =
          client.execute(
              new HttpGet(url),
              ContextHttpClient5.clientContext(next),
              r -> EntityUtils.toByteArray(r.getEntity()));
      assertArrayEquals(ContextHttpClient5Test.HELLO, got, "the next request's body");
      assertEquals(0, CoreInternals.registrationCount(next), "registrations left on the next context");
    }
  }

  /**
   * The real pool, whose leases are wrapped by {@link RacingLease}, and a lease of its one
   * connection held by the test.
   */
  private static final class RacingPool implements HttpClientConnectionManager {
    private final PoolingHttpClientConnectionManager pool;
    private final CountDownLatch leasing = new CountDownLatch(1);
    private final AtomicBoolean released = new AtomicBoolean();
    private volatile ConnectionEndpoint held;
    private volatile Thread caller;

    RacingPool(PoolingHttpClientConnectionManager pool) {
      this.pool = pool;
    }

    void hold(HttpRoute route) throws Exception {
      held = pool.lease("held by the test", route, Timeout.ofSeconds(10), null).get(Timeout.ofSeconds(10));
    }

    /** Gives the held connection back to the pool, once; the pool grants it to a waiting lease. */
    void releaseHeld() {
      if (released.compareAndSet(false, true)) {
        pool.release(held, null, TimeValue.ZERO_MILLISECONDS);
      }
    }

    /** Waits until the caller is parked in the pool, waiting for the held connection. */
    Thread awaitCallerParked() throws InterruptedException, TimeoutException {
      if (!leasing.await(20, TimeUnit.SECONDS)) {
        throw new TimeoutException("the request never asked the pool for a connection");
      }
      Thread t = caller;
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (t.getState() != Thread.State.TIMED_WAITING && t.getState() != Thread.State.WAITING) {
        if (System.nanoTime() > until) {
          throw new TimeoutException("the caller never waited for the pool: " + t.getState());
        }
        LockSupport.parkNanos(TimeUnit.MICROSECONDS.toNanos(100));
      }
      return t;
    }

    @Override
    public LeaseRequest lease(String id, HttpRoute route, Timeout requestTimeout, Object state) {
      LeaseRequest lease = pool.lease(id, route, requestTimeout, state);
      if (caller != null) {
        return lease; // the later request's: not raced
      }
      caller = Thread.currentThread();
      return new RacingLease(lease, caller);
    }

    /**
     * The caller's lease. Should the caller be interrupted while it waits, the held connection is
     * released before the caller's wait fails (the pool grants it to this very lease, not cancelled
     * yet); a cancel from another thread that finds the caller interrupted already waits until
     * then, so the bad order, when the code allows it, always happens.
     */
    private final class RacingLease implements LeaseRequest {
      private final LeaseRequest lease;
      private final Thread owner;
      private final CountDownLatch gaveUp = new CountDownLatch(1);

      RacingLease(LeaseRequest lease, Thread owner) {
        this.lease = lease;
        this.owner = owner;
      }

      @Override
      public ConnectionEndpoint get(Timeout timeout)
          throws InterruptedException, ExecutionException, TimeoutException {
        leasing.countDown();
        try {
          return lease.get(timeout);
        } catch (InterruptedException e) {
          releaseHeld(); // the pool grants the connection to this lease as its caller gives up
          gaveUp.countDown();
          throw e;
        }
      }

      @Override
      public boolean cancel() {
        // Interrupted (the flag still set, or woken and on its way out of the wait): the interrupt
        // came before this cancel. Parked, not interrupted: this cancel came first.
        if (Thread.currentThread() != owner
            && (owner.isInterrupted() || owner.getState() == Thread.State.RUNNABLE)) {
          try {
            gaveUp.await(20, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
        return lease.cancel();
      }
    }

    @Override
    public void release(ConnectionEndpoint endpoint, Object newState, TimeValue validDuration) {
      pool.release(endpoint, newState, validDuration);
    }

    @Override
    public void connect(ConnectionEndpoint endpoint, TimeValue connectTimeout, HttpContext context)
        throws IOException {
      pool.connect(endpoint, connectTimeout, context);
    }

    @Override
    public void upgrade(ConnectionEndpoint endpoint, HttpContext context) throws IOException {
      pool.upgrade(endpoint, context);
    }

    @Override
    public void close(CloseMode closeMode) {
      pool.close(closeMode);
    }

    @Override
    public void close() throws IOException {
      pool.close();
    }
  }
}
