package io.ctx4j.signal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Sends a real signal to a child JVM and reads how it shut down. */
class SignalsProcessTest {
  @ParameterizedTest(name = "SIG{0}")
  @CsvSource({"INT, interrupt", "TERM, terminated"})
  void aSignalCancelsTheContextAndTheWorkerPoolDrainsAndExitsCleanly(String signal, String goName)
      throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process child =
        new ProcessBuilder(
                java, "-cp", System.getProperty("java.class.path"), ShutdownChild.class.getName())
            .redirectErrorStream(true)
            .start();
    try {
      BufferedReader out =
          new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
      CompletableFuture<String> ready = CompletableFuture.supplyAsync(() -> readLine(out));
      assertEquals("ready", ready.get(60, TimeUnit.SECONDS));

      Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(child.pid())).start();
      assertEquals(0, kill.waitFor());

      CompletableFuture<List<String>> rest =
          CompletableFuture.supplyAsync(
              () -> {
                List<String> lines = new ArrayList<>();
                for (String l = readLine(out); l != null; l = readLine(out)) {
                  lines.add(l);
                }
                return lines;
              });
      assertTrue(child.waitFor(60, TimeUnit.SECONDS), "child did not exit");
      List<String> lines = rest.get(10, TimeUnit.SECONDS);
      assertEquals(
          List.of(
              "shutting down: " + goName + " signal received",
              "drained=true jobs>0=true",
              "context: signal.NotifyContext(context.Background, [interrupt terminated])"),
          lines);
      assertEquals(0, child.exitValue(), "a diverted signal must not kill the JVM");
    } finally {
      child.destroyForcibly();
    }
  }

  private static String readLine(BufferedReader r) {
    try {
      return r.readLine();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
