package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.testing.LayerTests;
import org.junit.jupiter.api.Test;

/**
 * The tests of src/test/java21 are on the class path exactly when the JDK running the tests is 21
 * or later: a build that lost them (the jdk21-tests profile not active, or its source root renamed)
 * must not pass on JDK 21+ without them.
 */
class LayerTestsTest {

  @Test
  void theJdk21TestsArePresentExactlyOnJdk21AndLater() {
    assertEquals(
        LayerTests.jdk21OrLater(),
        LayerTests.loadable(LayerTestsTest.class, "io.ctx4j.http.ClosedClientJdk21Test"),
        "ClosedClientJdk21Test loadable on JDK " + Runtime.version().feature());
  }
}
