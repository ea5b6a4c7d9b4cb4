package io.ctx4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The cross-service scenarios on real loopback servers; each takes about a second. */
@Timeout(60)
class CrossServiceExamplesTest {
  private static final Pattern LEFT = Pattern.compile("([ABC]): (-?\\d+) ms left");

  private static List<String> run(String name) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
      Scenarios.registry(DemoTime.system()).get(name).run(out);
    }
    return bytes.toString(StandardCharsets.UTF_8).lines().toList();
  }

  /** Checks that each hop printed that its context ended with the ctx4j exception {@code error}. */
  private static void assertEveryHopEnded(List<String> lines, String error, String otherwise) {
    for (String hop : List.of("A", "B", "C")) {
      assertTrue(
          lines.stream().anyMatch(l -> l.startsWith(hop + ": context ended (io.ctx4j." + error)),
          hop + " " + otherwise + ": " + lines);
    }
  }

  /** Checks the deadline part: budgets shrink A >= B >= C, all under 300 ms, all three hops end. */
  private static void assertDeadlineReachedEveryHop(List<String> lines) {
    Map<String, Long> left = new HashMap<>();
    for (String line : lines) {
      Matcher m = LEFT.matcher(line);
      if (m.matches()) {
        left.put(m.group(1), Long.parseLong(m.group(2)));
      }
    }
    assertEquals(3, left.size(), "hops reporting a budget: " + lines);
    assertTrue(
        left.get("A") < 300 && left.get("B") <= left.get("A") && left.get("C") <= left.get("B"),
        "budgets " + left);
    assertEveryHopEnded(lines, "DeadlineExceededException", "did not end with its deadline");
  }

  @Test
  void grpcChainShowsTheDeadlineShrinkingAndTheCancelReachingC() throws Exception {
    List<String> lines = run("grpcChain");
    int cancelPart = lines.indexOf("-- the caller gives up after 100 ms, no deadline");
    assertTrue(cancelPart > 0, String.join("\n", lines));
    assertDeadlineReachedEveryHop(lines.subList(0, cancelPart));
    List<String> cancel = lines.subList(cancelPart, lines.size());
    assertTrue(
        cancel.stream().anyMatch(l -> l.startsWith("caller: CANCELLED after ")), String.join("\n", cancel));
    for (String hop : List.of("A", "B", "C")) {
      assertTrue(cancel.contains(hop + ": no deadline"), String.join("\n", cancel));
    }
    assertEveryHopEnded(cancel, "CanceledException", "did not see the cancellation");
  }

  @Test
  void httpChainShowsTheDeadlineShrinking() throws Exception {
    List<String> lines = run("httpChain");
    assertTrue(lines.stream().anyMatch(l -> l.startsWith("caller: context deadline exceeded after")), String.join("\n", lines));
    assertDeadlineReachedEveryHop(lines);
  }
}
