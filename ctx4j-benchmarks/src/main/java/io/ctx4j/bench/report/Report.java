package io.ctx4j.bench.report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns one benchmark run into {@code results.md} (machine, side-by-side table of ctx4j, Go,
 * grpc-java and Kotlin Job, goals met or missed) and {@code ratios.png} (ctx4j's ratio to the best
 * peer per row). Inputs: JMH's {@code -rf json} files and the text output of Go's {@code go test
 * -bench ... -benchmem}, possibly with {@code -count N} (repeated lines are averaged).
 *
 * <p>Usage: {@code Report --out DIR [--meta FILE] [--jmh FILE]... [--go FILE]...}; the meta file
 * holds {@code key: value} lines describing the machine and versions. Single-threaded command-line
 * tool.
 */
public final class Report {
  static final String CTX4J = "ctx4j";
  static final String GO = "go";
  static final String GRPC = "grpc";
  static final String KOTLIN = "kotlinJob";
  static final String BASELINE = "baseline";
  static final String ALLOC_BASELINE = "allocBaseline";
  static final String ALLOC_CAS_BASELINE = "allocCasBaseline";
  static final String GO_BASELINE = "goBaseline";
  static final List<String> PEERS = List.of(GO, GRPC, KOTLIN);

  /** Row order: Go's benchmarks in Go's order, then the extra goal rows, then the scale rows. */
  static final List<String> ORDER =
      List.of(
          "CommonParentCancel",
          "WithTimeout",
          "CancelTree",
          "CheckCanceled",
          "ContextCancelDone",
          "DeepValueNewGoRoutine",
          "DeepValueSameGoRoutine",
          "WithValue",
          "SharedParentChild",
          "Footprint",
          "FanOut",
          "Chain",
          "Timeouts",
          "Waiters");

  /** The rows that mirror a Go benchmark one for one. */
  static final List<String> MIRRORED = ORDER.subList(0, 8);

  /** Parameter order in row names, as Go spells them. */
  private static final List<String> PARAM_ORDER =
      List.of("concurrency", "depth", "root", "children", "count", "waiters");

  private static final Pattern GO_LINE =
      Pattern.compile(
          "^Benchmark(\\S+?)(?:-\\d+)?\\s+\\d+\\s+([0-9.e+]+) ns/op(?:\\s+([0-9.]+) B/op)?.*$");

  /** Suffix of the derived row that subtracts the busy-loop baseline. */
  static final String OVERHEAD = " (overhead)";

  private final Map<String, Map<String, Cell>> rows = new LinkedHashMap<>();

  private Report() {}

  /**
   * Runs the report.
   *
   * @param args see the class description
   * @throws IOException if an input cannot be read or an output cannot be written
   * @throws IllegalArgumentException on unknown options or missing {@code --out}
   */
  public static void main(String[] args) throws IOException {
    Path out = null;
    Path meta = null;
    Path readme = null;
    List<Path> jmh = new ArrayList<>();
    List<Path> go = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException("option " + a + " needs a value");
      }
      Path p = Paths.get(args[++i]);
      switch (a) {
        case "--out":
          out = p;
          break;
        case "--meta":
          meta = p;
          break;
        case "--jmh":
          jmh.add(p);
          break;
        case "--go":
          go.add(p);
          break;
        case "--readme":
          readme = p;
          break;
        default:
          throw new IllegalArgumentException("unknown option " + a);
      }
    }
    if (out == null) {
      throw new IllegalArgumentException("--out DIR is required");
    }
    Report r = new Report();
    for (Path p : jmh) {
      r.readJmh(Files.readString(p, StandardCharsets.UTF_8));
    }
    for (Path p : go) {
      r.readGo(Files.readString(p, StandardCharsets.UTF_8));
    }
    r.derive();
    Map<String, String> machine = new LinkedHashMap<>();
    if (meta != null) {
      for (String line : Files.readAllLines(meta, StandardCharsets.UTF_8)) {
        int c = line.indexOf(':');
        if (c > 0) {
          machine.put(line.substring(0, c).trim(), line.substring(c + 1).trim());
        }
      }
    }
    Files.createDirectories(out);
    String md = r.markdown(machine);
    Files.writeString(out.resolve("results.md"), md, StandardCharsets.UTF_8);
    if (readme != null) {
      embed(readme, md);
    }
    Chart.write(r.ratios(), title(machine), out.resolve("ratios.png"));
    System.out.println("wrote " + out.resolve("results.md") + " and " + out.resolve("ratios.png"));
  }

  /**
   * Replaces the text between the results markers of the README with the new results, so the README
   * always shows the latest full run. The image link is pointed at {@code results/latest/}.
   */
  private static void embed(Path readme, String md) throws IOException {
    String begin = "<!-- results:begin -->";
    String end = "<!-- results:end -->";
    String text = Files.readString(readme, StandardCharsets.UTF_8);
    int b = text.indexOf(begin);
    int e = text.indexOf(end);
    if (b < 0 || e < b) {
      throw new IllegalArgumentException(readme + " has no " + begin + " ... " + end + " block");
    }
    // Drop the document title and demote headings one level to fit under the README's section.
    String body = md.substring(md.indexOf('\n') + 1).replace("\n## ", "\n### ");
    body = body.replace("](ratios.png)", "](results/latest/ratios.png)");
    String updated = text.substring(0, b + begin.length()) + "\n" + body.trim() + "\n" + text.substring(e);
    Files.writeString(readme, updated, StandardCharsets.UTF_8);
  }

  private static String title(Map<String, String> machine) {
    String jdk = machine.getOrDefault("JDK", System.getProperty("java.version"));
    String cpu = machine.getOrDefault("CPU", "");
    return "ctx4j / best peer, time (Footprint: bytes); below 1 = ctx4j better; JDK " + jdk + ", " + cpu;
  }

  // ------------------------------------------------------------------------------------ inputs

  void readJmh(String json) {
    Object doc = Json.parse(json);
    if (!(doc instanceof List)) {
      throw new IllegalArgumentException("JMH JSON: expected an array of results");
    }
    for (Object o : (List<?>) doc) {
      Map<?, ?> m = (Map<?, ?>) o;
      String bench = (String) m.get("benchmark");
      String[] parts = bench.split("\\.");
      // KotlinChain is Chain for Kotlin at the depths Kotlin can finish; it fills Chain's rows.
      String cls = parts[parts.length - 2].equals("KotlinChain") ? "Chain" : parts[parts.length - 2];
      String method = parts[parts.length - 1];
      String variant = "";
      String lib = method;
      int us = method.indexOf('_');
      if (us > 0) {
        variant = "/" + capitalize(method.substring(0, us));
        lib = method.substring(us + 1);
      }
      Map<?, ?> params = (Map<?, ?>) m.get("params");
      String row = cls + variant + paramSuffix(params);
      Map<?, ?> primary = (Map<?, ?>) m.get("primaryMetric");
      double scale = toNanos((String) primary.get("scoreUnit"));
      double score = Json.number(primary.get("score")) * scale;
      double error = Json.number(primary.get("scoreError")) * scale;
      double bytes = Double.NaN;
      Map<?, ?> secondary = (Map<?, ?>) m.get("secondaryMetrics");
      if (secondary != null) {
        for (Map.Entry<?, ?> e : secondary.entrySet()) {
          if (((String) e.getKey()).endsWith("gc.alloc.rate.norm")) {
            bytes = Json.number(((Map<?, ?>) e.getValue()).get("score"));
          }
        }
      }
      put(row, lib, new Cell(score, error, bytes));
    }
  }

  private static String paramSuffix(Map<?, ?> params) {
    if (params == null) {
      return "";
    }
    StringBuilder sb = new StringBuilder();
    List<Object> names = new ArrayList<>(params.keySet());
    names.sort(
        (a, b) -> Integer.compare(paramRank(a.toString()), paramRank(b.toString())));
    for (Object n : names) {
      String name = n.toString();
      String shown = name.equals("root") ? "Root" : name;
      sb.append('/').append(shown).append('=').append(params.get(n));
    }
    return sb.toString();
  }

  private static int paramRank(String name) {
    int i = PARAM_ORDER.indexOf(name);
    return i < 0 ? PARAM_ORDER.size() : i;
  }

  private static String capitalize(String s) {
    return s.isEmpty() ? s : Character.toUpperCase(s.charAt(0)) + s.substring(1);
  }

  private static double toNanos(String unit) {
    switch (unit) {
      case "ns/op":
        return 1;
      case "us/op":
        return 1e3;
      case "ms/op":
        return 1e6;
      case "s/op":
        return 1e9;
      default:
        throw new IllegalArgumentException("unsupported JMH unit " + unit);
    }
  }

  void readGo(String text) {
    Map<String, List<double[]>> runs = new LinkedHashMap<>();
    for (String line : text.split("\n")) {
      Matcher mt = GO_LINE.matcher(line.trim());
      if (mt.matches()) {
        double ns = Double.parseDouble(mt.group(2));
        double b = mt.group(3) == null ? Double.NaN : Double.parseDouble(mt.group(3));
        runs.computeIfAbsent(mt.group(1), k -> new ArrayList<>()).add(new double[] {ns, b});
      }
    }
    for (Map.Entry<String, List<double[]>> e : runs.entrySet()) {
      List<double[]> l = e.getValue();
      double sum = 0;
      double bytes = 0;
      double min = Double.MAX_VALUE;
      double max = -Double.MAX_VALUE;
      for (double[] x : l) {
        sum += x[0];
        bytes += x[1];
        min = Math.min(min, x[0]);
        max = Math.max(max, x[0]);
      }
      Cell c = new Cell(sum / l.size(), l.size() > 1 ? (max - min) / 2 : Double.NaN, bytes / l.size());
      if (e.getKey().equals("BusyLoopBaseline")) {
        put("CommonParentCancel", GO_BASELINE, c);
      } else {
        put(e.getKey(), GO, c);
      }
    }
  }

  private void put(String row, String lib, Cell c) {
    rows.computeIfAbsent(row, k -> new LinkedHashMap<>()).put(lib, c);
  }

  /**
   * Adds the derived rows: the overhead of CommonParentCancel over its busy loop, and Go's bytes for
   * a cancellable context (its CancelTree depth=1 Background row) next to ctx4j's footprint.
   */
  void derive() {
    Map<String, Cell> cpc = rows.get("CommonParentCancel");
    if (cpc != null && cpc.containsKey(BASELINE)) {
      Map<String, Cell> o = new LinkedHashMap<>();
      for (String lib : List.of(CTX4J, GRPC, KOTLIN)) {
        if (cpc.containsKey(lib)) {
          o.put(lib, cpc.get(lib).minus(cpc.get(BASELINE)));
        }
      }
      if (cpc.containsKey(GO) && cpc.containsKey(GO_BASELINE)) {
        o.put(GO, cpc.get(GO).minus(cpc.get(GO_BASELINE)));
      }
      rows.put("CommonParentCancel" + OVERHEAD, o);
    }
    Map<String, Cell> tree = rows.get("CancelTree/depth=1/Root=Background");
    Map<String, Cell> fp = rows.get("Footprint/Cancel");
    if (tree != null && tree.containsKey(GO) && fp != null) {
      fp.put(GO, tree.get(GO));
    }
    List<Map.Entry<String, Map<String, Cell>>> sorted = new ArrayList<>(rows.entrySet());
    sorted.sort(
        (a, b) -> {
          int c = Integer.compare(classRank(a.getKey()), classRank(b.getKey()));
          return c != 0 ? c : natural(a.getKey(), b.getKey());
        });
    rows.clear();
    for (Map.Entry<String, Map<String, Cell>> e : sorted) {
      rows.put(e.getKey(), e.getValue());
    }
  }

  /** Compares row names with embedded numbers by value, so depth=10 sorts before depth=100. */
  static int natural(String a, String b) {
    int i = 0;
    int j = 0;
    while (i < a.length() && j < b.length()) {
      char x = a.charAt(i);
      char y = b.charAt(j);
      if (Character.isDigit(x) && Character.isDigit(y)) {
        int si = i;
        int sj = j;
        while (i < a.length() && Character.isDigit(a.charAt(i))) {
          i++;
        }
        while (j < b.length() && Character.isDigit(b.charAt(j))) {
          j++;
        }
        int c = Long.compare(Long.parseLong(a.substring(si, i)), Long.parseLong(b.substring(sj, j)));
        if (c != 0) {
          return c;
        }
      } else {
        if (x != y) {
          return Character.compare(x, y);
        }
        i++;
        j++;
      }
    }
    return Integer.compare(a.length() - i, b.length() - j);
  }

  static String classOf(String row) {
    int s = row.indexOf('/');
    String c = s < 0 ? row : row.substring(0, s);
    return c.endsWith(OVERHEAD) ? c.substring(0, c.length() - OVERHEAD.length()) : c;
  }

  private static int classRank(String row) {
    int i = ORDER.indexOf(classOf(row));
    return i < 0 ? ORDER.size() : i;
  }

  // ----------------------------------------------------------------------------------- ratios

  /** Footprint rows compare bytes per context; every other row compares time. */
  static boolean comparesBytes(String row) {
    return classOf(row).equals("Footprint");
  }

  /**
   * ctx4j's number divided by the best peer's, or NaN if either is missing. CommonParentCancel's
   * totals include the busy loop, so only its overhead row gets a ratio.
   */
  double ratio(String row) {
    Map<String, Cell> r = rows.get(row);
    if (r == null || !r.containsKey(CTX4J) || row.equals("CommonParentCancel")) {
      return Double.NaN;
    }
    String peer = bestPeer(row);
    if (peer == null) {
      return Double.NaN;
    }
    boolean bytes = comparesBytes(row);
    Cell me = r.get(CTX4J);
    Cell best = r.get(peer);
    double floor = bytes ? best.bytes : best.nanos;
    // An overhead at or below zero is a peer lost in the baseline's noise: no meaningful ratio.
    return floor <= 0 ? Double.NaN : (bytes ? me.bytes : me.nanos) / floor;
  }

  /** The peer with the smallest number on the row, or null if no peer has one. */
  String bestPeer(String row) {
    Map<String, Cell> r = rows.get(row);
    if (r == null) {
      return null;
    }
    boolean bytes = comparesBytes(row);
    String best = null;
    double bv = Double.NaN;
    for (String p : PEERS) {
      Cell c = r.get(p);
      if (c != null) {
        double v = bytes ? c.bytes : c.nanos;
        if (!Double.isNaN(v) && (best == null || v < bv)) {
          best = p;
          bv = v;
        }
      }
    }
    return best;
  }

  Map<String, Double> ratios() {
    Map<String, Double> m = new LinkedHashMap<>();
    for (String row : rows.keySet()) {
      double r = ratio(row);
      if (Double.isFinite(r) && r > 0) {
        m.put(row, r);
      }
    }
    return m;
  }

  // --------------------------------------------------------------------------------- markdown

  static String time(double ns) {
    if (Double.isNaN(ns)) {
      return "n/a";
    }
    double a = Math.abs(ns);
    if (a < 1e3) {
      return String.format(Locale.ROOT, "%.2f ns", ns);
    }
    if (a < 1e6) {
      return String.format(Locale.ROOT, "%.2f µs", ns / 1e3);
    }
    if (a < 1e9) {
      return String.format(Locale.ROOT, "%.2f ms", ns / 1e6);
    }
    return String.format(Locale.ROOT, "%.2f s", ns / 1e9);
  }

  private static String timeWithError(Cell c) {
    String t = time(c.nanos);
    if (Double.isNaN(c.error)) {
      return t;
    }
    // Show the error in the unit of the score, so "1.20 µs ± 0.03" reads naturally.
    String unit = t.substring(t.indexOf(' ') + 1);
    double div = unit.equals("ns") ? 1 : unit.equals("µs") ? 1e3 : unit.equals("ms") ? 1e6 : 1e9;
    return t + String.format(Locale.ROOT, " ± %.2f", c.error / div);
  }

  private static String bytes(double b) {
    return Double.isNaN(b) ? "" : String.format(Locale.ROOT, "%.0f B", b);
  }

  private static String cell(Map<String, Cell> r, String lib) {
    Cell c = r.get(lib);
    if (c == null) {
      return "n/a";
    }
    String b = bytes(c.bytes);
    return timeWithError(c) + (b.isEmpty() ? "" : "<br>" + b);
  }

  static String ratioText(double r) {
    return Double.isNaN(r) ? "n/a" : String.format(Locale.ROOT, "%.2f", r);
  }

  String markdown(Map<String, String> machine) {
    StringBuilder sb = new StringBuilder();
    sb.append("# ctx4j benchmark results\n\n## Machine and versions\n\n");
    for (Map.Entry<String, String> e : machine.entrySet()) {
      sb.append("- **").append(e.getKey()).append("**: ").append(e.getValue()).append('\n');
    }
    sb.append(
        "\nEach cell: time per operation ± error (JMH's 99.9% interval; for Go half the spread of"
            + " its repeated runs), then bytes allocated per operation. Ratio = ctx4j / best peer"
            + " (Footprint rows: bytes; other rows: time); below 1 means ctx4j wins. n/a: the"
            + " library cannot express the row, or it was not run. The CommonParentCancel row"
            + " includes the busy loop; its overhead row subtracts each language's busy-loop"
            + " baseline.\n\n");
    sb.append("| row | ctx4j | Go | grpc-java | Kotlin Job | baseline | ratio | best peer |\n");
    sb.append("|---|---|---|---|---|---|---|---|\n");
    for (Map.Entry<String, Map<String, Cell>> e : rows.entrySet()) {
      String row = e.getKey();
      Map<String, Cell> r = e.getValue();
      String base = cell(r, BASELINE);
      if (r.containsKey(ALLOC_BASELINE)) {
        base = cell(r, ALLOC_BASELINE) + " (alloc)";
      }
      if (r.containsKey(ALLOC_CAS_BASELINE)) {
        base = base + "<br>" + cell(r, ALLOC_CAS_BASELINE) + " (alloc + CAS)";
      }
      if (r.containsKey(GO_BASELINE)) {
        base = base + "<br>Go: " + cell(r, GO_BASELINE);
      }
      double ratio = ratio(row);
      String best = Double.isNaN(ratio) ? "" : label(bestPeer(row));
      sb.append("| ")
          .append(row)
          .append(" | ")
          .append(cell(r, CTX4J))
          .append(" | ")
          .append(cell(r, GO))
          .append(" | ")
          .append(cell(r, GRPC))
          .append(" | ")
          .append(cell(r, KOTLIN))
          .append(" | ")
          .append(base)
          .append(" | ")
          .append(ratio < 1 ? "**" + ratioText(ratio) + "**" : ratioText(ratio))
          .append(" | ")
          .append(best)
          .append(" |\n");
    }
    sb.append("\n![ctx4j / best peer](ratios.png)\n\n");
    sb.append(new Goals(this).markdown());
    return sb.toString();
  }

  static String label(String lib) {
    if (lib == null) {
      return "";
    }
    switch (lib) {
      case GO:
        return "Go";
      case GRPC:
        return "grpc-java";
      case KOTLIN:
        return "Kotlin Job";
      default:
        return lib;
    }
  }

  Map<String, Map<String, Cell>> rows() {
    return rows;
  }
}
