package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A chunked request body over HTTP/1.1 that the client cuts, then closes its socket or half-closes
 * it (shuts its output and reads the answer): what the handler's read sees and how the request
 * context ends, on each container, with the cut at each place of the chunked framing. A body Jetty
 * 12.1 reads as complete must not pass for one: review of 7f20659 found that Jetty returns -1, as
 * at a normal end, for a body cut between the CR and the LF that end a chunk's data (its parser
 * reports that EOF as a bad message, not as an early EOF), and reports the request's failure, a 400
 * {@code HttpException} "Early EOF", only on another thread, before or after that -1, or not before
 * the handler returned: the context ended {@code request failed} or {@code response completed}. The
 * filter now throws Jetty's {@code EofException} instead of that -1 (the connection's input is shut
 * down and no longer persistent, which a whole body never leaves at its end) and takes the 400 for
 * a lost client: the {@link Cut#BETWEEN_CR_AND_LF} rows on Jetty failed on 7f20659 (the read
 * returned -1 after 10 bytes). Every other cut the containers report themselves: Jetty's {@code
 * HttpEofException: Early EOF}, Tomcat's {@code ClientAbortException} around an {@code
 * EOFException}, and the watched stream ends the context inside that read, {@code client
 * disconnected}, whether the client closed or half-closed (the filter cannot tell a half-closed
 * client that waits for its answer from one gone: both shut the connection's input, and the message
 * stays incomplete). The answer a half-closed client gets: Jetty sends the handler's, Tomcat its
 * own 400.
 *
 * <p>The pinned limit ({@link Cut#IN_THE_TRAILER_SECTION}, README): a body cut after its last
 * chunk's line {@code 0\r\n}, before the CRLF that ends the trailer section. Its data is whole;
 * Jetty forgives the missing CRLF, as its parser says, keeps the connection persistent and returns
 * -1: the context ends {@code response completed}, as for a client that leaves after a whole body
 * (a FIN Jetty reads no earlier is not seen either). The filter cannot tell that cut from a whole
 * body: Jetty exposes nothing else of its parser (its {@code HttpConnection} is in a package it
 * does not export), and the input's shutdown alone would also take a half-closed client that waits
 * for its answer for a lost one. Tomcat fails that read as for any other cut.
 *
 * <p>Each row waits, before the handler reads, either for the server's kernel to have the client's
 * FIN (the connection in CLOSE_WAIT), or for the handler to be blocked in its read with every byte
 * sent read (then the client cuts).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ChunkedBodyCutTest {
  static final String HEAD = "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";

  /** Where the body is cut: every row sends the chunk "hello" whole first. */
  enum Cut {
    /** (a) After the second chunk's data, before its CRLF. */
    AFTER_DATA("5\r\nhello\r\n5\r\nworld", 10),
    /** (a') After the second chunk's data and its CR, before its LF: Jetty's -1. */
    BETWEEN_CR_AND_LF("5\r\nhello\r\n5\r\nworld\r", 10),
    /** (b) In the middle of the second chunk's data. */
    MID_DATA("5\r\nhello\r\n5\r\nwo", 7),
    /** (c) After the second chunk's size line. */
    AFTER_SIZE_LINE("5\r\nhello\r\n5\r\n", 5),
    /** (d) After the last data chunk, before the 0-chunk. */
    BEFORE_LAST_CHUNK("5\r\nhello\r\n", 5),
    /** After the 0-chunk's line, before the CRLF that ends the trailer section: the limit. */
    IN_THE_TRAILER_SECTION("5\r\nhello\r\n0\r\n", 5),
    /** Not cut: the whole body, then a half-close. */
    WHOLE("5\r\nhello\r\n0\r\n\r\n", 5);

    final String sent;

    /** The bytes of data the handler reads before the read ends or fails. */
    final int data;

    Cut(String sent, int data) {
      this.sent = sent;
      this.data = data;
    }
  }

  /** How the client ends its side. */
  enum End {
    CLOSE,
    /** Shuts its output and reads the answer. */
    HALF_CLOSE
  }

  /** When the handler's read meets the cut. */
  enum When {
    /** The read begins once the server's kernel has the client's FIN. */
    READ_AFTER_THE_CUT,
    /** The read is blocked, every byte sent read, when the client cuts. */
    BLOCKED_IN_THE_READ
  }

  static java.util.stream.Stream<Arguments> rows() {
    List<Arguments> rows = new ArrayList<>();
    for (Containers c : Containers.values()) {
      for (Cut cut : Cut.values()) {
        for (End end : End.values()) {
          for (When when : When.values()) {
            // A whole body never blocks its read; and a client that closes after it is the
            // matrix's HTTP/1.1 close.
            if (cut != Cut.WHOLE || (end == End.HALF_CLOSE && when == When.READ_AFTER_THE_CUT)) {
              rows.add(Arguments.of(c, cut, end, when));
            }
          }
        }
      }
    }
    return rows.stream();
  }

  /** Whether {@code c} reads the body cut at {@code cut} to an end it takes for the body's. */
  private static boolean readAsWhole(Containers c, Cut cut) {
    return cut == Cut.WHOLE || (c == Containers.JETTY && cut == Cut.IN_THE_TRAILER_SECTION);
  }

  @ParameterizedTest(name = "{0}: {1}, {2}, {3}")
  @MethodSource("rows")
  void aCutChunkedBodyIsALostClient(Containers c, Cut cut, End end, When when) throws Exception {
    Probe probe = new Probe();
    AtomicInteger bytes = new AtomicInteger();
    AtomicReference<IOException> failure = new AtomicReference<>();
    AtomicReference<String> afterRead = new AtomicReference<>("?");
    AtomicReference<Thread> reader = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = probe.enterCurrent(req);
              if (when == When.READ_AFTER_THE_CUT) {
                probe.awaitGo();
              }
              reader.set(Thread.currentThread());
              try {
                ServletInputStream in = req.getInputStream();
                byte[] buf = new byte[64];
                for (int n; (n = in.read(buf)) >= 0; ) {
                  bytes.addAndGet(n);
                }
              } catch (IOException e) {
                failure.set(e);
              }
              afterRead.set(Probe.state(ctx));
              try {
                res.setContentLength(2);
                res.getOutputStream().write("ok".getBytes(StandardCharsets.US_ASCII));
              } catch (IOException e) {
                // a client gone: the context says what became of the request
              } finally {
                probe.finished.countDown();
              }
            });
    String answer = "none read";
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet);
        Socket s = new Socket("127.0.0.1", server.port)) {
      s.setSoTimeout(10_000);
      int clientPort = s.getLocalPort();
      s.getOutputStream().write((HEAD + cut.sent).getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      assertTrue(probe.entered.await(10, TimeUnit.SECONDS), "the handler never ran");
      if (when == When.BLOCKED_IN_THE_READ) {
        H2cResetInABlockedWriteTest.awaitBlockedInARead(
            ServerStopTest.awaitSet(reader), "ContentProducer$LockedSemaphore", "NioEndpoint$NioSocketWrapper");
      }
      if (end == End.CLOSE) {
        s.close();
      } else {
        s.shutdownOutput();
      }
      if (when == When.READ_AFTER_THE_CUT) {
        awaitFinReceived(server.port, clientPort);
        probe.go.countDown();
      }
      if (end == End.HALF_CLOSE) {
        answer = statusLine(s.getInputStream());
      }
      Probe.reasonAtEnd(probe.ctx, 10, c + ", " + cut + ", " + end + ", " + when);
      assertTrue(probe.finished.await(10, TimeUnit.SECONDS), "the handler never finished");
    }
    Throwable cause = probe.ctx.cause();
    String what =
        String.format(
            "%s, %s, %s, %s: read %d bytes, then %s; context after the read: %s; answer: %s;"
                + " cause: %s",
            c,
            cut,
            end,
            when,
            bytes.get(),
            failure.get() == null ? "-1" : failure.get(),
            afterRead.get(),
            answer,
            cause);
    assertEquals(cut.data, bytes.get(), what);
    if (end == End.HALF_CLOSE) {
      // Tomcat answers a request whose body read failed with its own 400.
      String expected =
          readAsWhole(c, cut) || c == Containers.JETTY ? "HTTP/1.1 200" : "HTTP/1.1 400";
      assertTrue(answer.startsWith(expected), what);
    }
    if (readAsWhole(c, cut)) {
      assertNull(failure.get(), what);
      assertEquals("live", afterRead.get(), what);
      assertEquals(Reason.RESPONSE_COMPLETED, Probe.reasonOf(cause), what);
      return;
    }
    // Ended inside the read, before the handler saw its failure.
    assertTrue(afterRead.get().startsWith("done: "), what);
    assertEquals(Reason.CLIENT_DISCONNECTED, Probe.reasonOf(cause), what);
    IOException thrown = failure.get();
    if (c == Containers.TOMCAT) {
      assertEquals("org.apache.catalina.connector.ClientAbortException", name(thrown), what);
      assertEquals(java.io.EOFException.class, thrown.getCause().getClass(), what);
      assertSame(thrown, cause.getCause(), what);
    } else if (cut == Cut.BETWEEN_CR_AND_LF) {
      // The filter's failure in place of Jetty's -1; Jetty's own 400 may have ended the context
      // first, through the failure listener.
      assertEquals("org.eclipse.jetty.io.EofException", name(thrown), what);
      Throwable reported = cause.getCause();
      assertTrue(
          reported == thrown
              || (name(reported).equals("org.eclipse.jetty.http.HttpException$RuntimeException")
                  && reported.getMessage().contains("Early EOF")),
          what);
    } else {
      assertEquals(
          "org.eclipse.jetty.server.internal.HttpConnection$HttpEofException", name(thrown), what);
      assertEquals("Early EOF", thrown.getMessage(), what);
      assertSame(thrown, cause.getCause(), what);
    }
  }

  static java.util.stream.Stream<Arguments> otherReads() {
    return Containers.eachWith("reader", "ReadListener");
  }

  /**
   * The body cut between a chunk's CR and LF, read through the reader or by a {@code ReadListener}
   * (the client closes once the handler runs): a lost client, and the listener hears {@code
   * onError}, not {@code onAllDataRead}. On 7f20659 the reader returned -1 on Jetty, and the
   * listener was told the body was all read.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("otherReads")
  void aBodyCutBetweenCrAndLfIsALostClientToTheReaderAndAReadListener(Containers c, String how)
      throws Exception {
    Probe probe = new Probe();
    AtomicInteger read = new AtomicInteger();
    AtomicReference<String> outcome = new AtomicReference<>("nothing");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              probe.enterCurrent(req);
              if (how.equals("reader")) {
                probe.awaitGo();
                try {
                  char[] buf = new char[64];
                  for (int n; (n = req.getReader().read(buf)) >= 0; ) {
                    read.addAndGet(n);
                  }
                  outcome.set("-1");
                } catch (IOException e) {
                  outcome.set("threw " + name(e));
                }
                probe.finished.countDown();
                return;
              }
              AsyncContext async = req.startAsync();
              async.setTimeout(0);
              ServletInputStream in = req.getInputStream();
              in.setReadListener(
                  new ReadListener() {
                    @Override
                    public void onDataAvailable() throws IOException {
                      byte[] buf = new byte[64];
                      for (int n; in.isReady() && (n = in.read(buf)) >= 0; ) {
                        read.addAndGet(n);
                      }
                    }

                    @Override
                    public void onAllDataRead() {
                      outcome.set("onAllDataRead");
                      probe.finished.countDown();
                      async.complete();
                    }

                    @Override
                    public void onError(Throwable t) {
                      outcome.set("onError " + name(t));
                      probe.finished.countDown();
                      async.complete();
                    }
                  });
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      int clientPort;
      try (Socket s = new Socket("127.0.0.1", server.port)) {
        clientPort = s.getLocalPort();
        s.getOutputStream()
            .write((HEAD + Cut.BETWEEN_CR_AND_LF.sent).getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        assertTrue(probe.entered.await(10, TimeUnit.SECONDS), "the handler never ran");
      }
      if (how.equals("reader")) {
        awaitFinReceived(server.port, clientPort);
        probe.go.countDown();
      }
      Reason end = Probe.reasonAtEnd(probe.ctx, 10, c + ", " + how);
      assertTrue(probe.finished.await(10, TimeUnit.SECONDS), c + ", " + how + ": never done");
      String what =
          c + ", " + how + ": read " + read.get() + ", " + outcome.get() + "; " + probe.ctx.cause();
      assertEquals(Reason.CLIENT_DISCONNECTED, end, what);
      assertTrue(outcome.get().startsWith(how.equals("reader") ? "threw" : "onError"), what);
      assertEquals(10, read.get(), what);
    }
  }

  static java.util.stream.Stream<Arguments> wholeBodiesOnAConnectionToClose() {
    List<Arguments> rows = new ArrayList<>();
    for (Containers c : Containers.values()) {
      rows.add(
          Arguments.of(
              c,
              "POST /x HTTP/1.1\r\n"
                  + "Host: h\r\n"
                  + "Connection: close\r\n"
                  + "Content-Length: 5\r\n\r\n"
                  + "hello"));
      rows.add(
          Arguments.of(
              c,
              "POST /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\nTransfer-Encoding: chunked"
                  + "\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
      rows.add(Arguments.of(c, "POST /x HTTP/1.0\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"));
    }
    return rows.stream();
  }

  /**
   * The check for a cut body ({@code ContainerHooks.cutBody}: the input shut down, the connection
   * not kept) takes no whole body for a cut one where the connection is not kept anyway: a client
   * that asked to close (HTTP/1.0, {@code Connection: close}) sends its whole body and half-closes,
   * and the handler reads once the server's kernel has the FIN. The body reads whole, the context
   * ends with the answer.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("wholeBodiesOnAConnectionToClose")
  void aWholeBodyOnAConnectionToCloseIsWhole(Containers c, String request) throws Exception {
    Probe probe = new Probe();
    AtomicInteger bytes = new AtomicInteger();
    AtomicReference<IOException> failure = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              probe.enterCurrent(req);
              probe.awaitGo();
              try {
                byte[] all = req.getInputStream().readAllBytes();
                bytes.set(all.length);
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
    String answer;
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet);
        Socket s = new Socket("127.0.0.1", server.port)) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      assertTrue(probe.entered.await(10, TimeUnit.SECONDS), "the handler never ran");
      s.shutdownOutput();
      awaitFinReceived(server.port, s.getLocalPort());
      probe.go.countDown();
      answer = statusLine(s.getInputStream());
      Probe.reasonAtEnd(probe.ctx, 10, c + ", " + request);
      assertTrue(probe.finished.await(10, TimeUnit.SECONDS), "the handler never finished");
    }
    String what =
        c
            + ": read "
            + bytes.get()
            + ", "
            + failure.get()
            + ", "
            + answer
            + ", "
            + probe.ctx.cause();
    assertNull(failure.get(), what);
    assertEquals(5, bytes.get(), what);
    assertTrue(answer.startsWith("HTTP/1.1 200") || answer.startsWith("HTTP/1.0 200"), what);
    assertEquals(Reason.RESPONSE_COMPLETED, Probe.reasonOf(probe.ctx.cause()), what);
  }

  private static String name(Throwable t) {
    return t == null ? "null" : t.getClass().getName();
  }

  /** The answer's status line, or what the socket did instead. */
  static String statusLine(InputStream in) {
    StringBuilder line = new StringBuilder();
    try {
      while (line.indexOf("\r\n") < 0) {
        int b = in.read();
        if (b < 0) {
          return "closed after " + line.length() + " bytes";
        }
        line.append((char) b);
      }
      return line.substring(0, line.indexOf("\r\n"));
    } catch (IOException e) {
      return "failed: " + e;
    }
  }

  /**
   * Waits until the server's kernel has the client's FIN: the server's end of the connection is in
   * CLOSE_WAIT (state 08 in /proc/net/tcp). Jetty and Tomcat read no byte of the body before the
   * handler asks, so it stays there until the read.
   */
  static void awaitFinReceived(int serverPort, int clientPort) throws Exception {
    assertTrue(
        java.nio.file.Files.exists(java.nio.file.Path.of("/proc/net/tcp")),
        "no /proc/net/tcp: the wait for the FIN needs Linux");
    String local = String.format(":%04X", serverPort);
    String remote = String.format(":%04X", clientPort);
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
        java.nio.file.Path path = java.nio.file.Path.of(table);
        if (!java.nio.file.Files.exists(path)) {
          continue;
        }
        for (String l : java.nio.file.Files.readAllLines(path)) {
          String[] f = l.trim().split("\\s+");
          if (f.length > 3 && f[1].endsWith(local) && f[2].endsWith(remote) && f[3].equals("08")) {
            return;
          }
        }
      }
      assertTrue(System.nanoTime() < end, "the server's kernel never had the client's FIN");
      java.util.concurrent.locks.LockSupport.parkNanos(1_000_000L);
    }
  }
}
