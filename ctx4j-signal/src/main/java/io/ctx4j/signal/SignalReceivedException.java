package io.ctx4j.signal;

/**
 * The {@linkplain io.ctx4j.Context#cause() cause} of a context that {@link Signals} cancelled because
 * the process received a signal. Its message is Go's on Linux, for example {@code "interrupt signal
 * received"} for SIGINT, {@code "terminated signal received"} for SIGTERM and {@code "child exited
 * signal received"} for SIGCHLD; {@link #signalName()} gives the JVM's name ({@code "INT"}, {@code
 * "TERM"}).
 *
 * <p>Immutable and safe to share between threads. It carries no stack trace: the place where the
 * JVM's signal thread created it says nothing useful.
 *
 * @since 0.1
 */
public final class SignalReceivedException extends Exception {
  private static final long serialVersionUID = 1L;

  /**
   * The signal's name as the JVM spells it, without the {@code SIG} prefix.
   *
   * @serial for example {@code INT}
   */
  private final String signalName;

  /**
   * The signal's number on the platform that received it.
   *
   * @serial for example 2 for SIGINT on Linux
   */
  private final int number;

  SignalReceivedException(String signalName, int number) {
    super(Signals.goName(signalName) + " signal received", null, false, false);
    this.signalName = signalName;
    this.number = number;
  }

  /**
   * Returns the signal's name as the JVM spells it, without the {@code SIG} prefix.
   *
   * @return for example {@code "INT"} or {@code "TERM"}
   */
  public String signalName() {
    return signalName;
  }

  /**
   * Returns the signal's number on this platform.
   *
   * @return for example 2 for SIGINT and 15 for SIGTERM on Linux
   */
  public int number() {
    return number;
  }
}
