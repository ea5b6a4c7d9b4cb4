package io.ctx4j.http;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A request written byte for byte on a socket, for header values that java.net.http refuses to
 * send (control characters, exotic whitespace). Returns the status code of the response.
 */
final class RawHttp {
  private RawHttp() {}

  static int status(int port, String... headerLines) throws IOException {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
      s.setSoTimeout(10_000);
      StringBuilder req = new StringBuilder("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
      for (String line : headerLines) {
        req.append(line).append("\r\n");
      }
      req.append("\r\n");
      OutputStream out = s.getOutputStream();
      out.write(req.toString().getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = s.getInputStream();
      byte[] head = in.readNBytes(12); // "HTTP/1.1 200"
      String statusLine = new String(head, StandardCharsets.ISO_8859_1);
      if (!statusLine.startsWith("HTTP/1.1 ")) {
        throw new IOException("not an HTTP response: " + statusLine);
      }
      return Integer.parseInt(statusLine.substring(9, 12));
    }
  }
}
