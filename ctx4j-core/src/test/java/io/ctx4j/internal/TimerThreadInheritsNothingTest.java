package io.ctx4j.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The timer thread lives as long as the JVM, so it must hold nothing of the thread that happened to
 * start it: not its inheritable thread-locals (a request's user or MDC map, kept for good and seen
 * by every timer task) and not its context class loader (on a servlet container, the first
 * webapp's loader, pinned after that webapp is undeployed). Its context class loader is ctx4j's
 * own. Each test loads a fresh copy of ctx4j-core's classes, so that this test's thread is the one
 * that starts that copy's timer thread whatever ran before in this JVM. Failed on ed04378: the
 * thread inherited both.
 */
class TimerThreadInheritsNothingTest {
  /** A loader that defines ctx4j-core's classes itself, from the directory or jar they came from. */
  private static ClassLoader freshCore() throws Exception {
    Path root = Path.of(TimerThread.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    return new ClassLoader(TimerThreadInheritsNothingTest.class.getClassLoader()) {
      @Override
      protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
        if (!name.startsWith("io.ctx4j.") || name.startsWith("io.ctx4j.internal.TimerThreadInh")) {
          return super.loadClass(name, resolve);
        }
        synchronized (getClassLoadingLock(name)) {
          Class<?> c = findLoadedClass(name);
          if (c == null) {
            byte[] bytes;
            try {
              bytes = read(root, name);
            } catch (IOException e) {
              throw new ClassNotFoundException(name, e);
            }
            if (bytes == null) {
              return super.loadClass(name, resolve);
            }
            c = defineClass(name, bytes, 0, bytes.length);
          }
          return c;
        }
      }
    };
  }

  private static byte[] read(Path root, String name) throws IOException {
    String entry = name.replace('.', '/') + ".class";
    if (Files.isDirectory(root)) {
      Path file = root.resolve(entry);
      return Files.exists(file) ? Files.readAllBytes(file) : null;
    }
    try (java.util.jar.JarFile jar = new java.util.jar.JarFile(root.toFile())) {
      java.util.jar.JarEntry e = jar.getJarEntry(entry);
      return e == null ? null : jar.getInputStream(e).readAllBytes();
    }
  }

  @Test
  void theTimerThreadKeepsNoThreadLocalOrClassLoaderOfItsStarter() throws Exception {
    ClassLoader core = freshCore();
    Class<?> timer = core.loadClass("io.ctx4j.internal.TimerThread");
    Object instance = timer.getMethod("get").invoke(null);
    Method schedule = timer.getMethod("schedule", long.class, Runnable.class);
    InheritableThreadLocal<String> user = new InheritableThreadLocal<>();
    ClassLoader webapp = new ClassLoader(null) {};
    AtomicReference<String> seenUser = new AtomicReference<>("not run");
    AtomicReference<ClassLoader> seenLoader = new AtomicReference<>();
    CountDownLatch ran = new CountDownLatch(1);
    Thread starter =
        new Thread(
            () -> {
              user.set("alice");
              try {
                schedule.invoke(
                    instance,
                    0L,
                    (Runnable)
                        () -> {
                          seenUser.set(String.valueOf(user.get()));
                          seenLoader.set(Thread.currentThread().getContextClassLoader());
                          ran.countDown();
                        });
              } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
              }
            },
            "a request thread");
    starter.setContextClassLoader(webapp);
    starter.start();
    starter.join(10_000);
    assertTrue(ran.await(10, TimeUnit.SECONDS), "the timer task never ran");
    assertEquals("null", seenUser.get(), "the timer thread inherited the starter's thread-local");
    assertTrue(
        seenLoader.get() != webapp,
        "the timer thread kept the starter's context class loader");
    assertEquals(core, seenLoader.get(), "the timer thread's context class loader");
  }
}
