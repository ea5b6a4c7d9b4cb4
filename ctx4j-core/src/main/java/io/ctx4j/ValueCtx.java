package io.ctx4j;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;

/**
 * A context that changes what children inherit but not cancellation: {@code WithValue}, {@code
 * WithoutCancel} and {@code withTimeSource}. Its done state is that of {@link #canceler}, reached in
 * one hop however many value layers sit in between (Go walks them one by one).
 */
final class ValueCtx extends Ctx {
  enum Kind {
    VALUE,
    WITHOUT_CANCEL,
    TIME_SOURCE
  }

  private final Context parent;
  /** The nearest ctx4j cancelable ancestor, or a custom ancestor, or null when nothing can cancel. */
  private final Context canceler;
  private final Kind kind;
  private final Object key;
  private final Object value;

  ValueCtx(Context parent, Env env, Context canceler, Kind kind, Object key, Object value) {
    super(env);
    this.parent = parent;
    this.canceler = canceler;
    this.kind = kind;
    this.key = key;
    this.value = value;
  }

  /** Where done-ness questions go: the canceler, or a root when nothing can cancel us. */
  private Context target() {
    Context c = canceler;
    return c == null ? RootCtx.BACKGROUND : c;
  }

  @Override
  public ContextException err() {
    Context c = canceler;
    return c == null ? null : c.err();
  }

  @Override
  public boolean isDone() {
    Context c = canceler;
    return c != null && c.isDone();
  }

  @Override
  public Throwable cause() {
    Context c = canceler;
    return c == null ? null : c.cause();
  }

  @Override
  public Registration onDone(Runnable callback) {
    return target().onDone(callback);
  }

  @Override
  public void await() throws InterruptedException {
    target().await();
  }

  @Override
  public boolean await(Duration timeout) throws InterruptedException {
    return target().await(timeout);
  }

  @Override
  public <T> T await(CompletionStage<T> work) throws InterruptedException, ExecutionException {
    return target().await(work);
  }

  @Override
  public CompletableFuture<Void> toFuture() {
    return target().toFuture();
  }

  @Override
  Context parent() {
    return parent;
  }

  @Override
  Context canceler() {
    return canceler;
  }

  @Override
  void appendLayer(StringBuilder sb) {
    switch (kind) {
      case VALUE:
        sb.append(".WithValue(").append(key).append(", ").append(Names.ofValue(value)).append(')');
        break;
      case WITHOUT_CANCEL:
        sb.append(".WithoutCancel");
        break;
      default:
        sb.append(".WithTimeSource(").append(key).append(')');
        break;
    }
  }
}
