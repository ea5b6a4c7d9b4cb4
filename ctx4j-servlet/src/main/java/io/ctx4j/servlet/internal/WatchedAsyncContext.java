package io.ctx4j.servlet.internal;

import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.ServletContext;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletResponse;

/**
 * The {@code AsyncContext} as the filter's request hands it out: the container's, except that
 * {@link #complete()} makes sure the request context ends, and, for {@code startAsync()} without arguments,
 * {@link #getResponse()} is watched ({@link WatchedResponse}), so that a write that fails in an
 * application thread ends the request context at once. Not part of the API.
 *
 * <p>Why {@code complete()}: the application is done with the response, and the container's
 * {@code onComplete} (or, for a client lost in the last writes, Tomcat's {@code onError})
 * normally follows at once; but Tomcat 11 may accept {@code complete()} and never carry it out. When an application thread's {@code sendError} and a later write race the
 * end of the dispatch that started the cycle, Tomcat's {@code ErrorReportValve} closes the
 * connection on the dispatch's thread ({@code CLOSE_NOW}) while the cycle is still starting, a
 * {@code complete()} then is only marked pending, and the request is recycled without any listener
 * being called, nor the async timeout ever firing: the context stayed live until the server
 * stopped. So after a {@code complete()} the container took, if nothing has ended the context
 * {@link RequestScope#COMPLETE_GRACE} later (or that long after the dispatch that called it
 * returned) and the container has recycled the request, the context ends; one that Tomcat refuses
 * because it recycled the request already ends it at once. Any other refusal (a misuse, such as
 * {@code complete()} after {@code dispatch()}, or a race the application lost) leaves it to the
 * container's events; and neither ends the context while a dispatch through the filter runs.
 *
 * <p>Why: after {@code startAsync()} the Servlet API hands out the container's own response, which
 * the filter does not see. Tomcat 11 reports a failed write there through {@code
 * AsyncListener.onError}, on a container thread and a moment later; Jetty 12.1 not at all, and the
 * context stayed live until {@code complete()}, then ended as if the response had completed.
 *
 * <p>The Servlet specification says {@code startAsync()} without arguments gives the original
 * response; this wrapper is a knowing exception (the README says so), and {@link
 * #hasOriginalRequestAndResponse()} still answers as the container's does. {@link #getRequest()}
 * is the container's own, as specified, so its stream is not watched.
 *
 * <p>Everything else is the container's, unchanged (and so are its refusals: {@code getResponse()}
 * after {@code complete()} still throws where the container throws). Thread-safe as the
 * container's is; two threads asking for the response at once may get two wrappers of it, both
 * watched.
 */
final class WatchedAsyncContext implements AsyncContext {
  private final AsyncContext async;
  /**
   * The container's own {@code AsyncContext}, asked whether the request was let go of: the one
   * {@link #async} may be a wrapper of (a request wrapper in front of the filter may hand out an
   * {@code AsyncContext} of its own, which may answer {@code getTimeout()} from a field of its own
   * even once the container has recycled the request).
   */
  private final AsyncContext containers;
  private final ScopedRequest request;
  /** Whether {@link #getResponse()} is watched: for {@code startAsync()} without arguments. */
  private final boolean watchResponse;
  /** The container's response last wrapped, and its wrapper; replaced together. */
  private volatile Watched watched;

  private static final class Watched {
    final ServletResponse delegate;
    final ServletResponse response;

    Watched(ServletResponse delegate, ServletResponse response) {
      this.delegate = delegate;
      this.response = response;
    }
  }

  WatchedAsyncContext(AsyncContext async, ScopedRequest request, boolean watchResponse) {
    this.async = async;
    this.containers = containersOf(async, request);
    this.request = request;
    this.watchResponse = watchResponse;
  }

  /**
   * The container's own {@code AsyncContext} beneath the wrappers of {@code request}, or {@code
   * async} if the container does not hand one out now (a wrapper in front whose {@code startAsync}
   * started no cycle of the container's).
   */
  private static AsyncContext containersOf(AsyncContext async, ScopedRequest request) {
    try {
      AsyncContext own = ScopedRequest.innermost(request).getAsyncContext();
      return own != null ? own : async;
    } catch (RuntimeException notStarted) {
      return async;
    }
  }

  /** Whether this wraps {@code other}. */
  boolean wraps(AsyncContext other) {
    return async == other;
  }

  @Override
  public ServletRequest getRequest() {
    return async.getRequest();
  }

  @Override
  public ServletResponse getResponse() {
    ServletResponse r = async.getResponse();
    if (!watchResponse) {
      // The response given to startAsync(request, response), as given: the application may cast
      // it to its own wrapper's type, and a wrapper over the filter's is watched beneath.
      return r;
    }
    Watched w = watched;
    if (w == null || w.delegate != r) {
      ServletResponse response =
          r instanceof HttpServletResponse && !(r instanceof WatchedResponse)
              ? new WatchedResponse((HttpServletResponse) r, request)
              : r;
      w = new Watched(r, response);
      watched = w;
    }
    return w.response;
  }

  @Override
  public boolean hasOriginalRequestAndResponse() {
    return async.hasOriginalRequestAndResponse();
  }

  @Override
  public void dispatch() {
    async.dispatch();
  }

  @Override
  public void dispatch(String path) {
    async.dispatch(path);
  }

  @Override
  public void dispatch(ServletContext context, String path) {
    async.dispatch(context, path);
  }

  /**
   * Completes the cycle; the request context ends {@code RESPONSE_COMPLETED} at once if the
   * container refuses because it has recycled the request already, else when the container
   * reports the end, or once it has recycled the request (see the class comment and {@link
   * RequestScope#completeTaken}).
   */
  @Override
  public void complete() {
    try {
      async.complete();
    } catch (IllegalStateException refused) {
      request.scope().endIfLetGo(this::recycled);
      throw refused;
    }
    request.scope().completeTaken(this::recycled);
  }

  /**
   * Whether the container has let go of the request: its own async context (not a wrapper's, see
   * {@link #containers}) refuses even to tell its timeout, which it does only once recycled (Jetty 12.1: {@code AsyncContextState} reset;
   * Tomcat 11: {@code AsyncContextImpl} recycled, or {@code onError} returned and the caller is no
   * container thread, which {@link RequestScope#endIfLetGo} guards against by not ending under a
   * dispatch). Not {@code getRequest()}: Tomcat refuses that from {@code dispatch()} until the next
   * {@code startAsync()}, the request going on. Any other exception says nothing of a recycle.
   */
  private boolean recycled() {
    try {
      containers.getTimeout();
      return false;
    } catch (IllegalStateException gone) {
      return true;
    } catch (RuntimeException unknown) {
      return false;
    }
  }

  @Override
  public void start(Runnable run) {
    async.start(run);
  }

  @Override
  public void addListener(AsyncListener listener) {
    async.addListener(listener);
  }

  @Override
  public void addListener(AsyncListener listener, ServletRequest req, ServletResponse res) {
    async.addListener(listener, req, res);
  }

  @Override
  public <T extends AsyncListener> T createListener(Class<T> type) throws ServletException {
    return async.createListener(type);
  }

  @Override
  public void setTimeout(long timeout) {
    async.setTimeout(timeout);
  }

  @Override
  public long getTimeout() {
    return async.getTimeout();
  }

  @Override
  public String toString() {
    return async.toString();
  }
}
