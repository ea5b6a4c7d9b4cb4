package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Every way a client exchange can end releases its abort hook on a long-lived context: the body
 * read to its end, abandoned by closing the stream, cancelled by a Flow subscriber, the future
 * cancelled, the caller's handler or subscriber throwing. The count of live
 * registrations (the core's internal accessor, CoreInternals) is the exact structural check (issue
 * 15 item 6).
 */
@Timeout(120)
class HttpAbandonedBodyLeakTest {
  private static final int EXCHANGES = 20;
  private static final int MIB = 1 << 20;

  private LoopbackServer server;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private CancelableContext client;

  @BeforeEach
  void start() {
    server =
        new LoopbackServer(
            ex -> {
              ex.sendResponseHeaders(200, MIB);
              try (OutputStream out = ex.getResponseBody()) {
                byte[] chunk = new byte[8192];
                for (int sent = 0; sent < MIB; sent += chunk.length) {
                  out.write(chunk);
                }
              } catch (IOException clientLeft) {
                // the client abandoned the body: expected here
              }
            });
    client = Context.withTimeout(Context.background(), Duration.ofMinutes(5));
  }

  @AfterEach
  void stop() throws InterruptedException {
    client.cancel();
    server.close();
  }

  private HttpRequest get() {
    return HttpRequest.newBuilder(server.uri()).build();
  }

  @Test
  void closingAStreamedBodyAfter100BytesReleasesTheHook() throws Exception {
    for (int i = 0; i < EXCHANGES; i++) {
      InputStream in = ContextHttp.send(client, http, get(), BodyHandlers.ofInputStream()).body();
      assertEquals(100, in.readNBytes(100).length);
      in.close();
      assertEquals(0, CoreInternals.registrationCount(client), "hooks left after exchange " + (i + 1));
    }
  }

  @Test
  void aFlowSubscriberThatCancelsReleasesTheHook() throws Exception {
    for (int i = 0; i < EXCHANGES; i++) {
      Flow.Publisher<List<ByteBuffer>> body =
          ContextHttp.send(client, http, get(), BodyHandlers.ofPublisher()).body();
      CountDownLatch cancelled = new CountDownLatch(1);
      body.subscribe(
          new Flow.Subscriber<>() {
            Flow.Subscription s;

            @Override
            public void onSubscribe(Flow.Subscription s) {
              this.s = s;
              s.request(1);
            }

            @Override
            public void onNext(List<ByteBuffer> item) {
              s.cancel();
              cancelled.countDown();
            }

            @Override
            public void onError(Throwable t) {}

            @Override
            public void onComplete() {}
          });
      assertTrue(cancelled.await(10, TimeUnit.SECONDS), "no body arrived");
      assertEquals(0, CoreInternals.registrationCount(client), "hooks left after exchange " + (i + 1));
    }
  }

  @Test
  void cancellingTheFutureReleasesTheHook() throws Exception {
    for (int i = 0; i < EXCHANGES; i++) {
      CompletableFuture<HttpResponse<InputStream>> f =
          ContextHttp.sendAsync(client, http, get(), BodyHandlers.ofInputStream());
      if (!f.cancel(true)) {
        // The response won the race (loopback is fast): the streamed body now holds the hook until
        // it is closed, as closingAStreamedBodyAfter100BytesReleasesTheHook checks; close it.
        f.join().body().close();
      }
      assertEquals(0, CoreInternals.registrationCount(client), "hooks left after exchange " + (i + 1));
    }
  }

  @Test
  void aBodyHandlerThatThrowsReleasesTheHook() throws Exception {
    for (int i = 0; i < EXCHANGES; i++) {
      IllegalStateException boom = new IllegalStateException("handler refuses");
      HttpResponse.BodyHandler<String> refusing = info -> { throw boom; };
      CompletableFuture<HttpResponse<String>> f = ContextHttp.sendAsync(client, http, get(), refusing);
      ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS));
      assertTrue(e.getCause() == boom || e.getCause().getCause() == boom, "failed with " + e.getCause());
      assertEquals(0, CoreInternals.registrationCount(client), "hooks left after exchange " + (i + 1));
    }
  }

  @Test
  void aSubscriberThatThrowsInOnNextReleasesTheHook() throws Exception {
    for (int i = 0; i < EXCHANGES; i++) {
      CountDownLatch threw = new CountDownLatch(1);
      HttpResponse.BodyHandler<Void> throwing =
          info ->
              HttpResponse.BodySubscribers.fromSubscriber(
                  new Flow.Subscriber<List<ByteBuffer>>() {
                    @Override
                    public void onSubscribe(Flow.Subscription s) {
                      s.request(1);
                    }

                    @Override
                    public void onNext(List<ByteBuffer> item) {
                      threw.countDown();
                      throw new IllegalStateException("subscriber fails");
                    }

                    @Override
                    public void onError(Throwable t) {}

                    @Override
                    public void onComplete() {}
                  });
      CompletableFuture<HttpResponse<Void>> f = ContextHttp.sendAsync(client, http, get(), throwing);
      assertTrue(threw.await(10, TimeUnit.SECONDS), "no body arrived");
      assertThrows(Exception.class, () -> f.get(10, TimeUnit.SECONDS));
      assertEquals(0, CoreInternals.registrationCount(client), "hooks left after exchange " + (i + 1));
    }
  }

  @Test
  void anInterruptedSendReleasesTheHook() throws Exception {
    for (int i = 0; i < EXCHANGES; i++) {
      Thread.currentThread().interrupt();
      assertThrows(
          InterruptedException.class,
          () -> ContextHttp.send(client, http, get(), BodyHandlers.ofByteArray()));
      assertEquals(0, CoreInternals.registrationCount(client), "hooks left after exchange " + (i + 1));
    }
  }
}
