package io.ctx4j.demo;

import java.io.PrintStream;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The demo's command line: runs the Go tutorial's examples, or the scenarios named as arguments.
 *
 * <pre>
 * mvn -q -pl ctx4j-demo exec:java                                  # the seed examples, in real time
 * mvn -q -pl ctx4j-demo exec:java -Dexec.args="--list"             # what can be named
 * mvn -q -pl ctx4j-demo exec:java -Dexec.args="withCancel withValue"
 * </pre>
 *
 * <p>Output is UTF-8 (the examples print Russian, as the tutorial does) unless the system property
 * {@code ctx4j.demo.charset} names another charset.
 */
public final class Demo {
  /** Exit status for a bad command line. */
  static final int USAGE = 2;

  /** The system property that names the output's charset. */
  static final String CHARSET = "ctx4j.demo.charset";

  private Demo() {}

  /**
   * Runs the demo in real time on standard output and exits with a non-zero status if the command
   * line is wrong (status 2, also for an unknown {@code ctx4j.demo.charset}) or a scenario fails.
   *
   * @param args scenario names, {@code --list} or {@code --help}; none means {@code seed}
   */
  public static void main(String[] args) {
    Charset charset = charset(System.getProperty(CHARSET, StandardCharsets.UTF_8.name()), System.err);
    if (charset == null) {
      System.exit(USAGE);
    }
    // Wrap rather than replace System.out, so that redirections made by a launcher still apply.
    PrintStream out = new PrintStream(System.out, true, charset);
    int status = run(args, out, System.err, DemoTime.system());
    out.flush();
    if (status != 0) {
      System.exit(status);
    }
  }

  /**
   * Interprets a command line: lists the scenarios, or runs the named ones in the given order.
   * Every name is checked before anything runs.
   *
   * @param args scenario names, {@code --list} or {@code --help}; none means {@value
   *     Scenarios#DEFAULT}
   * @param out where scenarios and listings print
   * @param err where usage errors and failures are reported
   * @param time the clock the scenarios use
   * @return 0 on success, {@value #USAGE} for a bad command line, 1 if a scenario failed
   * @throws NullPointerException if an argument or an element of {@code args} is null
   */
  public static int run(String[] args, PrintStream out, PrintStream err, DemoTime time) {
    Objects.requireNonNull(args, "args");
    Objects.requireNonNull(out, "out");
    Objects.requireNonNull(err, "err");
    Map<String, Scenario> registry = Scenarios.registry(Objects.requireNonNull(time, "time"));

    List<Scenario> selected = new ArrayList<>();
    for (String arg : args) {
      Objects.requireNonNull(arg, "args element");
      switch (arg) {
        case "--list":
          list(registry, out, "");
          return 0;
        case "-h":
        case "--help":
          usage(registry, out);
          return 0;
        default:
          Scenario s = registry.get(arg);
          if (s == null) {
            err.println("unknown scenario: " + arg);
            usage(registry, err);
            return USAGE;
          }
          selected.add(s);
      }
    }
    if (selected.isEmpty()) {
      selected.add(registry.get(Scenarios.DEFAULT));
    }

    for (Scenario s : selected) {
      try {
        s.run(out);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        err.println("interrupted during " + s.name());
        return 1;
      } catch (Exception e) {
        out.flush();
        err.println("scenario " + s.name() + " failed:");
        e.printStackTrace(err);
        return 1;
      }
    }
    out.flush();
    return 0;
  }

  /**
   * The charset {@code name} names, or null after a one-line error on {@code err}: a misspelt
   * charset is a wrong command line, not a crash with a stack trace.
   */
  static Charset charset(String name, PrintStream err) {
    try {
      return Charset.forName(name);
    } catch (IllegalArgumentException e) { // unsupported, or not a legal charset name
      err.println("-D" + CHARSET + "=" + name + ": not a charset this JVM supports (e.g. UTF-8)");
      return null;
    }
  }

  private static void usage(Map<String, Scenario> registry, PrintStream out) {
    out.println("usage: Demo [--list | --help | SCENARIO...]   (default: " + Scenarios.DEFAULT + ")");
    out.println("scenarios:");
    list(registry, out, "  ");
  }

  private static void list(Map<String, Scenario> registry, PrintStream out, String indent) {
    int width = registry.keySet().stream().mapToInt(String::length).max().orElse(0);
    for (Scenario s : registry.values()) {
      out.println(indent + pad(s.name(), width) + "  " + s.description());
    }
  }

  private static String pad(String s, int width) {
    return s + " ".repeat(width - s.length());
  }
}
