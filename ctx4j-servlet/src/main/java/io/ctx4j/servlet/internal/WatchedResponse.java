package io.ctx4j.servlet.internal;

import io.ctx4j.servlet.RequestCanceledException;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.ServletResponseWrapper;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;

/**
 * A response whose output ends the request context when writing fails: the one way a container
 * that gives no disconnect notice (Tomcat; Jetty over HTTP/1.1) lets a filter learn that the client
 * has gone. Not part of the API.
 *
 * <p>{@code sendError}, with any status, puts the context in the container's request first: the
 * ERROR dispatch that may follow carries that request, not the chain's; once the container took
 * it, the request's state learns that the application chose an error answer ({@link
 * RequestScope#errorSent}).
 *
 * <p>The output stream reports every {@link IOException} of {@code write}, {@code flush} and {@code
 * close} until it is closed (after that, the containers refuse a write because of the close: no
 * sign of the client), and a {@code WriteListener}'s {@code onError}; a throwable from the
 * listener's own {@code onWritePossible} ends the context as a handler failure. The writer, whose
 * container implementation swallows them (a {@link PrintWriter} never throws), is checked with
 * {@link PrintWriter#checkError()} on {@code flush} only, since that check flushes; and before
 * {@code close} if the response is committed already, so that a body sent in parts is checked once
 * more (a response not yet committed is left to the close, which sends it whole, with its length).
 * Never after {@code close}: Jetty's writer reports an error for every check of a closed writer (a
 * try-with-resources block, or the close that ends a forward, would otherwise end the context as a
 * disconnect while the client reads the whole answer). So the failure of a close's own write is not
 * seen through the writer. Neither the stream nor the writer reports anything once the application
 * answered with {@code sendError} or {@code sendRedirect}, after which nothing may be written:
 * Jetty closes its output at a redirect and refuses writes after an error, while the client gets
 * its whole answer. Nor what the containers refuse of a body written past the {@code
 * Content-Length} it declared: both close the output once the length is written. The stream exempts
 * a failed write once the whole length was written, and a failed flush or close once more than the
 * length was (Tomcat drops a write's extra bytes and fails the flush); the writer, an error once
 * more bytes than the length were handed over, or after a check that found the whole length
 * written without error (the writer counts the bytes of its characters exactly in UTF-8 and the
 * single-byte charsets, one per character in any other, never too many). Exactly the length, with
 * a client gone before the end, is a lost client; so is a body written past its length in a
 * multi-byte charset other than UTF-8 (fewer counted than sent). A {@code reset} or {@code
 * resetBuffer} discards what was counted, and so does a forward through the request's dispatcher
 * ({@link #bodyDiscarded}; Jetty's forward clears its buffer without this wrapper, a forward
 * through the {@code ServletContext}'s dispatcher is not seen).
 * What was written is counted once per request, in the request's state ({@link
 * RequestScope#written}, {@link RequestScope#writerBytes}), whichever of the filter's wrappers of
 * the response (the chain's, the {@code AsyncContext}'s, an ASYNC dispatch's) and whichever stream
 * or writer a wrapper in front handed out (one, one per wrapper, or a new one per call) it went
 * through; a reset or an answer through any of them reaches them all, also a stream or writer
 * taken after it, or kept from before. Only a watched stream or writer whose response lies over
 * the container's own through wrappers, none of them another of the filter's, counts ({@link
 * #counts()}): one over an application's wrapper given to {@code startAsync}, over ours, passes its
 * bytes to ours, which counts them as they reach it. A close reaches the request's other streams only through a
 * response over the container's own: a wrapper in between may keep the container's stream open
 * (a stream of the wrapper that ignores {@code close()}), and a client lost after it must still be
 * reported through them (a writer's close through a wrapper reaches only the watched writers over
 * the same object beneath: {@link RequestScope#closedThroughAWrapper}, or all of them once it is
 * seen to close the container's writer: {@link RequestScope#writerClosed}); a write
 * through the closed stream's own response that fails is taken for
 * the close's refusal, even if that wrapper ignored the close. A failure judged a refusal once
 * ({@link RequestScope#refused}) stays one for the watched stream over it and for a flush that
 * fails because of it. The request's state holds counts, not streams, so it does not grow with the
 * calls or the async cycles. Used by one thread at a time, as a response is.
 */
public final class WatchedResponse extends HttpServletResponseWrapper {
  private final RequestScope scope;
  private final ScopedRequest request;
  private WatchedOutput out;
  private ServletOutputStream outDelegate;
  private WatchedWriter writer;
  private PrintWriter writerDelegate;
  /**
   * Set once {@code close()} ran through a watched stream of this response: the containers refuse a
   * later write for that reason alone ("Closed", "may not be written to once it has been closed").
   * For this response's streams only, unless it wraps the container's response itself ({@link
   * RequestScope#outClosed}): a wrapper in between (in front of the filter, or an application's
   * given to {@code startAsync}) may keep the container's stream open, and the request's other
   * streams then still meet the client.
   */
  private boolean outClosed;
  /** As {@link #outClosed}, for this response's writers. */
  private boolean writerClosed;

  /**
   * Wraps {@code response}.
   *
   * @param response the response to watch: the container's, a wrapper in front of the filter's, or
   *     an application's wrapper given to {@code startAsync}
   * @param request the request the chain gets, whose state this response reports to
   */
  public WatchedResponse(HttpServletResponse response, ScopedRequest request) {
    super(response);
    this.scope = request.scope();
    this.request = request;
    if (scope.containerResponse == null) {
      // The request's first watched response is the chain's, made when the filter first sees the
      // request: what lies beneath its wrappers is the container's own response.
      scope.containerResponse = Wrappers.innermost(response);
    }
  }

  /**
   * Returns whether this response reports to {@code scope}.
   *
   * @param scope a request's state
   * @return true if a failed write through this response ends {@code scope}
   */
  public boolean watches(RequestScope scope) {
    return this.scope == scope;
  }

  @Override
  public void sendError(int sc) throws IOException {
    request.publish();
    super.sendError(sc);
    scope.errorSent();
    answered();
  }

  @Override
  public void sendError(int sc, String msg) throws IOException {
    request.publish();
    super.sendError(sc, msg);
    scope.errorSent();
    answered();
  }

  @Override
  public void sendRedirect(String location) throws IOException {
    super.sendRedirect(location);
    answered();
  }

  @Override
  public void sendRedirect(String location, int sc) throws IOException {
    super.sendRedirect(location, sc);
    answered();
  }

  @Override
  public void sendRedirect(String location, boolean clearBuffer) throws IOException {
    super.sendRedirect(location, clearBuffer);
    answered();
  }

  @Override
  public void sendRedirect(String location, int sc, boolean clearBuffer) throws IOException {
    super.sendRedirect(location, sc, clearBuffer);
    answered();
  }

  /**
   * The application's answer is final ({@code sendError} or {@code sendRedirect} returned): the
   * stream and the writer, taken already or later, stop reporting failures, as after their close.
   */
  private void answered() {
    // In the request's state: every watched stream and writer of the request, whichever wrapper
    // took it, before or after, ends in the same container response.
    scope.answered = true;
  }

  /**
   * Whether this response wraps the container's own, with nothing in between: a close through it
   * is known to reach the container's stream or writer. (What the filter takes for the container's
   * is what lies beneath the chain's wrappers: a filter in front that passes on a response of its
   * own that is no wrapper, against the Servlet specification, is taken for the container.)
   */
  private boolean wrapsTheContainers() {
    return getResponse() == scope.containerResponse;
  }

  /**
   * Whether this response's streams and writers count what they pass on: when it lies over the
   * container's own response through {@code ServletResponseWrapper}s only, none of them another of
   * the filter's for the request. One over an application's wrapper given to {@code
   * startAsync(request, response)}, itself over the chain's, passes its bytes to the chain's
   * stream, which counts them as they reach it (a wrapper that buffers or compresses may hand on
   * fewer, or later). One over a response that is no wrapper (a proxy, against the Servlet
   * specification, which asks for the container's objects or wrappers of them) counts nothing:
   * what it lies over cannot be told, and a count that is too low only takes a refusal for a lost
   * client, where one too high would hide a lost client. Read when a watched stream or writer is
   * made: a wrapper may be given another response with {@code setResponse}.
   */
  private boolean counts() {
    ServletResponse r = getResponse();
    for (int i = 0; i < Wrappers.MAX_DEPTH && r instanceof ServletResponseWrapper; i++) {
      if (r instanceof WatchedResponse && ((WatchedResponse) r).scope == scope) {
        return false;
      }
      r = ((ServletResponseWrapper) r).getResponse();
    }
    return r == scope.containerResponse;
  }

  /**
   * Returns the container's stream, watched. What any watched stream of the request counts goes to
   * one count in the request's state ({@link RequestScope#written}), whichever wrapper of the
   * response (the chain's, the {@code AsyncContext}'s, an ASYNC dispatch's) took it, and whatever
   * a wrapper in front hands out (one stream, or a new one per call).
   */
  @Override
  public ServletOutputStream getOutputStream() throws IOException {
    ServletOutputStream s = super.getOutputStream();
    if (s != outDelegate) {
      outDelegate = s;
      out =
          s instanceof WatchedOutput && ((WatchedOutput) s).scope() == scope
              ? (WatchedOutput) s // an application's wrapper hands out ours: counted once
              : new WatchedOutput(s, counts());
    }
    return out;
  }

  /** Returns the container's writer, watched; counted per request as the stream is. */
  @Override
  public PrintWriter getWriter() throws IOException {
    PrintWriter w = super.getWriter();
    if (wrapsTheContainers()) {
      scope.containerWriter = w;
    }
    if (w != writerDelegate) {
      writerDelegate = w;
      writer =
          w instanceof WatchedWriter && ((WatchedWriter) w).scope == scope
              ? (WatchedWriter) w // an application's wrapper hands out ours: counted once
              : new WatchedWriter(w, scope, this, counts());
    }
    return writer;
  }

  /**
   * Flushes the container's buffer; a failure ends the request context as a failed write does,
   * unless it is no news of the client: after the answer or a close, or the container refusing
   * what was written past the declared length (Tomcat fails the flush with the refusal as its
   * cause).
   */
  @Override
  public void flushBuffer() throws IOException {
    try {
      super.flushBuffer();
    } catch (IOException e) {
      throw flushFailed(e);
    }
  }

  private IOException flushFailed(IOException e) {
    if (scope.answered || scope.outClosed || scope.writerClosed || scope.refusedAlready(e)) {
      return e;
    }
    long declared = declaredLength(this);
    if (declared >= 0
        && (scope.written > declared
            || scope.writerBytes > declared
            || scope.writerChecked >= declared
            || scope.writerRefused)) {
      scope.refused = e;
      return e;
    }
    return scope.failed(e);
  }

  /**
   * The {@code Content-Length} that {@code response} declared, or -1 if none can be read (the
   * failure is then the client's, as without a length). Both containers close the output once the
   * declared length is written and refuse what comes after it (Jetty: "Closed"; Tomcat: "may not be
   * written to once it has been closed") while the client gets the whole answer: the failures the
   * stream and the writer must not take for a lost client. Read only when a call failed.
   */
  static long declaredLength(HttpServletResponse response) {
    try {
      String header = response.getHeader("Content-Length");
      return header == null ? -1 : Long.parseLong(header.trim());
    } catch (RuntimeException unreadable) {
      return -1;
    }
  }

  /**
   * Discards the buffered body, and with it what the stream and writer counted: the bytes and
   * characters written so far never reach the client.
   */
  @Override
  public void resetBuffer() {
    super.resetBuffer();
    forgetWritten();
  }

  /** Discards the buffered body, status and headers, and what the stream and writer counted. */
  @Override
  public void reset() {
    super.reset();
    forgetWritten();
  }

  /**
   * The body written so far through {@code response} is discarded (a forward is about to clear the
   * buffer): each of the filter's wrappers in its chain forgets what it counted.
   *
   * @param response the response a forward is given
   */
  static void bodyDiscarded(ServletResponse response) {
    ServletResponse r = response;
    for (int i = 0; i < Wrappers.MAX_DEPTH && r instanceof ServletResponseWrapper; i++) {
      if (r instanceof WatchedResponse) {
        ((WatchedResponse) r).forgetWritten();
      }
      r = ((ServletResponseWrapper) r).getResponse();
    }
  }

  private void forgetWritten() {
    // Forgetting a count can only make a failure read as a lost client, never hide one.
    scope.bodyDiscarded();
  }

  /**
   * Delegates to the container's stream; a failure ends the request context with its cause, until
   * the stream is closed. Counts what it passes on in the request's state when its response
   * {@linkplain #counts() counts}. An inner class: the response's scope and headers through one
   * reference, which keeps the object at 24 bytes (compressed references).
   */
  private final class WatchedOutput extends ServletOutputStream {
    private final ServletOutputStream out;
    /** Whether this stream counts the bytes it passes on: see {@link #counts()}. */
    private final boolean counts;

    WatchedOutput(ServletOutputStream out, boolean counts) {
      this.out = out;
      this.counts = counts;
    }

    RequestScope scope() {
      return scope;
    }

    /**
     * What a failure of this stream ends the request with: a lost client, unless a watched stream
     * of this response was closed (or one of any response over the container's own), the
     * application answered, or the container refused what the application wrote past the length
     * the response declared: a write once the whole length was written, or a flush or close once
     * more than the length was written (Tomcat drops the extra bytes of a write and fails the
     * flush). Not a flush or close after exactly the length: Tomcat may still hold the body's last
     * bytes, and the flush or close that sends them fails for a lost client. Nor a write that
     * crosses the length: neither container refuses one with an {@code IOException} (Jetty throws
     * an {@code IllegalStateException}, Tomcat cuts the body at the length), so its {@code
     * IOException} is the connection's. A failure judged a refusal already (by the watched stream
     * this one wraps, or a write a flush failed after) stays one.
     *
     * @param len the bytes the failed call was to write; 0 for a flush or a close
     */
    private IOException failed(IOException e, long len) {
      if (outClosed || scope.outClosed || scope.answered || scope.refusedAlready(e)) {
        return e;
      }
      long declared = declaredLength(WatchedResponse.this);
      long written = scope.written;
      if (declared >= 0 && (len > 0 ? written >= declared : written > declared)) {
        scope.refused = e;
        return e;
      }
      return scope.failed(e);
    }

    @Override
    public void write(int b) throws IOException {
      try {
        out.write(b);
      } catch (IOException e) {
        throw failed(e, 1);
      }
      if (counts) {
        scope.written++;
      }
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      try {
        out.write(b, off, len);
      } catch (IOException e) {
        throw failed(e, len);
      }
      if (counts) {
        scope.written += len;
      }
    }

    @Override
    public void write(ByteBuffer buffer) throws IOException {
      int len = buffer.remaining();
      try {
        out.write(buffer);
      } catch (IOException e) {
        throw failed(e, len);
      }
      if (counts) {
        scope.written += len;
      }
    }

    @Override
    public void flush() throws IOException {
      try {
        out.flush();
      } catch (IOException e) {
        throw failed(e, 0);
      }
    }

    @Override
    public void close() throws IOException {
      try {
        out.close();
      } catch (IOException e) {
        throw failed(e, 0); // the close's own write: the last failure that can mean a lost client
      } finally {
        outClosed = true;
        if (wrapsTheContainers()) {
          scope.outClosed = true;
        }
      }
    }

    @Override
    public boolean isReady() {
      return out.isReady();
    }

    /**
     * Sets {@code listener} on the container's stream, wrapped; a null listener goes to the
     * container as it is, which refuses it (Tomcat) or takes it (Jetty) as it would without the
     * filter.
     */
    @Override
    public void setWriteListener(WriteListener listener) {
      if (listener == null) {
        out.setWriteListener(null);
        return;
      }
      out.setWriteListener(
          new WriteListener() {
            @Override
            public void onWritePossible() throws IOException {
              try {
                listener.onWritePossible();
              } catch (Throwable t) {
                // The application's callback failed, not the exchange (a write through this
                // stream that failed has ended the context as a lost client already): the
                // container hands the same throwable to onError below and to AsyncListener.onError,
                // where an IOException of the application's own would pass for a lost client.
                scope.end(RequestScope.handlerFailed(t));
                throw t;
              }
            }

            @Override
            public void onError(Throwable t) {
              scope.end(scope.containerFailure(t));
              listener.onError(t);
            }
          });
    }
  }

  /**
   * Delegates to the container's writer, which swallows I/O errors; {@code flush}, {@code
   * checkError} and, once the response is committed, {@code close} ask it whether one happened.
   * Counts what it is handed in the request's state when its response {@linkplain #counts()
   * counts}: the bytes of its characters exactly in UTF-8 and in the single-byte charsets (a
   * character each), and never more than they encode to in any other charset a response uses (a
   * character each, again). The rules need a count that is never too high: one too high would hide
   * a lost client. A lone surrogate counts one (a replacement of one byte or more); a pair four,
   * also split across two calls. Counted when handed over, also after the container's writes
   * failed: so exactly the length says nothing of the client.
   */
  static final class WatchedWriter extends PrintWriter {
    private final PrintWriter inner;
    private final RequestScope scope;
    private final WatchedResponse response;
    /**
     * Whether the writer encodes UTF-8, read once: the Servlet API fixes the charset when the
     * writer is taken.
     */
    private final boolean utf8;
    /** Whether this writer counts what it is handed: see {@link #counts()}. */
    private final boolean counts;
    WatchedWriter(
        PrintWriter inner, RequestScope scope, WatchedResponse response, boolean counts) {
      super(inner);
      this.inner = inner;
      this.scope = scope;
      this.response = response;
      this.counts = counts;
      String charset = response.getCharacterEncoding();
      this.utf8 = "UTF-8".equalsIgnoreCase(charset) || "UTF8".equalsIgnoreCase(charset);
    }

    /**
     * Asks the writer whether writing failed as its {@link #close} does, and as the request does
     * after a {@code complete()} taken during a dispatch ({@link RequestScope#dispatchReturned}):
     * only once the response is committed, never once closed.
     */
    void checkAtTheEnd() {
      if (!closed() && committed()) {
        check();
      }
    }

    /**
     * Whether the response is committed; false if the container refuses to tell, having recycled
     * the request (Jetty 12.1 throws then): a writer closed that late, as by a try-with-resources
     * around {@code complete()}, must not throw where the container's own would not.
     */
    private boolean committed() {
      try {
        return response.isCommitted();
      } catch (RuntimeException recycled) {
        return false;
      }
    }

    private boolean closed() {
      return response.writerClosed
          || scope.writerClosed
          || scope.answered
          || inner == scope.closedThroughAWrapper;
    }

    /** Whether this writer lies right over the container's own ({@link RequestScope#containerWriter}). */
    boolean overTheContainers() {
      return inner == scope.containerWriter;
    }

    private void count(CharSequence s, int off, int len) {
      if (!counts || len <= 0) {
        return;
      }
      scope.writtenTo(this);
      if (!utf8) {
        scope.writerBytes += len;
        return;
      }
      int i = off;
      long n = 0;
      if (scope.writerHighPending && Character.isLowSurrogate(s.charAt(i))) {
        n = 3; // with the 1 counted for the high: the pair's 4
        i++;
      }
      n += utf8Length(s, i, off + len - i);
      scope.writerHighPending = Character.isHighSurrogate(s.charAt(off + len - 1));
      scope.writerBytes += n;
    }

    /**
     * The bytes UTF-8 encodes {@code len} characters of {@code s} from {@code off} to: more than
     * one for a character from U+0080 on, four for a surrogate pair (in range: the caller's write
     * checked it).
     */
    private static long utf8Length(CharSequence s, int off, int len) {
      long n = len;
      for (int i = off, end = off + len; i < end; i++) {
        char c = s.charAt(i);
        if (c < 0x80) {
          continue;
        }
        if (c < 0x800) {
          n += 1;
        } else if (Character.isHighSurrogate(c)
            && i + 1 < end
            && Character.isLowSurrogate(s.charAt(i + 1))) {
          n += 2;
          i++;
        } else if (!Character.isSurrogate(c)) {
          n += 2;
        }
      }
      return n;
    }

    /**
     * Asks the writer (which flushes) whether writing failed, and if so ends the request, unless
     * the container refused what the application wrote past the length the response declared:
     * more bytes than the length were handed over, or an earlier check found the whole length
     * written without error. Exactly the length, first checked now, is reported:
     * the client may have gone before the body's end.
     */
    private boolean check() {
      boolean error = inner.checkError();
      if (!error) {
        scope.writerChecked = scope.writerBytes;
      } else if (!closed() && !scope.writerRefused) {
        // A writer's error stays set: once a watched writer took it for a refusal past the length,
        // one that wraps it (an application's writer over ours, given to startAsync) sees the same
        // error and must not take it for a lost client.
        writeFailed();
      }
      return error;
    }

    /** A write failed: a refusal past the declared length, else a lost client, which ends the request. */
    private void writeFailed() {
      if (refusedPastTheLength()) {
        scope.writerRefused = true;
      } else {
        scope.end(
            new RequestCanceledException(
                Reason.CLIENT_DISCONNECTED, "writing the response failed", null));
      }
    }

    private boolean refusedPastTheLength() {
      long declared = declaredLength(response);
      return declared >= 0
          && (scope.writerBytes > declared || scope.writerChecked >= declared);
    }

    @Override
    public void write(int c) {
      inner.write(c);
      if (!counts) {
        return;
      }
      scope.writtenTo(this);
      char ch = (char) c;
      if (utf8 && scope.writerHighPending && Character.isLowSurrogate(ch)) {
        scope.writerBytes += 3;
        scope.writerHighPending = false;
        return;
      }
      scope.writerHighPending = utf8 && Character.isHighSurrogate(ch);
      scope.writerBytes +=
          !utf8 || ch < 0x80 || Character.isSurrogate(ch) ? 1 : ch < 0x800 ? 2 : 3;
    }

    // After the write: a range the writer refuses (an IndexOutOfBoundsException) wrote nothing.
    @Override
    public void write(char[] buf, int off, int len) {
      inner.write(buf, off, len);
      count(java.nio.CharBuffer.wrap(buf), off, len);
    }

    @Override
    public void write(String s, int off, int len) {
      inner.write(s, off, len);
      count(s, off, len);
    }

    /** PrintWriter writes the line separator straight to the writer it wraps, past write(). */
    @Override
    public void println() {
      if (counts) {
        scope.writtenTo(this);
        scope.writerBytes += System.lineSeparator().length();
        scope.writerHighPending = false;
      }
      super.println();
    }

    @Override
    public void flush() {
      inner.flush();
      if (!closed()) {
        check();
      }
    }

    @Override
    public void close() {
      checkAtTheEnd(); // flushes what is buffered, after parts already sent
      response.writerClosed = true;
      scope.closed(this);
      if (response.wrapsTheContainers()) {
        scope.writerClosed = true;
        inner.close();
      } else {
        // A close through a wrapper in front: the writer it closes may be the one another watched
        // writer of the request wraps too (a plain wrapper hands out the container's own, or keeps
        // one PrintWriter over it), which Jetty then reports in error for every check. Only a
        // writer over an object the close reached takes it for its own; one over another (the
        // container's, while the wrapper's writer kept it open) goes on reporting a lost client.
        closeThroughAWrapper();
      }
    }

    /**
     * Closes {@code inner}, a wrapper's writer, and finds whether that closed the container's own
     * writer too: a wrapper that keeps one {@code PrintWriter} of its own over the container's (or
     * makes one per call) closes it with its own, one that shields the close does not, and the two
     * cannot be told apart beforehand; on Jetty a closed writer is in error for every check, as is
     * one that met a lost client. So, once the response is committed and a watched writer took the
     * container's writer ({@link RequestScope#containerWriter}), the container's writer as it is
     * now is asked before and after the close. Before: once the wrapper's writer is flushed, so
     * that the close has (almost) nothing left to send; an error then is a loss in what was written
     * so far, judged as {@link #check} judges one. After: an error only then is, on Tomcat (whose
     * closed writer is not in error), the close's own write (a wrapper's trailer) meeting a lost
     * client, judged the same; on Jetty the close's, and no writer of the request checks any more,
     * so that Jetty takes the failure of the close's own write for the close (README, limits). Only
     * the container's writer is asked: its flush sends only what it holds, in order, where another
     * writer's would send that writer's unflushed text (a tee wrapper's). Not while the response is
     * uncommitted: no byte has met the client, and the flush would commit it (its length lost; a
     * buffering wrapper's ETag or an outer filter's later headers too); nor when no watched writer
     * took the container's writer (README, limits). Never throws for the asking: a writer the
     * container recycled under a racing thread may.
     */
    private void closeThroughAWrapper() {
      scope.closedThroughAWrapper = inner;
      PrintWriter own = scope.containerWriter;
      if (own == null || own == inner || scope.writerClosed || !committed()) {
        // Not committed: no byte has met the client, and a flush here would commit the response
        // (its length lost, a wrapper's later headers too).
        inner.close();
        return;
      }
      own = containerWriterNow(own);
      inner.flush();
      boolean lostBefore = inError(own);
      if (lostBefore) {
        lost();
      }
      inner.close();
      if (!lostBefore && inError(own)) {
        if (ContainerHooks.closedWriterStaysClean(own)) {
          // Tomcat: a closed writer is not in error, so the close's own write (a wrapper's
          // trailer) met a lost client.
          lost();
        } else {
          // Jetty: the close closed the container's writer, as a close right over it does, or
          // its own write met a lost client, which Jetty reports the same. Nothing any writer of
          // the request writes reaches the client now, taken before or after it, and the closed
          // writer is in error for every check.
          scope.writerClosed = true;
        }
      }
    }

    /**
     * The container's writer as it is now: after a reset that changed the charset, Jetty 12.1
     * hands out a new one, and the one a watched writer took first would tell nothing of the close.
     * Asked of the container's own response, once committed: its output is a writer by then
     * (a wrapper's writer over the container's took it), and getWriter() only returns it on both
     * containers. {@code taken} if the container refuses (its stream in use, the request recycled).
     */
    private PrintWriter containerWriterNow(PrintWriter taken) {
      try {
        return ((jakarta.servlet.ServletResponse) scope.containerResponse).getWriter();
      } catch (IOException | RuntimeException refused) {
        return taken;
      }
    }

    private static boolean inError(PrintWriter w) {
      try {
        return w.checkError();
      } catch (RuntimeException recycled) {
        return false;
      }
    }

    /**
     * A loss found by {@link #closeThroughAWrapper}, before the close or (Tomcat) in the close's own
     * write: judged as {@link #check} judges one, this writer's own close (begun) aside.
     */
    private void lost() {
      if (!scope.writerClosed && !scope.answered && !scope.writerRefused) {
        writeFailed();
      }
    }

    @Override
    public boolean checkError() {
      return check();
    }
  }
}
