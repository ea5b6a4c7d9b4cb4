import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;

/**
 * Opens the built jar of every published module and fails if it is not what users must get: a
 * module descriptor, base classes for Java 17, and every multi-release layer whose sources exist
 * (src/main/java21, src/main/java25) with classes for that release; and the flattened POM each
 * installs (and the BOM's) must have no unresolved {@code ${...}} (the BOM once managed every module
 * at the literal version {@code ${revision}}). Run from the repository root:
 * {@code java scripts/CheckJars.java [module...]} (a single-file program: no build needed).
 */
public final class CheckJars {
  static final String[] PUBLISHED = {
    "ctx4j-core", "ctx4j-concurrent", "ctx4j-taskgroup", "ctx4j-signal", "ctx4j-jdbc", "ctx4j-http",
    "ctx4j-grpc", "ctx4j-servlet", "ctx4j-okhttp", "ctx4j-httpclient5", "ctx4j-spring-boot"
  };

  public static void main(String[] args) throws IOException {
    String[] modules = args.length > 0 ? args : PUBLISHED;
    List<String> problems = new ArrayList<>();
    for (String m : modules) {
      Path jarPath = findJar(Path.of(m, "target"), m);
      if (jarPath == null) {
        problems.add(m + ": no jar in " + m + "/target (build first)");
        continue;
      }
      int layers = 0;
      try (JarFile jar = new JarFile(jarPath.toFile())) {
        if (jar.getEntry("module-info.class") == null) problems.add(jarPath + ": no module-info.class");
        checkMajor(jar, "module-info.class", 61, problems);
        for (int release : new int[] {21, 25}) {
          Path src = Path.of(m, "src", "main", "java" + release);
          if (!Files.isDirectory(src)) continue;
          String mr = jar.getManifest() == null ? null
              : jar.getManifest().getMainAttributes().getValue("Multi-Release");
          if (!"true".equals(mr)) problems.add(jarPath + ": manifest lacks Multi-Release: true");
          try (Stream<Path> files = Files.walk(src)) {
            for (Path java : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java"))::iterator) {
              String rel = src.relativize(java).toString().replace('\\', '/');
              String entry = "META-INF/versions/" + release + "/" + rel.replaceAll("\\.java$", ".class");
              if (jar.getEntry(entry) == null) {
                problems.add(jarPath + ": layer " + release + " missing " + entry
                    + " (compiled without a JDK " + release + "+ toolchain?)");
              } else {
                checkMajor(jar, entry, 44 + release, problems);
                layers++;
              }
            }
          }
        }
      }
      System.out.println("checked " + jarPath + ": module descriptor, " + layers + " layer class(es)");
    }
    // The POMs a build installs: an unresolved ${...} makes them unusable to a consumer.
    List<String> poms = new ArrayList<>(List.of(modules));
    if (args.length == 0) poms.add("ctx4j-bom");
    for (String m : poms) {
      Path pom = Path.of(m, "target", "flattened-pom.xml");
      if (!Files.isRegularFile(pom)) {
        problems.add(m + ": no " + pom + " (build first)");
      } else if (Files.readString(pom).contains("${")) {
        problems.add(pom + ": an unresolved ${...} (is -Drevision set? see .mvn/maven.config)");
      }
    }
    if (!problems.isEmpty()) {
      problems.forEach(p -> System.err.println("FAIL " + p));
      System.exit(1);
    }
    System.out.println("jars ok: " + modules.length + " module(s); POMs resolved: " + poms.size());
  }

  static Path findJar(Path target, String module) throws IOException {
    if (!Files.isDirectory(target)) return null;
    try (Stream<Path> s = Files.list(target)) {
      return s.filter(p -> {
            String n = p.getFileName().toString();
            return n.startsWith(module + "-") && n.endsWith(".jar")
                && !n.endsWith("-sources.jar") && !n.endsWith("-javadoc.jar");
          })
          // The newest: a release dry run leaves a jar of another version next to it.
          .max(java.util.Comparator.comparing(p -> p.toFile().lastModified()))
          .orElse(null);
    }
  }

  static void checkMajor(JarFile jar, String entry, int expected, List<String> problems)
      throws IOException {
    ZipEntry e = jar.getEntry(entry);
    if (e == null) return;
    try (InputStream in = jar.getInputStream(e); DataInputStream d = new DataInputStream(in)) {
      d.readInt();
      d.readUnsignedShort();
      int major = d.readUnsignedShort();
      if (major != expected) {
        problems.add(jar.getName() + ": " + entry + " has class version " + major + ", expected " + expected);
      }
    }
  }
}
