package io.ctx4j.servlet.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.ee11.servlet.ServletContextHandler;
import org.eclipse.jetty.ee11.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Jetty's single pass over the header fields gives exactly what the Servlet API path gives, on real
 * requests to embedded Jetty (ee11), header lines written by the test byte for byte: the winner and
 * its source, ties between headers whatever their order on the wire, names in any case, look-alike
 * names, and malformed values (which the Servlet API path then reports, with its message).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class JettyHeaderReadTest {
  private static Server server;
  private static int port;

  /** Answers with the three readings of the request's headers, one per line. */
  static final class Readings extends HttpServlet {
    private static final long serialVersionUID = 1L;

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse res) throws IOException {
      IncomingDeadline fast = ContainerHooks.readDeadline(req);
      String wrapped =
          ContainerHooks.readDeadline(new HttpServletRequestWrapper(req)) == IncomingDeadline.NOT_READ
              ? "wrapper: not read"
              : "wrapper: READ";
      // A wrapper must not replace the layer cached for Jetty's request class (see readDeadline).
      wrapped += ContainerHooks.lastTypeSeen() == req.getClass() ? ", cache kept" : ", cache replaced";
      res.setContentType("text/plain");
      res.getWriter()
          .print(
              (fast == IncomingDeadline.NOT_READ ? "NOT_READ" : describe(fast))
                  + "\n"
                  + apiReading(() -> IncomingDeadline.readServletApi(req))
                  + "\n"
                  + apiReading(() -> IncomingDeadline.read(req))
                  + "\n"
                  + wrapped);
    }
  }

  interface Reading {
    IncomingDeadline get();
  }

  static String apiReading(Reading r) {
    try {
      return describe(r.get());
    } catch (IllegalArgumentException e) {
      return "malformed: " + e.getMessage();
    }
  }

  static String describe(IncomingDeadline d) {
    return d == null ? "none" : d.toString();
  }

  @BeforeAll
  static void start() throws Exception {
    server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    server.addConnector(connector);
    ServletContextHandler handler = new ServletContextHandler("/");
    handler.addServlet(new ServletHolder(new Readings()), "/*");
    server.setHandler(handler);
    server.start();
    port = connector.getLocalPort();
  }

  @AfterAll
  static void stop() throws Exception {
    server.stop();
  }

  /** Sends a GET with {@code headerLines} as written; returns the answer's body lines. */
  private static String[] readings(String... headerLines) throws IOException {
    StringBuilder req = new StringBuilder("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (String h : headerLines) {
      req.append(h).append("\r\n");
    }
    req.append("Connection: close\r\n\r\n");
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
      s.setSoTimeout(20_000);
      OutputStream out = s.getOutputStream();
      out.write(req.toString().getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = s.getInputStream();
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      in.transferTo(all);
      String answer = all.toString(StandardCharsets.ISO_8859_1);
      assertTrue(answer.startsWith("HTTP/1.1 200 "), answer);
      return answer.substring(answer.indexOf("\r\n\r\n") + 4).split("\n");
    }
  }

  /** The single pass read the headers, and agrees with the Servlet API path and with read(). */
  private static String sameByBothPaths(String... headerLines) throws IOException {
    String[] r = readings(headerLines);
    assertEquals(4, r.length, String.join(" | ", r));
    assertEquals(r[1], r[0], "single pass vs Servlet API for " + String.join(" / ", headerLines));
    assertEquals(r[1], r[2], "read() for " + String.join(" / ", headerLines));
    assertEquals(
        "wrapper: not read, cache kept",
        r[3],
        "a wrapped request must go through the Servlet API, and not evict Jetty's request class");
    return r[0];
  }

  @Test
  void noTimeoutHeaderIsNoBudget() throws IOException {
    assertEquals("none", sameByBothPaths("Accept: */*", "User-Agent: test"));
  }

  @Test
  void theSmallestElementOfAllLinesAndHeadersWins() throws IOException {
    assertEquals(
        "200000000 ns from grpc-timeout",
        sameByBothPaths(
            "grpc-timeout: 1M",
            "Ctx4j-Timeout-Ms: 60000, 5000",
            "Connect-Timeout-Ms: 40000",
            "grpc-timeout: 200m"));
    assertEquals("150000000 ns from Ctx4j-Timeout-Ms", sameByBothPaths("Ctx4j-Timeout-Ms: 60000,\t150 "));
  }

  @Test
  void aTieGoesToTheEarlierHeaderOfTheListWhateverTheOrderOnTheWire() throws IOException {
    // On the wire grpc-timeout comes first; the Servlet API path asks for Ctx4j-Timeout-Ms first.
    assertEquals(
        "100000000 ns from Ctx4j-Timeout-Ms",
        sameByBothPaths("grpc-timeout: 100m", "Connect-Timeout-Ms: 100", "Ctx4j-Timeout-Ms: 100"));
    assertEquals(
        "100000000 ns from Connect-Timeout-Ms",
        sameByBothPaths("grpc-timeout: 100000u", "Connect-Timeout-Ms: 100"));
  }

  @Test
  void namesMatchInAnyCaseAndLookAlikesDoNot() throws IOException {
    assertEquals(
        "300000000 ns from Ctx4j-Timeout-Ms",
        sameByBothPaths(
            "CTX4J-timeout-MS: 300", "Ctx4j-Timeout-Msx: 5", "grpc-timeouts: 1m", "Connect-Timeout: 7"));
  }

  @Test
  void aMalformedValueIsLeftToTheServletApiPathAndItsMessage() throws IOException {
    for (String[] lines :
        new String[][] {
          {"Ctx4j-Timeout-Ms: 300, x"},
          {"Ctx4j-Timeout-Ms:"},
          // Malformed in two headers: the Servlet API path names the first of its list.
          {"grpc-timeout: bogus", "Ctx4j-Timeout-Ms: x"},
          {"Connect-Timeout-Ms: 100", "grpc-timeout: 1S, 2"}
        }) {
      String[] r = readings(lines);
      assertEquals("NOT_READ", r[0], String.join(" / ", lines));
      assertTrue(r[1].startsWith("malformed: "), r[1]);
      assertEquals(r[1], r[2], "read() must fail as the Servlet API path does");
    }
    assertTrue(readings("grpc-timeout: bogus", "Ctx4j-Timeout-Ms: x")[2].contains("Ctx4j-Timeout-Ms"));
  }
}
