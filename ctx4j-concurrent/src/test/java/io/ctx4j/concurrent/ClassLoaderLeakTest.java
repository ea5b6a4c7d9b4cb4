package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import java.lang.ref.WeakReference;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * A web application that carries ctx4j in its own class loader binds a context on a container's
 * pooled thread, and is then undeployed: the thread, which lives on, must not keep that class
 * loader (and with it every class of the application) reachable.
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
    URL core = Context.class.getProtectionDomain().getCodeSource().getLocation();
    URL concurrent = CurrentContext.class.getProtectionDomain().getCodeSource().getLocation();
    try (URLClassLoader app =
        new URLClassLoader(
            new URL[] {core, concurrent}, ClassLoader.getPlatformClassLoader())) {
      Class<?> contextType = app.loadClass("io.ctx4j.Context");
      assertNotSame(Context.class, contextType, "not a copy: the test would prove nothing");
      Object background = contextType.getMethod("background").invoke(null);
      AtomicBoolean ran = new AtomicBoolean();
      app.loadClass("io.ctx4j.concurrent.CurrentContext")
          .getMethod("run", contextType, Runnable.class)
          .invoke(null, background, (Runnable) () -> ran.set(true));
      assertTrue(ran.get());
      return new WeakReference<>(app);
    }
  }
}
