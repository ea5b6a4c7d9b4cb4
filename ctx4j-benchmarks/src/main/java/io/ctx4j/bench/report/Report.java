package io.ctx4j.bench.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Turns the benchmark runs of one or more JDKs into {@code results.md} (machine and versions per JDK,
 * side-by-side tables of ctx4j, Go, grpc-java and Kotlin Job, each row called win, tie or loss with
 * the 95% interval of ctx4j's ratio to the best peer, the counts, the goals) and one chart per JDK,
 * {@code ratios-jdk<N>.png}.
 *
 * <p>Inputs: per JDK a folder holding {@code meta.txt} ({@code key: value} lines, {@code JDK: ...}
 * among them) and JMH's {@code -rf json} files ({@code jmh*.json}, read in name order: a later file's
 * row replaces an earlier one's), read with Jackson; and the text output of Go's {@code go test
 * -bench ... -benchmem}, possibly {@code -count N}, which every JDK's table shows.
 *
 * <p>Usage: {@code Report --out DIR --run DIR [--run DIR]... [--go FILE]... [--go-source TEXT]
 * [--readme FILE]}. Single-threaded command-line tool.
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

  /** Row order: Go's benchmarks in Go's order, then the extra rows, then the scale rows. */
  static final List<String> ORDER =
      List.of(
          "CommonParentCancel",
          "WithTimeout",
          "CancelTree",
          "CancelTreeLeaf",
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

  /**
   * Rows that mostly measure starting and joining threads, not the context: labelled, and counted
   * apart from the rows where the context is what is measured.
   */
  static final List<String> THREAD_START = List.of("DeepValueNewGoRoutine", "Waiters");

  /** Parameter order in row names, as Go spells them. */
  private static final List<String> PARAM_ORDER =
      List.of("concurrency", "depth", "root", "children", "count", "waiters");

  private static final Pattern GO_LINE =
      Pattern.compile(
          "^Benchmark(\\S+?)(?:-\\d+)?\\s+\\d+\\s+([0-9.e+]+) ns/op(?:\\s+([0-9.]+) B/op)?.*$");

  private static final ObjectMapper JSON = new ObjectMapper();

  /** The measurements of one JDK, with Go's rows copied in. */
  static final class Run {
    final Map<String, String> meta;
    final Map<String, Map<String, Cell>> rows = new LinkedHashMap<>();

    Run(Map<String, String> meta) {
      this.meta = meta;
    }

    /** "17", "25", ... from the meta file's JDK line, or "?" if it has none. */
    String feature() {
      String jdk = meta.getOrDefault("JDK", "?");
      Matcher m = Pattern.compile("^(\\d+)").matcher(jdk);
      return m.find() ? m.group(1) : "?";
    }

    Cell get(String row, String lib) {
      Map<String, Cell> r = rows.get(row);
      return r == null ? null : r.get(lib);
    }

    void put(String row, String lib, Cell c) {
      rows.computeIfAbsent(row, k -> new LinkedHashMap<>()).put(lib, c);
    }
  }

  private final List<Run> runs = new ArrayList<>();
  private String goSource = "";

  private Report() {}

  /**
   * Runs the report.
   *
   * @param args see the class description
   * @throws IOException if an input cannot be read or an output cannot be written
   * @throws IllegalArgumentException on unknown options, missing {@code --out} or {@code --run}, or
   *     input that is not JMH's JSON
   */
  public static void main(String[] args) throws IOException {
    Map<String, List<String>> o = options(args, "--out", "--run", "--go", "--go-source", "--readme");
    Path out = o.containsKey("--out") ? Paths.get(last(o, "--out")) : null;
    Path readme = o.containsKey("--readme") ? Paths.get(last(o, "--readme")) : null;
    List<Path> runDirs = new ArrayList<>();
    o.getOrDefault("--run", List.of()).forEach(v -> runDirs.add(Paths.get(v)));
    List<Path> go = new ArrayList<>();
    o.getOrDefault("--go", List.of()).forEach(v -> go.add(Paths.get(v)));
    Report r = new Report();
    if (o.containsKey("--go-source")) {
      r.goSource = last(o, "--go-source");
    }
    if (out == null || runDirs.isEmpty()) {
      throw new IllegalArgumentException("--out DIR and at least one --run DIR are required");
    }
    for (Path dir : runDirs) {
      r.runs.add(readRun(dir));
    }
    for (Path p : go) {
      r.readGo(Files.readString(p, StandardCharsets.UTF_8));
    }
    for (Run run : r.runs) {
      derive(run);
    }
    Files.createDirectories(out);
    String md = r.markdown();
    Files.writeString(out.resolve("results.md"), md, StandardCharsets.UTF_8);
    if (readme != null) {
      embed(readme, md);
    }
    for (Run run : r.runs) {
      Path png = out.resolve(chartName(run));
      Chart.write(r.comparisons(run), title(run), png);
      System.out.println("wrote " + png);
    }
    System.out.println("wrote " + out.resolve("results.md"));
  }

  static String chartName(Run run) {
    return "ratios-jdk" + run.feature() + ".png";
  }

  /**
   * Replaces the text between the results markers of the README with the new results, so the README
   * always shows the latest full run. Image links are pointed at {@code results/latest/}.
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
    body = body.replaceAll("\\]\\((ratios-jdk\\d+\\.png)\\)", "](results/latest/$1)");
    String updated = text.substring(0, b + begin.length()) + "\n" + body.trim() + "\n" + text.substring(e);
    Files.writeString(readme, updated, StandardCharsets.UTF_8);
  }

  private static String title(Run run) {
    return "ctx4j / best peer, 95% interval (Footprint: bytes); below 1 = ctx4j better; JDK "
        + run.meta.getOrDefault("JDK", "?");
  }

  /**
   * Reads {@code --name value} pairs: every option takes a value and may repeat; the values of each
   * in order. Shared by the command-line tools of this package.
   *
   * @throws IllegalArgumentException on an option not in {@code known} or without a value
   */
  static Map<String, List<String>> options(String[] args, String... known) {
    List<String> names = List.of(known);
    Map<String, List<String>> out = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i += 2) {
      String a = args[i];
      if (!names.contains(a)) {
        throw new IllegalArgumentException("unknown option " + a);
      }
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException("option " + a + " needs a value");
      }
      out.computeIfAbsent(a, k -> new ArrayList<>()).add(args[i + 1]);
    }
    return out;
  }

  /** The last value of an option read by {@link #options}, which must be present. */
  static String last(Map<String, List<String>> options, String name) {
    List<String> v = options.get(name);
    return v.get(v.size() - 1);
  }

  // ------------------------------------------------------------------------------------ inputs

  static Run readRun(Path dir) throws IOException {
    Map<String, String> meta = new LinkedHashMap<>();
    Path metaFile = dir.resolve("meta.txt");
    if (Files.exists(metaFile)) {
      for (String line : Files.readAllLines(metaFile, StandardCharsets.UTF_8)) {
        int c = line.indexOf(':');
        if (c > 0) {
          meta.put(line.substring(0, c).trim(), line.substring(c + 1).trim());
        }
      }
    }
    Run run = new Run(meta);
    List<Path> files;
    try (Stream<Path> s = Files.list(dir)) {
      files =
          s.filter(p -> p.getFileName().toString().matches("jmh.*\\.json"))
              .sorted()
              .collect(Collectors.toList());
    }
    if (files.isEmpty()) {
      throw new IllegalArgumentException(dir + " holds no jmh*.json file");
    }
    for (Path f : files) {
      readJmh(run, JSON.readTree(f.toFile()), f);
    }
    return run;
  }

  /** Reads one JMH JSON document: an array of results, each with per-fork raw data. */
  static void readJmh(Run run, JsonNode doc, Object source) {
    if (!doc.isArray()) {
      throw new IllegalArgumentException(source + ": expected JMH's JSON array of results");
    }
    for (JsonNode m : doc) {
      String bench = m.path("benchmark").asText();
      String[] parts = bench.split("\\.");
      if (parts.length < 2) {
        throw new IllegalArgumentException(source + ": bad benchmark name '" + bench + "'");
      }
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
      String row = cls + variant + paramSuffix(m.path("params"));
      JsonNode primary = m.path("primaryMetric");
      double scale = toNanos(primary.path("scoreUnit").asText());
      double[] time = forkMeans(primary.path("rawData"), scale, source, bench);
      double[] bytes = new double[0];
      Iterator<Map.Entry<String, JsonNode>> it = m.path("secondaryMetrics").fields();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> e = it.next();
        if (e.getKey().endsWith("gc.alloc.rate.norm")) {
          bytes = forkMeans(e.getValue().path("rawData"), 1, source, bench);
        }
      }
      run.put(row, lib, new Cell(time, bytes, false));
    }
  }

  /** One number per fork: the mean of that fork's measured iterations, times {@code scale}. */
  private static double[] forkMeans(JsonNode raw, double scale, Object source, String bench) {
    if (!raw.isArray() || raw.size() == 0) {
      throw new IllegalArgumentException(source + ": no rawData for " + bench);
    }
    double[] out = new double[raw.size()];
    for (int f = 0; f < raw.size(); f++) {
      JsonNode iters = raw.get(f);
      double s = 0;
      for (JsonNode x : iters) {
        s += x.asDouble();
      }
      out[f] = s / iters.size() * scale;
    }
    return out;
  }

  private static String paramSuffix(JsonNode params) {
    List<String> names = new ArrayList<>();
    params.fieldNames().forEachRemaining(names::add);
    names.sort((a, b) -> Integer.compare(paramRank(a), paramRank(b)));
    StringBuilder sb = new StringBuilder();
    for (String name : names) {
      String shown = name.equals("root") ? "Root" : name;
      sb.append('/').append(shown).append('=').append(params.get(name).asText());
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

  /** Go's repeated runs of one benchmark are its samples; every JDK's table gets them. */
  void readGo(String text) {
    Map<String, List<double[]>> byName = new LinkedHashMap<>();
    for (String line : text.split("\n")) {
      Matcher mt = GO_LINE.matcher(line.trim());
      if (mt.matches()) {
        double ns = Double.parseDouble(mt.group(2));
        double b = mt.group(3) == null ? Double.NaN : Double.parseDouble(mt.group(3));
        byName.computeIfAbsent(mt.group(1), k -> new ArrayList<>()).add(new double[] {ns, b});
      }
    }
    for (Map.Entry<String, List<double[]>> e : byName.entrySet()) {
      List<double[]> l = e.getValue();
      double[] ns = new double[l.size()];
      List<Double> b = new ArrayList<>();
      for (int i = 0; i < l.size(); i++) {
        ns[i] = l.get(i)[0];
        if (!Double.isNaN(l.get(i)[1])) {
          b.add(l.get(i)[1]);
        }
      }
      Cell c = new Cell(ns, b.stream().mapToDouble(Double::doubleValue).toArray(), true);
      for (Run run : runs) {
        if (e.getKey().equals("BusyLoopBaseline")) {
          run.put("CommonParentCancel", GO_BASELINE, c);
        } else {
          run.put(e.getKey(), GO, c);
        }
      }
    }
  }

  /** Go's bytes for one cancellable context (its CancelTree depth=1 Background row) beside the footprint rows; sorts the rows. */
  static void derive(Run run) {
    Map<String, Cell> tree = run.rows.get("CancelTree/depth=1/Root=Background");
    Map<String, Cell> fp = run.rows.get("Footprint/Cancel");
    if (tree != null && tree.containsKey(GO) && fp != null) {
      fp.put(GO, tree.get(GO));
    }
    List<Map.Entry<String, Map<String, Cell>>> sorted = new ArrayList<>(run.rows.entrySet());
    sorted.sort(
        (a, b) -> {
          int c = Integer.compare(classRank(a.getKey()), classRank(b.getKey()));
          return c != 0 ? c : natural(a.getKey(), b.getKey());
        });
    run.rows.clear();
    for (Map.Entry<String, Map<String, Cell>> e : sorted) {
      run.rows.put(e.getKey(), e.getValue());
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
    return s < 0 ? row : row.substring(0, s);
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
   * The peers a row compares with. CommonParentCancel's numbers include a busy loop that the JVM and
   * Go compile differently (Go's loop alone is about half the JVM's), so there ctx4j is compared
   * with the JVM peers only, on the totals: the same loop is in every JVM total, and no baseline is
   * subtracted (a difference of two noisy numbers would add their errors).
   */
  static List<String> peersOf(String row) {
    return row.equals("CommonParentCancel") ? List.of(GRPC, KOTLIN) : PEERS;
  }

  private static double value(Cell c, boolean bytes) {
    return bytes ? c.bytes : c.nanos;
  }

  /** The peer with the smallest mean on the row, or null if no peer has one. */
  static String bestPeer(Run run, String row) {
    Map<String, Cell> r = run.rows.get(row);
    if (r == null) {
      return null;
    }
    boolean bytes = comparesBytes(row);
    String best = null;
    double bv = Double.NaN;
    for (String p : peersOf(row)) {
      Cell c = r.get(p);
      if (c != null) {
        double v = value(c, bytes);
        if (!Double.isNaN(v) && (best == null || v < bv)) {
          best = p;
          bv = v;
        }
      }
    }
    return best;
  }

  /**
   * ctx4j against one library on a row (see {@link Stats}). A JMH peer needs two forks, as ctx4j
   * does; a Go peer with one run is a fixed reference.
   */
  static Stats.Ratio compare(Run run, String row, String lib) {
    Cell me = run.get(row, CTX4J);
    Cell other = run.get(row, lib);
    if (me == null || other == null) {
      return Stats.Ratio.NONE;
    }
    boolean bytes = comparesBytes(row);
    double[] a = bytes ? me.byteSamples : me.samples;
    double[] b = bytes ? other.byteSamples : other.samples;
    Stats.Ratio r = Stats.ratio(a, b);
    if (!other.go && b.length < 2 && !Double.isNaN(r.point)) {
      return new Stats.Ratio(r.point, Double.NaN, Double.NaN, Stats.Verdict.NONE);
    }
    return r;
  }

  /** ctx4j against the best peer, or {@link Stats.Ratio#NONE}. */
  static Stats.Ratio ratio(Run run, String row) {
    String peer = bestPeer(run, row);
    return peer == null ? Stats.Ratio.NONE : compare(run, row, peer);
  }

  /** Row name to its comparison with the best peer, for rows that have a point ratio. */
  Map<String, Stats.Ratio> comparisons(Run run) {
    Map<String, Stats.Ratio> m = new LinkedHashMap<>();
    for (String row : run.rows.keySet()) {
      Stats.Ratio r = ratio(run, row);
      if (Double.isFinite(r.point) && r.point > 0) {
        m.put(row, r);
      }
    }
    return m;
  }

  /**
   * Verdict counts of a JDK's rows where ctx4j was measured and a peer exists, context rows and
   * thread-start rows apart.
   */
  static Map<Stats.Verdict, List<String>> tally(Run run, boolean threadStart) {
    Map<Stats.Verdict, List<String>> t = new EnumMap<>(Stats.Verdict.class);
    for (Stats.Verdict v : Stats.Verdict.values()) {
      t.put(v, new ArrayList<>());
    }
    for (String row : run.rows.keySet()) {
      if (THREAD_START.contains(classOf(row)) != threadStart
          || run.get(row, CTX4J) == null
          || bestPeer(run, row) == null) {
        continue;
      }
      t.get(ratio(run, row).verdict).add(row);
    }
    return t;
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
      return t + (c.go ? " (1 run)" : " (1 fork)");
    }
    // Show the error in the unit of the score, so "1.20 µs ± 0.03" reads naturally.
    String unit = t.substring(t.indexOf(' ') + 1);
    double div = unit.equals("ns") ? 1 : unit.equals("µs") ? 1e3 : unit.equals("ms") ? 1e6 : 1e9;
    return t + String.format(Locale.ROOT, " ± %.2f", c.error / div) + " (" + c.n() + ")";
  }

  private static String cell(Map<String, Cell> r, String lib) {
    Cell c = r.get(lib);
    if (c == null) {
      return "n/a";
    }
    return timeWithError(c)
        + (Double.isNaN(c.bytes) ? "" : String.format(Locale.ROOT, "<br>%.0f B", c.bytes));
  }

  private static String counts(Map<Stats.Verdict, List<String>> t) {
    return t.get(Stats.Verdict.WIN).size() + " win, " + t.get(Stats.Verdict.TIE).size() + " tie, "
        + t.get(Stats.Verdict.LOSS).size() + " loss"
        + (t.get(Stats.Verdict.NONE).isEmpty() ? "" : ", " + t.get(Stats.Verdict.NONE).size() + " without a call");
  }

  String markdown() {
    StringBuilder sb = new StringBuilder();
    sb.append("# ctx4j benchmark results\n\n");
    sb.append("## Method\n\n");
    sb.append(
        "Each cell: mean time per operation ± the half-width of its 95% t interval, over independent"
            + " samples (count in parentheses): one per JMH fork (the mean of that fork's measured"
            + " iterations) or one per Go `-count` run; then bytes allocated per operation."
            + " Ratio = ctx4j / best peer (the peer with the smallest mean; Footprint rows compare"
            + " bytes, other rows time) with its 95% interval: Welch's interval on the logarithms of"
            + " the samples (the point is the ratio of geometric means), t at Welch-Satterthwaite's"
            + " degrees of freedom. **win**: the interval lies below 1; **loss**: above 1;"
            + " **tie**: it contains 1. A row needs two forks of ctx4j and of its JMH peer for a"
            + " call (n/a otherwise). A Go row with a single run is a fixed reference (no spread)."
            + " CommonParentCancel compares totals with the JVM peers only (the same busy loop is in"
            + " every JVM total; Go's loop compiles differently, so Go is shown, not compared)."
            + " Thread-start rows (" + String.join(", ", THREAD_START) + ") mostly measure starting"
            + " and joining threads and are counted apart. n/a in a library's column: it cannot"
            + " express the row, or it was not run.\n\n");
    sb.append("## Win / tie / loss per JDK\n\n");
    sb.append("| JDK | rows where the context is measured | thread-start rows |\n|---|---|---|\n");
    for (Run run : runs) {
      sb.append("| ").append(run.feature()).append(" | ").append(counts(tally(run, false)))
          .append(" | ").append(counts(tally(run, true))).append(" |\n");
    }
    sb.append('\n');
    for (Run run : runs) {
      Map<Stats.Verdict, List<String>> t = tally(run, false);
      if (!t.get(Stats.Verdict.LOSS).isEmpty()) {
        sb.append("- JDK ").append(run.feature()).append(" losses: ")
            .append(String.join(", ", t.get(Stats.Verdict.LOSS))).append('\n');
      }
    }
    if (!goSource.isEmpty()) {
      sb.append("\nGo's numbers: ").append(goSource).append('\n');
    }
    for (Run run : runs) {
      table(sb, run);
    }
    return sb.toString();
  }

  private void table(StringBuilder sb, Run run) {
    sb.append("\n## JDK ").append(run.feature()).append("\n\n");
    for (Map.Entry<String, String> e : run.meta.entrySet()) {
      sb.append("- **").append(e.getKey()).append("**: ").append(e.getValue()).append('\n');
    }
    sb.append('\n');
    sb.append("| row | ctx4j | Go | grpc-java | Kotlin Job | baseline | ctx4j / best peer [95% CI] | best peer | call |\n");
    sb.append("|---|---|---|---|---|---|---|---|---|\n");
    for (Map.Entry<String, Map<String, Cell>> e : run.rows.entrySet()) {
      String row = e.getKey();
      Map<String, Cell> r = e.getValue();
      if (!r.containsKey(CTX4J)) {
        continue;
      }
      String base = r.containsKey(BASELINE) ? cell(r, BASELINE) : "n/a";
      if (r.containsKey(ALLOC_BASELINE)) {
        base = cell(r, ALLOC_BASELINE) + " (alloc)";
      }
      if (r.containsKey(ALLOC_CAS_BASELINE)) {
        base = base + "<br>" + cell(r, ALLOC_CAS_BASELINE) + " (alloc + CAS)";
      }
      if (r.containsKey(GO_BASELINE)) {
        base = base + "<br>Go: " + cell(r, GO_BASELINE);
      }
      Stats.Ratio ratio = ratio(run, row);
      String best = Double.isNaN(ratio.point) ? "" : label(bestPeer(run, row));
      String call = ratio.verdict == Stats.Verdict.NONE ? "n/a" : "**" + ratio.verdict.text + "**";
      String shownRow = THREAD_START.contains(classOf(row)) ? row + " (thread start)" : row;
      sb.append("| ").append(shownRow)
          .append(" | ").append(cell(r, CTX4J))
          .append(" | ").append(cell(r, GO))
          .append(" | ").append(cell(r, GRPC))
          .append(" | ").append(cell(r, KOTLIN))
          .append(" | ").append(base)
          .append(" | ").append(ratio.text())
          .append(" | ").append(best)
          .append(" | ").append(call)
          .append(" |\n");
    }
    sb.append("\n![ctx4j / best peer, JDK ").append(run.feature()).append("](")
        .append(chartName(run)).append(")\n\n");
    sb.append(new Goals(run).markdown());
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
}
