package io.ctx4j.bench.report;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.LinkedHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The before/after table: per-row ratios and the count of rows won before and still won. */
@Timeout(60)
class BeforeAfterTest {

  private static String result(String bench, String params, double... forks) {
    StringBuilder raw = new StringBuilder();
    for (double f : forks) {
      raw.append(raw.length() == 0 ? "" : ",").append("[").append(f).append(",").append(f).append("]");
    }
    return "{\"benchmark\":\"io.ctx4j.bench." + bench + "\",\"params\":{" + params + "},"
        + "\"primaryMetric\":{\"score\":1.0,\"scoreUnit\":\"ns/op\",\"rawData\":[" + raw + "]}}";
  }

  private static Report.Run run(String... results) throws Exception {
    Report.Run run = new Report.Run(new LinkedHashMap<>());
    Report.readJmh(run, new ObjectMapper().readTree("[" + String.join(",", results) + "]"), "test");
    return run;
  }

  @Test
  void countsRowsWonBeforeAndNamesTheOnesNoLongerWon() throws Exception {
    String d10 = "\"depth\":\"10\",\"root\":\"Background\"";
    String d100 = "\"depth\":\"100\",\"root\":\"Background\"";
    Report.Run before =
        run(result("CancelTree.ctx4j", d10, 40, 41, 39), result("CancelTree.ctx4j", d100, 40, 41, 39));
    Report.Run after =
        run(
            // depth 10: unchanged, still half of grpc's time: won before and after
            result("CancelTree.ctx4j", d10, 40, 40.5, 39.5),
            result("CancelTree.grpc", d10, 80, 81, 79),
            // depth 100: ctx4j became as slow as grpc: won before, a tie after
            result("CancelTree.ctx4j", d100, 60, 61, 59),
            result("CancelTree.grpc", d100, 60, 60.5, 59.5));
    String md = BeforeAfter.table("t", before, after);
    assertTrue(md.contains("| CancelTree/depth=10/Root=Background | ns/op | 40.0 | 40.0 | 1.00 ["), md);
    assertTrue(md.contains("| CancelTree/depth=100/Root=Background | ns/op | 40.0 | 60.0 | 1.50 ["), md);
    assertTrue(
        md.contains(
            "Rows won before (before / peer: win): 2; still won after: 1; not won after:"
                + " CancelTree/depth=100/Root=Background (tie)."),
        md);
  }

  @Test
  void badCommandLinesAreRefusedByName() {
    IllegalArgumentException unknown =
        assertThrows(IllegalArgumentException.class, () -> BeforeAfter.main(new String[] {"--bfore", "x"}));
    assertTrue(unknown.getMessage().contains("--bfore"), unknown.getMessage());
    IllegalArgumentException noValue =
        assertThrows(IllegalArgumentException.class, () -> BeforeAfter.main(new String[] {"--out"}));
    assertTrue(noValue.getMessage().contains("--out needs a value"), noValue.getMessage());
    IllegalArgumentException missing =
        assertThrows(IllegalArgumentException.class, () -> BeforeAfter.main(new String[] {"--out", "f"}));
    assertTrue(missing.getMessage().startsWith("usage:"), missing.getMessage());
  }
}
