package io.ctx4j.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import io.ctx4j.http.DeadlineHeader;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import okhttp3.Call;
import okhttp3.Callback;
import okhttp3.Response;
import okio.BufferedSource;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A JDK HttpServer on 127.0.0.1, port chosen by the system, for OkHttp to call: it records each
 * request's path and deadline header ("path=value", "-" for no header) and counts the requests.
 */
public final class Loopback implements AutoCloseable {
  static {
    // The JDK server writes a response's head and body in separate segments; with Nagle on, the
    // body waits for the client's delayed ACK (about 40 ms a call on Linux). Read once, by
    // sun.net.httpserver.ServerConfig, before the first server of the JVM starts.
    System.setProperty("sun.net.httpserver.nodelay", "true");
  }

  private final HttpServer server;
  private final ExecutorService pool = Executors.newCachedThreadPool();
  /** One "path=header" line per request, in arrival order. */
  public final BlockingQueue<String> seen = new LinkedBlockingQueue<>();
  public final AtomicInteger requests = new AtomicInteger();
  /** Handlers that wait for the end of the test wait on this; {@link #close()} opens it first. */
  public final CountDownLatch release = new CountDownLatch(1);

  public Loopback(HttpHandler handler) {
    try {
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    server.setExecutor(pool);
    server.createContext(
        "/",
        ex -> {
          requests.incrementAndGet();
          String h = ex.getRequestHeaders().getFirst(DeadlineHeader.NAME);
          seen.add(ex.getRequestURI().getPath() + "=" + (h == null ? "-" : h));
          handler.handle(ex);
        });
    server.start();
  }

  public String url(String path) {
    return "http://127.0.0.1:" + server.getAddress().getPort() + path;
  }

  /** Answers with {@code body} and closes the exchange. */
  public static void reply(HttpExchange ex, int status, byte[] body) throws IOException {
    ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(body);
    }
  }

  /** An OkHttp callback that completes {@code f} with the body, or the call's failure. */
  public static Callback bodyInto(CompletableFuture<String> f) {
    return new Callback() {
      @Override
      public void onFailure(Call call, IOException e) {
        f.completeExceptionally(e);
      }

      @Override
      public void onResponse(Call call, Response response) {
        try (response) {
          f.complete(response.body().string());
        } catch (IOException | RuntimeException e) {
          f.completeExceptionally(e);
        }
      }
    };
  }

  /**
   * Answers with a chunked body that starts with {@code first} and then holds until the server
   * closes: a body the client is still reading. A client that goes away ends it quietly.
   */
  public void streamThenHold(HttpExchange ex, byte[] first) throws IOException {
    ex.sendResponseHeaders(200, 0); // chunked
    try (OutputStream out = ex.getResponseBody()) {
      out.write(first);
      out.flush();
      awaitRelease();
    } catch (InterruptedException | IOException clientLeft) {
      // the client gave up: expected
    }
  }

  /**
   * The client's side of {@link #streamThenHold}: reads {@code first} from {@code body}, then starts
   * a read of one more byte on {@code on}, which blocks until the exchange ends.
   */
  public static CompletableFuture<Byte> readPast(BufferedSource body, String first, Executor on)
      throws IOException {
    body.require(first.length());
    assertEquals(first, body.readUtf8(first.length()));
    return CompletableFuture.supplyAsync(
        () -> {
          try {
            return body.readByte();
          } catch (IOException e) {
            throw new CompletionException(e);
          }
        },
        on);
  }

  /**
   * Holds the request until the server closes, then answers 200 with {@code body}: a request the
   * client is still waiting on. A client that goes away, or an interrupt, ends it.
   */
  public void holdThenReply(HttpExchange ex, byte[] body) {
    try {
      awaitRelease();
      reply(ex, 200, body);
    } catch (InterruptedException | IOException e) {
      ex.close();
    }
  }

  /** Blocks a handler until the server closes (bounded: 30 s). */
  public void awaitRelease() throws InterruptedException {
    release.await(30, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    release.countDown();
    server.stop(0);
    pool.shutdown();
    if (!pool.awaitTermination(20, TimeUnit.SECONDS)) {
      pool.shutdownNow();
      throw new AssertionError("a handler was still running 20 s after the server stopped");
    }
  }
}
