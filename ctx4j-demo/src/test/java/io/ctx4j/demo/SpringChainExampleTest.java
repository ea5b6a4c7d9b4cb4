package io.ctx4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The springChain scenario: three real Spring Boot services on loopback (Jetty, h2c). */
@Timeout(180)
class SpringChainExampleTest {
  private static final Pattern LEFT = Pattern.compile("([ABC]): (\\d+) ms left");

  @Test
  void theDeadlineShrinksAtEachHopAndGivingUpEndsEveryHop() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
      Scenarios.registry(DemoTime.system()).get("springChain").run(out);
    }
    List<String> lines = bytes.toString(StandardCharsets.UTF_8).lines().toList();
    String all = String.join("\n", lines);
    int second = lines.indexOf("-- no deadline; the caller gives up once C is working (its HTTP/2 stream is reset)");
    assertTrue(second > 0, all);
    List<String> deadline = lines.subList(0, second);
    List<String> gaveUp = lines.subList(second, lines.size());

    List<Long> left = new ArrayList<>();
    List<String> order = new ArrayList<>();
    for (String line : deadline) {
      Matcher m = LEFT.matcher(line);
      if (m.matches()) {
        order.add(m.group(1));
        left.add(Long.parseLong(m.group(2)));
      }
    }
    assertEquals(List.of("A", "B", "C"), order, all);
    assertTrue(left.get(0) < 300 && left.get(1) < left.get(0) && left.get(2) < left.get(1), "budgets " + left);
    assertTrue(deadline.stream().anyMatch(l -> l.matches("A: context ended \\d+ ms after the request was sent \\(deadline exceeded: .*")), all);
    for (String hop : List.of("B", "C")) {
      // B and C end by their own (earlier) deadlines, or, on a loaded machine, by their caller's abort.
      assertTrue(deadline.stream().anyMatch(l -> l.matches(hop + ": context ended \\d+ ms after the request was sent \\((deadline exceeded|client disconnected): .*")), all);
    }
    for (String hop : List.of("A", "B", "C")) {
      assertTrue(gaveUp.contains(hop + ": no deadline"), all);
      assertTrue(gaveUp.stream().anyMatch(l -> l.matches(hop + ": context ended \\d+ ms after the caller gave up \\(client disconnected: .*")), all);
    }
  }
}
