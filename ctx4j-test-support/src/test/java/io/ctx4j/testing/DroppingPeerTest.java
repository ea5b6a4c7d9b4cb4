package io.ctx4j.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** DroppingPeer against raw loopback sockets: what a client sees, and what close() lets go of. */
@Timeout(60)
class DroppingPeerTest {
  private static final String HEAD = "GET /x HTTP/1.1\r\nHost: peer\r\n\r\n";
  private static final Duration LONG = Duration.ofSeconds(20);

  private static Socket connect(DroppingPeer peer) throws IOException {
    Socket s = new Socket(InetAddress.getLoopbackAddress(), URI.create(peer.url("/")).getPort());
    s.setSoTimeout(10_000); // a read still blocked then fails the test
    return s;
  }

  private static String readToEnd(Socket s) throws IOException {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    InputStream in = s.getInputStream();
    for (int b; (b = in.read()) >= 0; ) {
      all.write(b);
    }
    return all.toString(StandardCharsets.US_ASCII);
  }

  @Test
  void answersTheFirstConnectionAfterTheHookAndRefusesTheNext() throws Exception {
    CountDownLatch hookRan = new CountDownLatch(1);
    String answer = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello";
    try (DroppingPeer peer = new DroppingPeer(answer, hookRan::countDown);
        Socket first = connect(peer)) {
      first.getOutputStream().write(HEAD.getBytes(StandardCharsets.US_ASCII));
      assertEquals(answer, readToEnd(first), "the answer, then the end of the connection");
      assertTrue(hookRan.await(0, TimeUnit.SECONDS), "answered before the hook ran");
      peer.done();
      assertThrows(ConnectException.class, () -> connect(peer).close(), "a second connection");
    }
  }

  /**
   * close() lets go of the connection the peer holds, not only of its listening socket: a test
   * that ends (or fails) while the peer waits in its hook, or for a request head that never comes,
   * must not leave the client's connection open and the peer's thread blocked on it.
   */
  @Test
  void closeEndsTheConnectionThePeerHolds() throws Exception {
    CountDownLatch inHook = new CountDownLatch(1);
    CountDownLatch releaseHook = new CountDownLatch(1);
    DroppingPeer peer =
        new DroppingPeer(
            "HTTP/1.1 200 OK\r\n\r\n",
            () -> {
              inHook.countDown();
              Quietly.awaitIgnoringInterrupts(releaseHook, LONG);
            });
    try (Socket client = connect(peer)) {
      client.getOutputStream().write(HEAD.getBytes(StandardCharsets.US_ASCII));
      assertTrue(inHook.await(20, TimeUnit.SECONDS), "the peer never read the request head");
      peer.close();
      try {
        assertEquals("", readToEnd(client), "the peer answered after close()");
      } catch (SocketTimeoutException e) {
        fail("the peer kept its connection open after close()");
      } catch (IOException e) {
        // reset: closed all the same
      }
    } finally {
      releaseHook.countDown();
    }
    // The peer's own write then fails: done() says so at once, rather than after its 20 s.
    ExecutionException e = assertThrows(ExecutionException.class, peer::done);
    assertInstanceOf(IOException.class, e.getCause(), () -> "failed otherwise: " + e);
  }

  /** A peer nobody connected to: close() ends its wait, and done() says the peer failed. */
  @Test
  void closeEndsAPeerThatWasNeverConnectedTo() throws Exception {
    DroppingPeer peer = new DroppingPeer("", () -> {});
    peer.close();
    assertThrows(ExecutionException.class, peer::done);
  }
}
