package io.ctx4j;

/**
 * {@code withoutCancel}: a layer that is never done and has no deadline, but keeps the parent's
 * values and clock (Go's {@code withoutCancelCtx}).
 */
final class WithoutCancelContext extends ForwardingContext {
  WithoutCancelContext(Context parent, InheritedSettings parentSettings) {
    super(parent, parentSettings.withoutDeadline(), null);
  }

  @Override
  void appendLayer(StringBuilder sb) {
    sb.append(".WithoutCancel");
  }
}
