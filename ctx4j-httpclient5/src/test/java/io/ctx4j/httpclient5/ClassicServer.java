package io.ctx4j.httpclient5;

import io.ctx4j.http.DeadlineHeader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.hc.core5.http.Header;
import org.apache.hc.core5.http.impl.bootstrap.HttpServer;
import org.apache.hc.core5.http.impl.bootstrap.ServerBootstrap;
import org.apache.hc.core5.http.io.HttpRequestHandler;
import org.apache.hc.core5.io.CloseMode;
import org.apache.hc.core5.util.TimeValue;

/**
 * HttpCore 5's own classic server on 127.0.0.1, port chosen by the system: records each request's
 * path and deadline header ("path=value", "-" for none), counts the requests, and gives blocked
 * handlers a latch that closing the server opens.
 */
public final class ClassicServer implements AutoCloseable {
  private final HttpServer server;
  public final BlockingQueue<String> seen = new LinkedBlockingQueue<>();
  public final AtomicInteger requests = new AtomicInteger();
  private final CountDownLatch release = new CountDownLatch(1);

  public ClassicServer(HttpRequestHandler handler) {
    server =
        ServerBootstrap.bootstrap()
            .setLocalAddress(InetAddress.getLoopbackAddress())
            .setListenerPort(0)
            .setCanonicalHostName("127.0.0.1")
            .register(
                "*",
                (request, response, context) -> {
                  requests.incrementAndGet();
                  Header h = request.getFirstHeader(DeadlineHeader.NAME);
                  seen.add(request.getPath() + "=" + (h == null ? "-" : h.getValue()));
                  handler.handle(request, response, context);
                })
            .create();
    try {
      server.start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public String url(String path) {
    return "http://127.0.0.1:" + server.getLocalPort() + path;
  }

  /** Blocks a handler until the server closes (bounded: 30 s). */
  public void awaitRelease() throws InterruptedException {
    release.await(30, TimeUnit.SECONDS);
  }

  @Override
  public void close() throws InterruptedException {
    release.countDown();
    server.close(CloseMode.IMMEDIATE);
    server.awaitTermination(TimeValue.ofSeconds(20));
  }
}
