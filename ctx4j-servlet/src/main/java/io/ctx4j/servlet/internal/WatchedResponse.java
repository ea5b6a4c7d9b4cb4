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
 * Every wrapper of one response (the chain's, the {@code AsyncContext}'s, an ASYNC dispatch's)
 * hands out the same watched stream or writer for the same underlying one, and the request's state
 * keeps them all ({@link RequestScope#output}): one count per request, and a reset or an answer
 * through any wrapper reaches every one, also a stream or writer taken after the answer. A
 * wrapper in front that hands out a new stream or writer per call gets one count: the new watched
 * one takes over the last one's count and its place in the request's state, so the state does not
 * grow with the calls, and the old one, if the application kept it, goes on through its heir. A
 * failure is judged once, by the watched stream or writer nearest the container ({@link
 * RequestScope#refused}): one that wraps another (an application's wrapper given to {@code
 * startAsync} over ours) takes its verdict. Used by one thread at a time, as a response is.
 */
public final class WatchedResponse extends HttpServletResponseWrapper {
  private final RequestScope scope;
  private final ScopedRequest request;
  private WatchedOutput out;
  private ServletOutputStream outDelegate;
  private WatchedWriter writer;
  private PrintWriter writerDelegate;
  /** Whether {@link #out} was made here for a stream no watched one had: see getOutputStream. */
  private boolean outMadeHere;
  /** As {@link #outMadeHere}, for {@link #writer}. */
  private boolean writerMadeHere;

  /**
   * Wraps {@code response}.
   *
   * @param response the container's response
   * @param request the request the chain gets, whose state this response reports to
   */
  public WatchedResponse(HttpServletResponse response, ScopedRequest request) {
    super(response);
    this.scope = request.scope();
    this.request = request;
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
    // In the request's state: a stream or writer taken later through another wrapper is closed too.
    scope.answered = true;
    // Every watched stream and writer of the request, whichever wrapper took it: they all end in
    // the same container response.
    for (Object o : all(scope.output)) {
      ((WatchedOutput) o).closed = true;
    }
    for (Object w : all(scope.writer)) {
      ((WatchedWriter) w).closed = true;
    }
  }

  /**
   * The watched streams (or writers) of a request, as {@link RequestScope#output} keeps them: none
   * (null), one (the usual case, kept as it is), or several in an {@code Object[]} (wrappers that
   * hand out streams of their own: an application's in front of the filter, the container's own
   * behind {@code AsyncContext.getResponse()}).
   */
  private static Object[] all(Object kept) {
    return kept == null ? NONE : kept instanceof Object[] ? (Object[]) kept : new Object[] {kept};
  }

  private static final Object[] NONE = {};

  /** {@code kept} with {@code one} added (see {@link #all}). */
  private static Object with(Object kept, Object one) {
    if (kept == null) {
      return one;
    }
    Object[] old = all(kept);
    Object[] more = java.util.Arrays.copyOf(old, old.length + 1);
    more[old.length] = one;
    return more;
  }

  /** {@code kept} with {@code old} replaced by {@code now}, or with {@code now} added. */
  private static Object replaced(Object kept, Object old, Object now) {
    if (kept == old) {
      return now;
    }
    if (kept instanceof Object[]) {
      Object[] all = (Object[]) kept;
      for (int i = 0; i < all.length; i++) {
        if (all[i] == old) {
          all[i] = now; // the request's own array, used by one thread at a time
          return kept;
        }
      }
    }
    return with(kept, now);
  }

  /**
   * Returns the container's stream, watched. Every wrapper of the request's response over the same
   * container stream (the chain's, the {@code AsyncContext}'s, an ASYNC dispatch's) hands out one
   * watched stream, kept in the request's state, so that what was written is counted once per
   * request.
   */
  @Override
  public ServletOutputStream getOutputStream() throws IOException {
    ServletOutputStream s = super.getOutputStream();
    if (s != outDelegate) {
      outDelegate = s;
      WatchedOutput found = null;
      if (s instanceof WatchedOutput && ((WatchedOutput) s).scope() == scope) {
        found = (WatchedOutput) s; // an application's wrapper hands out ours: counted once
      } else {
        for (Object o : all(scope.output)) {
          if (((WatchedOutput) o).out == s) {
            found = (WatchedOutput) o;
          }
        }
      }
      boolean made = found == null;
      if (made) {
        found = new WatchedOutput(s);
        if (outMadeHere) {
          // A wrapper in front that hands out a new stream per call (Spring Security's
          // OnCommittedResponseWrapper): the same body, so the new one goes on with the count and
          // takes the old one's place, or a loop of getOutputStream().write(...) would keep one
          // per call and count apart.
          found.takeOver(out);
          scope.output = replaced(scope.output, out, found);
        } else {
          scope.output = with(scope.output, found);
        }
      }
      outMadeHere = made;
      out = found;
      out.closed |= scope.answered;
    }
    return out;
  }

  /** Returns the container's writer, watched; shared as the stream is. */
  @Override
  public PrintWriter getWriter() throws IOException {
    PrintWriter w = super.getWriter();
    if (w != writerDelegate) {
      writerDelegate = w;
      WatchedWriter found = null;
      if (w instanceof WatchedWriter && ((WatchedWriter) w).scope == scope) {
        found = (WatchedWriter) w; // an application's wrapper hands out ours: counted once
      } else {
        for (Object o : all(scope.writer)) {
          if (((WatchedWriter) o).inner == w) {
            found = (WatchedWriter) o;
          }
        }
      }
      boolean made = found == null;
      if (made) {
        found = new WatchedWriter(w, scope, this);
        if (writerMadeHere) {
          found.takeOver(writer); // a new writer per call: as the stream, one count
          scope.writer = replaced(scope.writer, writer, found);
        } else {
          scope.writer = with(scope.writer, found);
        }
      }
      writerMadeHere = made;
      writer = found;
      writer.closed |= scope.answered;
    }
    return writer;
  }

  @Override
  public void flushBuffer() throws IOException {
    try {
      super.flushBuffer();
    } catch (IOException e) {
      throw scope.failed(e);
    }
  }

  /**
   * The {@code Content-Length} that {@code response} declared, or -1 if none can be read (the
   * failure is then the client's, as without a length). Both containers close the output once the
   * declared length is written and refuse what comes after it (Jetty: "Closed"; Tomcat: "may not be
   * written to once it has been closed") while the client gets the whole answer: the failures the
   * stream and the writer must not take for a lost client. Read only when a call failed.
   */
  private static long declaredLength(HttpServletResponse response) {
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
    // Bounded: a wrapper chain is finite, but a broken wrapper may return itself.
    for (int i = 0; i < 64 && r instanceof ServletResponseWrapper; i++) {
      if (r instanceof WatchedResponse) {
        ((WatchedResponse) r).forgetWritten();
      }
      r = ((ServletResponseWrapper) r).getResponse();
    }
  }

  private void forgetWritten() {
    // Every watched stream and writer of the request, whichever wrapper took it: forgetting a
    // count can only make a failure read as a lost client, never hide one.
    scope.refused = null;
    scope.writerRefused = false;
    for (Object o : all(scope.output)) {
      ((WatchedOutput) o).written = 0;
    }
    for (Object o : all(scope.writer)) {
      WatchedWriter w = (WatchedWriter) o;
      w.bytes = 0;
      w.checkedBytes = -1;
      w.highPending = false;
    }
  }

  /**
   * Delegates to the container's stream; a failure ends the request context with its cause, until
   * the stream is closed. An inner class: the response's scope and headers through one reference,
   * which keeps the object at 40 bytes (compressed references) with its count and its heir.
   */
  private final class WatchedOutput extends ServletOutputStream {
    private final ServletOutputStream out;
    /** Bytes the container took through this stream: writes that returned. */
    private long written;
    /**
     * Set once {@code close()} has run (through this stream: the application's, or a forward's as
     * Jetty ends one), or the application answered with {@code sendError} or {@code sendRedirect}:
     * the containers refuse a later write for that reason alone ("Closed", "may not be written to
     * once it has been closed"), and the client may have had the whole answer.
     */
    private boolean closed;
    /** The watched stream that took this one's place and count, if any. */
    private WatchedOutput heir;

    private WatchedOutput current() {
      WatchedOutput c = this;
      while (c.heir != null) {
        c = c.heir;
      }
      if (heir != null) {
        heir = c; // shortened: a kept old one does not walk every call's
      }
      return c;
    }

    /**
     * What a failure of this stream ends the request with: a lost client, unless it was closed or
     * it refused what the application wrote past the length the response declared: a write once
     * the whole length was written, or a flush or close once more than the length was written
     * (Tomcat drops the extra bytes of a write and fails the flush). Not a flush or close after
     * exactly the length: Tomcat may still hold the body's last bytes, and the flush or close that
     * sends them fails for a lost client. Nor a write that crosses the length: neither container
     * refuses one with an {@code IOException} (Jetty throws an {@code IllegalStateException},
     * Tomcat cuts the body at the length), so its {@code IOException} is the connection's.
     *
     * @param len the bytes the failed call was to write; 0 for a flush or a close
     */
    private IOException failed(IOException e, long len) {
      return current().judged(e, len);
    }

    /** {@link #failed}, on the stream that holds the count: this one, with no heir. */
    private IOException judged(IOException e, long len) {
      if (closed || e == scope.refused) {
        return e; // closed, or a watched stream this one wraps judged it a refusal already
      }
      long declared = declaredLength(WatchedResponse.this);
      boolean refused = declared >= 0 && (len > 0 ? written >= declared : written > declared);
      if (refused) {
        scope.refused = e;
        return e;
      }
      return scope.failed(e);
    }

    RequestScope scope() {
      return scope;
    }

    WatchedOutput(ServletOutputStream out) {
      this.out = out;
    }

    /**
     * Goes on from {@code old}, a stream of the same body that this one replaces: its count and
     * its close, and a kept {@code old} counts on, and is reset and answered, through this one.
     */
    void takeOver(WatchedOutput old) {
      written = old.written;
      closed = old.closed;
      old.heir = this;
    }

    @Override
    public void write(int b) throws IOException {
      try {
        out.write(b);
      } catch (IOException e) {
        throw failed(e, 1);
      }
      current().written++;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      try {
        out.write(b, off, len);
      } catch (IOException e) {
        throw failed(e, len);
      }
      current().written += len;
    }

    @Override
    public void write(ByteBuffer buffer) throws IOException {
      int len = buffer.remaining();
      try {
        out.write(buffer);
      } catch (IOException e) {
        throw failed(e, len);
      }
      current().written += len;
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
        current().closed = true;
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
              scope.end(RequestScope.failure(t));
              listener.onError(t);
            }
          });
    }
  }

  /**
   * Delegates to the container's writer, which swallows I/O errors; {@code flush}, {@code
   * checkError} and, once the response is committed, {@code close} ask it whether one happened.
   */
  private static final class WatchedWriter extends PrintWriter {
    private final PrintWriter inner;
    private final RequestScope scope;
    private final HttpServletResponse response;
    /**
     * Bytes handed to the writer, line separators of {@code println} included, as far as they are
     * known: exactly in UTF-8 and in the single-byte charsets (a character each), and never more
     * than they encode to in any other charset a response uses (a character each, again). The
     * rules below need a count that is never too high: one too high would hide a lost client. A
     * lone surrogate counts one (a replacement of one byte or more); a pair four, also split
     * across two calls ({@link #highPending}). Counted when handed over, also after the
     * container's writes failed: so exactly the length says nothing of the client.
     */
    private long bytes;
    /**
     * Whether the writer encodes UTF-8, read once: the Servlet API fixes the charset when the
     * writer is taken.
     */
    private final boolean utf8;
    /**
     * {@link #bytes} at the last check that found no error, -1 before one: once that covers the
     * declared length, the whole body went out, and a later error is the container refusing what
     * came after it.
     */
    private long checkedBytes = -1;
    /**
     * Set by the first close, or once the application answered with {@code sendError} or {@code
     * sendRedirect}: the checks stop, since a closed writer is in error on Jetty (which closes its
     * writer itself at a redirect).
     */
    private boolean closed;
    /**
     * The last character handed over was a high surrogate (counted 1): a low one next completes a
     * pair of 4 bytes (both containers' encoders join the halves across calls, and across a flush).
     */
    private boolean highPending;
    /** The watched writer that took this one's place and count, if any. */
    private WatchedWriter heir;

    private WatchedWriter current() {
      WatchedWriter c = this;
      while (c.heir != null) {
        c = c.heir;
      }
      if (heir != null) {
        heir = c; // shortened: a kept old one does not walk every call's
      }
      return c;
    }

    private long utf8Count(CharSequence s, int off, int len) {
      if (len <= 0) {
        return 0;
      }
      int i = off;
      long n = 0;
      if (highPending && Character.isLowSurrogate(s.charAt(i))) {
        n = 3; // with the 1 counted for the high: the pair's 4
        i++;
      }
      n += utf8Length(s, i, off + len - i);
      highPending = Character.isHighSurrogate(s.charAt(off + len - 1));
      return n;
    }

    WatchedWriter(PrintWriter inner, RequestScope scope, HttpServletResponse response) {
      super(inner);
      this.inner = inner;
      this.scope = scope;
      this.response = response;
      String charset = response.getCharacterEncoding();
      this.utf8 = "UTF-8".equalsIgnoreCase(charset) || "UTF8".equalsIgnoreCase(charset);
    }

    /** As {@link WatchedOutput#takeOver}: goes on from {@code old}, which goes on through this. */
    void takeOver(WatchedWriter old) {
      bytes = old.bytes;
      checkedBytes = old.checkedBytes;
      highPending = old.highPending;
      closed = old.closed;
      old.heir = this;
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
      return current().checked(error);
    }

    private boolean checked(boolean error) {
      if (!error) {
        checkedBytes = bytes;
      } else if (!closed && !scope.writerRefused) {
        // A writer's error stays set: once a watched writer took it for a refusal past the length,
        // one that wraps it (an application's writer over ours, given to startAsync) sees the same
        // error and must not judge it again on its own count.
        if (refusedPastTheLength()) {
          scope.writerRefused = true;
        } else {
          scope.end(
              new RequestCanceledException(
                  Reason.CLIENT_DISCONNECTED, "writing the response failed", null));
        }
      }
      return error;
    }

    private boolean refusedPastTheLength() {
      long declared = declaredLength(response);
      return declared >= 0 && (bytes > declared || checkedBytes >= declared);
    }

    @Override
    public void write(int c) {
      inner.write(c);
      current().counted(c);
    }

    private void counted(int c) {
      char ch = (char) c;
      if (utf8 && highPending && Character.isLowSurrogate(ch)) {
        bytes += 3;
        highPending = false;
        return;
      }
      highPending = utf8 && Character.isHighSurrogate(ch);
      bytes += !utf8 || ch < 0x80 || Character.isSurrogate(ch) ? 1 : ch < 0x800 ? 2 : 3;
    }

    // After the write: a range the writer refuses (an IndexOutOfBoundsException) wrote nothing.
    @Override
    public void write(char[] buf, int off, int len) {
      inner.write(buf, off, len);
      WatchedWriter k = current();
      k.bytes += k.utf8 ? k.utf8Count(java.nio.CharBuffer.wrap(buf), off, len) : Math.max(len, 0);
    }

    @Override
    public void write(String s, int off, int len) {
      inner.write(s, off, len);
      WatchedWriter k = current();
      k.bytes += k.utf8 ? k.utf8Count(s, off, len) : Math.max(len, 0);
    }

    /** PrintWriter writes the line separator straight to the writer it wraps, past write(). */
    @Override
    public void println() {
      WatchedWriter k = current();
      k.bytes += System.lineSeparator().length();
      k.highPending = false;
      super.println();
    }

    @Override
    public void flush() {
      inner.flush();
      if (!current().closed) {
        check();
      }
    }

    @Override
    public void close() {
      if (!current().closed) {
        if (response.isCommitted()) {
          check(); // flushes what is buffered, after parts already sent
        }
        current().closed = true;
      }
      inner.close();
    }

    @Override
    public boolean checkError() {
      return check();
    }
  }
}
