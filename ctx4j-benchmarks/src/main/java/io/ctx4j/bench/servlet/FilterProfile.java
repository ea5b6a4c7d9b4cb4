package io.ctx4j.bench.servlet;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedMethod;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordedThread;
import jdk.jfr.consumer.RecordingFile;

/**
 * Attributes the Java execution samples (and allocation samples) of a JFR recording of {@link
 * FilterLoad} to the client, Jetty, the servlet and the filter, the method of {@code
 * results/2026-12-01-servlet-filter/profile.md}, so that a profile can be re-read the same way:
 *
 * <pre>
 * java -Xms1g -Xmx1g -XX:StartFlightRecording=filename=fl.jfr,settings=fast.jfc \
 *     -cp ctx4j-benchmarks/target/benchmarks.jar io.ctx4j.bench.servlet.FilterLoad \
 *     --rounds 8 --phase-ms 1500 --warmup-ms 15000
 * java -cp ctx4j-benchmarks/target/benchmarks.jar io.ctx4j.bench.servlet.FilterProfile fl.jfr
 * </pre>
 *
 * ({@code fast.jfc}: the JDK's {@code profile.jfc} with {@code jdk.ExecutionSample}'s period set to
 * 1 ms.) It reads the same {@code jdk.ExecutionSample} events {@code jfr print} prints, with their
 * whole stacks. Each is attributed by its stack, leaf first: to the <b>client</b> if any frame is
 * in {@code jdk.internal.net.http} or the thread is a harness load thread ({@code load-N}); to the
 * <b>servlet</b> if the first frame met of {@code FilterLoad$Trivial} and {@code io.ctx4j.*} is the
 * servlet, or the filter's response wrapper passing a write through ({@code WatchedOutput.write*})
 * called from the servlet; to the <b>filter</b> if it is any other {@code io.ctx4j.*} frame (the
 * filter, ctx4j core and concurrent called by it, and the Jetty calls it makes); otherwise to the
 * rest of the <b>server</b> (Jetty). Filter samples are also counted by their first {@code
 * io.ctx4j} frame (inclusive), with the method that frame called when it is not ctx4j's (the
 * container's or the JDK's). {@code jdk.ObjectAllocationSample} weights (bytes, JFR's estimate of
 * what the sampled allocation stands for) are attributed the same way.
 *
 * <p>Prints a Markdown report on standard output. Exits with 2 on bad arguments.
 */
public final class FilterProfile {
  private FilterProfile() {}

  enum Part {
    CLIENT("client (the load client and its threads)"),
    SERVER("server: Jetty, outside the servlet and filter"),
    SERVLET("server: servlet, with its write"),
    FILTER("server: filter");

    final String label;

    Part(String label) {
      this.label = label;
    }
  }

  /** One attributed sample: its part and, for the filter, its first io.ctx4j frame. */
  record Attribution(Part part, String filterFrame) {}

  /**
   * Attributes one stack.
   *
   * @param thread the sampled thread's name, may be null
   * @param frames the frames, leaf first
   * @return the attribution
   */
  static Attribution attribute(String thread, List<RecordedFrame> frames) {
    if (thread != null && thread.startsWith("load-")) {
      return new Attribution(Part.CLIENT, null);
    }
    for (RecordedFrame f : frames) {
      RecordedMethod m = f.getMethod();
      if (m != null && m.getType().getName().startsWith("jdk.internal.net.http")) {
        return new Attribution(Part.CLIENT, null);
      }
    }
    for (int i = 0; i < frames.size(); i++) {
      RecordedMethod m = frames.get(i).getMethod();
      if (m == null) {
        continue;
      }
      String type = m.getType().getName();
      if (type.equals("io.ctx4j.bench.servlet.FilterLoad$Trivial")) {
        return new Attribution(Part.SERVLET, null);
      }
      if (type.startsWith("io.ctx4j.bench.")) {
        return new Attribution(Part.CLIENT, null); // the harness itself, never on a request's path
      }
      if (type.startsWith("io.ctx4j.")) {
        if (type.endsWith("WatchedResponse$WatchedOutput") && m.getName().startsWith("write")) {
          for (int j = i + 1; j < frames.size(); j++) {
            RecordedMethod up = frames.get(j).getMethod();
            if (up != null && up.getType().getName().startsWith("io.ctx4j.")) {
              if (up.getType().getName().equals("io.ctx4j.bench.servlet.FilterLoad$Trivial")) {
                return new Attribution(Part.SERVLET, null);
              }
              break;
            }
          }
        }
        String frame = simpleName(type) + "." + m.getName();
        if (i > 0 && frames.get(i - 1).getMethod() != null) {
          // What the filter's frame spent it in: a container or JDK method it called.
          RecordedMethod callee = frames.get(i - 1).getMethod();
          frame += " -> " + simpleName(callee.getType().getName()) + "." + callee.getName();
        }
        return new Attribution(Part.FILTER, frame);
      }
    }
    return new Attribution(Part.SERVER, null);
  }

  /** The filter's call into the rest of the chain; samples below it whose leaf is Jetty's. */
  static final String CHAIN_FRAME = "ContextServletFilter.lambda$invoke$0 -> ";

  private static String simpleName(String type) {
    return type.substring(type.lastIndexOf('.') + 1);
  }

  /**
   * Reads a recording and prints the report.
   *
   * @param args the recording's path
   * @throws IOException if it cannot be read
   */
  public static void main(String[] args) throws IOException {
    if (args.length != 1) {
      System.err.println("usage: FilterProfile RECORDING.jfr");
      System.exit(2);
    }
    Map<Part, long[]> samples = new LinkedHashMap<>();
    Map<Part, long[]> bytes = new LinkedHashMap<>();
    for (Part p : Part.values()) {
      samples.put(p, new long[1]);
      bytes.put(p, new long[1]);
    }
    Map<String, long[]> byFrame = new TreeMap<>();
    Map<String, long[]> bytesByFrame = new TreeMap<>();
    try (RecordingFile file = new RecordingFile(Path.of(args[0]))) {
      while (file.hasMoreEvents()) {
        RecordedEvent e = file.readEvent();
        String type = e.getEventType().getName();
        boolean exec = type.equals("jdk.ExecutionSample");
        boolean alloc = type.equals("jdk.ObjectAllocationSample");
        if (!exec && !alloc) {
          continue;
        }
        RecordedStackTrace st = e.getStackTrace();
        if (st == null) {
          continue;
        }
        RecordedThread t = exec ? e.getThread("sampledThread") : e.getThread("eventThread");
        Attribution a = attribute(t == null ? null : t.getJavaName(), st.getFrames());
        long weight = exec ? 1 : e.getLong("weight");
        (exec ? samples : bytes).get(a.part())[0] += weight;
        if (a.filterFrame() != null) {
          (exec ? byFrame : bytesByFrame).computeIfAbsent(a.filterFrame(), k -> new long[1])[0] += weight;
        }
      }
    }
    System.out.print(report(args[0], samples, bytes, byFrame, bytesByFrame));
  }

  private static String report(
      String recording,
      Map<Part, long[]> samples,
      Map<Part, long[]> bytes,
      Map<String, long[]> byFrame,
      Map<String, long[]> bytesByFrame) {
    long all = 0;
    long server = 0;
    long allBytes = 0;
    long serverBytes = 0;
    for (Part p : Part.values()) {
      all += samples.get(p)[0];
      allBytes += bytes.get(p)[0];
      if (p != Part.CLIENT) {
        server += samples.get(p)[0];
        serverBytes += bytes.get(p)[0];
      }
    }
    long filter = samples.get(Part.FILTER)[0];
    long chain = 0;
    for (Map.Entry<String, long[]> en : byFrame.entrySet()) {
      if (en.getKey().startsWith(CHAIN_FRAME)) {
        chain += en.getValue()[0];
      }
    }
    StringBuilder b = new StringBuilder();
    b.append("# Filter profile of ").append(recording).append("\n\n");
    b.append("| part | execution samples | allocation (MB, JFR estimate) |\n|---|---:|---:|\n");
    for (Part p : Part.values()) {
      b.append("| ").append(p.label).append(" | ").append(samples.get(p)[0]).append(" | ")
          .append(String.format(Locale.ROOT, "%.1f", bytes.get(p)[0] / 1e6)).append(" |\n");
    }
    b.append('\n');
    b.append(String.format(Locale.ROOT,
        "- filter share of the server's Java samples: %.1f%% (%d of %d)%n", pct(filter, server), filter, server));
    b.append(String.format(Locale.ROOT,
        "- filter share of all Java samples: %.1f%% (%d of %d); of a filtered phase (x 3/2, the filter"
            + " runs in 2 of 3 configurations): %.1f%%%n",
        pct(filter, all), filter, all, pct(filter, all) * 1.5));
    b.append(String.format(Locale.ROOT,
        "- of the filter's samples, %d are Jetty's own code running the rest of the chain (first"
            + " io.ctx4j frame `%s`, leaf in Jetty: work the `none` configuration does too, counted"
            + " as filter by this method); without them the filter is %.1f%% of a filtered phase%n",
        chain, CHAIN_FRAME.strip(), pct(filter - chain, all) * 1.5));
    b.append(String.format(Locale.ROOT,
        "- filter share of the server's allocation: %.1f%% (%.1f of %.1f MB)%n",
        pct(bytes.get(Part.FILTER)[0], serverBytes), bytes.get(Part.FILTER)[0] / 1e6, serverBytes / 1e6));
    b.append("\n## Filter samples by first io.ctx4j frame (inclusive), and the callee outside ctx4j\n\n| frame | samples | allocation (MB) |\n|---|---:|---:|\n");
    Map<String, long[]> frames = new TreeMap<>(byFrame);
    bytesByFrame.keySet().forEach(k -> frames.putIfAbsent(k, new long[1]));
    frames.entrySet().stream()
        .sorted((x, y) -> Long.compare(y.getValue()[0], x.getValue()[0]))
        .forEach(en -> b.append("| `").append(en.getKey()).append("` | ").append(en.getValue()[0])
            .append(" | ").append(String.format(Locale.ROOT, "%.1f",
                bytesByFrame.getOrDefault(en.getKey(), new long[1])[0] / 1e6)).append(" |\n"));
    return b.toString();
  }

  private static double pct(long part, long whole) {
    return whole == 0 ? 0 : 100.0 * part / whole;
  }
}
