package io.ctx4j.servlet;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * A bare h2c client for the tests: HTTP/2 with prior knowledge over one socket, frames written by
 * hand, so that the test (not a client library) decides when a stream is reset or the connection
 * closes. The JDK's {@code HttpClient} resets a stream when its future is cancelled, from its own
 * threads, at a moment and in an order the test does not choose; with its resets of 40 streams at
 * once Tomcat now and then reported one to no listener (the module README, "HTTP/2, Tomcat"), which
 * the test's own resets, written at once and in order, have not made it do.
 *
 * <p>A daemon thread reads what the server sends and acknowledges its SETTINGS and PINGs; the rest
 * (responses, window updates, resets, GOAWAY) is read and dropped. Not thread-safe: one test thread
 * writes.
 */
final class H2cClient implements AutoCloseable {
  static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

  private static final int DATA = 0x0;
  private static final int HEADERS = 0x1;
  private static final int RST_STREAM = 0x3;
  private static final int SETTINGS = 0x4;
  private static final int PING = 0x6;
  private static final int END_STREAM = 0x1;
  private static final int ACK = 0x1;
  private static final int END_HEADERS = 0x4;

  /** The error code of RST_STREAM a client sends when it no longer wants the response. */
  static final int CANCEL = 0x8;

  private final Socket socket;
  private final OutputStream out;
  private int nextStream = 1;
  /** The payload of the PING sent last by {@link #pingAcked}, and its ACK's latch. */
  private volatile byte[] ping;
  private volatile java.util.concurrent.CountDownLatch pingAck;

  /** Connects to 127.0.0.1:port and sends the connection preface and an empty SETTINGS frame. */
  H2cClient(int port) throws IOException {
    socket = new Socket("127.0.0.1", port);
    out = socket.getOutputStream();
    write(connectionStart());
    Thread reader = new Thread(this::readLoop, "h2c-test-client-reader");
    reader.setDaemon(true);
    reader.start();
  }

  /** The preface and an empty SETTINGS frame: what a client sends first. */
  static byte[] connectionStart() {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.writeBytes(PREFACE);
    b.writeBytes(frame(SETTINGS, 0, 0, new byte[0]));
    return b.toByteArray();
  }

  /**
   * Opens a stream with a GET of {@code path} (authority 127.0.0.1), with the given extra headers
   * (names in lower case, as HTTP/2 requires), the request complete.
   *
   * @return the stream's id
   */
  int get(String path, Map<String, String> headers) throws IOException {
    int id = nextStream;
    nextStream += 2;
    write(headersFrame(id, "GET", path, headers, true));
    return id;
  }

  /**
   * Opens a stream with a POST of {@code path} that declares {@code contentLength} bytes and sends
   * only {@code first} of them, the stream left open.
   *
   * @return the stream's id
   */
  int postPartial(String path, int contentLength, byte[] first) throws IOException {
    int id = nextStream;
    nextStream += 2;
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.writeBytes(
        headersFrame(
            id, "POST", path, Map.of("content-length", String.valueOf(contentLength)), false));
    b.writeBytes(dataFrame(id, first, false));
    write(b.toByteArray());
    return id;
  }

  /**
   * Sends a PING and waits for its ACK: both servers handle a connection's frames in order, so the
   * frames sent before it have been handled.
   *
   * @return whether the ACK came within {@code seconds}
   */
  boolean pingAcked(long seconds) throws IOException, InterruptedException {
    java.util.concurrent.CountDownLatch acked = new java.util.concurrent.CountDownLatch(1);
    byte[] data = java.nio.ByteBuffer.allocate(8).putLong(System.nanoTime()).array();
    ping = data;
    pingAck = acked;
    write(frame(PING, 0, 0, data));
    return acked.await(seconds, java.util.concurrent.TimeUnit.SECONDS);
  }

  /** Resets stream {@code id} with CANCEL, as a client does that no longer wants the answer. */
  void reset(int id) throws IOException {
    write(rstStream(id, CANCEL));
  }

  /** A HEADERS frame (END_HEADERS; END_STREAM if {@code endStream}) of a request. */
  static byte[] headersFrame(int id, String method, String path, Map<String, String> headers, boolean endStream) {
    ByteArrayOutputStream block = new ByteArrayOutputStream();
    // HPACK, no Huffman, nothing indexed: literal fields with names from the static table
    // (:method 2, :scheme 6, :path 4, :authority 1), then literal names.
    literal(block, 2, null, method);
    literal(block, 6, null, "http");
    literal(block, 4, null, path);
    literal(block, 1, null, "127.0.0.1");
    for (Map.Entry<String, String> h : headers.entrySet()) {
      literal(block, 0, h.getKey(), h.getValue());
    }
    return frame(HEADERS, END_HEADERS | (endStream ? END_STREAM : 0), id, block.toByteArray());
  }

  /** A DATA frame on stream {@code id}. */
  static byte[] dataFrame(int id, byte[] payload, boolean endStream) {
    return frame(DATA, endStream ? END_STREAM : 0, id, payload);
  }

  static byte[] rstStream(int id, int errorCode) {
    return frame(RST_STREAM, 0, id, int32(errorCode));
  }

  /** A literal header field without indexing (RFC 7541 6.2.2), name by static index or literal. */
  private static void literal(ByteArrayOutputStream block, int nameIndex, String name, String value) {
    integer(block, 0x00, 4, nameIndex);
    if (nameIndex == 0) {
      string(block, name);
    }
    string(block, value);
  }

  private static void string(ByteArrayOutputStream block, String s) {
    byte[] bytes = s.getBytes(StandardCharsets.ISO_8859_1);
    integer(block, 0x00, 7, bytes.length); // H bit 0: not Huffman-coded
    block.writeBytes(bytes);
  }

  /** An HPACK integer with an N-bit prefix (RFC 7541 5.1). */
  private static void integer(ByteArrayOutputStream block, int firstBits, int prefix, int value) {
    int max = (1 << prefix) - 1;
    if (value < max) {
      block.write(firstBits | value);
      return;
    }
    block.write(firstBits | max);
    value -= max;
    while (value >= 128) {
      block.write((value & 0x7f) | 0x80);
      value >>>= 7;
    }
    block.write(value);
  }

  private static byte[] frame(int type, int flags, int stream, byte[] payload) {
    if (payload.length >= 1 << 14) {
      throw new IllegalArgumentException("frame payload over the default 16,384 bytes: " + payload.length);
    }
    ByteArrayOutputStream b = new ByteArrayOutputStream(9 + payload.length);
    b.write(payload.length >>> 16);
    b.write(payload.length >>> 8);
    b.write(payload.length);
    b.write(type);
    b.write(flags);
    b.writeBytes(int32(stream));
    b.writeBytes(payload);
    return b.toByteArray();
  }

  private static byte[] int32(int v) {
    return new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v};
  }

  private synchronized void write(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
  }

  private void readLoop() {
    try {
      DataInputStream in = new DataInputStream(socket.getInputStream());
      byte[] head = new byte[9];
      while (true) {
        in.readFully(head);
        int length = (head[0] & 0xff) << 16 | (head[1] & 0xff) << 8 | (head[2] & 0xff);
        int type = head[3] & 0xff;
        int flags = head[4] & 0xff;
        byte[] payload = new byte[length];
        in.readFully(payload);
        if (type == SETTINGS && (flags & ACK) == 0) {
          write(frame(SETTINGS, ACK, 0, new byte[0]));
        } else if (type == PING && (flags & ACK) == 0) {
          write(frame(PING, ACK, 0, payload));
        } else if (type == PING && java.util.Arrays.equals(payload, ping)) {
          pingAck.countDown();
        }
      }
    } catch (EOFException e) {
      // The server closed the connection.
    } catch (IOException e) {
      // The test closed the socket, or the server reset the connection.
    }
  }

  /**
   * Starts a daemon thread that reads and drops what the server sends on {@code socket}, never
   * answering: no WINDOW_UPDATE, so the server's flow-control window runs out while the client is
   * there.
   */
  static void drain(Socket socket) throws IOException {
    java.io.InputStream in = socket.getInputStream();
    Thread reader =
        new Thread(
            () -> {
              byte[] buf = new byte[16384];
              try {
                while (in.read(buf) >= 0) {
                  // dropped
                }
              } catch (IOException closed) {
                // the test closed the socket
              }
            },
            "h2c-test-drain");
    reader.setDaemon(true);
    reader.start();
  }

  /** Closes the connection without a GOAWAY, as a client that goes away does. */
  @Override
  public void close() throws IOException {
    socket.close();
  }

  /**
   * Answers one HTTP/1.1 GET of /warm on a connection of its own (see {@link
   * TestServlet#answeredWarm}): loads the classes of the request path before the h2c connection
   * under test is opened.
   */
  static void warm(int port) throws IOException {
    try (Socket warm = new Socket("127.0.0.1", port)) {
      warm.setSoTimeout(10_000);
      warm.getOutputStream()
          .write("GET /warm HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
              .getBytes(StandardCharsets.US_ASCII));
      String answer = new String(warm.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
      org.junit.jupiter.api.Assertions.assertTrue(answer.endsWith("warm"), answer);
    }
  }

  /** {@code t} and its causes, for a failure's message: what the container threw, and from what. */
  static String described(Throwable t) {
    StringBuilder s = new StringBuilder(String.valueOf(t)).append(" <- ");
    for (Throwable x = t == null ? null : t.getCause(); x != null; x = x.getCause()) {
      s.append(x.getClass().getName()).append(": ").append(x.getMessage()).append(" <- ");
    }
    return s.toString();
  }
}
