package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.File;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The module works without Jetty: Tomcat, the filter and a servlet run in a class loader whose
 * class path is this test's minus every Jetty jar, so the Jetty glue must never be loaded.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NoJettyTest {
  @Test
  void filterRunsOnTomcatWithNoJettyClassVisible() throws Exception {
    List<URL> urls = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      // The entry's own name, not its path: a checkout under a folder named after Jetty (a
      // worktree called spring-jetty, say) would otherwise lose its own classes too.
      if (!new File(entry).getName().contains("jetty")) {
        urls.add(new File(entry).toURI().toURL());
      }
    }
    try (URLClassLoader loader =
        new URLClassLoader(urls.toArray(new URL[0]), ClassLoader.getPlatformClassLoader())) {
      assertThrows(ClassNotFoundException.class,
          () -> Class.forName("org.eclipse.jetty.server.Request", false, loader));
      Class<?> launcher = Class.forName(NoJettyLauncher.class.getName(), true, loader);
      Object result = launcher.getMethod("run").invoke(null);
      assertEquals("deadline exceeded: set by the caller's Ctx4j-Timeout-Ms|hooks=null", result);
    }
  }
}
