package io.ctx4j.concurrent;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.zip.ZipFile;

/**
 * Copies of ctx4j's classes, read from the jars (or class directories) the tests run against, for
 * tests that load ctx4j again as an application's own class loader would, or that need one
 * multi-release layer whatever JDK runs them.
 */
final class CopiedClasses {
  private CopiedClasses() {}

  /** The jar or class directory {@code c} was loaded from. */
  static Path codeSource(Class<?> c) throws Exception {
    return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
  }

  /**
   * A class loader that defines every class of the code sources of {@code from} itself, as the
   * jars look to a runtime of {@code version} ({@code JarFile.baseVersion()} for the base layer),
   * with the platform loader as parent, so that none of them comes from the test's class path.
   */
  static ClassLoader loaderOf(Runtime.Version version, Class<?>... from) throws Exception {
    List<Path> roots = new ArrayList<>();
    for (Class<?> c : from) {
      roots.add(codeSource(c));
    }
    return new ClassLoader(ClassLoader.getPlatformClassLoader()) {
      @Override
      protected Class<?> findClass(String name) throws ClassNotFoundException {
        try {
          for (Path root : roots) {
            byte[] bytes = read(root, name, version);
            if (bytes != null) {
              return defineClass(name, bytes, 0, bytes.length);
            }
          }
        } catch (IOException e) {
          throw new ClassNotFoundException(name, e);
        }
        throw new ClassNotFoundException(name);
      }
    };
  }

  /**
   * A class's bytes from a class directory, or from a jar as a runtime of {@code version} sees it;
   * null if it has no such class.
   */
  static byte[] read(Path root, String className, Runtime.Version version) throws IOException {
    String entry = className.replace('.', '/') + ".class";
    if (Files.isDirectory(root)) {
      Path file = root.resolve(entry);
      return Files.exists(file) ? Files.readAllBytes(file) : null;
    }
    try (JarFile jar = new JarFile(root.toFile(), false, ZipFile.OPEN_READ, version)) {
      JarEntry e = jar.getJarEntry(entry);
      if (e == null) {
        return null;
      }
      try (InputStream in = jar.getInputStream(e)) {
        return in.readAllBytes();
      }
    }
  }
}
