package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.testing.Quietly;
import java.io.IOException;
import java.io.OutputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.util.List;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The caller's body subscriber is never called under a lock of ContextHttp, and never re-entered
 * (issue 15 item 10).
 */
@Timeout(120)
class BodySubscriberLockTest {
  private static final HttpClient CLIENT =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  /** A server that sends headers and a first chunk, then waits for the client to leave. */
  private static LoopbackServer streaming(CountDownLatch done) {
    return new LoopbackServer(
        ex -> {
          ex.sendResponseHeaders(200, 0);
          try (OutputStream out = ex.getResponseBody()) {
            out.write(new byte[100]);
            out.flush();
            done.await(30, TimeUnit.SECONDS);
          } catch (IOException | InterruptedException ignored) {
            // the client left
          }
        });
  }

  /** A body handler whose subscriber requests everything and hands onNext and onError on. */
  private static HttpResponse.BodyHandler<Void> subscriber(
      Consumer<List<ByteBuffer>> onNext, Consumer<Throwable> onError) {
    return info ->
        HttpResponse.BodySubscribers.fromSubscriber(
            new Flow.Subscriber<List<ByteBuffer>>() {
              @Override
              public void onSubscribe(Flow.Subscription sub) {
                sub.request(Long.MAX_VALUE);
              }

              @Override
              public void onNext(List<ByteBuffer> item) {
                onNext.accept(item);
              }

              @Override
              public void onError(Throwable t) {
                onError.accept(t);
              }

              @Override
              public void onComplete() {}
            });
  }

  /** A subscriber's record: whether its onError came while its onNext was running. */
  private static final class Watched {
    final AtomicBoolean inside = new AtomicBoolean();
    final AtomicBoolean errorInsideOnNext = new AtomicBoolean();
    final AtomicReference<Throwable> error = new AtomicReference<>();
    final CountDownLatch errored = new CountDownLatch(1);

    /** A body handler whose subscriber runs {@code onNext} for each item and records its onError. */
    HttpResponse.BodyHandler<Void> handler(Runnable onNext) {
      return subscriber(
          item -> {
            inside.set(true);
            onNext.run();
            inside.set(false);
          },
          t -> {
            errorInsideOnNext.compareAndSet(false, inside.get());
            error.set(t);
            errored.countDown();
          });
    }
  }

  @Test
  void cancellingTheContextWhileTheSubscriberBlocksInOnNextDoesNotWaitForIt() throws Exception {
    CountDownLatch serverDone = new CountDownLatch(1);
    CountDownLatch inOnNext = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Watched blocking = new Watched();
    try (LoopbackServer s = streaming(serverDone)) {
      CancelableContext ctx = Context.withCancel(Context.background());
      HttpResponse.BodyHandler<Void> h =
          blocking.handler(
              () -> {
                inOnNext.countDown();
                Quietly.await(release, Duration.ofSeconds(30));
              });
      ContextHttp.sendAsync(ctx, CLIENT, HttpRequest.newBuilder(s.uri()).build(), h);
      try {
        assertTrue(inOnNext.await(10, TimeUnit.SECONDS), "no body arrived");
        CompletableFuture<Void> cancel = CompletableFuture.runAsync(ctx::cancel);
        // Before the fix the cancel waited for the subscriber's monitor, held by the blocked onNext.
        cancel.get(10, TimeUnit.SECONDS);
      } finally {
        release.countDown();
        serverDone.countDown();
      }
      assertTrue(blocking.errored.await(10, TimeUnit.SECONDS), "the subscriber never heard of the cancel");
      assertFalse(blocking.errorInsideOnNext.get(), "onError ran while onNext was still running");
      assertNotNull(blocking.error.get());
    }
  }

  @Test
  void aSubscriberThatEndsTheContextFromOnNextIsNotReentered() throws Exception {
    CountDownLatch serverDone = new CountDownLatch(1);
    Watched callingBack = new Watched();
    try (LoopbackServer s = streaming(serverDone)) {
      CancelableContext ctx = Context.withCancel(Context.background());
      // ctx.cancel() runs ContextHttp's abort hook in the subscriber's very thread
      HttpResponse.BodyHandler<Void> h = callingBack.handler(ctx::cancel);
      try {
        ContextHttp.sendAsync(ctx, CLIENT, HttpRequest.newBuilder(s.uri()).build(), h);
        assertTrue(callingBack.errored.await(10, TimeUnit.SECONDS), "the subscriber never heard of the cancel");
      } finally {
        serverDone.countDown();
      }
      assertEquals(false, callingBack.errorInsideOnNext.get(), "onError was delivered inside onNext");
    }
  }

  /**
   * Cancels racing the body: 300 exchanges of 64 KiB, each context cancelled by another thread at a
   * different point of the body (before it, after the first chunk, around its end). Every
   * subscriber must see exactly one terminal signal, nothing after it, and never two signals at once.
   */
  @Test
  void cancelsRacingTheBodyGiveEverySubscriberOneTerminalSignalAndNoOverlap() throws Exception {
    byte[] chunk = new byte[4096];
    ExecutorService cancellers = Executors.newSingleThreadExecutor();
    List<String> violations = new CopyOnWriteArrayList<>();
    try (LoopbackServer s =
        new LoopbackServer(
            ex -> {
              ex.sendResponseHeaders(200, 16L * chunk.length);
              try (OutputStream out = ex.getResponseBody()) {
                for (int i = 0; i < 16; i++) {
                  out.write(chunk);
                }
              } catch (IOException clientLeft) {
                // cancelled mid-body
              }
            })) {
      for (int i = 0; i < 300; i++) {
        int cancelAfter = i % 20; // chunks seen before the cancel is sent; 16+ means after the end
        CancelableContext ctx = Context.withCancel(Context.background());
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger terminals = new AtomicInteger();
        AtomicInteger items = new AtomicInteger();
        CountDownLatch ended = new CountDownLatch(1);
        int exchange = i;
        Runnable enter =
            () -> {
              if (inside.incrementAndGet() != 1) {
                violations.add(exchange + ": two signals at once");
              }
              if (terminals.get() != 0) {
                violations.add(exchange + ": a signal after the terminal one");
              }
            };
        HttpResponse.BodyHandler<Void> h =
            info ->
                HttpResponse.BodySubscribers.fromSubscriber(
                    new Flow.Subscriber<List<ByteBuffer>>() {
                      @Override
                      public void onSubscribe(Flow.Subscription sub) {
                        sub.request(Long.MAX_VALUE);
                        if (cancelAfter == 0) {
                          cancellers.execute(ctx::cancel);
                        }
                      }

                      @Override
                      public void onNext(List<ByteBuffer> item) {
                        enter.run();
                        if (items.incrementAndGet() == cancelAfter) {
                          cancellers.execute(ctx::cancel);
                        }
                        inside.decrementAndGet();
                      }

                      @Override
                      public void onError(Throwable t) {
                        enter.run();
                        terminals.incrementAndGet();
                        inside.decrementAndGet();
                        ended.countDown();
                      }

                      @Override
                      public void onComplete() {
                        enter.run();
                        terminals.incrementAndGet();
                        inside.decrementAndGet();
                        ended.countDown();
                        cancellers.execute(ctx::cancel);
                      }
                    });
        ContextHttp.sendAsync(ctx, CLIENT, HttpRequest.newBuilder(s.uri()).build(), h);
        assertTrue(ended.await(10, TimeUnit.SECONDS), "exchange " + i + " never ended");
        ctx.await(Duration.ofSeconds(10));
        // A late signal would have to come now, on the client's thread: fence with the canceller.
        cancellers.submit(() -> {}).get(10, TimeUnit.SECONDS);
        assertEquals(1, terminals.get(), "exchange " + i + " terminal signals");
      }
    } finally {
      cancellers.shutdown();
      assertTrue(cancellers.awaitTermination(10, TimeUnit.SECONDS));
    }
    assertEquals(List.of(), violations);
  }
}
