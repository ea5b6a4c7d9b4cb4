package io.ctx4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.concurrent.Tasks;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The integration scenarios in real time (they are short). The shutdown scenario is stopped by a
 * plain context here; the real SIGINT/SIGTERM path is proved on a child JVM in ctx4j-signal.
 */
@Timeout(60)
class IntegrationExamplesTest {
  private static final Pattern FINISHED = Pattern.compile("worker-[1-3] finished job \\d+");

  /** Runs the scenario on a thread of its own, with ctx4j's one-liner. */
  private static CompletableFuture<Void> start(Scenario s, Lines lines) {
    Callable<Void> body =
        () -> {
          s.run(lines.stream());
          return null;
        };
    return Tasks.start(Context.background(), body);
  }

  @Test
  void theWorkerPoolDrainsInFlightJobsAndStopsCleanly() throws Exception {
    AtomicReference<CancelableContext> stop = new AtomicReference<>();
    Scenario s =
        IntegrationExamples.shutdown(
            DemoTime.system(),
            root -> {
              stop.set(Context.withCancel(root));
              return stop.get();
            });
    Lines lines = new Lines();
    CompletableFuture<Void> run = start(s, lines);
    lines.expect(
        "== shutdown: worker pool with graceful shutdown ==",
        "ready: 3 workers; press Ctrl-C (or send SIGTERM) to stop");
    int before = 0;
    while (before < 4) {
      assertTrue(FINISHED.matcher(lines.next().text()).matches());
      before++;
    }
    stop.get().cancel(new Exception("interrupt signal received"));
    String line = lines.next().text();
    // A job may finish between the cancel and the announcement.
    while (FINISHED.matcher(line).matches()) {
      before++;
      line = lines.next().text();
    }
    assertEquals("shutting down: interrupt signal received", line);
    int after = 0;
    for (line = lines.next().text(); FINISHED.matcher(line).matches(); line = lines.next().text()) {
      after++;
    }
    assertTrue(after <= 3, "at most one in-flight job per worker, got " + after);
    assertTrue(
        line.matches("drained: " + (before + after) + " jobs done, \\d+ never started; clean exit \\(after \\d\\.\\d s\\)"),
        line);
    run.get(30, TimeUnit.SECONDS);
  }

  @Test
  void aBlockedSocketReadIsStoppedByTheDeadline() throws Exception {
    Lines lines = new Lines();
    CompletableFuture<Void> run = start(IntegrationExamples.socket(DemoTime.system()), lines);
    lines.expect(
        "== socket: a blocked read ended by the context ==",
        "reading from a peer that never writes, with a 1000 ms timeout");
    String stopped = lines.next().text();
    assertTrue(
        stopped.matches("read stopped \\(after 1\\.\\d s\\): context deadline exceeded"), stopped);
    lines.expect("  the read itself failed with SocketException", "socket closed: true");
    run.get(30, TimeUnit.SECONDS);
  }
}
