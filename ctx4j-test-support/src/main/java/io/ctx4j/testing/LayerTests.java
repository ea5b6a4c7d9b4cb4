package io.ctx4j.testing;

import java.util.Objects;

/**
 * Guards a module's JDK 21+ test layer ({@code src/test/java21}, compiled by a {@code jdk21-tests}
 * profile only when the build runs on JDK 21 or later): a build that lost those tests (the profile
 * not active, its source root renamed) would otherwise pass on JDK 21+ without them, silently.
 *
 * <p>Thread safety: stateless; call from any thread.
 */
public final class LayerTests {
  private LayerTests() {}

  /**
   * Whether {@code className} can be loaded by the loader of {@code caller} (the test class that
   * asks, which sits beside the layer's tests): compiled into the test classes, and of a class
   * version this JDK runs.
   *
   * @param caller the asking test class
   * @param className a test class of the layer, by its binary name
   * @return {@code false} if it is missing, or was compiled by an earlier build on a newer JDK
   * @throws NullPointerException if an argument is null
   */
  public static boolean loadable(Class<?> caller, String className) {
    Objects.requireNonNull(caller, "caller");
    Objects.requireNonNull(className, "className");
    try {
      Class.forName(className, false, caller.getClassLoader());
      return true;
    } catch (ClassNotFoundException | UnsupportedClassVersionError e) {
      return false;
    }
  }

  /** Whether the JDK running this is 21 or later: the JDK 21+ test layer must then be present. */
  public static boolean jdk21OrLater() {
    return Runtime.version().feature() >= 21;
  }
}
