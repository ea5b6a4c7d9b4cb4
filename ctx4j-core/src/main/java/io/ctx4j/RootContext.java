package io.ctx4j;

/** {@code context.Background} and {@code context.TODO}: never done, no deadline, no values. */
final class RootContext extends BaseContext {
  static final RootContext BACKGROUND = new RootContext("context.Background");
  static final RootContext TODO = new RootContext("context.TODO");

  private final String name;

  private RootContext(String name) {
    super(InheritedSettings.EMPTY, null);
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
  Context cancelSourceForChildren() {
    return null;
  }

  @Override
  void appendLayer(StringBuilder sb) {
    sb.append(name);
  }
}

