package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import java.io.IOException;
import java.io.OutputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
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

  @Test
  void cancellingTheContextWhileTheSubscriberBlocksInOnNextDoesNotWaitForIt() throws Exception {
    CountDownLatch serverDone = new CountDownLatch(1);
    CountDownLatch inOnNext = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicReference<Throwable> error = new AtomicReference<>();
    CountDownLatch errored = new CountDownLatch(1);
    AtomicBoolean overlapped = new AtomicBoolean();
    AtomicBoolean inside = new AtomicBoolean();
    try (LoopbackServer s = streaming(serverDone)) {
      CancelableContext ctx = Context.withCancel(Context.background());
      HttpResponse.BodyHandler<Void> blocking =
          subscriber(
              item -> {
                inside.set(true);
                inOnNext.countDown();
                try {
                  release.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
                inside.set(false);
              },
              t -> {
                overlapped.compareAndSet(false, inside.get());
                error.set(t);
                errored.countDown();
              });
      ContextHttp.sendAsync(ctx, CLIENT, HttpRequest.newBuilder(s.uri()).build(), blocking);
      try {
        assertTrue(inOnNext.await(10, TimeUnit.SECONDS), "no body arrived");
        CompletableFuture<Void> cancel = CompletableFuture.runAsync(ctx::cancel);
        // Before the fix the cancel waited for the subscriber's monitor, held by the blocked onNext.
        cancel.get(10, TimeUnit.SECONDS);
      } finally {
        release.countDown();
        serverDone.countDown();
      }
      assertTrue(errored.await(10, TimeUnit.SECONDS), "the subscriber never heard of the cancel");
      assertFalse(overlapped.get(), "onError ran while onNext was still running");
      assertNotNull(error.get());
    }
  }

  @Test
  void aSubscriberThatEndsTheContextFromOnNextIsNotReentered() throws Exception {
    CountDownLatch serverDone = new CountDownLatch(1);
    CountDownLatch errored = new CountDownLatch(1);
    AtomicBoolean reentered = new AtomicBoolean();
    AtomicBoolean inside = new AtomicBoolean();
    try (LoopbackServer s = streaming(serverDone)) {
      CancelableContext ctx = Context.withCancel(Context.background());
      HttpResponse.BodyHandler<Void> callingBack =
          subscriber(
              item -> {
                inside.set(true);
                ctx.cancel(); // runs ContextHttp's abort hook in this very thread
                inside.set(false);
              },
              t -> {
                reentered.compareAndSet(false, inside.get());
                errored.countDown();
              });
      try {
        ContextHttp.sendAsync(ctx, CLIENT, HttpRequest.newBuilder(s.uri()).build(), callingBack);
        assertTrue(errored.await(10, TimeUnit.SECONDS), "the subscriber never heard of the cancel");
      } finally {
        serverDone.countDown();
      }
      assertEquals(false, reentered.get(), "onError was delivered inside onNext");
    }
  }
}
