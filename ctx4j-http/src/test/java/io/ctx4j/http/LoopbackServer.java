package io.ctx4j.http;

import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import io.ctx4j.Context;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/** A JDK HttpServer on 127.0.0.1 with an ephemeral port, one handler at "/" behind ContextFilter. */
final class LoopbackServer implements AutoCloseable {
  final HttpServer server;
  private final ExecutorService pool = Executors.newCachedThreadPool();

  LoopbackServer(Context root, HttpHandler handler) {
    this(root, handler, UnaryOperator.identity());
  }

  /** With the server's executor made by {@code executor} from the server's pool. */
  LoopbackServer(Context root, HttpHandler handler, UnaryOperator<Executor> executor) {
    try {
      server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    server.setExecutor(executor.apply(pool));
    server.createContext("/", handler).getFilters().add(ContextFilter.create(root));
    server.start();
  }

  LoopbackServer(HttpHandler handler) {
    this(Context.background(), handler);
  }

  URI uri() {
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/");
  }

  /** Stops the server and checks that no handler thread is left running. */
  @Override
  public void close() throws InterruptedException {
    server.stop(0);
    pool.shutdown();
    if (!pool.awaitTermination(10, TimeUnit.SECONDS)) {
      pool.shutdownNow();
      throw new AssertionError("a handler was still running 10 s after the server stopped");
    }
  }
}
