package io.ctx4j.signal;

import io.ctx4j.Context;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * Contexts cancelled by operating-system signals: Go's {@code signal.NotifyContext}, for graceful
 * shutdown.
 *
 * <pre>{@code
 * try (SignalContext ctx = Signals.notifyContext(Context.background(), "INT", "TERM")) {
 *   server.serve(ctx);       // returns once Ctrl-C or SIGTERM cancels ctx
 *   server.drain();          // finish in-flight work; a second Ctrl-C now ends the JVM as usual
 * }
 * }</pre>
 *
 * <p>While the context is live, the listed signals are <em>diverted</em> to it: the first one
 * cancels it with a {@link SignalReceivedException} cause ({@code "interrupt signal received"}), and
 * the JVM does not start its shutdown. The handlers that were in place before (normally the JVM's,
 * which run the shutdown hooks and exit) are put back as soon as the context is done, whether by a
 * signal, by {@link SignalContext#stop()} or {@code close()}, or by its parent; so a second Ctrl-C
 * during a slow drain stops the process the usual way.
 *
 * <p>Signals are those of {@code sun.misc.Signal} in module {@code jdk.unsupported}, present in every
 * JDK from 17 on; on JVMs started with {@code -Xrs}, or for signals the JVM reserves (such as {@code
 * QUIT} and {@code USR1} on HotSpot), registration fails with {@link IllegalArgumentException}.
 * Contexts made by this class over the same signal should be stopped in the reverse order of their
 * creation, since each restores the handler it found.
 *
 * <p>Unlike Go, HotSpot leaves SIGINT, SIGTERM and SIGHUP alone when the process started with them
 * ignored (SIGHUP under {@code nohup}, SIGINT for a background job of a non-interactive shell): the
 * handler is accepted but never called, so such a context ends only by its other means. List both
 * {@code INT} and {@code TERM} so that a process manager's SIGTERM still reaches it.
 *
 * <p>Thread safety: thread-safe. Memory consistency effects: actions before a signal's delivery
 * happen-before a thread observes the context done.
 *
 * @since 0.1
 */
public final class Signals {
  private Signals() {}

  /**
   * Derives from {@code parent} a context that is cancelled when the process receives one of {@code
   * signals}. Names are the JVM's, without {@code SIG}: {@code "INT"}, {@code "TERM"}, {@code
   * "HUP"}... Each signal's previous handler is restored when the context is done.
   *
   * @param parent the parent context
   * @param signals the signal names; at least one
   * @return the new context; stop or close it when signals no longer need diverting
   * @throws NullPointerException if {@code parent}, {@code signals} or one of the names is null
   * @throws IllegalArgumentException if no signal is given, or a signal is unknown or cannot be
   *     handled in this JVM (nothing is left registered in that case)
   */
  public static SignalContext notifyContext(Context parent, String... signals) {
    Objects.requireNonNull(parent, "parent");
    Objects.requireNonNull(signals, "signals");
    if (signals.length == 0) {
      throw new IllegalArgumentException("signals: name at least one signal, e.g. \"INT\"");
    }
    List<Signal> list = new ArrayList<>(signals.length);
    for (int i = 0; i < signals.length; i++) {
      String name = Objects.requireNonNull(signals[i], "signals[" + i + "]");
      try {
        list.add(new Signal(name));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("signals[" + i + "]: unknown signal \"" + name + "\"", e);
      }
    }
    return new SignalContext(parent, list);
  }

  /** The name Go's {@code os.Signal.String()} gives a signal, as far as the common ones go. */
  static String goName(String jvmName) {
    switch (jvmName) {
      case "INT":
        return "interrupt";
      case "TERM":
        return "terminated";
      case "HUP":
        return "hangup";
      case "QUIT":
        return "quit";
      case "USR1":
        return "user defined signal 1";
      case "USR2":
        return "user defined signal 2";
      case "PIPE":
        return "broken pipe";
      case "ALRM":
        return "alarm clock";
      case "WINCH":
        return "window changed";
      default:
        return jvmName.toLowerCase(Locale.ROOT);
    }
  }

  /** Installs {@code handler} for {@code s}, naming the signal if the JVM refuses. */
  static SignalHandler install(Signal s, SignalHandler handler) {
    try {
      return Signal.handle(s, handler);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "signal " + s.getName() + " cannot be handled in this JVM (reserved, or -Xrs)", e);
    }
  }
}
