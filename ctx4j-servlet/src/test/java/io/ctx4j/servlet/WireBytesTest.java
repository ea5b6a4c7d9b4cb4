package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.EnumSet;
import java.util.HexFormat;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bytes on the wire, read over a raw socket: both containers join a surrogate pair split across
 * two writer calls (so the watched writer counts it as 4 bytes without hiding anything), and the
 * 400 for a malformed header drops the encoding a filter in front declared.
 */
class WireBytesTest {

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> splits() {
    return Containers.eachWith("print(high); flush(); print(low)", "write(high); write(low)", "println-free print(\"h\"+high); print(low+\"!\")");
  }

  /** What each container sends for a surrogate pair split across two writer calls. */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("splits")
  void aSplitPairOnTheWire(Containers c, String how) throws Exception {
    char hi = '\ud83d';
    char lo = '\ude00';
    HttpServlet servlet =
        new TestServlet(
            (req, res) -> {
              res.setCharacterEncoding("UTF-8");
              PrintWriter w = res.getWriter();
              if (how.startsWith("print(high)")) {
                w.print('h');
                w.print(hi);
                w.flush();
                w.print(lo);
                w.print('!');
              } else if (how.startsWith("write")) {
                w.write('h');
                w.write(hi);
                w.write(lo);
                w.write('!');
              } else {
                w.print("h" + hi);
                w.print(lo + "!");
              }
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      byte[] body = rawBody(server.port);
      assertEquals("68f09f988021", HexFormat.of().formatHex(body), how);
    }
  }

  /** Reads a response to "Connection: close" and returns what follows the head, de-chunked. */
  static byte[] rawBody(int port) throws Exception {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.getOutputStream()
          .write("GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      InputStream in = s.getInputStream();
      byte[] all = in.readAllBytes();
      String text = new String(all, StandardCharsets.ISO_8859_1);
      int head = text.indexOf("\r\n\r\n") + 4;
      String headers = text.substring(0, head).toLowerCase();
      byte[] rest = java.util.Arrays.copyOfRange(all, head, all.length);
      if (!headers.contains("transfer-encoding: chunked")) {
        return rest;
      }
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      int i = 0;
      String r = new String(rest, StandardCharsets.ISO_8859_1);
      while (true) {
        int eol = r.indexOf("\r\n", i);
        int n = Integer.parseInt(r.substring(i, eol).trim(), 16);
        if (n == 0) {
          return out.toByteArray();
        }
        out.write(rest, eol + 2, n);
        i = eol + 2 + n + 2;
      }
    }
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> rejects() {
    return Containers.eachWith("Content-Encoding gzip set in front");
  }

  /**
   * The 400 for a malformed header drops the body, the length and the encoding a filter in front
   * set: before (found by a review), a 400 of plain text labelled gzip.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rejects")
  void aRejectAfterAFilterInFrontSetAnEncoding(Containers c, String how) throws Exception {
    ContextServletFilter filter = ContextServletFilter.create();
    Filter front =
        (rq, rs, chain) -> {
          ((HttpServletResponse) rs).setHeader("Content-Encoding", "gzip");
          ((HttpServletResponse) rs).setContentLength(10);
          filter.doFilter(rq, rs, chain);
        };
    HttpServlet servlet = new TestServlet((req, res) -> res.getWriter().print("ok"));
    try (Containers.Running server =
        c.start(front, servlet, java.util.Map.of(), EnumSet.of(DispatcherType.REQUEST))) {
      try (Socket s = new Socket("127.0.0.1", server.port)) {
        s.getOutputStream()
            .write(
                "GET /x HTTP/1.1\r\nHost: h\r\ngrpc-timeout: xyz\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
        String text = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        assertEquals(
            false,
            text.toLowerCase().contains("content-encoding: gzip"),
            "the 400 answer: " + text.replace("\r\n", " | "));
      }
    }
  }
}
