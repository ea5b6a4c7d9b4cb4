package io.ctx4j.concurrent;

import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Registration;
import io.ctx4j.internal.CoreInternals;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

/**
 * Stops I/O that interruption cannot stop, by closing its resource when a context ends: the Java form
 * of Go's {@code context.AfterFunc(ctx, func() { conn.Close() })}.
 *
 * <p>A platform thread blocked in {@code InputStream.read} on a {@link java.net.Socket}, in a JDBC
 * driver, or in most native I/O ignores {@link Thread#interrupt()}; closing the socket, stream or
 * channel from another thread is the one portable way to make the call return (with a {@code
 * SocketException}, {@code AsynchronousCloseException} or similar). (On JDK 21 and later, a virtual
 * thread blocked on a socket is interrupted by closing it, so there an interrupt alone stops it;
 * closing works on every kind of thread.)
 *
 * <pre>{@code
 * try (Socket socket = new Socket(host, port)) {
 *   byte[] reply = Closer.call(ctx, socket, () -> socket.getInputStream().readNBytes(512));
 * } // a fresh CanceledException/DeadlineExceededException if ctx ended the read
 * }</pre>
 *
 * <p>The close runs on a thread of its own (through {@link Context#afterFunc}), never on the thread
 * that cancels the context, because closing can block. An exception thrown by {@code close()} goes to
 * that thread's uncaught-exception handler.
 *
 * <p>Thread safety: all methods are static and thread-safe; the resource's {@code close()} must be
 * callable from another thread, as it is for sockets and channels. Memory consistency effects:
 * actions before the context ends happen-before the close.
 *
 * @since 0.1
 */
public final class Closer {
  private Closer() {}

  /**
   * Closes {@code resource} when {@code ctx} ends, at once (on another thread) if it already has.
   *
   * @param ctx the context to follow
   * @param resource what to close
   * @return the registration; stop it when the I/O is over, or the context keeps the resource
   *     reachable until it ends
   * @throws NullPointerException if an argument is null
   */
  public static Registration closeOnDone(Context ctx, AutoCloseable resource) {
    Objects.requireNonNull(ctx, "ctx");
    Objects.requireNonNull(resource, "resource");
    return Context.afterFunc(ctx, () -> closeQuietly(resource));
  }

  /**
   * Calls {@code body}, which uses {@code resource}, with {@code resource} closed if {@code ctx} ends
   * meanwhile. When this method returns or throws, the arrangement is withdrawn, and a close that had
   * already started has finished: the resource is never closed behind the caller's back afterwards.
   *
   * <p>Outcomes: the body's result if it returns, even if the context ended at the same instant (the
   * resource may then be closed); a fresh copy of the context's error if the body fails after the
   * context ended, with the body's exception attached as suppressed; otherwise the body's own
   * exception. The resource is not closed when the body ends normally; that stays the caller's job.
   *
   * @param ctx the context to follow
   * @param resource what to close if the context ends
   * @param body the I/O
   * @param <T> the result type
   * @return what {@code body} returns
   * @throws ContextException if the context is done before the call, or ended and made the body fail
   * @throws Exception what {@code body} throws otherwise
   * @throws NullPointerException if an argument is null
   */
  public static <T> T call(Context ctx, AutoCloseable resource, Callable<T> body) throws Exception {
    Objects.requireNonNull(ctx, "ctx");
    Objects.requireNonNull(resource, "resource");
    Objects.requireNonNull(body, "body");
    ctx.throwIfDone();
    CompletableFuture<Void> closed = new CompletableFuture<>();
    Registration r =
        Context.afterFunc(
            ctx,
            () -> {
              try {
                closeQuietly(resource);
              } finally {
                closed.complete(null);
              }
            });
    try {
      return body.call();
    } catch (Exception e) {
      ContextException err = CoreInternals.errorCopy(ctx);
      if (err == null) {
        throw e;
      }
      err.addSuppressed(e);
      throw err;
    } finally {
      if (!r.stop() && ctx.isDone()) {
        // The close has started; wait so that it cannot land after we return.
        closed.join();
      }
    }
  }

  private static void closeQuietly(AutoCloseable resource) {
    try {
      resource.close();
    } catch (Exception e) {
      CoreInternals.reportUncaught(e);
    }
  }
}
