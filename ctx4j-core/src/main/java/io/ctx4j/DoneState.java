package io.ctx4j;

/**
 * The terminal state of a cancelable context: its error and cause, published together by one CAS so
 * that no reader can see one without the other. The two cause-less outcomes are shared singletons;
 * only a cancellation with an explicit cause allocates.
 */
final class DoneState {
  static final DoneState CANCELED = new DoneState(Context.CANCELED, Context.CANCELED);
  static final DoneState DEADLINE =
      new DoneState(Context.DEADLINE_EXCEEDED, Context.DEADLINE_EXCEEDED);

  final ContextException err;
  /** Never null: without an explicit cause it is {@link #err}, as in Go. */
  final Throwable cause;

  private DoneState(ContextException err, Throwable cause) {
    this.err = err;
    this.cause = cause;
  }

  static DoneState canceled(Throwable cause) {
    return cause == null || cause == Context.CANCELED
        ? CANCELED
        : new DoneState(Context.CANCELED, cause);
  }

  static DoneState deadline(Throwable cause) {
    return cause == null || cause == Context.DEADLINE_EXCEEDED
        ? DEADLINE
        : new DoneState(Context.DEADLINE_EXCEEDED, cause);
  }

  /**
   * The state to copy from a custom context that reports itself done (or claims to be). An
   * exception from its {@code err()} or {@code cause()} is dropped: the state is then the plain
   * {@link #CANCELED} (or {@link #DEADLINE} if only {@code cause()} failed and {@code err()} said
   * so). An {@link Error} propagates, not ours to keep; a caller that has a child to end must end it
   * first ({@link CancelStateMachine#cancelFrom}), and a factory that has none yet lets it through.
   */
  static DoneState from(Context foreign) {
    ContextException e;
    try {
      e = foreign.err();
    } catch (Exception ex) { // not only unchecked: a foreign context may throw one undeclared
      // It ran our callback, so it is done; a broken err() must not leave the child live forever.
      e = null;
    }
    Throwable c;
    try {
      c = foreign.cause();
    } catch (Exception ex) {
      c = null;
    }
    boolean timeout = e != null && e.isTimeout();
    return timeout ? deadline(c) : canceled(c);
  }
}
