package io.ctx4j;

import io.ctx4j.internal.CoreInternals;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;

/**
 * A layer that cannot be cancelled itself ({@code withValue}, {@code withoutCancel}, {@code
 * withTimeSource}): every question about done-ness goes to {@link #cancelSource} in one hop,
 * however many such layers sit in between (Go walks them one by one).
 */
abstract sealed class ForwardingContext extends BaseContext
    permits ValueContext, WithoutCancelContext, TimeSourceContext {
  private final Context parent;
  /** The nearest cancelable ancestor (ctx4j or custom); null when nothing can cancel us. */
  private final Context cancelSource;

  ForwardingContext(Context parent, InheritedSettings settings, Context cancelSource) {
    super(settings, bindingsOf(parent));
    this.parent = parent;
    this.cancelSource = cancelSource;
  }

  /** Where done-ness questions go: the cancelSource, or a root when nothing can cancel us. */
  private Context target() {
    Context c = cancelSource;
    return c == null ? RootContext.BACKGROUND : c;
  }

  @Override
  public final ContextException err() {
    Context c = cancelSource;
    return c == null ? null : c.err();
  }

  @Override
  public final boolean isDone() {
    Context c = cancelSource;
    return c != null && c.isDone();
  }

  @Override
  public final Throwable cause() {
    Context c = cancelSource;
    // A custom source may answer null while done (Go's #73258): Context.cause falls back to err().
    return c == null ? null : Context.cause(c);
  }

  @Override
  public final Registration onDone(Runnable callback) {
    // Ours to refuse, as every ctx4j context does: a custom source might take a null and fail only
    // when it runs its callbacks.
    Objects.requireNonNull(callback, "callback");
    Context c = cancelSource;
    // A custom source's onDone may return null: say so here, not as a bare NullPointerException in
    // whoever later stops the registration (an await's finally, a future's completion).
    return c == null ? RootContext.BACKGROUND.onDone(callback) : CoreInternals.register(c, callback);
  }

  @Override
  public final void await() throws InterruptedException {
    target().await();
  }

  @Override
  public final boolean await(Duration timeout) throws InterruptedException {
    return target().await(timeout);
  }

  @Override
  public final <T> T await(CompletionStage<T> work)
      throws InterruptedException, ExecutionException {
    return target().await(work);
  }

  @Override
  public final CompletableFuture<Void> toFuture() {
    return target().toFuture();
  }

  @Override
  final Context parent() {
    return parent;
  }

  @Override
  final Context cancelSourceForChildren() {
    return cancelSource;
  }
}
