package io.ctx4j.servlet.internal;

import io.ctx4j.CancelableContext;
import io.ctx4j.servlet.RequestCanceledException;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import java.io.IOException;
import java.util.Objects;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The filter's per-request state: the request context and what must be undone when the request
 * ends. Not part of the API.
 *
 * <p>Implementation notes. The request ends ({@link #end}) from whichever thread sees it first: the
 * dispatch thread when the handler returns, a container thread running an {@link AsyncListener}
 * callback, Jetty's failure or connection-closed listener, a thread writing the response. Ending
 * twice is harmless: {@code cancel} keeps the first cause, and {@link #cleanup} is swapped to the
 * {@link #ENDED} sentinel exactly once, so the one container registration that must be removed (a
 * listener on a long-lived connection) is removed exactly once, by whoever ends first. A
 * registration added after the end (a failure listener racing with the attach) is removed by the
 * attaching thread itself, when its CAS from {@code null} fails. No lock; no callback runs under
 * one.
 *
 * <p>Thread-safe.
 */
public final class RequestScope implements AsyncListener {
  /** The cause of a request context whose handler returned; shared, immutable. */
  public static final RequestCanceledException COMPLETED =
      new RequestCanceledException(Reason.RESPONSE_COMPLETED, null, null);

  private static final Runnable ENDED = () -> {};

  private final CancelableContext ctx;

  /** null: nothing to undo yet; ENDED: the request has ended; else: what to undo when it does. */
  private final AtomicReference<Runnable> cleanup = new AtomicReference<>();

  /** Set once the listener is registered with the first async cycle; later cycles re-register. */
  private volatile boolean listening;

  /**
   * Creates the state for a request.
   *
   * @param ctx the request context
   */
  public RequestScope(CancelableContext ctx) {
    this.ctx = Objects.requireNonNull(ctx, "ctx");
  }

  /**
   * Returns the request context.
   *
   * @return the context
   */
  public CancelableContext context() {
    return ctx;
  }

  /**
   * Registers the one action that undoes a container registration when the request ends; runs it
   * at once if the request has already ended.
   *
   * @param undo the action
   * @throws IllegalStateException if an action is already registered
   */
  public void onEnd(Runnable undo) {
    Objects.requireNonNull(undo, "undo");
    if (!cleanup.compareAndSet(null, undo)) {
      if (cleanup.get() == ENDED) {
        undo.run();
      } else {
        throw new IllegalStateException("a cleanup action is already registered");
      }
    }
  }

  /**
   * Ends the request: cancels its context with {@code cause} (unless it is already done) and undoes
   * the container registration. Idempotent.
   *
   * @param cause why
   */
  public void end(RequestCanceledException cause) {
    ctx.cancel(cause);
    Runnable undo = cleanup.getAndSet(ENDED);
    if (undo != null && undo != ENDED) {
      undo.run();
    }
  }

  /**
   * Tells whether {@link #end} has been called.
   *
   * @return true once ended
   */
  public boolean ended() {
    return cleanup.get() == ENDED;
  }

  /**
   * Registers this scope as a listener of the request's async cycle, once per request; later
   * cycles are followed through {@link #onStartAsync}.
   *
   * @param async the async context of the current cycle
   */
  public void listenTo(AsyncContext async) {
    if (!listening) {
      listening = true;
      async.addListener(this);
    }
  }

  /**
   * Returns the cause for a failure the container reported: {@link Reason#CLIENT_DISCONNECTED} if
   * it is (or is caused by) an {@link IOException}, which is how containers report a connection
   * that failed or a stream that was reset; otherwise {@link Reason#REQUEST_FAILED}.
   *
   * @param failure what the container reported; may be null
   * @return the cause to cancel with
   */
  public static RequestCanceledException failure(Throwable failure) {
    if (failure == null) {
      return new RequestCanceledException(Reason.CLIENT_DISCONNECTED, null, null);
    }
    // A bounded walk: a cause chain may be cyclic.
    Throwable x = failure;
    for (int i = 0; i < 16 && x != null; i++, x = x.getCause()) {
      if (x instanceof IOException) {
        return new RequestCanceledException(Reason.CLIENT_DISCONNECTED, failure.toString(), failure);
      }
      if (x instanceof TimeoutException) {
        break;
      }
    }
    return new RequestCanceledException(Reason.REQUEST_FAILED, failure.toString(), failure);
  }

  /** The async cycle completed: the request is over. */
  @Override
  public void onComplete(AsyncEvent event) {
    end(COMPLETED);
  }

  /** The async timeout fired. */
  @Override
  public void onTimeout(AsyncEvent event) {
    end(new RequestCanceledException(Reason.ASYNC_TIMEOUT, null, null));
  }

  /** The container reported an error on the async cycle (a disconnect, a reset, a failed write). */
  @Override
  public void onError(AsyncEvent event) {
    end(failure(event.getThrowable()));
  }

  /** A new async cycle started: listeners of the old one are dropped by the container, so rejoin. */
  @Override
  public void onStartAsync(AsyncEvent event) {
    AsyncContext next = event.getAsyncContext();
    if (next != null) {
      next.addListener(this);
    }
  }
}
