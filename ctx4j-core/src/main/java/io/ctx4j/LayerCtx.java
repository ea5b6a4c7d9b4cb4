package io.ctx4j;

/**
 * {@code withoutCancel} (no canceler, no deadline) and {@code withTimeSource} (another clock for
 * the deadlines of descendants): layers that change what children inherit, but not values.
 */
final class LayerCtx extends DerivedCtx {
  /** Null for {@code withoutCancel}; the source for {@code withTimeSource}. */
  private final TimeSource source;

  private LayerCtx(Context parent, Env env, Context canceler, TimeSource source) {
    super(parent, env, canceler);
    this.source = source;
  }

  static LayerCtx withoutCancel(Context parent, Env parentEnv) {
    Env detached = new Env(parentEnv.valueFallback, null, parentEnv.timeSource);
    return new LayerCtx(parent, detached, null, null);
  }

  static LayerCtx withTimeSource(
      Context parent, Env parentEnv, Context canceler, TimeSource source) {
    return new LayerCtx(parent, parentEnv.withTimeSource(source), canceler, source);
  }

  @Override
  void appendLayer(StringBuilder sb) {
    if (source == null) {
      sb.append(".WithoutCancel");
    } else {
      sb.append(".WithTimeSource(").append(source).append(')');
    }
  }
}
