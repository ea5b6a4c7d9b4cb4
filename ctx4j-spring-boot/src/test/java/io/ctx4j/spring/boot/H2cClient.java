package io.ctx4j.spring.boot;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A minimal HTTP/2 client over cleartext with prior knowledge, on a plain socket the test owns: it
 * sends the connection preface, an empty SETTINGS frame and one GET as a HEADERS frame (HPACK
 * literals, no Huffman), and never reads. Closing it closes the TCP connection, as a client that
 * goes away does.
 */
final class H2cClient implements AutoCloseable {
  private final Socket socket;

  private H2cClient(Socket socket) {
    this.socket = socket;
  }

  static H2cClient get(int port, String path) throws IOException {
    Socket s = new Socket(InetAddress.getLoopbackAddress(), port);
    OutputStream out = s.getOutputStream();
    out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    frame(out, 0x4, 0, 0, new byte[0]); // SETTINGS, defaults
    ByteArrayOutputStream block = new ByteArrayOutputStream();
    literal(block, ":method", "GET");
    literal(block, ":scheme", "http");
    literal(block, ":path", path);
    literal(block, ":authority", "127.0.0.1:" + port);
    frame(out, 0x1, 0x4 | 0x1, 1, block.toByteArray()); // HEADERS, END_HEADERS | END_STREAM
    out.flush();
    return new H2cClient(s);
  }

  private static void frame(OutputStream out, int type, int flags, int stream, byte[] payload)
      throws IOException {
    int n = payload.length;
    out.write(new byte[] {
      (byte) (n >>> 16), (byte) (n >>> 8), (byte) n, (byte) type, (byte) flags,
      (byte) (stream >>> 24), (byte) (stream >>> 16), (byte) (stream >>> 8), (byte) stream
    });
    out.write(payload);
  }

  /** A literal header field without indexing, new name (RFC 7541 6.2.2); short strings only. */
  private static void literal(ByteArrayOutputStream b, String name, String value) {
    b.write(0x00);
    string(b, name);
    string(b, value);
  }

  private static void string(ByteArrayOutputStream b, String s) {
    byte[] bytes = s.getBytes(StandardCharsets.US_ASCII);
    if (bytes.length > 126) {
      throw new IllegalArgumentException("too long for this client: " + s);
    }
    b.write(bytes.length);
    b.writeBytes(bytes);
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
