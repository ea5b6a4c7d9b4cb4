package io.ctx4j;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;

/**
 * A layer that cannot be cancelled itself ({@code withValue}, {@code withoutCancel}, {@code
 * withTimeSource}): every question about done-ness goes to {@link #canceler} in one hop, however
 * many such layers sit in between (Go walks them one by one).
 */
abstract sealed class DerivedCtx extends Ctx permits ValueCtx, LayerCtx {
  private final Context parent;
  /** The nearest ctx4j cancelable ancestor, or a custom ancestor, or null when nothing can cancel. */
  private final Context canceler;

  DerivedCtx(Context parent, Env env, Context canceler) {
    super(env, bindingsOf(parent));
    this.parent = parent;
    this.canceler = canceler;
  }

  /** Where done-ness questions go: the canceler, or a root when nothing can cancel us. */
  private Context target() {
    Context c = canceler;
    return c == null ? RootCtx.BACKGROUND : c;
  }

  @Override
  public final ContextException err() {
    Context c = canceler;
    return c == null ? null : c.err();
  }

  @Override
  public final boolean isDone() {
    Context c = canceler;
    return c != null && c.isDone();
  }

  @Override
  public final Throwable cause() {
    Context c = canceler;
    return c == null ? null : c.cause();
  }

  @Override
  public final Registration onDone(Runnable callback) {
    return target().onDone(callback);
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
  final Context canceler() {
    return canceler;
  }
}
