package io.ctx4j.http;

import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Registration;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;

/**
 * Sends {@link HttpClient} requests under a ctx4j {@link Context}: the request carries the context's
 * remaining time in the {@link DeadlineHeader#NAME} header, and the exchange is aborted as soon as
 * the context ends.
 *
 * <pre>{@code
 * try (CancelableContext ctx = Context.withTimeout(parent, Duration.ofMillis(300))) {
 *   HttpResponse<String> r = ContextHttp.send(ctx, client, request, BodyHandlers.ofString());
 * } catch (DeadlineExceededException e) {
 *   // the 300 ms ran out first; the server was told and the connection has been given up
 * }
 * }</pre>
 *
 * <h2>What "aborted" means</h2>
 *
 * When the context ends before the response is complete, three things happen at once, in the
 * thread that ended the context: the caller's {@code send} returns (or the future of {@code
 * sendAsync} fails) with a fresh copy of the context's error; the client's own future is cancelled
 * with {@code cancel(true)}; and, if the response body is already being received, its {@link
 * Flow.Subscription} is cancelled and the body subscriber receives the context's error, so a
 * thread reading a streamed body ({@code BodyHandlers.ofInputStream()}) is released too.
 *
 * <p>The first point is guaranteed on every JDK. The other two are requests to the HTTP client;
 * whether and when the TCP connection is actually closed is up to the JDK. Measured against a bare
 * loopback socket server (see {@code ConnectionAbortTest} and the module README): on JDK 17 and 25,
 * HTTP/1.1 and the default HTTP/2 preference (a cleartext upgrade attempt), before and after the
 * response headers, the connection was closed 8 to 105 ms after the context ended in every run on a
 * lightly loaded machine; on a heavily loaded one, a few runs left it open for seconds when only the
 * future was cancelled (JDK 17 with the body streaming, JDK 25 with the HTTP/2 upgrade pending).
 * Cancelling the body subscription as well closes a streaming HTTP/1.1 exchange on both JDKs. Rely
 * on the deadline header in any case: it ends the server's work whatever the client does.
 *
 * <p>All methods are thread-safe. Actions of the thread that ends the context happen-before the
 * caller observes the context's error.
 *
 * @since 0.1
 */
public final class ContextHttp {

  private ContextHttp() {}

  /**
   * Sends {@code request} with {@code client} and waits for the response, or for {@code ctx} to end,
   * whichever comes first. If the context has a deadline, the request is sent with the {@link
   * DeadlineHeader#NAME} header set to the time left (replacing any such header already there);
   * otherwise any such header is removed, so that a stale value is never forwarded.
   *
   * @param ctx the context that bounds the call
   * @param client the client
   * @param request the request
   * @param handler how to receive the body
   * @param <T> the body type
   * @return the response
   * @throws ContextException a fresh {@code CanceledException} or {@code DeadlineExceededException}
   *     with the context's cause, if the context is done before the response is complete (or
   *     already is, in which case nothing is sent)
   * @throws IOException if the exchange fails
   * @throws InterruptedException if the calling thread is interrupted while waiting; the exchange
   *     is aborted
   * @throws NullPointerException if an argument is null
   */
  public static <T> HttpResponse<T> send(
      Context ctx, HttpClient client, HttpRequest request, HttpResponse.BodyHandler<T> handler)
      throws IOException, InterruptedException {
    CompletableFuture<HttpResponse<T>> call = sendAsync(ctx, client, request, handler);
    try {
      return call.get();
    } catch (InterruptedException e) {
      call.cancel(true);
      throw e;
    } catch (CancellationException e) {
      // The future failed with the context's error, which is a CancellationException: JDK 17's
      // CompletableFuture.get throws it as is, newer JDKs wrap it in a new one. Either way, throw a
      // new copy whose stack trace shows this caller rather than the thread that ended the context.
      ctx.throwIfDone();
      throw e;
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof IOException) {
        throw new IOException(c.getMessage(), c);
      }
      if (c instanceof RuntimeException) {
        throw (RuntimeException) c;
      }
      if (c instanceof Error) {
        throw (Error) c;
      }
      throw new IOException(c);
    }
  }

  /**
   * Sends {@code request} asynchronously under {@code ctx}; see {@link #send} for the header. The
   * returned future completes with the response, or exceptionally with the exchange's failure, or
   * with a fresh copy of the context's error (cause attached) if the context ends first. Cancelling
   * the returned future aborts the exchange as well.
   *
   * <p>The context's error is a {@link CancellationException}, which {@code CompletableFuture.get}
   * and {@code join} treat specially: JDK 17 throws it as is, newer JDKs throw a new {@code
   * CancellationException} whose cause is the context's error. Test the context itself ({@code
   * ctx.err()}), or use {@link #send}, which always throws the context's error.
   *
   * @param ctx the context that bounds the call
   * @param client the client
   * @param request the request
   * @param handler how to receive the body
   * @param <T> the body type
   * @return a new future; it is already failed if {@code ctx} is done, and then nothing is sent
   * @throws NullPointerException if an argument is null
   */
  public static <T> CompletableFuture<HttpResponse<T>> sendAsync(
      Context ctx, HttpClient client, HttpRequest request, HttpResponse.BodyHandler<T> handler) {
    Objects.requireNonNull(ctx, "ctx");
    Objects.requireNonNull(client, "client");
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(handler, "handler");
    ContextException early = ctx.err();
    if (early != null) {
      return CompletableFuture.failedFuture(errorOf(ctx));
    }
    HttpRequest withHeader = withDeadlineHeader(ctx, request);
    CompletableFuture<HttpResponse<T>> result = new CompletableFuture<>();
    AbortableHandler<T> abortable = new AbortableHandler<>(handler);
    CompletableFuture<HttpResponse<T>> exchange = client.sendAsync(withHeader, abortable);
    Registration reg =
        ctx.onDone(
            () -> {
              ContextException err = errorOf(ctx);
              result.completeExceptionally(err);
              exchange.cancel(true);
              abortable.abort(err);
            });
    // The registration must outlive the headers: with a streaming body handler the response
    // arrives first and the body keeps flowing; it is released when the body ends or the call fails.
    abortable.onBodyEnd(reg::stop);
    exchange.whenComplete(
        (response, failure) -> {
          if (failure == null) {
            result.complete(response);
          } else {
            reg.stop();
            result.completeExceptionally(unwrap(failure));
          }
        });
    result.whenComplete(
        (response, failure) -> {
          if (failure instanceof CancellationException && !(failure instanceof ContextException)) {
            // The caller gave up on the future: give up on the exchange too.
            reg.stop();
            exchange.cancel(true);
            abortable.abort(failure);
          }
        });
    return result;
  }

  /**
   * Returns a copy of {@code request} whose {@link DeadlineHeader#NAME} header states {@code ctx}'s
   * remaining time, or, if the context has no deadline, a copy without that header. For clients
   * that send requests some other way than {@link #send}.
   *
   * @param ctx the context
   * @param request the request
   * @return a new request; the original is not modified
   * @throws NullPointerException if an argument is null
   */
  public static HttpRequest withDeadlineHeader(Context ctx, HttpRequest request) {
    Objects.requireNonNull(ctx, "ctx");
    Objects.requireNonNull(request, "request");
    var value = DeadlineHeader.valueFor(ctx);
    HttpRequest.Builder b =
        HttpRequest.newBuilder(request, (name, v) -> !name.equalsIgnoreCase(DeadlineHeader.NAME));
    value.ifPresent(v -> b.setHeader(DeadlineHeader.NAME, v));
    return b.build();
  }

  /** Returns a fresh copy of a done context's error with its cause, as {@code throwIfDone} makes. */
  static ContextException errorOf(Context ctx) {
    try {
      ctx.throwIfDone();
    } catch (ContextException e) {
      return e;
    }
    throw new IllegalStateException("context is not done: " + ctx);
  }

  private static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException)
        && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  /**
   * Wraps the caller's body handler so that the body can be abandoned when the context ends. The
   * client delivers body signals one at a time, but an abort may come from any thread in between;
   * signals to the caller's subscriber are therefore delivered under this object's monitor and stop
   * after the first terminal one, as the Reactive Streams rules require. {@code onSubscribe} (where
   * subscribers request data) and {@code Subscription.cancel} run outside the monitor, since the
   * client may take its own locks or hand work to its own threads there. The caller's subscriber is
   * only published for an abort once its {@code onSubscribe} has returned.
   */
  private static final class AbortableHandler<T> implements HttpResponse.BodyHandler<T> {
    private final HttpResponse.BodyHandler<T> delegate;
    private Throwable aborted; // guarded by this
    private HttpResponse.BodySubscriber<T> downstream; // guarded by this
    private boolean terminated; // guarded by this
    private boolean bodyEnded; // guarded by this
    private Flow.Subscription subscription; // guarded by this
    private Runnable onBodyEnd; // guarded by this

    AbortableHandler(HttpResponse.BodyHandler<T> delegate) {
      this.delegate = delegate;
    }

    /** Runs {@code r} once the body has ended: now if it already has. */
    void onBodyEnd(Runnable r) {
      synchronized (this) {
        if (!bodyEnded) {
          onBodyEnd = r;
          return;
        }
      }
      r.run();
    }

    void abort(Throwable why) {
      Flow.Subscription s;
      synchronized (this) {
        if (aborted != null) {
          return;
        }
        aborted = why;
        s = subscription;
        if (downstream != null && !terminated) {
          terminated = true;
          downstream.onError(why);
        }
      }
      if (s != null) {
        s.cancel();
      }
    }

    @Override
    public HttpResponse.BodySubscriber<T> apply(HttpResponse.ResponseInfo info) {
      HttpResponse.BodySubscriber<T> d = delegate.apply(info);
      return new HttpResponse.BodySubscriber<>() {
        @Override
        public CompletionStage<T> getBody() {
          return d.getBody();
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
          // Outside the monitor: subscribers call request() from here, and the client may deliver
          // signals from its own threads in response.
          d.onSubscribe(s);
          boolean abortNow;
          synchronized (AbortableHandler.this) {
            subscription = s;
            downstream = d;
            abortNow = aborted != null && !terminated;
            if (abortNow) {
              terminated = true;
              d.onError(aborted);
            }
          }
          if (abortNow) {
            s.cancel();
            ended();
          }
        }

        @Override
        public void onNext(List<ByteBuffer> item) {
          synchronized (AbortableHandler.this) {
            if (!terminated) {
              d.onNext(item);
            }
          }
        }

        @Override
        public void onError(Throwable t) {
          ended(); // first, so the registration is gone before the caller can see the end
          synchronized (AbortableHandler.this) {
            if (!terminated) {
              terminated = true;
              d.onError(t);
            }
          }
        }

        @Override
        public void onComplete() {
          // Release the registration before the caller's subscriber hears of the end: once the
          // whole body is here there is nothing left to abort, and a caller that has read the body
          // (or got the response) then finds no hook left on its context.
          ended();
          synchronized (AbortableHandler.this) {
            if (!terminated) {
              terminated = true;
              d.onComplete();
            }
          }
        }
      };
    }

    private void ended() {
      Runnable r;
      synchronized (this) {
        bodyEnded = true;
        r = onBodyEnd;
        onBodyEnd = null;
      }
      if (r != null) {
        r.run();
      }
    }
  }
}
