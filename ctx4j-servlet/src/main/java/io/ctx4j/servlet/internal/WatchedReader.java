package io.ctx4j.servlet.internal;

import jakarta.servlet.ServletRequest;
import java.io.BufferedReader;
import java.io.IOException;

/**
 * The request body as {@link ScopedRequest#getReader()} hands it out: the container's reader,
 * except that a read that fails ends the request context with {@link RequestScope#failed}, as
 * {@link WatchedInput} does for the stream (the container's reader reads the body without going
 * through {@code getInputStream()}, so the stream's watch does not see it). Not after {@link
 * #close()}: a read of a closed reader is the application's mistake. Not part of the API.
 *
 * <p>Every method of {@link BufferedReader} is delegated (the superclass's buffer, of one char, is
 * never used); those of {@link java.io.Reader} it does not override ({@code read(char[])}, {@code
 * read(CharBuffer)}, {@code transferTo}, and {@code lines()}, which reads with {@link #readLine})
 * read through this reader. Used as the container's reader is: by one thread at a time.
 */
final class WatchedReader extends BufferedReader {
  private final BufferedReader in;
  private final RequestScope scope;
  /**
   * The request whose body this is, for {@link RequestScope#readFailed} and {@link
   * ContainerHooks#cutBody}.
   */
  private final ServletRequest request;
  /** Set by {@link #close()}: later failures are the application's, not the exchange's. */
  private boolean closed;

  WatchedReader(BufferedReader in, RequestScope scope, ServletRequest request) {
    super(in, 1);
    this.in = in;
    this.scope = scope;
    this.request = request;
  }

  /** Whether this wraps {@code other}. */
  boolean wraps(BufferedReader other) {
    return in == other;
  }

  // Not after the application closed the reader: the failure is then its own mistake.
  private IOException failed(IOException e) {
    return closed ? e : scope.readFailed(e, request);
  }

  /**
   * At the body's end: throws the failure of a body its client cut, if the container gave the end
   * for one ({@link ContainerHooks#cutBody}; Jetty 12.1, a chunked body cut between a chunk's CR
   * and LF), as {@link WatchedInput} does.
   */
  private void cutShort() throws IOException {
    IOException cut = closed ? null : ContainerHooks.cutBody(request);
    if (cut != null) {
      throw failed(cut);
    }
  }

  @Override
  public int read() throws IOException {
    int c;
    try {
      c = in.read();
    } catch (IOException e) {
      throw failed(e);
    }
    if (c < 0) {
      cutShort();
    }
    return c;
  }

  @Override
  public int read(char[] cbuf, int off, int len) throws IOException {
    int n;
    try {
      n = in.read(cbuf, off, len);
    } catch (IOException e) {
      throw failed(e);
    }
    if (n < 0) {
      cutShort();
    }
    return n;
  }

  @Override
  public String readLine() throws IOException {
    String line;
    try {
      line = in.readLine();
    } catch (IOException e) {
      throw failed(e);
    }
    if (line == null) {
      cutShort();
    }
    return line;
  }

  @Override
  public long skip(long n) throws IOException {
    long skipped;
    try {
      skipped = in.skip(n);
    } catch (IOException e) {
      throw failed(e);
    }
    if (skipped < n) {
      cutShort();
    }
    return skipped;
  }

  @Override
  public boolean ready() throws IOException {
    try {
      return in.ready();
    } catch (IOException e) {
      throw failed(e);
    }
  }

  @Override
  public boolean markSupported() {
    return in.markSupported();
  }

  @Override
  public void mark(int readAheadLimit) throws IOException {
    in.mark(readAheadLimit);
  }

  @Override
  public void reset() throws IOException {
    in.reset();
  }

  @Override
  public void close() throws IOException {
    closed = true;
    in.close();
  }

  @Override
  public String toString() {
    return in.toString();
  }
}
