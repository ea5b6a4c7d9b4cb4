package io.ctx4j.servlet.internal;

import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletRequestWrapper;
import jakarta.servlet.ServletResponse;
import java.io.IOException;
import java.lang.reflect.Method;

/**
 * What the filter knows of particular containers, in one place: early notice of a request's
 * failure where the container offers one, a cheaper read of the timeout headers, and how each
 * container's own exceptions and writers tell a lost client from its own doings ({@link
 * #lostConnection}, {@link #tomcatStreamTimeout}, {@link #tomcatInputEnded}, {@link
 * #closedWriterStaysClean}), and a body's end that Jetty gave for a body its client cut ({@link
 * #cutBody}). Containers are told apart by class names, so that this module loads
 * no container's classes but Jetty's hooks, and those only on Jetty. Not part of the API.
 *
 * <p>Jetty 12.1 (ee11 or ee10 servlet layer): the core request's failure listener (an HTTP/2 reset,
 * a closed or failed connection, a fatal idle timeout). The Jetty classes
 * are touched only when the request is a Jetty request and the class was found by {@link
 * Class#forName(String, boolean, ClassLoader)}, so this module runs without Jetty. Tomcat 11 offers
 * a filter nothing beyond the Servlet API. Thread-safe.
 *
 * <p>On Jetty the timeout headers are also read in one pass over the request's fields ({@link
 * #readDeadline}).
 */
public final class ContainerHooks {
  private static final boolean EE11 = present("org.eclipse.jetty.ee11.servlet.ServletContextRequest");
  private static final boolean EE10 = present("org.eclipse.jetty.ee10.servlet.ServletContextRequest");

  /**
   * Set when a Jetty on the class path turned out to lack the API the hooks were compiled against
   * (a LinkageError): the filter then goes on with the Servlet API alone instead of failing every
   * request.
   */
  private static volatile boolean incompatible;

  private static final int NO_LAYER = 0;
  private static final int EE11_LAYER = 1;
  private static final int EE10_LAYER = 2;

  /** The request class seen last and its Jetty layer; racy but immutable, so any value is right. */
  private static volatile LastType lastType;

  private ContainerHooks() {}

  private static final class LastType {
    final Class<?> type;
    final int layer;

    LastType(Class<?> type) {
      this.type = type;
      String name = type.getName();
      this.layer =
          EE11 && name.startsWith("org.eclipse.jetty.ee11.")
              ? EE11_LAYER
              : EE10 && name.startsWith("org.eclipse.jetty.ee10.") ? EE10_LAYER : NO_LAYER;
    }
  }

  private static boolean present(String name) {
    try {
      Class.forName(name, false, ContainerHooks.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }

  /**
   * Attaches the container's failure notices, if any, to {@code scope}. They live and die with the
   * request: nothing is registered on anything that outlives it.
   *
   * @param request the request as the filter got it
   * @param scope its state
   * @return the name of the hooks attached ({@code "jetty-ee11"}, {@code "jetty-ee10"}), or null
   */
  public static String attach(ServletRequest request, RequestScope scope) {
    if ((!EE11 && !EE10) || incompatible) {
      return null;
    }
    int layer = layerOf(ScopedRequest.innermost(request).getClass());
    try {
      if (layer == EE11_LAYER) {
        return JettyEe11.attach(request, scope) ? "jetty-ee11" : null;
      }
      if (layer == EE10_LAYER) {
        return JettyEe10.attach(request, scope) ? "jetty-ee10" : null;
      }
    } catch (LinkageError e) {
      incompatible = true;
    }
    return null;
  }

  /**
   * Whether the container's writer {@code w} stays free of errors once closed, so that an error a
   * check finds after a close is news of the client: Tomcat 11's does. Jetty 12.1's is in error for
   * every check once closed, exactly as after a lost client; for a container not known here, false,
   * as for Jetty (a close is then not told from a loss).
   *
   * @param w the container's own writer
   * @return true for Tomcat's writer
   */
  static boolean closedWriterStaysClean(java.io.PrintWriter w) {
    return w.getClass().getName().startsWith("org.apache.catalina.");
  }

  /**
   * Whether {@code e}, a read's failure, is Tomcat 11's input buffer refusing a read because the
   * request's input has ended: a plain {@code IOException} ("Stream closed") whose top frame is
   * {@code org.apache.catalina.connector.InputBuffer}. Tomcat ends the input that way once the
   * answer is given in full, whether the client is there or gone ({@link
   * RequestScope#inputEndedWithTheAnswer} adds the answer's side); a lost client's read fails with
   * {@code ClientAbortException} instead.
   *
   * @param e the read's failure
   * @return true for that exception of Tomcat's
   */
  static boolean tomcatInputEnded(IOException e) {
    if (e.getClass() != IOException.class) {
      return false;
    }
    StackTraceElement[] at = e.getStackTrace();
    return at.length > 0
        && at[0].getClassName().equals("org.apache.catalina.connector.InputBuffer");
  }

  /**
   * Whether {@code x} is the {@code StreamException} with the error {@code ENHANCE_YOUR_CALM} that
   * Tomcat 11's HTTP/2 stream input buffer raises, under its {@code CloseNowException}, when the
   * stream's read timeout passes: no {@code SocketTimeoutException} then. A client's reset leaves a
   * {@code StreamException} with another error ({@code STREAM_CLOSED}), so the error is read, by
   * reflection: the class and its {@code getError()} are package-private in Tomcat, and this module
   * runs without Tomcat. Not a write's: a write waiting for the client's flow-control window fails
   * with the same error whether its timeout passed or the client reset the stream or closed the
   * connection meanwhile (Tomcat wakes the writer and finds no window), and a lost client must not
   * pass for a timeout (README, limits). Asked only of a failure, never on a request that succeeds.
   * False whenever the reflection fails.
   */
  static boolean tomcatStreamTimeout(Throwable x) {
    Class<?> type = x.getClass();
    if (!type.getName().equals("org.apache.coyote.http2.StreamException")) {
      return false;
    }
    for (Class<?> c = type; c != null && c != Throwable.class; c = c.getSuperclass()) {
      try {
        Method getError = c.getDeclaredMethod("getError");
        getError.setAccessible(true);
        Object error = getError.invoke(x);
        return error instanceof Enum
            && ((Enum<?>) error).name().equals("ENHANCE_YOUR_CALM")
            && raisedByTheInputBuffer(x);
      } catch (NoSuchMethodException notHere) {
        // declared higher up (Http2Exception)
      } catch (ReflectiveOperationException | RuntimeException | LinkageError refused) {
        return false;
      }
    }
    return false;
  }

  /** Whether Tomcat's HTTP/2 stream input buffer raised {@code x} (its read timeout). */
  private static boolean raisedByTheInputBuffer(Throwable x) {
    StackTraceElement[] at = x.getStackTrace();
    for (int i = 0; i < at.length && i < 4; i++) {
      String c = at[i].getClassName();
      if (c.startsWith("org.apache.coyote.http2.Stream$") && c.endsWith("InputBuffer")) {
        return true;
      }
    }
    return false;
  }

  /** Whether {@code x} is a lost connection as the JDK and the containers report one. */
  static boolean lostConnection(Throwable x) {
    if (x instanceof java.net.SocketException) {
      return true;
    }
    for (Class<?> t = x.getClass(); t != null && t != Throwable.class; t = t.getSuperclass()) {
      String name = t.getName();
      if (name.equals("org.eclipse.jetty.io.EofException")
          || name.equals("org.apache.catalina.connector.ClientAbortException")) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether {@code failure}, a read of the body through the filter's stream or reader (or its
   * {@code ReadListener}'s error), is the container refusing a malformed body from a client that
   * is still there: Tomcat 11's {@code org.apache.coyote.BadRequestException} (an invalid chunk),
   * or Jetty 12.1's {@code HttpConnection$HttpEofException} ("Early EOF") while the connection's
   * input is still open. Jetty throws that same exception, with no cause, for a client that left
   * mid-body; its input is then shut down, which tells the two apart (measured for a bad chunk size
   * and a missing CRLF against a close, a half-close and a reset). On another container, or when
   * Jetty's connection cannot be reached, false: the failure is then taken for a lost client.
   *
   * @param failure what the read threw
   * @param request the request as the filter got it, or a wrapper of it; may be null (then false on
   *     Jetty)
   * @return true if the failure says the body is malformed, not that the client is gone
   */
  static boolean malformedBody(Throwable failure, ServletRequest request) {
    Throwable x =
        RequestScope.findCause(
            failure,
            t -> {
              String name = t.getClass().getName();
              return name.equals("org.apache.coyote.BadRequestException")
                  || name.equals("org.eclipse.jetty.server.internal.HttpConnection$HttpEofException");
            });
    if (x == null) {
      return false;
    }
    if (x.getClass().getName().startsWith("org.apache.")) {
      return true;
    }
    if ((!EE11 && !EE10) || incompatible || request == null) {
      return false;
    }
    ServletRequest own = ScopedRequest.innermost(request);
    int layer = layerOf(own.getClass());
    try {
      if (layer == EE11_LAYER) {
        return JettyEe11.inputOpen(own);
      }
      if (layer == EE10_LAYER) {
        return JettyEe10.inputOpen(own);
      }
    } catch (LinkageError e) {
      incompatible = true;
    }
    return false;
  }

  /**
   * At the end of the body a read of {@code request} returned (-1, or fewer bytes than asked for
   * all): the failure to throw instead if the container gave that end for a body its client cut,
   * else null. Jetty 12.1 does so for an HTTP/1 chunked body cut between the CR and the LF that end
   * a chunk's data (the read returns -1 where every other cut fails it with "Early EOF"), and
   * reports the request's failure only on another thread, as a 400 {@code HttpException}, before
   * or after that -1, or not before the handler returned ({@code ChunkedBodyCutTest}): its
   * connection's input is then shut down and no longer persistent, which a whole body never leaves
   * at its end. The failure is Jetty's {@code EofException}, a lost client. Null on another
   * container (Tomcat 11 fails the read of every cut body with a {@code ClientAbortException}) and
   * whenever Jetty cannot be asked. Asked only at the body's end, once per request that reads it.
   *
   * @param request the request as the filter got it, or a wrapper of it; may be null
   * @return what to throw instead of the end, or null to pass the end on
   */
  static IOException cutBody(ServletRequest request) {
    if ((!EE11 && !EE10) || incompatible || request == null) {
      return null;
    }
    ServletRequest own = ScopedRequest.innermost(request);
    int layer = layerOf(own.getClass());
    try {
      if (layer == EE11_LAYER) {
        return JettyEe11.cutBody(own);
      }
      if (layer == EE10_LAYER) {
        return JettyEe10.cutBody(own);
      }
    } catch (LinkageError e) {
      incompatible = true;
    } catch (RuntimeException e) {
      // a request already recycled: nothing to tell
    }
    return null;
  }

  /**
   * Whether {@code failure}, reported by the container (Jetty's failure listener, {@code onError}),
   * is Jetty 12.1's 400 {@code HttpException} "Early EOF" for a body its client cut (see {@link
   * #cutBody(ServletRequest)}), which would otherwise be a container failure ({@code request
   * failed}): the client left mid-body. Asked only of a failure.
   *
   * @param failure what the container reported
   * @param response the container's own response, or null
   * @return true for that report of a cut body
   */
  static boolean cutBodyReported(Throwable failure, Object response) {
    if ((!EE11 && !EE10) || incompatible || !(response instanceof ServletResponse)) {
      return false;
    }
    Throwable x =
        RequestScope.findCause(
            failure,
            t ->
                t.getClass().getName().startsWith("org.eclipse.jetty.http.HttpException")
                    && String.valueOf(t.getMessage()).contains("Early EOF"));
    if (x == null) {
      return false;
    }
    try {
      return (EE11 && JettyEe11.cutBody((ServletResponse) response) != null)
          || (EE10 && JettyEe10.cutBody((ServletResponse) response) != null);
    } catch (LinkageError e) {
      incompatible = true;
    } catch (RuntimeException e) {
      // a response already recycled: nothing to tell
    }
    return false;
  }

  /**
   * Whether the server of {@code response}, the container's own response, is stopping its
   * connections: on Jetty 12.1, the connector of the request's connection is stopping or stopped
   * (it closes the connections it still has; during a graceful stop's wait it is still running, and
   * a client that leaves then is a lost client). False on another container (Tomcat ends requests in
   * flight through the filter's {@code destroy()}) and whenever Jetty cannot be asked. Asked only
   * of a failure.
   *
   * @param response the container's own response, or null
   * @return true while Jetty stops the request's connector
   */
  static boolean serverStopping(Object response) {
    if ((!EE11 && !EE10) || incompatible || !(response instanceof ServletResponse)) {
      return false;
    }
    try {
      return (EE11 && JettyEe11.serverStopping((ServletResponse) response))
          || (EE10 && JettyEe10.serverStopping((ServletResponse) response));
    } catch (LinkageError e) {
      incompatible = true;
    } catch (RuntimeException e) {
      // a response already recycled: nothing to tell
    }
    return false;
  }

  /** The request class whose layer {@link #layerOf} holds; for tests. */
  static Class<?> lastTypeSeen() {
    LastType last = lastType;
    return last == null ? null : last.type;
  }

  /** The Jetty layer of a request class: the name is looked at once per class, not per request. */
  private static int layerOf(Class<?> type) {
    LastType last = lastType;
    if (last == null || last.type != type) {
      // A server has one request class per layer.
      last = new LastType(type);
      lastType = last;
    }
    return last.layer;
  }

  /**
   * Reads the timeout headers in one pass over Jetty's fields, when {@code request} is Jetty's own
   * servlet request. Not for a wrapper: its {@code getHeader} may answer differently from the fields
   * (a filter in front that hides or adds a header), and the filter must see what the chain sees.
   * A wrapper is turned away before {@link #layerOf}: the result would be the same (Jetty's {@code
   * instanceof ServletApiRequest} test in each layer rules it out), but {@link #attach} looks up the
   * unwrapped class, and the two lookups would then replace each other's {@code lastType} on every
   * wrapped request, a name check and a shared volatile write each time.
   *
   * @param request the request as the filter got it
   * @return what {@link IncomingDeadline#read} returns, or {@link IncomingDeadline#NOT_READ} if the
   *     headers are to be read through the Servlet API (not Jetty, a wrapper, a malformed value)
   */
  public static IncomingDeadline readDeadline(ServletRequest request) {
    if ((!EE11 && !EE10) || incompatible || request instanceof ServletRequestWrapper) {
      return IncomingDeadline.NOT_READ;
    }
    try {
      int layer = layerOf(request.getClass());
      if (layer == EE11_LAYER) {
        return JettyEe11.readDeadline(request);
      }
      if (layer == EE10_LAYER) {
        return JettyEe10.readDeadline(request);
      }
    } catch (LinkageError e) {
      incompatible = true;
    }
    return IncomingDeadline.NOT_READ;
  }
}
