package io.ctx4j.servlet.internal;

import jakarta.servlet.AsyncContext;
import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletRequestWrapper;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.Part;
import java.io.BufferedReader;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;

/**
 * The request as the filter passes it down the chain: it answers the context attribute itself, so
 * that a request which stays synchronous never stores it in the container. Not part of the API.
 *
 * <p>Why: the context attribute was a request's first attribute, for which Jetty 12 creates its
 * attribute map (a {@code ConcurrentHashMap} and its table) and, at every {@code setAttribute},
 * a list of the attribute listeners: 45% of the filter's allocation and about a seventh of its CPU
 * samples ({@code results/2026-12-02-servlet-ten-forks}). The attribute is put in the container
 * only where a request without this wrapper may look for it: when async processing starts
 * ({@link #startAsync}: the ASYNC dispatch and {@code AsyncContext.getRequest()} carry the request
 * given to {@code startAsync}, the container's own for the form without arguments), and, by the
 * filter, when the dispatch fails or sends an error (the ERROR dispatch carries the container's
 * request).
 *
 * <p>The attribute is read-only through this request, and so is the filter's state's ({@link
 * RequestScope#ATTRIBUTE}): {@code setAttribute} and {@code removeAttribute} of their names are
 * ignored, since a later dispatch that found another value, or none, would run with another
 * context.
 *
 * <p>Used by the threads the container and the handler use for a request, one at a time except for
 * {@link #getAttribute}, which only reads final fields; {@link #publish} is idempotent and may race
 * with itself harmlessly (two puts of the same value).
 */
public final class ScopedRequest extends HttpServletRequestWrapper {
  private final String attribute;
  private final RequestScope scope;
  private final Object owner;
  private volatile boolean published;
  /** What {@code startAsync} (either form) returned last, if it was called. */
  private volatile WatchedAsyncContext watchedAsync;
  /**
   * What {@link #getInputStream()} or {@link #getReader()} returned last (a {@link WatchedInput} or
   * a {@link WatchedReader}: a request gives one or the other), if either was called. One field,
   * no more: every request allocates this object, and with it the object keeps the 40 bytes it had
   * (with compressed references, the JVM's default below 32 GB of heap: the field takes what was
   * padding).
   */
  private Object body;

  /**
   * Wraps {@code request}.
   *
   * @param request the request as the filter got it
   * @param attribute the name under which the request context is found
   * @param scope the request's state
   * @param owner the filter that made the scope, for a second filter in the chain to tell
   * @throws IllegalArgumentException if {@code request} is null (as any wrapper)
   */
  public ScopedRequest(
      HttpServletRequest request, String attribute, RequestScope scope, Object owner) {
    super(request);
    this.attribute = attribute;
    this.scope = scope;
    this.owner = owner;
  }

  /**
   * Returns the filter that made the scope of {@code request}: the owner of the first {@code
   * ScopedRequest} among {@code request} and the requests it wraps, or null if there is none.
   *
   * @param request a request
   * @return the owner, or null
   */
  public static Object ownerOf(ServletRequest request) {
    ServletRequest r = request;
    for (int i = 0; i < Wrappers.MAX_DEPTH && r instanceof ServletRequestWrapper; i++) {
      if (r instanceof ScopedRequest) {
        return ((ScopedRequest) r).owner;
      }
      r = ((ServletRequestWrapper) r).getRequest();
    }
    return null;
  }

  /**
   * Returns the request that {@code request} wraps, through all its wrappers: the container's own.
   *
   * @param request a request
   * @return the innermost request (after at most {@link Wrappers#MAX_DEPTH} wrappers)
   */
  public static ServletRequest innermost(ServletRequest request) {
    return Wrappers.innermost(request);
  }

  /**
   * Returns the request's state.
   *
   * @return the scope
   */
  public RequestScope scope() {
    return scope;
  }

  /**
   * Puts the context attribute in the request this one wraps, and so in the container's, once it
   * has succeeded: a put that throws is tried again by the next call. Through the wrappers in
   * between, which may refuse it; and then in the container's own request if it is not there: a
   * wrapper may keep the attributes set through it to itself, while the ASYNC and ERROR dispatches
   * and {@code AsyncContext.getRequest()} carry the container's request.
   *
   * @throws RuntimeException as thrown by {@code setAttribute}
   */
  public void publish() {
    if (!published) {
      Object ctx = scope.context();
      super.setAttribute(attribute, ctx);
      reachContainer(getRequest(), attribute, ctx);
      // Only now: getAttributeNames lists the attribute itself until the container does.
      published = true;
    }
  }

  /**
   * Puts {@code name} in the container's request under {@code request} if it did not get there
   * through the wrappers (one that keeps attributes to itself). Nothing to do, and no lookup, when
   * {@code request} is the container's.
   *
   * @param request a request, maybe wrapped
   * @param name the attribute's name
   * @param value its value
   * @throws RuntimeException as thrown by the container's {@code setAttribute}
   */
  public static void reachContainer(ServletRequest request, String name, Object value) {
    if (request instanceof ServletRequestWrapper) {
      ServletRequest container = innermost(request);
      if (container.getAttribute(name) != value) {
        container.setAttribute(name, value);
      }
    }
  }

  /**
   * Looks {@code name} up under the wrappers in front of {@code request}, which a wrapper that
   * keeps attributes to itself may hide from a later dispatch (ASYNC, FORWARD, INCLUDE, ERROR): in
   * the first {@code ScopedRequest} among {@code request} and the requests it wraps that has it (a
   * forward carries the first dispatch's), else in the container's own request (where {@link
   * #publish} and the filter put it for the ASYNC and ERROR dispatches). Nothing to look up, and
   * null, when {@code request} is not wrapped: the caller has asked it already.
   *
   * @param request the request of a later dispatch, maybe wrapped
   * @param name the attribute's name
   * @return the attribute, or null
   */
  public static Object underWrappers(ServletRequest request, String name) {
    if (!(request instanceof ServletRequestWrapper)) {
      return null;
    }
    ServletRequest r = request;
    for (int i = 0; i < Wrappers.MAX_DEPTH && r instanceof ServletRequestWrapper; i++) {
      if (r instanceof ScopedRequest) {
        Object v = r.getAttribute(name);
        if (v != null) {
          return v;
        }
      }
      r = ((ServletRequestWrapper) r).getRequest();
    }
    return r.getAttribute(name);
  }

  @Override
  public Object getAttribute(String name) {
    // The identity test first: the filter and contextOf pass the constant itself.
    if (name == attribute || attribute.equals(name)) {
      return scope.context();
    }
    return super.getAttribute(name);
  }

  /**
   * Ignored for the context attribute and the scope's ({@link RequestScope#ATTRIBUTE}), which are
   * read-only; otherwise delegates.
   */
  @Override
  public void setAttribute(String name, Object value) {
    if (!readOnly(name)) {
      super.setAttribute(name, value);
    }
  }

  /**
   * Ignored for the context attribute and the scope's, which are read-only; otherwise delegates.
   */
  @Override
  public void removeAttribute(String name) {
    if (!readOnly(name)) {
      super.removeAttribute(name);
    }
  }

  /**
   * The context attribute, and the scope's: an application that clears the request's attributes
   * (all of them, or those of {@code io.ctx4j}) would otherwise leave the ASYNC dispatch without the
   * request's state, to run with a new context and budget, its response no longer watched.
   */
  private boolean readOnly(String name) {
    return attribute.equals(name) || RequestScope.ATTRIBUTE.equals(name);
  }

  @Override
  public Enumeration<String> getAttributeNames() {
    // The flag first: once it is set, the container's names include the attribute.
    boolean inContainer = published;
    Enumeration<String> names = super.getAttributeNames();
    if (inContainer) {
      return names;
    }
    List<String> all = names == null ? new ArrayList<>() : Collections.list(names);
    if (!all.contains(attribute)) {
      all.add(attribute);
    }
    return Collections.enumeration(all);
  }

  /**
   * The container's stream, watched (see {@link WatchedInput}): a read that fails ends the context
   * (a lost client, or the container's read timeout) before the caller sees the exception, and a
   * {@code ReadListener} set on it whose {@code onDataAvailable} or {@code onAllDataRead} throws
   * ends it as a handler failure. Made at the first call (a request that never reads its body
   * pays nothing for it), and again if the container hands out another stream.
   */
  @Override
  public ServletInputStream getInputStream() throws IOException {
    ServletInputStream in = super.getInputStream();
    Object b = body;
    if (b instanceof WatchedInput && ((WatchedInput) b).wraps(in)) {
      return (WatchedInput) b;
    }
    WatchedInput w = new WatchedInput(in, scope, getRequest());
    body = w;
    return w;
  }

  /**
   * The container's reader, watched (see {@link WatchedReader}): a read that fails ends the
   * context before the caller sees the exception. Made at the first call, as the stream is.
   */
  @Override
  public BufferedReader getReader() throws IOException {
    BufferedReader in = super.getReader();
    Object b = body;
    if (b instanceof WatchedReader && ((WatchedReader) b).wraps(in)) {
      return (WatchedReader) b;
    }
    WatchedReader w = new WatchedReader(in, scope, getRequest());
    body = w;
    return w;
  }

  /**
   * The container's, watched: on a form POST the container reads the body for it, and a read that
   * fails because the client went away or the read timed out ends the context (see {@link
   * RequestScope#bodyFailed}) before the caller sees the container's exception, unchanged.
   */
  @Override
  public String getParameter(String name) {
    try {
      return super.getParameter(name);
    } catch (RuntimeException e) {
      scope.bodyFailed(e);
      throw e;
    }
  }

  /** The container's, watched as {@link #getParameter} is. */
  @Override
  public Map<String, String[]> getParameterMap() {
    try {
      return super.getParameterMap();
    } catch (RuntimeException e) {
      scope.bodyFailed(e);
      throw e;
    }
  }

  /** The container's, watched as {@link #getParameter} is. */
  @Override
  public Enumeration<String> getParameterNames() {
    try {
      return super.getParameterNames();
    } catch (RuntimeException e) {
      scope.bodyFailed(e);
      throw e;
    }
  }

  /** The container's, watched as {@link #getParameter} is. */
  @Override
  public String[] getParameterValues(String name) {
    try {
      return super.getParameterValues(name);
    } catch (RuntimeException e) {
      scope.bodyFailed(e);
      throw e;
    }
  }

  /**
   * The container's, watched: the container reads a multipart body for it, and a read that fails
   * because the client went away or the read timed out ends the context (see {@link
   * RequestScope#bodyFailed}) before the caller sees the container's exception, unchanged.
   */
  @Override
  public Collection<Part> getParts() throws IOException, ServletException {
    try {
      return super.getParts();
    } catch (IOException | ServletException | RuntimeException e) {
      scope.bodyFailed(e);
      throw e;
    }
  }

  /** The container's, watched as {@link #getParts} is. */
  @Override
  public Part getPart(String name) throws IOException, ServletException {
    try {
      return super.getPart(name);
    } catch (IOException | ServletException | RuntimeException e) {
      scope.bodyFailed(e);
      throw e;
    }
  }

  /**
   * Starts async processing as the container does, and returns its {@code AsyncContext} with a
   * watched response (see {@link WatchedAsyncContext}): the response it hands out is the
   * container's own, which the filter would not see otherwise.
   */
  /**
   * The container's dispatcher for {@code path}, whose {@code forward} first tells the filter's
   * response wrappers in the response it is given that the body written so far is discarded (Jetty
   * 12.1's forward clears its buffer without going through them; Tomcat's calls {@code
   * resetBuffer()} on the response given): so what was written before the forward does not count
   * towards the target's declared length (see {@link WatchedResponse}). Not the dispatchers of
   * {@code ServletContext}, which the filter does not see.
   */
  @Override
  public RequestDispatcher getRequestDispatcher(String path) {
    RequestDispatcher d = super.getRequestDispatcher(path);
    return d == null ? null : new ForwardingDispatcher(d);
  }

  /** Forgets the written body before a forward; see {@link #getRequestDispatcher}. */
  private static final class ForwardingDispatcher implements RequestDispatcher {
    private final RequestDispatcher d;

    ForwardingDispatcher(RequestDispatcher d) {
      this.d = d;
    }

    @Override
    public void forward(ServletRequest request, ServletResponse response)
        throws ServletException, IOException {
      if (response != null && !response.isCommitted()) {
        // Committed, the forward throws and discards nothing.
        WatchedResponse.bodyDiscarded(response);
      }
      d.forward(request, response);
    }

    @Override
    public void include(ServletRequest request, ServletResponse response)
        throws ServletException, IOException {
      d.include(request, response);
    }
  }

  @Override
  public AsyncContext startAsync() {
    publish();
    AsyncContext async = listened(super.startAsync());
    WatchedAsyncContext w = new WatchedAsyncContext(async, this, true);
    watchedAsync = w;
    return w;
  }

  /**
   * The container's {@code AsyncContext}, or the watched one {@code startAsync} made of it: the
   * same, whichever way the application asks for it.
   */
  @Override
  public AsyncContext getAsyncContext() {
    AsyncContext async = super.getAsyncContext();
    WatchedAsyncContext w = watchedAsync;
    return w != null && w.wraps(async) ? w : async;
  }

  @Override
  public AsyncContext startAsync(ServletRequest request, ServletResponse response) {
    publish();
    AsyncContext async = listened(super.startAsync(request, response));
    WatchedAsyncContext w = new WatchedAsyncContext(async, this, false);
    watchedAsync = w;
    return w;
  }

  /**
   * Registers the scope with the new cycle now, before the application adds listeners of its own:
   * the container tells listeners in the order they were added. If the container refuses, the
   * filter tries again when the dispatch returns, and deals with a refusal there.
   */
  private AsyncContext listened(AsyncContext async) {
    try {
      scope.listenTo(async);
    } catch (RuntimeException notNow) {
      // Left to the dispatch's return (ContextServletFilter.afterDispatch).
    }
    return async;
  }
}
