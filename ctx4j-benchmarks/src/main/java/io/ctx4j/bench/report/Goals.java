package io.ctx4j.bench.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The goals of issue 5, each checked against the numbers of one run and written as a Markdown
 * section, per JDK: met, missed, or not measured, always with the numbers behind the verdict. Where a
 * goal says "no slower than", it is met unless the row is a loss by {@link Stats}' interval.
 * Single-threaded helper of {@link Report}.
 */
final class Goals {
  private static final double GO_CANCEL_BYTES = 80;

  private final Report.Run run;
  private final Map<String, Map<String, Cell>> rows;
  private final StringBuilder sb = new StringBuilder();

  Goals(Report.Run run) {
    this.run = run;
    this.rows = run.rows;
  }

  String markdown() {
    sb.append("## Goals\n\n");
    checkDone();
    missingKey();
    sharedChild();
    timeouts();
    bytesPerContext();
    linear("FanOut", "children", "cancel one parent, check every child");
    linear("Chain", "depth", "build and cancel a chain");
    return sb.toString();
  }

  private void line(String verdict, String goal, String numbers) {
    sb.append("- **").append(verdict).append("** ").append(goal).append(": ").append(numbers).append('\n');
  }

  private static String verdict(boolean met) {
    return met ? "met" : "missed";
  }

  private Cell get(String row, String lib) {
    return run.get(row, lib);
  }

  /**
   * Not slower: the 95% interval of the ratio does not lie above 1 (see {@link Stats}); null when
   * the row has no call (fewer than two forks).
   */
  private Boolean notSlower(String row, String lib) {
    Stats.Verdict v = Report.compare(run, row, lib).verdict;
    return v == Stats.Verdict.NONE ? null : v != Stats.Verdict.LOSS;
  }

  private static String verdict(Boolean met) {
    return met == null ? "no call (needs two forks)" : verdict(met.booleanValue());
  }

  private static String f(double x) {
    return String.format(Locale.ROOT, "%.2f", x);
  }

  private void checkDone() {
    Cell me = get("ContextCancelDone", Report.CTX4J);
    Cell grpc = get("ContextCancelDone", Report.GRPC);
    Cell base = get("ContextCancelDone", Report.BASELINE);
    if (me == null || grpc == null || base == null) {
      line("not measured", "done check on a shared open context", "ContextCancelDone rows missing");
      return;
    }
    double speedup = grpc.nanos / me.nanos;
    line(
        verdict(speedup >= 10),
        "done check from 2 threads at least 10x cheaper than grpc-java's isCancelled()",
        Report.time(me.nanos) + " vs " + Report.time(grpc.nanos) + " = " + f(speedup) + "x");
    line(
        verdict(notSlower("ContextCancelDone", Report.BASELINE)),
        "done check no slower than a plain volatile read (ratio's 95% interval not above 1)",
        Report.time(me.nanos) + " vs " + Report.time(base.nanos) + ", ratio "
            + Report.compare(run, "ContextCancelDone", Report.BASELINE).text());
  }

  private void missingKey() {
    List<String> parts = new ArrayList<>();
    Boolean ok = true;
    boolean any = false;
    for (String row : rows.keySet()) {
      if (!Report.classOf(row).equals("DeepValueSameGoRoutine")) {
        continue;
      }
      Cell me = get(row, Report.CTX4J);
      Cell grpc = get(row, Report.GRPC);
      if (me == null || grpc == null) {
        continue;
      }
      any = true;
      Boolean r = notSlower(row, Report.GRPC);
      ok = ok == null || r == null ? null : ok && r;
      parts.add(row.substring(row.indexOf('/') + 1) + ": " + Report.time(me.nanos) + " vs " + Report.time(grpc.nanos)
          + ", ratio " + Report.compare(run, row, Report.GRPC).text());
    }
    if (!any) {
      line("not measured", "missing-key lookup no slower than grpc-java", "no DeepValueSameGoRoutine rows");
      return;
    }
    line(verdict(ok), "missing-key lookup up to 100 values no slower than grpc-java (no loss)", String.join("; ", parts));
  }

  private void sharedChild() {
    Cell me = get("SharedParentChild", Report.CTX4J);
    Cell alloc = get("SharedParentChild", Report.ALLOC_BASELINE);
    Cell cas = get("SharedParentChild", Report.ALLOC_CAS_BASELINE);
    if (me == null || alloc == null) {
      line("not measured", "create+cancel a child of a shared parent", "SharedParentChild rows missing");
      return;
    }
    double x = me.nanos / alloc.nanos;
    line(
        verdict(x <= 2),
        "creating+cancelling a child of a shared parent at most 2x a bare allocation of the same size",
        Report.time(me.nanos) + " vs " + Report.time(alloc.nanos) + " = " + f(x) + "x"
            + (Double.isNaN(me.bytes) ? "" : " (" + f(me.bytes) + " B vs " + f(alloc.bytes) + " B)")
            + (cas == null
                ? ""
                : "; the same allocation plus the one compare-and-set a first-wins cancel needs: "
                    + Report.time(cas.nanos) + ", ctx4j = " + f(me.nanos / cas.nanos) + "x that"));
  }

  private void timeouts() {
    String row = "WithTimeout/concurrency=400000";
    Cell me = get(row, Report.CTX4J);
    Cell go = get(row, Report.GO);
    if (me == null || go == null) {
      line("not measured", "timeout created and cancelled early cheaper than Go's at 400,000 pending", row + " missing for ctx4j or Go");
      return;
    }
    line(
        verdict(me.nanos < go.nanos),
        "timeout created and cancelled early cheaper than Go's at 400,000 pending, no timer left behind",
        Report.time(me.nanos) + " vs " + Report.time(go.nanos) + " per 10; the benchmark's tear-down"
            + " fails the run if a timer is left pending, so a result means none was");
  }

  private void bytesPerContext() {
    Cell me = get("Footprint/Cancel", Report.CTX4J);
    if (me == null || Double.isNaN(me.bytes)) {
      me = get("CancelTree/depth=1/Root=Background", Report.CTX4J);
    }
    if (me == null || Double.isNaN(me.bytes)) {
      line("not measured", "bytes per cancellable context <= Go's 80 B", "run with -prof gc");
      return;
    }
    Cell go = get("CancelTree/depth=1/Root=Background", Report.GO);
    double limit = go == null || Double.isNaN(go.bytes) ? GO_CANCEL_BYTES : go.bytes;
    Cell child = get("Footprint/Child", Report.CTX4J);
    line(
        verdict(me.bytes <= limit),
        "bytes per cancellable context <= Go's " + f(limit) + " B for WithCancel",
        f(me.bytes) + " B" + (child == null ? "" : "; child of an open parent incl. its registration: " + f(child.bytes) + " B"));
  }

  private void linear(String cls, String param, String what) {
    double smallN = Double.NaN;
    double largeN = Double.NaN;
    Cell small = null;
    Cell large = null;
    for (String row : rows.keySet()) {
      if (!Report.classOf(row).equals(cls)) {
        continue;
      }
      Cell c = get(row, Report.CTX4J);
      int at = row.indexOf(param + "=");
      if (c == null || at < 0) {
        continue;
      }
      double n = Double.parseDouble(row.substring(at + param.length() + 1).split("/")[0]);
      if (small == null || n < smallN) {
        small = c;
        smallN = n;
      }
      if (large == null || n > largeN) {
        large = c;
        largeN = n;
      }
    }
    if (small == null || smallN == largeN) {
      line("not measured", cls + " in linear time (" + what + ")", "needs two sizes");
      return;
    }
    double perSmall = small.nanos / smallN;
    double perLarge = large.nanos / largeN;
    double growth = perLarge / perSmall;
    // Caches make a million objects dearer per element than a hundred thousand; 2x allows for that.
    line(
        verdict(growth <= 2),
        cls + " in linear time (" + what + ")",
        String.format(Locale.ROOT, "%.0f: %s per element, %.0f: %s per element (x%.2f)", smallN,
            Report.time(perSmall), largeN, Report.time(perLarge), growth));
  }
}
