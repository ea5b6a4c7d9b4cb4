package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The JDK client takes its redirect limit, jdk.httpclient.redirects.retrylimit, from the system
 * property or else from $JAVA_HOME/conf/net.properties (sun.net.NetProperties); the redirects
 * ContextHttp follows itself stop where the JDK's do, however it is set. Each row runs a child JVM
 * whose java.home is a copy of the running JDK's made of symbolic links, but for a net.properties
 * of its own: the JDK's file with the limit appended, or not.
 */
@Timeout(120)
class RedirectLimitTest {

  @ParameterizedTest(name = "net.properties {0}, system property {1}")
  @CsvSource({
    "-, -, /4", // the default, 5: four redirects followed
    "2, -, /1",
    "2, 3, /2", // the system property wins
    "0x3, -, /2", // read with Integer.decode, as the JDK reads it
    "many, -, /4" // unreadable: the default
  })
  void theRedirectsFollowedStopWhereTheJdksDo(
      String inFile, String property, String stop, @TempDir Path home) throws Exception {
    Path javaHome = Path.of(System.getProperty("java.home")).toRealPath();
    Files.createDirectory(home.resolve("conf"));
    linkAllBut(javaHome, home, "conf");
    linkAllBut(javaHome.resolve("conf"), home.resolve("conf"), "net.properties");
    Path netProperties = home.resolve("conf").resolve("net.properties");
    Files.copy(javaHome.resolve("conf").resolve("net.properties"), netProperties);
    if (!inFile.equals("-")) {
      Files.writeString(
          netProperties,
          "\njdk.httpclient.redirects.retrylimit=" + inFile + "\n",
          StandardOpenOption.APPEND);
    }
    List<String> command = new ArrayList<>();
    command.add(javaHome.resolve("bin").resolve("java").toString());
    command.add("-Djava.home=" + home);
    if (!property.equals("-")) {
      command.add("-Djdk.httpclient.redirects.retrylimit=" + property);
    }
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(RedirectLimitChild.class.getName());
    Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
    try {
      child.getOutputStream().close();
      String out;
      try (InputStream in = child.getInputStream()) {
        out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
      assertTrue(child.waitFor(60, TimeUnit.SECONDS), "the child JVM did not exit: " + out);
      assertEquals(0, child.exitValue(), out);
      assertEquals("jdk " + stop + "\nctx4j " + stop, out.strip());
    } finally {
      child.destroyForcibly();
    }
  }

  /** Links every entry of {@code from} into {@code to}, but {@code except}. */
  private static void linkAllBut(Path from, Path to, String except) throws IOException {
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(from)) {
      for (Path e : entries) {
        if (!e.getFileName().toString().equals(except)) {
          Files.createSymbolicLink(to.resolve(e.getFileName()), e);
        }
      }
    }
  }
}
