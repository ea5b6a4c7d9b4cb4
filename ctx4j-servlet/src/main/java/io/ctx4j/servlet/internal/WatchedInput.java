package io.ctx4j.servlet.internal;

import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.ServletRequest;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * The request body as {@link ScopedRequest#getInputStream()} hands it out: the container's stream,
 * except that a read that fails ends the request context, and that a {@code ReadListener} set on it
 * is wrapped, so that a throwable from the listener's own {@code onDataAvailable} or {@code
 * onAllDataRead} ends the request context as a handler failure. Not part of the API.
 *
 * <p>Why the reads: a blocking read that throws because the client went away (or because the
 * container's read timed out) is the one notice of it a synchronous handler gets, and containers
 * report it to nobody else (Tomcat 11 and Jetty 12.1 over HTTP/1.1: the context ended only when
 * the handler returned). A failed read ends the context with {@link RequestScope#failed}, as a
 * failed write through {@link WatchedResponse} does, before the caller sees the exception; so a
 * listener whose {@code onDataAvailable} lets such an exception escape has lost its client, it
 * has not failed. Not after {@link #close()}: a read of a closed stream is the application's
 * mistake (Tomcat throws an {@code IOException} for it), not news of the client.
 *
 * <p>Why the body's end: Jetty 12.1 gives -1 (and a {@code ReadListener} {@code onAllDataRead})
 * for a chunked body its client cut between the CR and the LF that end a chunk's data, where it
 * fails the read of every other cut; the stream throws the failure of a cut body there instead
 * ({@link ContainerHooks#cutBody}), a lost client, so that a cut body does not pass for a whole
 * one.
 *
 * <p>Why the listener: the container hands that throwable to the listener's {@code onError} and
 * to {@code AsyncListener.onError}, where an {@code IOException} of the application's own (an
 * upload that could not be stored) passed for a lost client on Tomcat; Jetty 12.1 reported it to
 * the listener alone, and the context ended as a completed response. The same as {@link
 * WatchedResponse}'s {@code WriteListener}.
 *
 * <p>Used as the container's stream is: by one thread at a time.
 */
final class WatchedInput extends ServletInputStream {
  private final ServletInputStream in;
  private final RequestScope scope;
  /**
   * The request whose body this is, for {@link ContainerHooks#malformedBody} and {@link
   * ContainerHooks#cutBody}.
   */
  private final ServletRequest request;
  /** Set by {@link #close()}: later failures are the application's, not the exchange's. */
  private boolean closed;
  /**
   * The failure of a read that this stream passed on last: when it comes back out of the
   * application's {@code onDataAvailable}, it is the exchange's, already judged, not a failure of
   * the handler's. Read on the thread that read, inside that callback.
   */
  private IOException passedOn;

  WatchedInput(ServletInputStream in, RequestScope scope, ServletRequest request) {
    this.in = in;
    this.scope = scope;
    this.request = request;
  }

  /** Whether this wraps {@code other}. */
  boolean wraps(ServletInputStream other) {
    return in == other;
  }

  // Not after the application closed the stream: the failure is then its own mistake.
  private IOException failed(IOException e) {
    passedOn = e;
    return closed ? e : scope.readFailed(e, request);
  }

  /**
   * {@code n}, a read's result, unless it is the body's end that the container gave for a body
   * its client cut ({@link ContainerHooks#cutBody}): then that failure, a lost client, as if the
   * read had thrown it. Jetty 12.1 ends a chunked body cut between a chunk's CR and LF so.
   */
  private int ended(int n) throws IOException {
    if (n < 0) {
      cutShort();
    }
    return n;
  }

  /** At the body's end: throws the failure of a cut body, if the container gave the end for one. */
  private void cutShort() throws IOException {
    IOException cut = closed ? null : ContainerHooks.cutBody(request);
    if (cut != null) {
      throw failed(cut);
    }
  }

  @Override
  public int read() throws IOException {
    int n;
    try {
      n = in.read();
    } catch (IOException e) {
      throw failed(e);
    }
    return ended(n);
  }

  @Override
  public int read(byte[] b) throws IOException {
    int n;
    try {
      n = in.read(b);
    } catch (IOException e) {
      throw failed(e);
    }
    return ended(n);
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    int n;
    try {
      n = in.read(b, off, len);
    } catch (IOException e) {
      throw failed(e);
    }
    return ended(n);
  }

  @Override
  public int read(ByteBuffer buffer) throws IOException {
    int n;
    try {
      n = in.read(buffer);
    } catch (IOException e) {
      throw failed(e);
    }
    return ended(n);
  }

  @Override
  public int readLine(byte[] b, int off, int len) throws IOException {
    int n;
    try {
      n = in.readLine(b, off, len);
    } catch (IOException e) {
      throw failed(e);
    }
    return ended(n);
  }

  @Override
  public byte[] readAllBytes() throws IOException {
    byte[] all;
    try {
      all = in.readAllBytes();
    } catch (IOException e) {
      throw failed(e);
    }
    cutShort();
    return all;
  }

  @Override
  public byte[] readNBytes(int len) throws IOException {
    byte[] some;
    try {
      some = in.readNBytes(len);
    } catch (IOException e) {
      throw failed(e);
    }
    if (some.length < len) {
      cutShort();
    }
    return some;
  }

  @Override
  public int readNBytes(byte[] b, int off, int len) throws IOException {
    int n;
    try {
      n = in.readNBytes(b, off, len);
    } catch (IOException e) {
      throw failed(e);
    }
    if (n < len) {
      cutShort();
    }
    return n;
  }

  @Override
  public long skip(long n) throws IOException {
    long skipped;
    try {
      skipped = in.skip(n);
    } catch (IOException e) {
      throw failed(e);
    }
    if (skipped < n && in.isFinished()) {
      cutShort();
    }
    return skipped;
  }

  @Override
  public int available() throws IOException {
    try {
      return in.available();
    } catch (IOException e) {
      throw failed(e);
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    in.close();
  }

  @Override
  public boolean markSupported() {
    return in.markSupported();
  }

  @Override
  public void mark(int readlimit) {
    in.mark(readlimit);
  }

  @Override
  public void reset() throws IOException {
    in.reset();
  }

  @Override
  public boolean isFinished() {
    return in.isFinished();
  }

  @Override
  public boolean isReady() {
    return in.isReady();
  }

  /**
   * Sets {@code listener} on the container's stream, wrapped so that a throwable from its {@code
   * onDataAvailable} or {@code onAllDataRead} ends the request context as a handler failure
   * before it goes on to the container. A null listener goes to the container as it is, which
   * refuses it (Tomcat 11 and Jetty 12.1 throw a {@code NullPointerException}).
   */
  @Override
  public void setReadListener(ReadListener listener) {
    in.setReadListener(listener == null ? null : new Listener(listener));
  }

  @Override
  public String toString() {
    return in.toString();
  }

  /**
   * Whether {@code t}, out of the application's {@code onDataAvailable}, is the failure of a read
   * this stream passed on, or wraps it (an {@code UncheckedIOException}, an exception of the
   * application's around it): the exchange's, judged at the read.
   */
  private boolean passedOn(Throwable t) {
    IOException e = passedOn;
    return e != null && RequestScope.findCause(t, x -> x == e) != null;
  }

  private final class Listener implements ReadListener {
    private final ReadListener listener;

    /**
     * Whether the listener's {@code onError} was called: then the end of a cut body is not told
     * to it again. The container calls one callback at a time, on threads it hands over.
     */
    private volatile boolean erred;

    /**
     * What the listener's {@code onError} threw when {@link #onAllDataRead} told it of a cut
     * body: when the container hands it back to {@link #onError}, it goes on, not to the listener.
     */
    private volatile Throwable thrownByOnError;

    Listener(ReadListener listener) {
      this.listener = listener;
    }

    // The application's callback failed, not the exchange: the container hands the same
    // throwable to onError below and to AsyncListener.onError, where an IOException of the
    // application's own would pass for a lost client. Unless it is a read's failure that the
    // callback let through: that one was judged at the read (a lost client, or a malformed body
    // that ends nothing).
    @Override
    public void onDataAvailable() throws IOException {
      try {
        listener.onDataAvailable();
      } catch (Throwable t) {
        if (!passedOn(t)) {
          scope.end(RequestScope.handlerFailed(t));
        }
        throw t;
      }
    }

    // Not the end of a body its client cut (Jetty 12.1, ContainerHooks.cutBody): the listener
    // hears of the lost client instead, as for any other cut; once. A read in onDataAvailable
    // that met that end threw the cut's failure, and when it came out of the callback the
    // container handed it to onError; Jetty, which saw its -1, then calls onAllDataRead all the
    // same when onError did not complete the request (CutBodyReadListenerOnceTest).
    @Override
    public void onAllDataRead() throws IOException {
      IOException cut = closed ? null : ContainerHooks.cutBody(request);
      if (cut != null) {
        scope.end(scope.containerFailure(cut));
        if (!erred) {
          erred = true;
          try {
            listener.onError(cut);
          } catch (RuntimeException | Error t) {
            // Jetty hands what onAllDataRead throws to onError: this failure of the listener's
            // own onError goes on to the container, as it would from an onError Jetty called.
            thrownByOnError = t;
            throw t;
          }
        }
        return;
      }
      try {
        listener.onAllDataRead();
      } catch (Throwable t) {
        scope.end(RequestScope.handlerFailed(t));
        throw t;
      }
    }

    @Override
    public void onError(Throwable t) {
      Throwable own = thrownByOnError;
      if (own != null && t == own) {
        thrownByOnError = null;
        if (own instanceof Error) {
          throw (Error) own;
        }
        throw (RuntimeException) own;
      }
      erred = true;
      if (!ContainerHooks.malformedBody(t, request)) {
        scope.end(scope.containerFailure(t));
      }
      listener.onError(t);
    }
  }
}
