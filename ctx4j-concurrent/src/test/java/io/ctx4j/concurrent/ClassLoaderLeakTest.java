package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import java.lang.ref.WeakReference;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.jar.JarFile;
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
        CopiedClasses.loaderOf(JarFile.baseVersion(), Context.class, CurrentContext.class);
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
}
