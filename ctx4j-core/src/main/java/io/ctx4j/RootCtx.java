package io.ctx4j;

/** {@code context.Background} and {@code context.TODO}: never done, no deadline, no values. */
final class RootCtx extends Ctx {
  static final RootCtx BACKGROUND = new RootCtx("context.Background");
  static final RootCtx TODO = new RootCtx("context.TODO");

  private final String name;

  private RootCtx(String name) {
    super(Env.EMPTY, null);
    this.name = name;
  }

  @Override
  public ContextException err() {
    return null;
  }

  @Override
  public boolean isDone() {
    return false;
  }

  @Override
  public Throwable cause() {
    return null;
  }

  @Override
  public Registration onDone(Runnable callback) {
    java.util.Objects.requireNonNull(callback, "callback");
    return new NeverRegistration();
  }

  @Override
  Context parent() {
    return null;
  }

  @Override
  Context canceler() {
    return null;
  }

  @Override
  void appendLayer(StringBuilder sb) {
    sb.append(name);
  }
}

