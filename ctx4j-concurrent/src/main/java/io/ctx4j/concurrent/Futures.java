package io.ctx4j.concurrent;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Registration;
import io.ctx4j.internal.CoreInternals;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Future;

/**
 * Ties futures and contexts together, in both directions.
 *
 * <pre>{@code
 * CompletableFuture<Reply> reply = client.sendAsync(request);
 * Futures.cancelWhenDone(ctx, reply);                        // ctx ends -> reply fails with ctx's error
 *
 * try (CancelableContext sub = Futures.contextOf(ctx, shutdownSignal)) {
 *   worker.run(sub);                                        // shutdownSignal completes -> sub is cancelled
 * }
 * }</pre>
 *
 * <p>Thread safety: all methods are static and thread-safe. Memory consistency effects: actions before
 * a context ends happen-before a dependent of the future observes the context's error; actions before
 * a stage completes happen-before the derived context is observed done.
 *
 * @since 0.1
 */
public final class Futures {
  private Futures() {}

  /**
   * Arranges for {@code future} to be stopped when {@code ctx} ends. A {@link CompletableFuture} is
   * completed exceptionally with a fresh copy of the context's error (a {@link
   * io.ctx4j.CanceledException} or {@link io.ctx4j.DeadlineExceededException}, which are {@code
   * CancellationException}s, so {@code isCancelled()} is true and the cause is kept). The futures of
   * {@link Tasks} and {@link ContextExecutorService} stop their task when completed that way, as
   * when cancelled: the body is interrupted, or never starts. Any other
   * {@link Future} is cancelled with {@code cancel(true)}, which interrupts it if it is running. A
   * future that is already complete is left as it is: whichever happens first, completion or the
   * context's end, decides the outcome. Note that on newer JDKs (seen on 25) {@code
   * CompletableFuture.get()} rethrows a stored {@code CancellationException} wrapped in a new one, so
   * look for the context's error as its cause there; {@code handle}/{@code whenComplete} see it
   * directly on every JDK.
   *
   * <p>For a {@code CompletableFuture} the registration is released when the future completes; for
   * another future, stop the returned registration once the future is done, or the context keeps a
   * reference to it until it ends.
   *
   * @param ctx the context to follow
   * @param future the future to stop
   * @return the registration; {@code stop()} withdraws the arrangement
   * @throws NullPointerException if an argument is null, or if {@code ctx.onDone} returns null (a
   *     context implemented outside ctx4j)
   * @throws RuntimeException (or {@code Error}) what a {@code CompletableFuture} subclass's {@code
   *     whenComplete} throws; the arrangement is then withdrawn
   */
  public static Registration cancelWhenDone(Context ctx, Future<?> future) {
    Objects.requireNonNull(ctx, "ctx");
    Objects.requireNonNull(future, "future");
    if (future instanceof CompletableFuture) {
      CompletableFuture<?> cf = (CompletableFuture<?>) future;
      Registration r =
          CoreInternals.register(ctx, () -> cf.completeExceptionally(CoreInternals.errorCopy(ctx)));
      try {
        cf.whenComplete((v, e) -> r.stop());
      } catch (Throwable t) {
        // A subclass that refuses the callback would leave r on ctx, holding cf, until ctx ends;
        // the caller, who gets the failure and no registration, could not stop it.
        CoreInternals.stopAfter(t, r);
        throw t;
      }
      return r;
    }
    return CoreInternals.register(ctx, () -> future.cancel(true));
  }

  /**
   * Derives from {@code parent} a context that is also cancelled when {@code stage} completes: Go's
   * "done channel" turned into a context. If the stage fails, the failure (with a {@link
   * CompletionException} wrapper removed) is the context's {@link Context#cause() cause}; if it
   * succeeds, the cause is plain {@link Context#CANCELED}. A stage already complete gives a context
   * born done.
   *
   * <p>Cancel (close) the returned context when it is no longer needed. The stage keeps a reference
   * to the context until it completes, which a {@code CompletionStage} offers no way to withdraw.
   *
   * @param parent the parent context
   * @param stage the stage whose completion cancels the new context
   * @return a new cancelable context
   * @throws NullPointerException if an argument is null
   */
  public static CancelableContext contextOf(Context parent, CompletionStage<?> stage) {
    Objects.requireNonNull(parent, "parent");
    Objects.requireNonNull(stage, "stage");
    CancelableContext ctx = Context.withCancel(parent);
    stage.whenComplete(
        (v, e) -> {
          if (e == null) {
            ctx.cancel();
          } else {
            ctx.cancel(e instanceof CompletionException && e.getCause() != null ? e.getCause() : e);
          }
        });
    return ctx;
  }
}
