package io.ctx4j;

/**
 * {@code withTimeSource}: a layer that changes the clock its descendants' deadlines are measured
 * on, and nothing else; done-ness is the parent's.
 */
final class TimeSourceContext extends ForwardingContext {
  private final TimeSource source;

  TimeSourceContext(
      Context parent, InheritedSettings parentSettings, Context cancelSource, TimeSource source) {
    super(parent, parentSettings.withTimeSource(source), cancelSource);
    this.source = source;
  }

  @Override
  void appendLayer(StringBuilder sb) {
    sb.append(".WithTimeSource(").append(DisplayNames.of((Object) source)).append(')');
  }
}
