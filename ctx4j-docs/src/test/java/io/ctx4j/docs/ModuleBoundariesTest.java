package io.ctx4j.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
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
 * The seams between the modules hold (issue 16 item 4): no class outside {@code ctx4j-core}, main
 * or test, lives in the core's package {@code io.ctx4j} (a split package, refused on the module
 * path, and a back door to package-private code); outside the core, the core's internal package is
 * reached only through its accessor {@code io.ctx4j.internal.CoreInternals}; and no module but
 * {@code ctx4j-concurrent} imports that module's internals.
 */
class ModuleBoundariesTest {
  private static final Pattern CORE_PACKAGE = Pattern.compile("(?m)^package io\\.ctx4j;");
  private static final Pattern CORE_INTERNAL =
      Pattern.compile("io\\.ctx4j\\.internal\\.(?!CoreInternals\\b)[A-Z]\\w*");
  private static final Pattern CONCURRENT_INTERNAL =
      Pattern.compile("io\\.ctx4j\\.concurrent\\.internal\\.");

  @Test
  void noModuleButTheCoreHasAClassInTheCoresPackage() throws IOException {
    assertEquals(
        List.of(), uses(CORE_PACKAGE, "ctx4j-core"), "classes in package io.ctx4j outside ctx4j-core");
  }

  /**
   * The two exceptions, white-box by design, in modules that are never published: the jcstress
   * tests of the timer wheel race the wheel itself (jcstress needs a module of its own, so they
   * cannot sit beside the core's unit tests), and the benchmarks' layer check names a class of the
   * core's JDK 21 layer to compare the bytes the JVM loads with the jar's.
   */
  private static final Pattern WHITE_BOX =
      Pattern.compile(
          "ctx4j-jcstress/src/main/java/io/ctx4j/jcstress/Timer\\w+Test\\.java: io\\.ctx4j\\.internal\\.TimerWheel"
              + "|ctx4j-benchmarks/src/main/java/io/ctx4j/bench/report/Layers\\.java: io\\.ctx4j\\.internal\\.Async");

  @Test
  void otherModulesReachTheCoresInternalsOnlyThroughItsAccessor() throws IOException {
    List<String> found = new ArrayList<>(uses(CORE_INTERNAL, "ctx4j-core"));
    found.removeIf(u -> WHITE_BOX.matcher(u.replace('\\', '/')).matches());
    assertEquals(List.of(), found, "uses of the core's internals other than CoreInternals");
  }

  @Test
  void noOtherModuleImportsTheConcurrentModulesInternals() throws IOException {
    assertEquals(
        List.of(),
        uses(CONCURRENT_INTERNAL, "ctx4j-concurrent"),
        "uses of io.ctx4j.concurrent.internal outside ctx4j-concurrent");
  }

  /** Each match of {@code p} in the sources of every module but {@code except}, with its file. */
  private static List<String> uses(Pattern p, String except) throws IOException {
    List<String> found = new ArrayList<>();
    for (Path f : javaSources(root(), except)) {
      Matcher m = p.matcher(read(f));
      while (m.find()) {
        found.add(root().relativize(f) + ": " + m.group().trim());
      }
    }
    return found;
  }

  private static Path root() {
    return ReadmeSnippetsTest.root();
  }

  /** Every .java file under src/ of every ctx4j-* module except {@code except}. */
  private static List<Path> javaSources(Path root, String except) throws IOException {
    List<Path> out = new ArrayList<>();
    try (Stream<Path> modules = Files.list(root)) {
      for (Path m : (Iterable<Path>) modules::iterator) {
        String name = m.getFileName().toString();
        if (!name.startsWith("ctx4j-") || name.equals(except) || !Files.isDirectory(m.resolve("src"))) {
          continue;
        }
        try (Stream<Path> files = Files.walk(m.resolve("src"))) {
          files.filter(f -> f.toString().endsWith(".java")).forEach(out::add);
        }
      }
    }
    assertTrue(out.size() > 100, "the scan found the modules' sources under " + root);
    return out;
  }

  private static String read(Path f) {
    try {
      return Files.readString(f, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
