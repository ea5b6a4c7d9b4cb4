package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import java.io.IOException;
import java.io.InputStream;
import java.lang.ref.WeakReference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;

/**
 * A web application that carries ctx4j in its own class loader binds a context on a container's
 * pooled thread, and is then undeployed: the thread, which lives on, must not keep that class
 * loader (and with it every class of the application) reachable. The copy of ctx4j is loaded from
 * the jars' base layer on every JDK, so the test checks the {@code ThreadLocal} binding of JDK 17
 * to 24 also where the tests run on JDK 25 (whose {@code ScopedValue} layer keeps nothing on the
 * thread after a call).
 */
class ClassLoaderLeakTest {

  @Test
  void aPooledThreadKeepsNoClassLoaderOfAnApplicationThatBoundAContextOnIt() throws Exception {
    WeakReference<ClassLoader> application = bindThroughACopyOfCtx4j();
    // Bounded: a loader that nothing holds goes at the first full collection or soon after.
    for (int i = 0; i < 20 && application.get() != null; i++) {
      System.gc();
    }
    assertNull(
        application.get(),
        "the thread that bound a context still holds the class loader of the ctx4j that bound it");
  }

  /** Loads ctx4j-core and ctx4j-concurrent again, as an application's own class loader would. */
  private static WeakReference<ClassLoader> bindThroughACopyOfCtx4j() throws Exception {
    ClassLoader app =
        new BaseLayerLoader(
            List.of(
                Path.of(Context.class.getProtectionDomain().getCodeSource().getLocation().toURI()),
                Path.of(
                    CurrentContext.class
                        .getProtectionDomain()
                        .getCodeSource()
                        .getLocation()
                        .toURI())));
    Class<?> contextType = app.loadClass("io.ctx4j.Context");
    assertNotSame(Context.class, contextType, "not a copy: the test would prove nothing");
    assertEquals(
        "ThreadLocal",
        app.loadClass("io.ctx4j.concurrent.internal.Binding").getMethod("mechanism").invoke(null));
    Object background = contextType.getMethod("background").invoke(null);
    AtomicBoolean ran = new AtomicBoolean();
    app.loadClass("io.ctx4j.concurrent.CurrentContext")
        .getMethod("run", contextType, Runnable.class)
        .invoke(null, background, (Runnable) () -> ran.set(true));
    assertTrue(ran.get());
    return new WeakReference<>(app);
  }

  /**
   * Defines classes from jars (their base layer, whatever JDK runs) or class directories, with the
   * platform loader as parent, so none of them comes from the test's own class path.
   */
  private static final class BaseLayerLoader extends ClassLoader {
    private final List<Path> roots;

    BaseLayerLoader(List<Path> roots) {
      super(ClassLoader.getPlatformClassLoader());
      this.roots = roots;
    }

    @Override
    protected Class<?> findClass(String name) throws ClassNotFoundException {
      String entry = name.replace('.', '/') + ".class";
      try {
        for (Path root : roots) {
          byte[] bytes = read(root, entry);
          if (bytes != null) {
            return defineClass(name, bytes, 0, bytes.length);
          }
        }
      } catch (IOException e) {
        throw new ClassNotFoundException(name, e);
      }
      throw new ClassNotFoundException(name);
    }

    private static byte[] read(Path root, String entry) throws IOException {
      if (Files.isDirectory(root)) {
        Path file = root.resolve(entry);
        return Files.exists(file) ? Files.readAllBytes(file) : null;
      }
      try (JarFile jar =
          new JarFile(root.toFile(), false, ZipFile.OPEN_READ, JarFile.baseVersion())) {
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
}
