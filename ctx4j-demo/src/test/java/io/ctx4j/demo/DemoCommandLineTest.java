package io.ctx4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link Demo#run}: listing, selecting and rejecting scenarios. */
class DemoCommandLineTest {
  private final ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
  private final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
  private final PrintStream out = new PrintStream(outBytes, true, StandardCharsets.UTF_8);
  private final PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);
  private final DemoTime time = new SteppedTime().time;

  private int run(String... args) {
    return Demo.run(args, out, err, time);
  }

  private List<String> out() {
    return outBytes.toString(StandardCharsets.UTF_8).lines().toList();
  }

  private String err() {
    return errBytes.toString(StandardCharsets.UTF_8);
  }

  @Test
  void listShowsEveryRegisteredScenarioWithItsDescriptionAndRunsNothing() {
    assertEquals(0, run("--list"));
    List<String> listed = out();
    List<Scenario> registered = List.copyOf(Scenarios.registry(time).values());
    assertEquals(registered.size(), listed.size(), String.join("\n", listed));
    for (int i = 0; i < listed.size(); i++) {
      String line = listed.get(i);
      Scenario s = registered.get(i);
      assertTrue(line.startsWith(s.name() + " "), line);
      assertTrue(line.endsWith("  " + s.description()), line);
    }
    assertEquals("", err());
  }

  @Test
  void namedScenariosRunInTheOrderGiven() {
    assertEquals(0, run("withValue", "todo", "background"));
    assertEquals(
        List.of(
            "== 6. withValue ==",
            "UserID: 42",
            "== 2. todo ==",
            "context.TODO",
            "== 1. background ==",
            "context.Background"),
        out());
    assertEquals("", err());
  }

  @Test
  void anUnknownNameIsAUsageErrorAndNothingRuns() {
    assertEquals(Demo.USAGE, run("withValue", "withCancle"));
    assertEquals(List.of(), out(), "the valid name before the bad one must not run either");
    assertTrue(err().startsWith("unknown scenario: withCancle\nusage: "), err());
    assertTrue(err().contains("  withCancel "), "the usage lists the names: " + err());
  }

  @Test
  void helpPrintsTheUsageOnStandardOutput() {
    assertEquals(0, run("--help"));
    assertTrue(out().get(0).startsWith("usage: Demo "), out().toString());
    assertTrue(out().contains("scenarios:"), out().toString());
    assertEquals("", err());
  }

  @Test
  void nullArgumentsAreRejectedByName() {
    NullPointerException e =
        assertThrows(NullPointerException.class, () -> Demo.run(null, out, err, time));
    assertEquals("args", e.getMessage());
    e = assertThrows(NullPointerException.class, () -> Demo.run(new String[0], out, err, null));
    assertEquals("time", e.getMessage());
  }

  /**
   * {@code -Dctx4j.demo.charset} that names no charset (misspelt, empty, not a legal name) is a
   * wrong command line: status 2 and one line naming the value, as for an unknown scenario; it was
   * an uncaught exception with its stack trace and status 1. Run as the program itself, in a JVM of
   * its own, since {@code main} exits.
   */
  @ParameterizedTest
  @ValueSource(strings = {"no-such-charset", "", "x y"})
  @Timeout(120)
  void anUnknownCharsetIsAUsageError(String name) throws Exception {
    Process p =
        new ProcessBuilder(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-D" + Demo.CHARSET + "=" + name,
                "-cp",
                System.getProperty("java.class.path"),
                Demo.class.getName(),
                "--list")
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    String said = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "still running");
    assertEquals(Demo.USAGE, p.exitValue(), said);
    assertEquals(
        "-D" + Demo.CHARSET + "=" + name + ": not a charset this JVM supports (e.g. UTF-8)\n",
        said.replace(System.lineSeparator(), "\n"));
  }

  @Test
  void aKnownCharsetIsTaken() {
    assertEquals(StandardCharsets.ISO_8859_1, Demo.charset("ISO-8859-1", err));
    assertEquals("", err());
  }
}
