package io.ctx4j.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.ref.Reference;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Base64;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import okhttp3.Call;
import okhttp3.EventListener;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Real WebSockets (OkHttp's {@code newWebSocket}) under a context, against a minimal WebSocket peer
 * on a loopback socket: the upgraded call is cancelled by the context, and gives its registration
 * back when the WebSocket ends, however it ends, while the application still holds the WebSocket.
 */
@Timeout(60)
class OkHttpWebSocketTest {
  private static final byte[] CLOSE_1000 = {(byte) 0x88, 2, 0x03, (byte) 0xE8};

  /**
   * One WebSocket connection: answers the handshake, then reads frames until the client closes the
   * connection; answers a close frame with a close frame and closes. With {@code closeFirst} it
   * sends a close frame of its own first.
   */
  private static final class Peer implements AutoCloseable {
    final ServerSocket listener;
    final CountDownLatch clientGone = new CountDownLatch(1);
    final Thread thread;

    Peer(boolean closeFirst) throws IOException {
      listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
      thread = new Thread(() -> serve(closeFirst), "websocket-peer");
      thread.setDaemon(true);
      thread.start();
    }

    String url() {
      return "http://127.0.0.1:" + listener.getLocalPort() + "/ws";
    }

    private void serve(boolean closeFirst) {
      try (Socket s = listener.accept()) {
        DataInputStream in = new DataInputStream(s.getInputStream());
        OutputStream out = s.getOutputStream();
        StringBuilder head = new StringBuilder(); // up to the empty line; nothing follows it yet
        while (!head.toString().endsWith("\r\n\r\n")) {
          head.append((char) in.readUnsignedByte());
        }
        String key = null;
        for (String line : head.toString().split("\r\n")) {
          if (line.regionMatches(true, 0, "Sec-WebSocket-Key:", 0, 18)) {
            key = line.substring(18).trim();
          }
        }
        out.write(
            ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Accept: " + accept(key) + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        if (closeFirst) {
          out.write(CLOSE_1000);
        }
        out.flush();
        while (true) {
          int b0 = in.readUnsignedByte();
          int len = in.readUnsignedByte() & 0x7f; // client frames are masked; small ones here
          if (len == 126) {
            len = in.readUnsignedShort();
          }
          in.readFully(new byte[4 + len]); // mask and payload
          if ((b0 & 0x0f) == 8) { // close
            if (!closeFirst) {
              out.write(CLOSE_1000);
              out.flush();
            }
            return;
          }
        }
      } catch (EOFException | java.net.SocketException gone) {
        // the client closed or reset the connection
      } catch (IOException | NoSuchAlgorithmException e) {
        throw new AssertionError(e);
      } finally {
        clientGone.countDown();
      }
    }

    private static String accept(String key) throws NoSuchAlgorithmException {
      byte[] sha1 =
          MessageDigest.getInstance("SHA-1")
              .digest((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").getBytes(StandardCharsets.US_ASCII));
      return Base64.getEncoder().encodeToString(sha1);
    }

    @Override
    public void close() throws IOException {
      listener.close();
    }
  }

  /** Counts down when OkHttp ends a call; added after ctx4j's listener, so it runs after it. */
  private static OkHttpClient clientReporting(CountDownLatch callOver) {
    EventListener over =
        new EventListener() {
          @Override
          public void callEnd(Call call) {
            callOver.countDown();
          }

          @Override
          public void callFailed(Call call, IOException ioe) {
            callOver.countDown();
          }
        };
    return ContextOkHttp.install(
            new OkHttpClient.Builder()
                .addInterceptor(
                    chain -> {
                      Response r = chain.proceed(chain.request());
                      chain.call().addEventListener(over);
                      return r;
                    }))
        .build();
  }

  /** Ends the WebSocket as {@code how} says; records its open, close and failure. */
  private static final class Listener extends WebSocketListener {
    final String how;
    final CountDownLatch opened = new CountDownLatch(1);
    final CountDownLatch ended = new CountDownLatch(1);
    /** What {@code onFailure} got; read after {@link #ended}, which publishes it. */
    volatile Throwable failure;

    Listener(String how) {
      this.how = how;
    }

    @Override
    public void onOpen(WebSocket ws, Response response) {
      opened.countDown();
      if (how.equals("onOpen throws")) {
        throw new IllegalStateException("a listener that fails");
      }
      if (how.equals("closed by the client")) {
        ws.close(1000, null);
      } else if (how.equals("cancelled by the client")) {
        ws.cancel();
      }
    }

    @Override
    public void onClosing(WebSocket ws, int code, String reason) {
      ws.close(1000, null);
    }

    @Override
    public void onClosed(WebSocket ws, int code, String reason) {
      ended.countDown();
    }

    @Override
    public void onFailure(WebSocket ws, Throwable t, Response response) {
      failure = t;
      ended.countDown();
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"closed by the server", "closed by the client", "cancelled by the client", "onOpen throws"})
  void aWebSocketGivesItsRegistrationBackWhenItEndsWhileTheApplicationStillHoldsIt(String how)
      throws Exception {
    CountDownLatch callOver = new CountDownLatch(1);
    OkHttpClient client = clientReporting(callOver);
    try (Peer peer = new Peer(how.equals("closed by the server"));
        CancelableContext longLived = Context.withTimeout(Context.background(), Duration.ofMinutes(30))) {
      Listener listener = new Listener(how);
      WebSocket ws =
          client.newWebSocket(ContextOkHttp.withContext(new Request.Builder().url(peer.url()).build(), longLived), listener);
      assertTrue(listener.opened.await(20, TimeUnit.SECONDS), "never opened");
      assertTrue(listener.ended.await(20, TimeUnit.SECONDS), "never closed");
      assertTrue(callOver.await(20, TimeUnit.SECONDS), "OkHttp never ended the WebSocket's call");
      assertEquals(0, CoreInternals.registrationCount(longLived), "the ended WebSocket kept its registration");
      Reference.reachabilityFence(ws);
    } finally {
      client.dispatcher().executorService().shutdown();
      client.connectionPool().evictAll();
    }
  }

  @Test
  void theContextEndingFailsAnOpenWebSocketAndClosesItsConnection() throws Exception {
    CountDownLatch callOver = new CountDownLatch(1);
    OkHttpClient client = clientReporting(callOver);
    try (Peer peer = new Peer(false);
        CancelableContext ctx = Context.withCancel(Context.background())) {
      Listener listener = new Listener("kept open");
      WebSocket ws = client.newWebSocket(ContextOkHttp.withContext(new Request.Builder().url(peer.url()).build(), ctx), listener);
      assertTrue(listener.opened.await(20, TimeUnit.SECONDS), "never opened");
      assertTrue(ws.send("still here"));
      ctx.cancel();
      assertTrue(listener.ended.await(10, TimeUnit.SECONDS), "the WebSocket outlived its context");
      assertTrue(peer.clientGone.await(10, TimeUnit.SECONDS), "the connection outlived the context");
      assertTrue(callOver.await(20, TimeUnit.SECONDS), "OkHttp never ended the WebSocket's call");
    } finally {
      client.dispatcher().executorService().shutdown();
      client.connectionPool().evictAll();
    }
  }

  /**
   * The README's limit: the context's end cancels an open WebSocket's call, which closes its
   * socket, and OkHttp's reader thread fails the listener with its own {@code SocketException:
   * Socket closed}, no cause, not with the context's error (ctx4j has no hook in OkHttp's WebSocket
   * reader). A listener that must tell the context's end from a network failure asks the context,
   * whose error is set before the cancel.
   */
  @Test
  void theContextEndingFailsAnOpenWebSocketWithOkHttpsOwnError() throws Exception {
    OkHttpClient client = clientReporting(new CountDownLatch(1));
    try (Peer peer = new Peer(false);
        CancelableContext ctx = Context.withCancel(Context.background())) {
      Listener listener = new Listener("kept open");
      WebSocket ws = client.newWebSocket(ContextOkHttp.withContext(new Request.Builder().url(peer.url()).build(), ctx), listener);
      assertTrue(listener.opened.await(20, TimeUnit.SECONDS), "never opened");
      ctx.cancel();
      assertTrue(listener.ended.await(10, TimeUnit.SECONDS), "the WebSocket outlived its context");
      Throwable t = listener.failure;
      assertEquals("java.net.SocketException: Socket closed, cause null, the context's error CanceledException",
          t + ", cause " + (t == null ? "-" : t.getCause()) + ", the context's error " + ctx.err().getClass().getSimpleName());
      Reference.reachabilityFence(ws);
    } finally {
      client.dispatcher().executorService().shutdown();
      client.connectionPool().evictAll();
    }
  }
}
