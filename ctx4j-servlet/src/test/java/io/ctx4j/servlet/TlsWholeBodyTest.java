package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.DispatcherType;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.EnumSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.eclipse.jetty.ee11.servlet.FilterHolder;
import org.eclipse.jetty.ee11.servlet.ServletContextHandler;
import org.eclipse.jetty.ee11.servlet.ServletHolder;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A whole request body over HTTPS (HTTP/1.1 over TLS, Jetty 12.1) on a connection the client asked
 * to close, after which the client half-closes its TCP socket and waits for its answer: the body
 * must read whole and the context end with the answer, as {@code
 * ChunkedBodyCutTest#aWholeBodyOnAConnectionToCloseIsWhole} asserts over plain HTTP/1.1. The
 * filter's check for a cut body ({@code ContainerHooks.cutBody}: the connection's input shut down
 * and not kept) rests on Jetty reading the FIN only while its parser still waits for bytes of the
 * message; but Jetty's TLS layer ({@code SslConnection}) reads the network on every fill, "even if
 * we have some already", before it decrypts a record it has buffered, and its endpoint's input is
 * shut down once the network's is and nothing decrypted is left. The handler reads once the
 * server's kernel has the FIN, the body's end in one TLS record or in two: on 664fc12 both rows
 * read the whole body, then the filter threw its {@code EofException} in place of the -1 and the
 * context ended "client disconnected" ("read -1, org.eclipse.jetty.io.EofException: Early EOF:
 * Jetty ended a request body that its client cut, answer HTTP/1.1 200 OK").
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TlsWholeBodyTest {
  @ParameterizedTest(name = "the body's end in {0} TLS record(s)")
  @ValueSource(ints = {1, 2})
  void aWholeBodyOverTlsOnAConnectionToCloseIsWhole(int records, @TempDir Path dir)
      throws Exception {
    Path keyStore = dir.resolve("server.p12");
    Process keytool =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair",
                "-alias",
                "server",
                "-keyalg",
                "EC",
                "-groupname",
                "secp256r1",
                "-dname",
                "CN=localhost",
                "-ext",
                "SAN=dns:localhost",
                "-validity",
                "2",
                "-storetype",
                "PKCS12",
                "-keystore",
                keyStore.toString(),
                "-storepass",
                "changeit",
                "-keypass",
                "changeit")
            .redirectErrorStream(true)
            .start();
    String keytoolOut = new String(keytool.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(keytool.waitFor(30, TimeUnit.SECONDS), "keytool did not finish");
    assertEquals(0, keytool.exitValue(), keytoolOut);

    Probe probe = new Probe();
    AtomicInteger bytes = new AtomicInteger(-1);
    AtomicReference<IOException> failure = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              probe.enterCurrent(req);
              probe.awaitGo();
              try {
                bytes.set(req.getInputStream().readAllBytes().length);
              } catch (IOException e) {
                failure.set(e);
              }
              try {
                res.setContentLength(2);
                res.getOutputStream().write("ok".getBytes(StandardCharsets.US_ASCII));
              } finally {
                probe.finished.countDown();
              }
            });

    Server server = new Server();
    SslContextFactory.Server ssl = new SslContextFactory.Server();
    ssl.setKeyStorePath(keyStore.toString());
    ssl.setKeyStorePassword("changeit");
    ssl.setKeyStoreType("PKCS12");
    HttpConfiguration cfg = new HttpConfiguration();
    ServerConnector connector =
        new ServerConnector(
            server,
            new SslConnectionFactory(ssl, HttpVersion.HTTP_1_1.asString()),
            new HttpConnectionFactory(cfg));
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    ServletContextHandler handler = new ServletContextHandler("/");
    ServletHolder sh = new ServletHolder(servlet);
    sh.setAsyncSupported(true);
    handler.addServlet(sh, "/*");
    FilterHolder fh = new FilterHolder(ContextServletFilter.create());
    fh.setAsyncSupported(true);
    handler.addFilter(fh, "/*", EnumSet.of(DispatcherType.REQUEST));
    server.setHandler(handler);
    server.start();
    String answer;
    try (Socket plain = new Socket("127.0.0.1", connector.getLocalPort())) {
      int port = connector.getLocalPort();
      plain.setSoTimeout(10_000);
      SSLContext tls = SSLContext.getInstance("TLS");
      tls.init(null, new TrustManager[] {new TrustAll()}, null);
      SSLSocket s =
          (SSLSocket) tls.getSocketFactory().createSocket(plain, "localhost", port, false);
      s.startHandshake();
      OutputStream out = s.getOutputStream();
      out.write(
          ("POST /x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 10\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      // Jetty dispatches once some content came: the body's first bytes, a record of their own.
      out.write("he".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      if (!probe.entered.await(10, TimeUnit.SECONDS)) {
        throw new AssertionError(
            "the handler never ran; the server said: "
                + new String(s.getInputStream().readNBytes(600), StandardCharsets.ISO_8859_1));
      }
      // The rest of the body, each write of the SSLSocket a TLS record of its own.
      if (records == 1) {
        out.write("lloworld".getBytes(StandardCharsets.US_ASCII));
      } else {
        out.write("llo".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        out.write("world".getBytes(StandardCharsets.US_ASCII));
      }
      out.flush();
      // The whole body sent, the client half-closes (TCP) and waits for its answer.
      plain.shutdownOutput();
      ChunkedBodyCutTest.awaitFinReceived(port, plain.getLocalPort());
      probe.go.countDown();
      answer = ChunkedBodyCutTest.statusLine(s.getInputStream());
      Probe.reasonAtEnd(probe.ctx, 10, "the body's end in " + records + " record(s)");
      assertTrue(probe.finished.await(10, TimeUnit.SECONDS), "the handler never finished");
    } finally {
      server.stop();
    }
    String what =
        "the body's end in "
            + records
            + " TLS record(s): read "
            + bytes.get()
            + ", "
            + failure.get()
            + ", answer "
            + answer
            + ", cause "
            + probe.ctx.cause();
    assertNull(failure.get(), what);
    assertEquals(10, bytes.get(), what);
    assertTrue(answer.startsWith("HTTP/1.1 200"), what);
    assertEquals(Reason.RESPONSE_COMPLETED, Probe.reasonOf(probe.ctx.cause()), what);
  }

  /** The test's own self-signed server: trusted without a check. */
  private static final class TrustAll implements X509TrustManager {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) {}

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
