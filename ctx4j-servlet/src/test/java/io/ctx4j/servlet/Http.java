package io.ctx4j.servlet;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The tests' HTTP/1.1 client to the embedded servers on the loopback: one client for every test of
 * a JVM, as a server sees clients that keep their connections. HTTP/1.1, so that each test knows
 * what reaches the container (the JDK client would otherwise try an h2c upgrade).
 */
final class Http {
  static final HttpClient HTTP1 =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private Http() {}

  /**
   * A GET of {@code path} on the loopback at {@code port}, with the given headers.
   *
   * @param headers name, value, name, value...
   */
  static HttpRequest.Builder request(int port, String path, String... headers) {
    if (headers.length % 2 != 0) {
      throw new IllegalArgumentException("headers come in name/value pairs: " + headers.length);
    }
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path));
    for (int i = 0; i < headers.length; i += 2) {
      b.header(headers[i], headers[i + 1]);
    }
    return b;
  }

  /** Sends {@link #request} and waits for the answer, its body as a string. */
  static HttpResponse<String> get(int port, String path, String... headers)
      throws IOException, InterruptedException {
    return HTTP1.send(request(port, path, headers).build(), BodyHandlers.ofString());
  }

  /** Sends a POST of {@code body} (its Content-Length declared) and waits for the answer. */
  static HttpResponse<String> post(int port, String path, String body, String... headers)
      throws IOException, InterruptedException {
    return HTTP1.send(
        request(port, path, headers)
            .POST(java.net.http.HttpRequest.BodyPublishers.ofString(body))
            .build(),
        BodyHandlers.ofString());
  }

  /** Sends {@link #request}; the answer, its body as a string, comes later. */
  static CompletableFuture<HttpResponse<String>> getAsync(
      int port, String path, String... headers) {
    return HTTP1.sendAsync(request(port, path, headers).build(), BodyHandlers.ofString());
  }

  /**
   * Sends a GET of {@code path} over h2c with the JDK client and returns "version status body". The
   * connection is upgraded by a GET of /warm first (the servlet must answer it with a 200: {@link
   * TestServlet#answeredWarm}): Jetty 12.1 now and then sends a body raw on the upgrade's own
   * request when the handler closes its writer and dispatches (2-3 of 150, with or without the
   * filter), which the client reads as a broken frame.
   */
  static String answerOverH2c(int port, String path) throws IOException, InterruptedException {
    HttpClient h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
    HttpResponse<String> warm = h2.send(request(port, "/warm").build(), BodyHandlers.ofString());
    if (warm.statusCode() != 200) {
      throw new IllegalStateException("/warm answered " + answer(warm));
    }
    HttpResponse<String> r = h2.send(request(port, path).build(), BodyHandlers.ofString());
    return r.version() + " " + answer(r);
  }

  /** "status body", for a test's failure message. */
  static String answer(HttpResponse<String> r) {
    return r.statusCode() + " " + r.body();
  }

  /**
   * What {@link #getReadingLate} saw: whether the server's {@code event} came while the client read
   * nothing, and how many bytes (head and body) the client read afterwards.
   */
  record LateRead(boolean eventWhileNotReading, long bytes) {}

  /**
   * A client slow to read: sends {@code GET /x} over HTTP/1.1 ({@code Connection: close}) from a
   * socket with a 64 KiB receive buffer, waits (10 s at most) until the handler counts {@code
   * written} down, then reads nothing while it waits up to {@code holdMillis} for {@code event},
   * then reads the whole answer (30 s per read at most). A measurement window, not synchronisation:
   * the caller asserts what came within it.
   */
  static LateRead getReadingLate(
      int port, CountDownLatch written, CountDownLatch event, long holdMillis)
      throws IOException, InterruptedException {
    try (Socket s = new Socket()) {
      s.setReceiveBufferSize(64 * 1024);
      s.connect(new InetSocketAddress("127.0.0.1", port));
      s.setSoTimeout(30_000);
      s.getOutputStream()
          .write(
              "GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                  .getBytes(StandardCharsets.US_ASCII));
      if (!written.await(10, TimeUnit.SECONDS)) {
        throw new AssertionError("the handler never wrote");
      }
      boolean whileNotReading = event.await(holdMillis, TimeUnit.MILLISECONDS);
      InputStream in = s.getInputStream();
      byte[] buf = new byte[65536];
      long got = 0;
      for (int r; (r = in.read(buf)) >= 0; ) {
        got += r;
      }
      return new LateRead(whileNotReading, got);
    }
  }

  /**
   * 256 KiB of 'x': more than the containers and the socket buffers hold, so a write reaches a lost
   * client.
   */
  static final String BIG_TEXT = "x".repeat(256 * 1024);

  /**
   * The answer ({@link #answer}) and the given headers, as " name=value" ("none" when absent, the
   * name in lower case): what the client sees of a response's framing.
   */
  static String withHeaders(HttpResponse<String> r, String... names) {
    StringBuilder s = new StringBuilder(answer(r));
    for (String name : names) {
      s.append(' ')
          .append(name.toLowerCase(java.util.Locale.ROOT))
          .append('=')
          .append(r.headers().firstValue(name).orElse("none"));
    }
    return s.toString();
  }
}
