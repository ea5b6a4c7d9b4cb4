package io.ctx4j.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * An HTTP/1.1 peer on loopback that fails one exchange on purpose: it accepts one connection (and
 * refuses any later one), reads the request head, runs a hook (a test moves a clock there, or records the request), writes a
 * fixed answer (nothing, or a head and part of a body) and closes the connection. The client then
 * fails as it does when a server goes away mid-exchange.
 *
 * <p>Thread safety: the peer runs on a thread of the common pool; {@link #url}, {@link #done} and
 * {@link #close} may be called from any thread. Memory consistency: what the hook does
 * happens-before the answer is written, and so before the client can see the connection closed.
 */
public final class DroppingPeer implements AutoCloseable {
  private final ServerSocket socket;
  private final CompletableFuture<Void> served;

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
    socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    served = CompletableFuture.runAsync(() -> serve(answer, afterHead));
  }

  /**
   * Returns the peer's URL for {@code path}.
   *
   * @param path the path, starting with {@code /}
   * @return {@code http://127.0.0.1:PORT} followed by {@code path}
   */
  public String url(String path) {
    return "http://127.0.0.1:" + socket.getLocalPort() + path;
  }

  /**
   * Waits up to 20 s for the peer to have answered and closed its connection, and rethrows what
   * went wrong in it (a hook that threw, a socket error).
   *
   * @throws Exception if the peer failed or did not finish in time
   */
  public void done() throws Exception {
    served.get(20, TimeUnit.SECONDS);
  }

  /** Closes the listening socket; a peer still waiting for its connection fails. */
  @Override
  public void close() throws IOException {
    socket.close();
  }

  private void serve(String answer, Runnable afterHead) {
    try (Socket s = socket.accept()) {
      // One connection only: a client that tries again (the JDK client retries a request whose
      // connection closed before the answer) is refused at once rather than left in the backlog.
      socket.close();
      InputStream in = s.getInputStream();
      // The request head ends with an empty line.
      for (int crlf = 0, b; crlf < 4 && (b = in.read()) >= 0; ) {
        crlf = (b == '\r' || b == '\n') ? crlf + 1 : 0;
      }
      afterHead.run();
      s.getOutputStream().write(answer.getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
