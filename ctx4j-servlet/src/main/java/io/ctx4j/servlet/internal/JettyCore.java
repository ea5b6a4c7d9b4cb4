package io.ctx4j.servlet.internal;

import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EofException;
import org.eclipse.jetty.server.ConnectionMetaData;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Request;

/**
 * Jetty 12 core hooks, shared by the ee10 and ee11 layers. Loaded only when Jetty is present.
 *
 * <p>The headers: one pass over the request's fields finds all three timeout headers, where the
 * Servlet API needs a lookup per header (each a scan of the fields) and an enumeration for the one
 * present (about a sixth of the filter's samples with a deadline header, in the raw-client profile
 * of {@code results/2026-12-01-servlet-filter-raw-client}). By index: no iterator on the immutable
 * fields of a request as received (on other field sets, Jetty's default {@code getField} may walk
 * an iterator per call: a few fields, so still cheap).
 *
 * <p>The failure listener: it lives and dies with the request, so nothing has
 * to be removed when the request ends. No listener is put on the connection: every close of a
 * connection with a request in flight that Jetty 12.1 notices (an HTTP/2 connection the client
 * closes, a reset stream, a failed write) fails the request first and reaches the failure listener,
 * the filter's response wrapper or {@code AsyncListener.onError}; an add and a remove on the
 * connection's copy-on-write listener list for every request cost about 1/6 of the filter's time
 * and reported nothing more ({@code JettyConnectionCloseTest}).
 */
final class JettyCore {
  private JettyCore() {}

  static void attach(Request core, RequestScope scope) {
    core.addFailureListener(scope);
  }

  /**
   * Whether the connector of {@code connection} is stopping or stopped. Not the server's state: a
   * graceful stop keeps the server stopping for its whole wait, while the connections stay open and
   * a client may still leave; Jetty closes them when it stops the connectors, after the wait.
   */
  static boolean stopping(ConnectionMetaData connection) {
    Connector connector = connection == null ? null : connection.getConnector();
    return connector != null && (connector.isStopping() || connector.isStopped());
  }

  /** Whether the request's connection can still read: its input not shut down (by the client). */
  static boolean inputOpen(Request core) {
    return !core.getConnectionMetaData().getConnection().getEndPoint().isInputShutdown();
  }

  /**
   * The failure to report for a body Jetty 12.1 ended although its client cut it, or null: an
   * HTTP/1 connection whose input is shut down (Jetty read the client's FIN, which it does only
   * while its parser still waits for bytes of the message: after a whole message it reads no
   * further) and that Jetty no longer keeps for another request (its parser gave up on the
   * message). Jetty's parser, cut between the CR and the LF that end a chunk's data, reports the
   * EOF as a bad message, not as an early EOF (the state {@code CHUNK_END} falls to the default of
   * its EOF switch), so the HTTP/1 stream, with no failure chunk set, returns the body's end to the
   * reader, and the request's failure ({@code HttpException} 400 "Early EOF") reaches the failure
   * listener on another thread, before or after that end, or after the handler returned
   * ({@code ChunkedBodyCutTest}). A body cut in the last chunk's trailer section ({@code 0\r\n}
   * and no final CRLF), whose data is whole, Jetty forgives and keeps the connection: not reported.
   * Every other cut Jetty reports itself, as the read's {@code HttpEofException}.
   *
   * <p>Not over TLS: Jetty's {@code SslConnection} reads the network on every fill, even with
   * records it has not decrypted yet, so a whole body whose last records came with the client's FIN
   * (a half-close after the body) leaves the TLS endpoint's input shut down at the body's end, and
   * the check would take that body for a cut one ({@code TlsWholeBodyTest}). A body cut between a
   * chunk's CR and LF over TLS passes for a whole one (README).
   */
  static EofException cutBody(ConnectionMetaData connection) {
    if (connection == null || connection.isPersistent() || connection.isSecure()) {
      return null;
    }
    HttpVersion version = connection.getHttpVersion();
    if (version == null || version.getVersion() >= 20) {
      return null; // HTTP/2 and 3: a stream's end is a frame's flag, and the TCP input is shared
    }
    Connection c = connection.getConnection();
    if (c == null || !c.getEndPoint().isInputShutdown()) {
      return null;
    }
    return new EofException("Early EOF: Jetty ended a request body that its client cut");
  }

  /**
   * The budget the fields state, as {@link IncomingDeadline#readServletApi} would find it, or
   * {@link IncomingDeadline#NOT_READ} when a field is malformed (or has no value): the Servlet API
   * path then reads them again, to fail with the same message as on any other container.
   */
  static IncomingDeadline readDeadline(HttpFields fields) {
    IncomingDeadline best = null;
    for (int i = 0, n = fields.size(); i < n; i++) {
      HttpField f = fields.getField(i);
      int h = IncomingDeadline.headerIndex(f.getName());
      if (h < 0) {
        continue;
      }
      String value = f.getValue();
      if (value == null) {
        return IncomingDeadline.NOT_READ;
      }
      try {
        best = IncomingDeadline.consider(best, h, value);
      } catch (IllegalArgumentException malformed) {
        return IncomingDeadline.NOT_READ;
      }
    }
    return best;
  }
}
