package io.ctx4j.servlet.internal;

import io.ctx4j.servlet.RequestCanceledException;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import java.lang.ref.WeakReference;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.server.Request;

/**
 * Jetty 12 core hooks, shared by the ee10 and ee11 layers. Loaded only when Jetty is present.
 *
 * <p>The failure listener lives and dies with the request. The connection listener is added to a
 * connection that outlives the request (HTTP/1.1 keep-alive, an HTTP/2 session shared by many
 * streams), so it holds the request only weakly and is removed when the request ends.
 */
final class JettyCore {
  private JettyCore() {}

  static void attach(Request core, RequestScope scope) {
    core.addFailureListener(failure -> scope.end(RequestScope.failure(failure)));
    Connection connection = core.getConnectionMetaData().getConnection();
    if (connection == null) {
      return;
    }
    ClosedListener listener = new ClosedListener(scope);
    connection.addEventListener(listener);
    ContainerHooks.LIVE_CONNECTION_LISTENERS.increment();
    scope.onEnd(
        () -> {
          connection.removeEventListener(listener);
          ContainerHooks.LIVE_CONNECTION_LISTENERS.decrement();
        });
  }

  /** Ends the request when its connection closes; holds it weakly. */
  private static final class ClosedListener implements Connection.Listener {
    private final WeakReference<RequestScope> scope;

    ClosedListener(RequestScope scope) {
      this.scope = new WeakReference<>(scope);
    }

    @Override
    public void onClosed(Connection connection) {
      RequestScope s = scope.get();
      if (s != null) {
        s.end(new RequestCanceledException(Reason.CLIENT_DISCONNECTED, "connection closed", null));
      }
    }
  }
}
