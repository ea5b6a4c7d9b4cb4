package io.ctx4j.bench.report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The before/after table of a change to the core: ctx4j's rows measured with the jar of the old
 * commit ("before") and with the jar of the new one ("after"), the peers measured in the after
 * run, on one JDK, in one session. A core change must not lose a row it won before (the project's
 * rule); this table is the evidence.
 *
 * <p>For each ctx4j row present in both runs: the geometric mean of the fork means before and after,
 * the ratio after / before with its 95% interval, the best peer of the row in the after run, and
 * the ratios before / peer and after / peer with their calls (win, tie, loss), all computed by
 * {@link Stats} (Welch's interval on log fork means). Footprint rows compare bytes per operation,
 * every other row time, as {@link Report} does; CommonParentCancel is compared with the JVM peers
 * on totals, as there.
 *
 * <p>Usage: {@code BeforeAfter --before DIR --after DIR --out FILE [--title TEXT]}; each DIR holds
 * JMH {@code -rf json} files ({@code jmh*.json}) and optionally a {@code meta.txt}, as the report's
 * run folders do. Single-threaded command-line tool.
 */
public final class BeforeAfter {
  private BeforeAfter() {}

  /**
   * Writes the table.
   *
   * @param args see the class description
   * @throws IOException if an input cannot be read or the output cannot be written
   * @throws IllegalArgumentException on unknown or missing options, or input that is not JMH's JSON
   */
  public static void main(String[] args) throws IOException {
    Map<String, List<String>> o =
        Report.options(args, "--before", "--after", "--out", "--title");
    if (!o.containsKey("--before") || !o.containsKey("--after") || !o.containsKey("--out")) {
      throw new IllegalArgumentException("usage: BeforeAfter --before DIR --after DIR --out FILE");
    }
    Path before = Path.of(Report.last(o, "--before"));
    Path after = Path.of(Report.last(o, "--after"));
    Path out = Path.of(Report.last(o, "--out"));
    String title = o.containsKey("--title") ? Report.last(o, "--title") : "Before / after";
    String md = table(title, Report.readRun(before), Report.readRun(after));
    Files.writeString(out, md, StandardCharsets.UTF_8);
    System.out.print(md);
  }

  /** The markdown table of two runs (see the class description). */
  static String table(String title, Report.Run before, Report.Run after) {
    StringBuilder sb = new StringBuilder();
    sb.append("# ").append(title).append("\n\n");
    sb.append("Before: ").append(before.meta.getOrDefault("JDK", "?"));
    sb.append("; ").append(before.meta.getOrDefault("ctx4j commit", "?")).append(".\n");
    sb.append("After: ").append(after.meta.getOrDefault("JDK", "?"));
    sb.append("; ").append(after.meta.getOrDefault("ctx4j commit", "?")).append(".\n\n");
    sb.append("| row | unit | before | after | after / before [95% CI] | best peer (after run) |")
        .append(" before / peer | after / peer | call before | call after |\n");
    sb.append("|---|---|---:|---:|---|---|---|---|---|---|\n");
    int wonBefore = 0;
    int stillWon = 0;
    List<String> lostWins = new ArrayList<>();
    for (String row : orderedRows(after)) {
      Cell b = before.get(row, Report.CTX4J);
      Cell a = after.get(row, Report.CTX4J);
      if (b == null || a == null) {
        continue;
      }
      boolean bytes = Report.comparesBytes(row);
      double[] bs = bytes ? b.byteSamples : b.samples;
      double[] as = bytes ? a.byteSamples : a.samples;
      Stats.Ratio change = Stats.ratio(as, bs);
      String peer = Report.bestPeer(after, row);
      Stats.Ratio bp = Stats.Ratio.NONE;
      Stats.Ratio ap = Stats.Ratio.NONE;
      if (peer != null) {
        Cell p = after.get(row, peer);
        double[] ps = bytes ? p.byteSamples : p.samples;
        bp = Stats.ratio(bs, ps);
        ap = Stats.ratio(as, ps);
      }
      if (bp.verdict == Stats.Verdict.WIN) {
        wonBefore++;
        if (ap.verdict == Stats.Verdict.WIN) {
          stillWon++;
        } else {
          lostWins.add(row + " (" + ap.verdict.text + ")");
        }
      }
      sb.append("| ").append(row).append(" | ").append(bytes ? "B/op" : "ns/op");
      sb.append(" | ").append(num(Stats.geoMean(bs))).append(" | ").append(num(Stats.geoMean(as)));
      sb.append(" | ").append(change.text());
      sb.append(" | ").append(peer == null ? "-" : peer);
      sb.append(" | ").append(bp.text()).append(" | ").append(ap.text());
      sb.append(" | ").append(bp.verdict.text).append(" | ").append(ap.verdict.text).append(" |\n");
    }
    sb.append("\nRows won before (before / peer: win): ").append(wonBefore);
    sb.append("; still won after: ").append(stillWon);
    sb.append(lostWins.isEmpty() ? "." : "; not won after: " + String.join(", ", lostWins) + ".");
    sb.append("\n");
    return sb.toString();
  }

  private static List<String> orderedRows(Report.Run run) {
    List<String> rows = new ArrayList<>();
    for (String cls : Report.ORDER) {
      for (Map.Entry<String, Map<String, Cell>> e : run.rows.entrySet()) {
        if (Report.classOf(e.getKey()).equals(cls)) {
          rows.add(e.getKey());
        }
      }
    }
    return rows;
  }

  private static String num(double v) {
    if (Double.isNaN(v)) {
      return "n/a";
    }
    if (v >= 1e6) {
      return String.format(Locale.ROOT, "%.3g ms", v / 1e6);
    }
    return String.format(Locale.ROOT, v >= 100 ? "%.0f" : "%.3g", v);
  }
}
