package io.ctx4j;

import io.ctx4j.internal.CoreInternals;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;

/** The shared bodies of the waiting methods of {@link Context}. */
final class Waits {
  private Waits() {}

  /** Marks "the context finished first"; a distinct object, so a cancelled work is not mistaken. */
  private static final Object CONTEXT_DONE = new Object();

  /** How the work ended: value or failure. */
  private static final class Outcome {
    final Object value;
    final Throwable failure;

    Outcome(Object value, Throwable failure) {
      this.value = value;
      this.failure = failure;
    }
  }

  /** A fresh, throwable copy of the context's error with its cause; tolerant of custom contexts. */
  static ContextException errorOf(Context ctx) {
    ContextException e = ctx.err();
    Throwable cause = ctx.cause();
    return (e != null ? e : Context.CANCELED).copy(cause);
  }

  static <T> T awaitEither(Context ctx, CompletionStage<T> work)
      throws InterruptedException, ExecutionException {
    Objects.requireNonNull(work, "work");
    CompletableFuture<Object> first = new CompletableFuture<>();
    work.whenComplete((v, e) -> first.complete(new Outcome(v, e)));
    if (!first.isDone()) {
      Registration r = CoreInternals.register(ctx, () -> first.complete(CONTEXT_DONE));
      try {
        first.get();
      } catch (InterruptedException e) {
        if (!first.isDone()) {
          // Throws unless the context is done: done wins.
          CancelStateMachine.doneWinsOverInterrupt(ctx);
          first.complete(CONTEXT_DONE); // done, its callback not run yet; a finished work still wins
        } else {
          Thread.currentThread().interrupt();
        }
      } finally {
        r.stop();
      }
    }
    Object o = first.getNow(null);
    if (o == CONTEXT_DONE) {
      throw errorOf(ctx);
    }
    Outcome out = (Outcome) o;
    Throwable f = out.failure;
    if (f == null) {
      @SuppressWarnings("unchecked")
      T v = (T) out.value;
      return v;
    }
    if (f instanceof CompletionException && f.getCause() != null) {
      f = f.getCause();
    }
    if (f instanceof CancellationException) {
      throw (CancellationException) f;
    }
    throw new ExecutionException(f);
  }
}
