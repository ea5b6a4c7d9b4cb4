package io.ctx4j.bench.report;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.Map;
import java.util.TreeMap;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipFile;

/**
 * Proves which of ctx4j's multi-release layers the benchmarks run on: for every ctx4j class under
 * {@code META-INF/versions/N/} of the benchmarks jar with {@code N} at most this JDK's feature
 * version, it loads the class file the way the class loader does and compares it with the layer's
 * bytes. Prints one line for the run's meta file, e.g. {@code 21 (io.ctx4j.internal.Async)}, or
 * {@code none (JDK 17 runs the base classes)}; exits with status 1 if a layer this JDK should use is
 * not what gets loaded (a jar without {@code Multi-Release: true} would measure the JDK 17 code on
 * every JDK).
 *
 * <p>Usage: {@code java -cp benchmarks.jar io.ctx4j.bench.report.Layers}. Single-threaded tool.
 */
public final class Layers {
  private static final Pattern LAYER = Pattern.compile("^META-INF/versions/(\\d+)/(io/ctx4j/.+\\.class)$");

  private Layers() {}

  /**
   * Runs the check.
   *
   * @param args none
   * @throws IOException if the jar cannot be read
   */
  public static void main(String[] args) throws IOException {
    String cp = System.getProperty("java.class.path");
    String jar = cp.split(File.pathSeparator)[0];
    if (!jar.endsWith(".jar")) {
      throw new IllegalStateException("run with -cp <the benchmarks jar>, not " + cp);
    }
    int feature = Runtime.version().feature();
    // Highest layer at or below this JDK, per class: what a multi-release class loader must pick.
    Map<String, Integer> expected = new TreeMap<>();
    Map<String, byte[]> bytes = new TreeMap<>();
    try (JarFile jf = new JarFile(new File(jar), false, ZipFile.OPEN_READ, JarFile.baseVersion())) {
      Enumeration<JarEntry> en = jf.entries();
      while (en.hasMoreElements()) {
        JarEntry e = en.nextElement();
        Matcher m = LAYER.matcher(e.getName());
        if (!m.matches()) {
          continue;
        }
        int v = Integer.parseInt(m.group(1));
        if (v <= feature && v > expected.getOrDefault(m.group(2), 0)) {
          expected.put(m.group(2), v);
          try (InputStream in = jf.getInputStream(e)) {
            bytes.put(m.group(2), in.readAllBytes());
          }
        }
      }
    }
    if (expected.isEmpty()) {
      System.out.println("none (JDK " + feature + " runs the base classes)");
      return;
    }
    StringBuilder ok = new StringBuilder();
    boolean failed = false;
    for (Map.Entry<String, Integer> e : expected.entrySet()) {
      byte[] loaded;
      try (InputStream in = ClassLoader.getSystemResourceAsStream(e.getKey())) {
        loaded = in == null ? new byte[0] : in.readAllBytes();
      }
      String name = e.getKey().replace('/', '.').replaceAll("\\.class$", "");
      if (Arrays.equals(loaded, bytes.get(e.getKey()))) {
        ok.append(ok.length() == 0 ? "" : ", ").append(e.getValue()).append(" (").append(name).append(')');
      } else {
        failed = true;
        System.err.println(
            "JDK " + feature + " does not load layer " + e.getValue() + " of " + name + " from " + jar
                + " (is Multi-Release: true missing from its manifest?)");
      }
    }
    if (failed) {
      System.exit(1);
    }
    System.out.println(ok);
  }
}
