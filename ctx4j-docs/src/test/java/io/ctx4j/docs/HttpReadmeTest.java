package io.ctx4j.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.http.ContextFilter;
import io.ctx4j.http.ContextHttp;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The snippets of ctx4j-http/README.md, run on loopback servers. */
@Timeout(120)
class HttpReadmeTest {
  Context parent = Context.background();
  HttpRequest request;

  void send() throws IOException, InterruptedException {
    // snippet:start client
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    try (CancelableContext ctx = Context.withTimeout(parent, Duration.ofMillis(300))) {
      HttpResponse<String> r = ContextHttp.send(ctx, client, request, BodyHandlers.ofString());
    } catch (DeadlineExceededException e) {
      // out of time; the server was told the budget, and the exchange has been abandoned
    }
    // snippet:end client
  }

  @Test
  void clientGivesUpAtTheDeadline() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    HttpServer slow = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    slow.setExecutor(Executors.newCachedThreadPool());
    slow.createContext("/", exchange -> {
      try {
        release.await(60, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      exchange.close();
    });
    slow.start();
    try {
      request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + slow.getAddress().getPort() + "/")).build();
      long start = System.nanoTime();
      send();   // without the deadline it would wait for the server: 60 s, then an IOException
      assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(30), "the deadline ended the exchange");
    } finally {
      release.countDown();
      slow.stop(0);
    }
  }

  HttpServer start(HttpClient client, HttpRequest downstream, int port) throws IOException {
    // snippet:start server
    CancelableContext serverRoot = Context.withCancel(Context.background());
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 0);
    server.setExecutor(Executors.newCachedThreadPool()); // handlers block: not the dispatcher thread
    server.createContext("/quote", exchange -> {
      Context ctx = ContextFilter.current();               // or ContextFilter.contextOf(exchange)
      boolean interrupted = false;
      try {
        HttpResponse<String> price = ContextHttp.send(ctx, client, downstream, BodyHandlers.ofString());
        byte[] body = price.body().getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(200, body.length);
        exchange.getResponseBody().write(body);
      } catch (InterruptedException e) {                   // a handler may throw IOException only
        interrupted = true;
        exchange.sendResponseHeaders(503, -1);
      } finally {
        exchange.close();
        if (interrupted) {                                 // only now: an interrupted thread's
          Thread.currentThread().interrupt();              // writes fail, and the 503 with them
        }
      }
    }).getFilters().add(ContextFilter.create(serverRoot));
    server.start();
    // shutdown: serverRoot.cancel() ends every request in flight, then server.stop(...)
    // snippet:end server
    return server;
  }

  @Test
  void serverPassesTheRemainingBudgetDownstream() throws Exception {
    HttpServer leaf = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    leaf.createContext("/", exchange -> {
      String header = exchange.getRequestHeaders().getFirst("Ctx4j-Timeout-Ms");
      byte[] body = String.valueOf(header != null).getBytes(StandardCharsets.UTF_8);
      exchange.sendResponseHeaders(200, body.length);
      exchange.getResponseBody().write(body);
      exchange.close();
    });
    HttpClient client = HttpClient.newHttpClient();
    HttpServer server = startInFrontOf(leaf, client);
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofSeconds(60))) {
      HttpRequest call = HttpRequest.newBuilder(at(server, "/quote")).build();
      HttpResponse<String> r = ContextHttp.send(ctx, client, call, BodyHandlers.ofString());
      assertEquals(200, r.statusCode());
      assertEquals("true", r.body(), "the leaf saw a deadline header: the budget went on");
    } finally {
      server.stop(0);
      leaf.stop(0);
    }
  }

  /**
   * The snippet's {@code InterruptedException} branch: the handler's thread interrupted while it
   * waits downstream (a pool shut down with {@code shutdownNow}) answers 503. Had it set its
   * interrupt again before answering, the JDK server's interruptible channel would fail the write
   * and close the connection: the client would get no answer at all.
   */
  @Test
  void anInterruptedHandlerAnswers503() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    HttpServer leaf = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    leaf.setExecutor(Executors.newCachedThreadPool());
    leaf.createContext("/", exchange -> {
      entered.countDown();
      try {
        release.await(60, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      exchange.close();
    });
    HttpServer server = startInFrontOf(leaf, HttpClient.newHttpClient());
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofSeconds(30))) {
      HttpRequest call = HttpRequest.newBuilder(at(server, "/quote")).build();
      java.util.concurrent.CompletableFuture<HttpResponse<Void>> answer =
          java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
              return ContextHttp.send(ctx, HttpClient.newHttpClient(), call, BodyHandlers.discarding());
            } catch (IOException | InterruptedException e) {
              throw new java.util.concurrent.CompletionException(e);
            }
          });
      assertTrue(entered.await(30, TimeUnit.SECONDS), "the request reached the leaf");
      // The handler's thread is the one running the snippet's lambda, waiting in ContextHttp.send.
      Thread handler = null;
      while (handler == null) {
        for (java.util.Map.Entry<Thread, StackTraceElement[]> t : Thread.getAllStackTraces().entrySet()) {
          for (StackTraceElement f : t.getValue()) {
            if (f.getClassName().equals(HttpReadmeTest.class.getName())
                && f.getMethodName().startsWith("lambda$start")) {
              handler = t.getKey();
            }
          }
        }
        assertTrue(!answer.isDone(), "the call ended before its handler was found");
        Thread.onSpinWait();
      }
      handler.interrupt();
      assertEquals(503, answer.get(30, TimeUnit.SECONDS).statusCode());
    } finally {
      release.countDown();
      server.stop(0);
      leaf.stop(0);
    }
  }

  /** Starts {@code leaf}, then the snippet's server in front of it, calling it with {@code client}. */
  private HttpServer startInFrontOf(HttpServer leaf, HttpClient client) throws IOException {
    leaf.start();
    return start(client, HttpRequest.newBuilder(at(leaf, "/")).build(), 0);
  }

  private static URI at(HttpServer server, String path) {
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + path);
  }
}
