package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A context that ends while ctx4j is still handing the request to the client, whose response
 * headers then come before ctx4j holds the client's future: ctx4j cancels that response's body at
 * once, and must cancel the client's future too once it holds it, or the exchange never ends (the
 * JDK does not end a body cancelled as it is subscribed by itself). Found by {@code
 * JdkHttpCancelAnywhereTest} as ctx4j send threads left in the client's {@code send} for ever;
 * positioned here on {@code sendAsync}, where the hand-over runs on the caller's thread: the
 * context ends as ctx4j reads the request on that thread (after it noted the hop, before the
 * client has it), and the client's executor holds the caller inside {@code sendAsync} until the
 * response has come and its body has been cancelled (the server sees the connection closed). JDK
 * 21+ only: the client's {@code shutdown()} and {@code awaitTermination} tell whether its exchange
 * ever ended.
 */
@Timeout(60)
class HandOverAbortJdk21Test {

  /** Ends {@code ctx} when the caller reads its headers. */
  private static final class EndingOnRead extends ForwardingRequest {
    private final CancelableContext ctx;
    private final Thread caller;

    EndingOnRead(HttpRequest real, CancelableContext ctx, Thread caller) {
      super(real);
      this.ctx = ctx;
      this.caller = caller;
    }

    @Override
    public HttpHeaders headers() {
      if (Thread.currentThread() == caller) {
        ctx.cancel(); // the hop is noted, the client does not have the request yet
      }
      return real.headers();
    }
  }

  @Test
  void aContextEndingAsTheRequestIsHandedOverEndsTheClientsExchange() throws Exception {
    CountDownLatch closedByClient = new CountDownLatch(1);
    ExecutorService pool = Executors.newCachedThreadPool();
    try (ServerSocket ss = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      Thread server =
          new Thread(
              () -> {
                try (Socket s = ss.accept()) {
                  InputStream in = s.getInputStream();
                  int matched = 0; // the end of the request head: CR LF CR LF
                  while (matched < 4) {
                    int b = in.read();
                    if (b < 0) {
                      return;
                    }
                    matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
                  }
                  s.getOutputStream()
                      .write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf".getBytes(StandardCharsets.US_ASCII));
                  s.getOutputStream().flush();
                  while (in.read() >= 0) {
                    // until the client closes the connection
                  }
                } catch (IOException e) {
                  // the client reset the connection: closed as well
                } finally {
                  closedByClient.countDown();
                }
              },
              "bare-server");
      server.setDaemon(true);
      server.start();
      Thread caller = Thread.currentThread();
      AtomicBoolean hold = new AtomicBoolean(true);
      HttpClient client =
          HttpClient.newBuilder()
              .version(HttpClient.Version.HTTP_1_1)
              .executor(
                  task -> {
                    pool.execute(task);
                    if (Thread.currentThread() == caller && hold.compareAndSet(true, false)) {
                      try { // the caller, inside the client's sendAsync: held until the body is cancelled
                        closedByClient.await(20, TimeUnit.SECONDS);
                      } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                      }
                    }
                  })
              .build();
      CancelableContext ctx = Context.withCancel(Context.background());
      HttpRequest request =
          new EndingOnRead(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ss.getLocalPort() + "/")).build(),
              ctx,
              caller);
      CompletableFuture<HttpResponse<String>> f =
          ContextHttp.sendAsync(ctx, client, request, BodyHandlers.ofString());
      assertTrue(closedByClient.await(20, TimeUnit.SECONDS), "the client never closed the connection");
      Throwable failure = f.handle((r, t) -> t).get(20, TimeUnit.SECONDS);
      assertInstanceOf(CanceledException.class, failure, "the call's end");
      client.shutdown();
      assertTrue(
          client.awaitTermination(Duration.ofSeconds(10)),
          "the client's exchange had not ended 10 s after the client's shutdown");
    } finally {
      pool.shutdownNow();
    }
  }
}
