package io.ctx4j.signal;

import io.ctx4j.Context;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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
 * the JVM does not start its shutdown. As with Go's {@code signal.Notify}, a signal reaches
 * <em>every</em> live context that lists it: an application's {@code notifyContext(bg, "INT",
 * "TERM")} and a library's {@code notifyContext(bg, "TERM")} both end on one SIGTERM. A context
 * stops listening when it is done, whether by a signal, by {@link SignalContext#stop()} or {@code
 * close()}, or by its parent; once no live context listens for a signal, the handler that was in
 * place before the first of them (normally the JVM's, which runs the shutdown hooks and exits) is
 * put back, in whatever order the contexts ended. When a signal ends the last listener, the handler
 * is back before anyone can see that context done, so a second Ctrl-C during a slow drain stops the
 * process the usual way; and a signal that races the last {@code stop()} is never dropped: either
 * it ends that context first ({@code stop()} returns {@code false}, and the cause names the signal)
 * or it goes to the restored handler, or, if a new context is registered at once, it may end that
 * one (the JDK gives a signal to the handler installed when its signal thread gets to it, not when
 * the signal arrived). That holds for a signal whose previous handler is a Java one, as the JVM's
 * for INT, TERM and HUP are; a native one (the default action of USR1 or WINCH, a signal ignored)
 * cannot be handed a signal from Java, and the JDK drops a signal whose Java handler was removed
 * before its signal thread got to it, so in that race such a signal may be lost.
 *
 * <p>Signals are those of {@code sun.misc.Signal} in module {@code jdk.unsupported}, present in every
 * JDK from 17 on. Names are the JVM's, without {@code SIG}: {@code INT}, {@code TERM}, {@code HUP},
 * {@code USR1}, {@code WINCH}... Refused with {@link IllegalArgumentException}: unknown names (with
 * a hint for {@code "SIGTERM"} or {@code "term"}), signals HotSpot keeps for itself ({@code QUIT},
 * {@code KILL}, {@code STOP}, {@code SEGV}, {@code FPE}, {@code ILL}; all of the shutdown signals
 * on a JVM started with {@code -Xrs}), and signals it handles natively ({@code BUS}: faults in
 * mapped files; {@code USR2}: thread suspension on Linux; {@code PIPE} and {@code XFSZ}: ignored so
 * that I/O fails instead of killing the process), which a Java handler would silently break.
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
   * "HUP"}... When the context is done it stops listening; a signal's previous handler is restored
   * once no live context listens for it.
   *
   * @param parent the parent context
   * @param signals the signal names; at least one
   * @return the new context; stop or close it when signals no longer need diverting
   * @throws NullPointerException if {@code parent}, {@code signals} or one of the names is null
   * @throws IllegalArgumentException if no signal is given, or a signal is unknown, handled by the
   *     JVM itself, or refused by this JVM; the message names it, and nothing is left registered
   */
  public static SignalContext notifyContext(Context parent, String... signals) {
    Objects.requireNonNull(parent, "parent");
    Objects.requireNonNull(signals, "signals");
    if (signals.length == 0) {
      throw new IllegalArgumentException("signals: name at least one signal, e.g. \"INT\"");
    }
    List<Signal> list = new ArrayList<>(signals.length);
    for (int i = 0; i < signals.length; i++) {
      list.add(parse(i, Objects.requireNonNull(signals[i], "signals[" + i + "]")));
    }
    return new SignalContext(parent, list);
  }

  /** Signals the JVM handles natively: a Java handler would replace, and break, what it does. */
  private static final List<String> NATIVE = List.of("BUS", "USR2", "PIPE", "XFSZ");

  private static Signal parse(int index, String name) {
    String where = "signals[" + index + "]: ";
    if (NATIVE.contains(name)) {
      throw new IllegalArgumentException(
          where
              + "signal "
              + name
              + " is handled by the JVM itself (memory faults, thread suspension or failing I/O);"
              + " a handler of ours would break that");
    }
    try {
      return new Signal(name);
    } catch (IllegalArgumentException e) {
      String upper = name.toUpperCase(Locale.ROOT);
      String plain = upper.startsWith("SIG") ? upper.substring(3) : upper;
      String hint = plain.equals(name) || !known(plain) ? "" : "; did you mean \"" + plain + "\"?";
      throw new IllegalArgumentException(where + "unknown signal \"" + name + "\"" + hint, e);
    }
  }

  private static boolean known(String name) {
    try {
      new Signal(name);
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /**
   * Go's {@code os.Signal.String()} on Linux (its syscall signal table) for every signal the JVM
   * names; {@code CLD} and {@code POLL} are the JVM's other names of {@code CHLD} and {@code IO}.
   */
  private static final Map<String, String> GO_NAMES =
      Map.ofEntries(
          Map.entry("HUP", "hangup"),
          Map.entry("INT", "interrupt"),
          Map.entry("QUIT", "quit"),
          Map.entry("ILL", "illegal instruction"),
          Map.entry("TRAP", "trace/breakpoint trap"),
          Map.entry("ABRT", "aborted"),
          Map.entry("BUS", "bus error"),
          Map.entry("FPE", "floating point exception"),
          Map.entry("KILL", "killed"),
          Map.entry("USR1", "user defined signal 1"),
          Map.entry("SEGV", "segmentation fault"),
          Map.entry("USR2", "user defined signal 2"),
          Map.entry("PIPE", "broken pipe"),
          Map.entry("ALRM", "alarm clock"),
          Map.entry("TERM", "terminated"),
          Map.entry("STKFLT", "stack fault"),
          Map.entry("CHLD", "child exited"),
          Map.entry("CLD", "child exited"),
          Map.entry("CONT", "continued"),
          Map.entry("STOP", "stopped (signal)"),
          Map.entry("TSTP", "stopped"),
          Map.entry("TTIN", "stopped (tty input)"),
          Map.entry("TTOU", "stopped (tty output)"),
          Map.entry("URG", "urgent I/O condition"),
          Map.entry("XCPU", "CPU time limit exceeded"),
          Map.entry("XFSZ", "file size limit exceeded"),
          Map.entry("VTALRM", "virtual timer expired"),
          Map.entry("PROF", "profiling timer expired"),
          Map.entry("WINCH", "window changed"),
          Map.entry("IO", "I/O possible"),
          Map.entry("POLL", "I/O possible"),
          Map.entry("PWR", "power failure"),
          Map.entry("SYS", "bad system call"));

  /** The name Go's {@code os.Signal.String()} gives a signal on Linux; else the name in lower case. */
  static String goName(String jvmName) {
    String go = GO_NAMES.get(jvmName);
    return go != null ? go : jvmName.toLowerCase(Locale.ROOT);
  }

  /** Installs {@code handler} for {@code s}, naming the signal if the JVM refuses. */
  static SignalHandler install(Signal s, SignalHandler handler) {
    try {
      return Signal.handle(s, handler);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "signal "
              + s.getName()
              + " cannot be handled in this JVM (kept by the JVM for itself, or -Xrs): "
              + e.getMessage(),
          e);
    }
  }
}
