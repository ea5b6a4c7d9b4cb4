package io.ctx4j.testing;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * An HTTP/1.1 peer on loopback that fails one exchange on purpose: it accepts one connection (and
 * refuses any later one), reads the request head, runs a hook (a test moves a clock there, or
 * records the request), writes a fixed answer (nothing, or a head and part of a body) and closes
 * the connection. The client then fails as it does when a server goes away mid-exchange.
 *
 * <p>{@link #close} ends the peer wherever it is: it closes the listening socket and the connection
 * the peer holds, so a test that ends while the peer waits for a request head, or in its hook,
 * leaves neither the client's connection open nor the peer's thread blocked on it.
 *
 * <p>Thread safety: the peer runs on a daemon thread of its own (not a pool's, whose worker a peer
 * waiting for its connection would hold); {@link #url}, {@link #done} and {@link #close} may be
 * called from any thread. Memory consistency: what the hook does happens-before the answer is
 * written, and so before the client can see the connection closed.
 */
public final class DroppingPeer implements AutoCloseable {
  private final ServerSocket listening;
  private final CompletableFuture<Void> served = new CompletableFuture<>();
  private final Object lock = new Object();
  private Socket connection; // guarded by lock
  private boolean closed; // guarded by lock

  /**
   * Starts a peer that answers {@code answer} to the first connection, after {@code afterHead}.
   *
   * @param answer what to write once the request head is read (ASCII; may be empty)
   * @param afterHead run once the request head is read, before the answer
   * @throws IOException if the loopback socket cannot be opened
   * @throws NullPointerException if an argument is null
   */
  public DroppingPeer(String answer, Runnable afterHead) throws IOException {
    Objects.requireNonNull(answer, "answer");
    Objects.requireNonNull(afterHead, "afterHead");
    listening = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    Thread t =
        new Thread(
            () -> {
              try {
                serve(answer, afterHead);
                served.complete(null);
              } catch (Throwable e) { // any: done() rethrows it
                served.completeExceptionally(e);
              }
            },
            "DroppingPeer-" + listening.getLocalPort());
    t.setDaemon(true); // a peer never connected to must not keep the JVM alive
    t.start();
  }

  /**
   * Returns the peer's URL for {@code path}.
   *
   * @param path the path, starting with {@code /}
   * @return {@code http://127.0.0.1:PORT} followed by {@code path}
   */
  public String url(String path) {
    return "http://127.0.0.1:" + listening.getLocalPort() + path;
  }

  /**
   * Waits up to 20 s for the peer to have answered and closed its connection, and rethrows what
   * went wrong in it (a hook that threw, a socket error, a {@link #close} before the answer).
   *
   * @throws Exception if the peer failed or did not finish in time
   */
  public void done() throws Exception {
    served.get(20, TimeUnit.SECONDS);
  }

  /**
   * Closes the listening socket and the connection the peer holds, if any: a peer still waiting
   * for its connection or its request head fails at once, one in its hook fails when it writes.
   *
   * @throws IOException if a socket cannot be closed
   */
  @Override
  public void close() throws IOException {
    Socket c;
    synchronized (lock) {
      closed = true;
      c = connection;
    }
    try {
      listening.close();
    } finally {
      if (c != null) {
        c.close();
      }
    }
  }

  private void serve(String answer, Runnable afterHead) throws IOException {
    try (Socket s = listening.accept()) {
      synchronized (lock) {
        if (closed) { // close() ran between accept and here: it could not see this connection
          throw new SocketException("the peer was closed");
        }
        connection = s;
      }
      // One connection only: a client that tries again (the JDK client retries a request whose
      // connection closed before the answer) is refused at once rather than left in the backlog.
      listening.close();
      InputStream in = s.getInputStream();
      // The request head ends with an empty line.
      for (int crlf = 0, b; crlf < 4 && (b = in.read()) >= 0; ) {
        crlf = (b == '\r' || b == '\n') ? crlf + 1 : 0;
      }
      afterHead.run();
      s.getOutputStream().write(answer.getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
    }
  }
}
