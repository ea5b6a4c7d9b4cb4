package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The context ends while the request body is being sent, and while a body streamed as lines or
 * through a publisher is being read: the caller learns it at once, with the context's error and
 * its cause, and nothing stays registered on the context. With a client that follows redirects as
 * well (ctx4j then sends through its copy of the client). The response headers' wait and an
 * {@code InputStream} body are {@code ContextHttpTest}'s.
 */
@Timeout(120)
class ContextEndPhasesTest {
  private static final IllegalStateException WHY = new IllegalStateException("shutting down");

  private static HttpClient client(HttpClient.Redirect redirects) {
    return HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .followRedirects(redirects)
        .build();
  }

  /** A context with a deadline (so that ctx4j follows redirects itself), to be cancelled. */
  private static CancelableContext context() {
    return Context.withTimeout(Context.background(), Duration.ofHours(1));
  }

  /** A server that reads the request body, then streams "line1\nline2\n" and holds the rest. */
  private static LoopbackServer streaming(CountDownLatch release) {
    return new LoopbackServer(
        ex -> {
          try {
            ex.getRequestBody().readAllBytes();
            ex.sendResponseHeaders(200, 0);
            OutputStream out = ex.getResponseBody();
            out.write("line1\nline2\n".getBytes(StandardCharsets.UTF_8));
            out.flush();
            release.await();
            out.close();
          } catch (IOException | InterruptedException clientLeft) {
            // the client gave the exchange up: nothing more to send
          }
        });
  }

  @ParameterizedTest
  @EnumSource(value = HttpClient.Redirect.class, names = {"NEVER", "NORMAL"})
  void theContextEndingWhileTheRequestBodyIsSentEndsTheCall(HttpClient.Redirect redirects)
      throws Exception {
    CountDownLatch sending = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    InputStream body =
        new InputStream() {
          @Override
          public int read() throws IOException {
            sending.countDown();
            try {
              release.await(); // the rest of the body never comes while the context lives
            } catch (InterruptedException e) {
              throw new InterruptedIOException();
            }
            return -1;
          }
        };
    try (LoopbackServer s = streaming(release);
        AutoCloseable held = release::countDown; // before the server's close waits for its handler
        CancelableContext ctx = context()) {
      HttpRequest request =
          HttpRequest.newBuilder(s.uri()).POST(HttpRequest.BodyPublishers.ofInputStream(() -> body)).build();
      CompletableFuture<Void> cancel =
          CompletableFuture.runAsync(
              () -> {
                try {
                  assertTrue(sending.await(30, TimeUnit.SECONDS), "the body was never read");
                } catch (InterruptedException e) {
                  throw new AssertionError(e);
                }
                ctx.cancel(WHY);
              });
      CanceledException e =
          assertThrows(
              CanceledException.class,
              () -> ContextHttp.send(ctx, client(redirects), request, BodyHandlers.ofString()));
      assertSame(WHY, e.getCause());
      assertEquals(0, CoreInternals.registrationCount(ctx), "registrations left on the context");
      cancel.get(30, TimeUnit.SECONDS);
    }
  }

  @ParameterizedTest
  @EnumSource(value = HttpClient.Redirect.class, names = {"NEVER", "NORMAL"})
  void theContextEndingWhileLinesAreReadReleasesTheReader(HttpClient.Redirect redirects)
      throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    try (LoopbackServer s = streaming(release);
        AutoCloseable held = release::countDown; // before the server's close waits for its handler
        CancelableContext ctx = context();
        Stream<String> lines =
            ContextHttp.send(ctx, client(redirects), HttpRequest.newBuilder(s.uri()).build(), BodyHandlers.ofLines())
                .body()) {
      Iterator<String> it = lines.iterator();
      assertEquals("line1", it.next());
      assertEquals("line2", it.next());
      CompletableFuture<Void> cancelled = OnceBlocked.run(Thread.currentThread(), () -> ctx.cancel(WHY));
      UncheckedIOException e = assertThrows(UncheckedIOException.class, it::hasNext);
      cancelled.get(30, TimeUnit.SECONDS); // the cancel came while this thread waited for a line
      assertEquals(List.of(CanceledException.class, IllegalStateException.class), causes(e.getCause()));
      assertEquals(0, CoreInternals.registrationCount(ctx), "registrations left on the context");
    }
  }

  @ParameterizedTest
  @EnumSource(value = HttpClient.Redirect.class, names = {"NEVER", "NORMAL"})
  void theContextEndingWhileAPublisherIsReadFailsItsSubscriber(HttpClient.Redirect redirects)
      throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    try (LoopbackServer s = streaming(release);
        AutoCloseable held = release::countDown; // before the server's close waits for its handler
        CancelableContext ctx = context()) {
      Flow.Publisher<List<ByteBuffer>> body =
          ContextHttp.send(ctx, client(redirects), HttpRequest.newBuilder(s.uri()).build(), BodyHandlers.ofPublisher())
              .body();
      CountDownLatch first = new CountDownLatch(1);
      CompletableFuture<Throwable> end = new CompletableFuture<>();
      body.subscribe(
          new Flow.Subscriber<>() {
            @Override
            public void onSubscribe(Flow.Subscription subscription) {
              subscription.request(Long.MAX_VALUE);
            }

            @Override
            public void onNext(List<ByteBuffer> item) {
              first.countDown();
            }

            @Override
            public void onError(Throwable t) {
              end.complete(t);
            }

            @Override
            public void onComplete() {
              end.complete(null);
            }
          });
      assertTrue(first.await(30, TimeUnit.SECONDS), "no part of the body arrived");
      ctx.cancel(WHY);
      Throwable t = end.get(10, TimeUnit.SECONDS);
      assertInstanceOf(CanceledException.class, t, "what the subscriber got");
      assertSame(WHY, t.getCause());
      assertEquals(0, CoreInternals.registrationCount(ctx), "registrations left on the context");
    }
  }

  /** The classes of the cause chain below {@code t}'s (t's own first). */
  private static List<Class<?>> causes(Throwable t) {
    List<Class<?>> classes = new java.util.ArrayList<>();
    for (Throwable c = t.getCause(); c != null; c = c.getCause()) {
      classes.add(c.getClass());
    }
    return classes;
  }
}
