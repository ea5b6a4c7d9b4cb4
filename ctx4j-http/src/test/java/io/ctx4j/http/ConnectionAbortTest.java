package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpResponse.BodySubscribers;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Whether ending the context really closes the TCP connection, seen from a bare socket server that
 * reads until the client hangs up. HTTP/1.1, before the response headers and while the body
 * streams. (On JDK 17, cancelling the client's future alone leaves the connection open once the
 * body streams; the body subscription cancel done by ContextHttp is what closes it.)
 */
class ConnectionAbortTest {
  private static final HttpClient CLIENT =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @ParameterizedTest(name = "headers sent first: {0}")
  @ValueSource(booleans = {false, true})
  void endingTheContextClosesTheConnection(boolean headersFirst) throws Exception {
    try (ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      CountDownLatch requestRead = new CountDownLatch(1);
      CompletableFuture<Integer> hangUp =
          CompletableFuture.supplyAsync(
              () -> {
                try (Socket s = listener.accept()) {
                  InputStream in = s.getInputStream();
                  readRequestHead(in);
                  if (headersFirst) {
                    OutputStream out = s.getOutputStream();
                    out.write(
                        "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\npartial"
                            .getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                  }
                  requestRead.countDown();
                  return in.read(); // -1 once the client closes the connection
                } catch (IOException e) {
                  return -2; // reset by the client: closed as well
                }
              });
      CancelableContext ctx = Context.withCancel(Context.background());
      URI uri = URI.create("http://127.0.0.1:" + listener.getLocalPort() + "/");
      // Opened once the client has taken the response headers and subscribed to the body: the
      // state in which only the body subscription's cancel closes the connection on JDK 17.
      CountDownLatch bodySubscribed = new CountDownLatch(1);
      CompletableFuture<?> call =
          ContextHttp.sendAsync(
              ctx, CLIENT, HttpRequest.newBuilder(uri).build(), signallingSubscription(bodySubscribed));
      assertTrue(requestRead.await(10, TimeUnit.SECONDS), "request never arrived");
      if (headersFirst) {
        assertTrue(bodySubscribed.await(30, TimeUnit.SECONDS), "the client never subscribed to the body");
      }
      long t0 = System.nanoTime();
      ctx.cancel();
      int read = hangUp.get(5, TimeUnit.SECONDS);
      long closedMs = (System.nanoTime() - t0) / 1_000_000;
      assertTrue(read < 0, "server read " + read + " instead of the end of the connection");
      assertTrue(closedMs < 5000, "closed after " + closedMs + " ms");
      assertThrows(Exception.class, () -> call.get(5, TimeUnit.SECONDS));
      assertEquals(Context.CANCELED, ctx.err());
      assertTrue(CanceledException.class.isInstance(ContextHttp.errorOf(ctx)));
    }
  }

  /**
   * A redirect ctx4j follows itself has its body read to be dropped when its {@code Content-Length}
   * says at most 1 KiB (as the JDK does, so that the connection can be pooled). A context that ends
   * while such a body is held back must close the connection, as it does for any body it is
   * reading, rather than leave it open until the server finishes the body. The context ends once
   * ctx4j has the 302's headers (it reads the request's URI to resolve the Location: the request
   * tells the test so), so that the end comes after the response, not before it (which cancels the
   * exchange instead, and closes the connection that way).
   */
  @Test
  void aContextEndingWhileASmallRedirectBodyIsHeldBackClosesTheConnection() throws Exception {
    HttpClient following =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NORMAL)
            .build();
    try (ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        CancelableContext ctx = Context.withTimeout(Context.background(), java.time.Duration.ofSeconds(60))) {
      CompletableFuture<String> hangUp =
          CompletableFuture.supplyAsync(
              () -> {
                try (Socket s = listener.accept()) {
                  s.setSoTimeout(30_000);
                  InputStream in = s.getInputStream();
                  readRequestHead(in);
                  OutputStream out = s.getOutputStream();
                  out.write(
                      "HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 500\r\n\r\n0123456789"
                          .getBytes(StandardCharsets.US_ASCII));
                  out.flush(); // the other 490 bytes are held back
                  return in.read() < 0 ? "closed" : "a new request on the connection";
                } catch (java.net.SocketTimeoutException e) {
                  return "still open 30 s later";
                } catch (IOException e) {
                  return "closed"; // reset by the client
                }
              });
      URI uri = URI.create("http://127.0.0.1:" + listener.getLocalPort() + "/start");
      CountDownLatch redirectSeen = new CountDownLatch(1);
      HttpRequest request = new ResolvingSignals(HttpRequest.newBuilder(uri).build(), redirectSeen);
      // Cancelled from this thread, not from another async task: with a parallelism of 1 (two
      // cores), JDK 25 runs CompletableFuture's async tasks on the common pool's one worker, which
      // the server above holds.
      CompletableFuture<HttpResponse<String>> call =
          ContextHttp.sendAsync(ctx, following, request, BodyHandlers.ofString());
      assertTrue(redirectSeen.await(30, TimeUnit.SECONDS), "ctx4j never resolved the Location");
      ctx.cancel();
      Throwable failure = call.handle((body, t) -> t).get(30, TimeUnit.SECONDS);
      assertTrue(failure instanceof CanceledException, "the call failed with " + failure);
      assertEquals("closed", hangUp.get(60, TimeUnit.SECONDS), "the connection after the context ended");
    }
  }

  /**
   * A request that opens a latch when ctx4j reads its URI to resolve a redirect's {@code Location}
   * (told by the caller's frame: the JDK reads the URI too, as it copies the request), which it
   * does once it has the redirect's headers.
   */
  private static final class ResolvingSignals extends HttpRequest {
    private final HttpRequest request;
    private final CountDownLatch resolving;

    ResolvingSignals(HttpRequest request, CountDownLatch resolving) {
      this.request = request;
      this.resolving = resolving;
    }

    @Override
    public URI uri() {
      for (StackTraceElement frame : Thread.currentThread().getStackTrace()) {
        if (frame.getMethodName().equals("followedTarget")) {
          resolving.countDown();
          break;
        }
      }
      return request.uri();
    }

    @Override
    public Optional<BodyPublisher> bodyPublisher() {
      return request.bodyPublisher();
    }

    @Override
    public String method() {
      return request.method();
    }

    @Override
    public Optional<java.time.Duration> timeout() {
      return request.timeout();
    }

    @Override
    public boolean expectContinue() {
      return request.expectContinue();
    }

    @Override
    public Optional<HttpClient.Version> version() {
      return request.version();
    }

    @Override
    public java.net.http.HttpHeaders headers() {
      return request.headers();
    }
  }

  /** Reads the body as a string, opening {@code subscribed} once the body's subscription is in. */
  private static HttpResponse.BodyHandler<String> signallingSubscription(CountDownLatch subscribed) {
    return info -> {
      HttpResponse.BodySubscriber<String> body = BodySubscribers.ofString(StandardCharsets.UTF_8);
      return new HttpResponse.BodySubscriber<>() {
        @Override
        public CompletionStage<String> getBody() {
          return body.getBody();
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
          body.onSubscribe(s);
          subscribed.countDown();
        }

        @Override
        public void onNext(List<ByteBuffer> item) {
          body.onNext(item);
        }

        @Override
        public void onError(Throwable t) {
          body.onError(t);
        }

        @Override
        public void onComplete() {
          body.onComplete();
        }
      };
    };
  }

  private static void readRequestHead(InputStream in) throws IOException {
    int matched = 0;
    byte[] end = {'\r', '\n', '\r', '\n'};
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("connection closed before the request head ended");
      }
      matched = b == end[matched] ? matched + 1 : (b == '\r' ? 1 : 0);
    }
  }
}
