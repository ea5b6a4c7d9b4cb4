package io.ctx4j.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Docs are code. Every {@code ```java} block of every README.md must be preceded, on the line just
 * above its fence, by a hidden marker naming the test source and the region it is a copy of:
 *
 * <pre>
 * &lt;!-- snippet: ctx4j-docs/src/test/java/io/ctx4j/docs/RootReadme.java#task-group --&gt;
 * ```java
 * </pre>
 *
 * In that source the region is the lines between {@code // snippet:start task-group} and
 * {@code // snippet:end task-group}; with their common indentation removed they must equal the
 * block byte for byte. The region is compiled (with -Werror) and run by the tests of this module,
 * so a README snippet that does not compile, does not run, or was edited without its test fails
 * the build. Wildcard imports are refused.
 */
class ReadmeSnippetsTest {
  static final Pattern MARKER = Pattern.compile("^<!-- snippet: (\\S+)#(\\S+) -->$");

  record Block(Path readme, int line, String marker, String source, String name, String text) {}

  static Path root() {
    String p = System.getProperty("ctx4j.repo.root");
    return (p != null ? Path.of(p) : Path.of("..")).toAbsolutePath().normalize();
  }

  static List<Path> readmes(Path root) throws IOException {
    List<Path> out = new ArrayList<>();
    out.add(root.resolve("README.md"));
    try (Stream<Path> dirs = Files.list(root)) {
      dirs.filter(d -> d.getFileName().toString().startsWith("ctx4j-"))
          .map(d -> d.resolve("README.md"))
          .filter(Files::isRegularFile)
          .sorted()
          .forEach(out::add);
    }
    return out;
  }

  /** The java blocks of a README, each with the marker line above it (null when there is none). */
  static List<Block> blocks(Path readme) throws IOException {
    List<String> lines = Files.readAllLines(readme, StandardCharsets.UTF_8);
    List<Block> out = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      if (!lines.get(i).trim().equals("```java")) continue;
      int start = i + 1;
      int end = start;
      while (end < lines.size() && !lines.get(end).trim().equals("```")) end++;
      String marker = i > 0 ? lines.get(i - 1) : "";
      Matcher m = MARKER.matcher(marker);
      String text = String.join("\n", lines.subList(start, end));
      out.add(m.matches()
          ? new Block(readme, i + 1, marker, m.group(1), m.group(2), text)
          : new Block(readme, i + 1, marker, null, null, text));
      i = end;
    }
    return out;
  }

  /** The named region of a source file, common indentation removed. */
  static String region(Path source, String name) throws IOException {
    List<String> lines = Files.readAllLines(source, StandardCharsets.UTF_8);
    int start = -1;
    int end = -1;
    for (int i = 0; i < lines.size(); i++) {
      String t = lines.get(i).trim();
      if (t.equals("// snippet:start " + name)) {
        if (start >= 0) throw new AssertionError(source + ": region " + name + " starts twice");
        start = i + 1;
      } else if (t.equals("// snippet:end " + name) && start >= 0 && end < 0) {
        end = i;
      }
    }
    if (start < 0 || end < 0) throw new AssertionError(source + " has no region " + name);
    List<String> body = lines.subList(start, end);
    int indent = body.stream()
        .filter(l -> !l.isBlank())
        .mapToInt(l -> l.length() - l.stripLeading().length())
        .min()
        .orElse(0);
    List<String> out = new ArrayList<>();
    for (String l : body) out.add(l.isBlank() ? "" : l.substring(indent));
    return String.join("\n", out);
  }

  /** What is wrong with one block, or null. */
  static String check(Path root, Block b) throws IOException {
    String where = root.relativize(b.readme()) + ":" + b.line();
    if (b.source() == null) {
      return where + ": no `<!-- snippet: PATH#NAME -->` line above the ```java fence (found: "
          + b.marker() + ")";
    }
    if (Pattern.compile("(?m)^\\s*import\\s+(static\\s+)?[\\w.]+\\.\\*\\s*;").matcher(b.text()).find()) {
      return where + ": wildcard import in a snippet; name every import";
    }
    Path source = root.resolve(b.source());
    if (!Files.isRegularFile(source)) return where + ": " + b.source() + " does not exist";
    String expected = region(source, b.name());
    if (!expected.equals(b.text())) {
      String[] want = expected.split("\n", -1);
      String[] got = b.text().split("\n", -1);
      int n = 0;
      while (n < Math.min(want.length, got.length) && want[n].equals(got[n])) n++;
      return where + ": differs from " + b.source() + "#" + b.name() + " at line " + (n + 1)
          + " of the block:\n  README: " + (n < got.length ? got[n] : "<end>")
          + "\n  test:   " + (n < want.length ? want[n] : "<end>");
    }
    return null;
  }

  @Test
  void everyReadmeSnippetIsTheRegionOfATest() throws IOException {
    Path root = root();
    List<String> problems = new ArrayList<>();
    int count = 0;
    for (Path readme : readmes(root)) {
      for (Block b : blocks(readme)) {
        count++;
        String p = check(root, b);
        if (p != null) problems.add(p);
      }
    }
    if (!problems.isEmpty()) fail(problems.size() + " README snippet(s) wrong:\n" + String.join("\n", problems));
    // The READMEs hold 34 snippets today; finding far fewer means the scan broke, not the docs.
    assertTrue(count >= 20, "only " + count + " java blocks found under " + root);
  }

  @Test
  void aSnippetEditedByOneByteFails() throws IOException {
    Path root = root();
    Block b = blocks(root.resolve("README.md")).get(0);
    assertEquals(null, check(root, b));
    Block edited = new Block(b.readme(), b.line(), b.marker(), b.source(), b.name(),
        b.text().replaceFirst("Duration", "Durution"));
    String problem = check(root, edited);
    assertFalse(problem == null, "an edited snippet passed");
    assertTrue(problem.contains("Durution"), problem);
  }

  @Test
  void aBlockWithoutMarkerOrWithAWildcardImportFails() throws IOException {
    Path root = root();
    Block b = blocks(root.resolve("README.md")).get(0);
    Block unmarked = new Block(b.readme(), b.line(), "", null, null, b.text());
    assertTrue(check(root, unmarked).contains("no `<!-- snippet"));
    Block wildcard = new Block(b.readme(), b.line(), b.marker(), b.source(), b.name(),
        "import io.ctx4j.*;\n" + b.text());
    assertTrue(check(root, wildcard).contains("wildcard import"));
  }
}
