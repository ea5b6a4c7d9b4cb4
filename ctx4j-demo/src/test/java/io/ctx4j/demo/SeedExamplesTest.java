package io.ctx4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The seed scenario prints the Go tutorial's lines, in order, at the tutorial's moments. */
class SeedExamplesTest {
  private static final Duration ALMOST = Duration.ofMillis(100);

  @Test
  void seedPrintsTheTutorialsLinesAtExactMomentsOnAManualClock() throws Exception {
    SteppedTime clock = new SteppedTime();
    Lines lines = new Lines();
    Scenario seed = SeedExamples.seed(clock.time);

    CompletableFuture<Void> run = runInBackground(() -> seed.run(lines.stream()));
    driveSeed(clock, lines);

    run.get(Lines.PATIENCE_SECONDS, TimeUnit.SECONDS);
    assertEquals(List.of(), lines.rest(), "nothing after the last example");
    assertEquals(0, clock.pendingCount(), "every deadline and abandoned operation released its timer");
  }

  @Test
  void demoWithoutArgumentsRunsTheSeedExamples() throws Exception {
    SteppedTime clock = new SteppedTime();
    Lines lines = new Lines();
    ByteArrayOutputStream err = new ByteArrayOutputStream();

    CompletableFuture<Integer> status =
        CompletableFuture.supplyAsync(
            () ->
                Demo.run(
                    new String[0],
                    lines.stream(),
                    new PrintStream(err, true, StandardCharsets.UTF_8),
                    clock.time));
    driveSeed(clock, lines);

    assertEquals(0, status.get(Lines.PATIENCE_SECONDS, TimeUnit.SECONDS));
    assertEquals("", err.toString(StandardCharsets.UTF_8));
    assertEquals(List.of(), lines.rest());
  }

  /**
   * Plays the part of the passing time: before each step it waits for the example to schedule its
   * timers, moves time to just short of the step's moment (nothing may fire), then to the moment,
   * and only then reads the line the example prints. Since time stands still until the line is read,
   * the elapsed time printed is exact.
   */
  private static void driveSeed(SteppedTime clock, Lines lines) throws InterruptedException {
    lines.expect(
        "== 1. background ==",
        "context.Background",
        "== 2. todo ==",
        "context.TODO",
        "== 3. withCancel ==",
        "null");
    clock.awaitScheduled(1); // the canceller's time.Sleep(2 * time.Second)
    clock.advanceFiringNothing(Duration.ofSeconds(2).minus(ALMOST));
    clock.advance(ALMOST);
    lines.expect("context canceled (after 2.0 s)");

    lines.expect("== 4. withTimeout ==");
    clock.awaitScheduled(2); // the 3 s timeout and the 5 s operation
    clock.advanceFiringNothing(Duration.ofSeconds(3).minus(ALMOST));
    clock.advance(ALMOST);
    lines.expect("Контекст завершился: context deadline exceeded (after 3.0 s)");

    lines.expect("== 5. withDeadline ==");
    clock.awaitScheduled(2); // the deadline 2 s away and the 3 s operation
    clock.advanceFiringNothing(Duration.ofSeconds(2).minus(ALMOST));
    clock.advance(ALMOST);
    lines.expect("Контекст завершён: context deadline exceeded (after 2.0 s)");

    lines.expect("== 6. withValue ==", "UserID: 42");
  }

  @Test
  void seedInRealTimeWaitsTheTutorialsSeconds() throws Exception {
    Lines lines = new Lines();
    Scenario seed = Scenarios.registry(DemoTime.system()).get("seed");

    CompletableFuture<Void> run = runInBackground(() -> seed.run(lines.stream()));

    lines.expect("== 1. background ==", "context.Background", "== 2. todo ==", "context.TODO");
    long header3 = lines.expect("== 3. withCancel ==").nanos();
    lines.expect("null");
    Lines.Line canceled = lines.next();
    assertTimed(canceled, "context canceled", header3, 2.0);

    long header4 = lines.expect("== 4. withTimeout ==").nanos();
    assertTimed(lines.next(), "Контекст завершился: context deadline exceeded", header4, 3.0);

    long header5 = lines.expect("== 5. withDeadline ==").nanos();
    assertTimed(lines.next(), "Контекст завершён: context deadline exceeded", header5, 2.0);

    lines.expect("== 6. withValue ==", "UserID: 42");
    run.get(Lines.PATIENCE_SECONDS, TimeUnit.SECONDS);
    assertEquals(List.of(), lines.rest());
  }

  /**
   * Checks a line of the form {@code "<text> (after S.s s)"}: the text, and that both the printed
   * elapsed time and the measured time since {@code startNanos} are at least {@code seconds}
   * (never early) and at most a generous margin more (this machine is shared and slow).
   */
  private static void assertTimed(Lines.Line line, String text, long startNanos, double seconds) {
    Matcher m = Pattern.compile("(.*) \\(after (\\d+\\.\\d) s\\)").matcher(line.text());
    assertTrue(m.matches(), "not a timed line: " + line.text());
    assertEquals(text, m.group(1));
    double printed = Double.parseDouble(m.group(2));
    double measured = (line.nanos() - startNanos) / 1e9;
    double margin = 2.5;
    // One millisecond of slack for the rounding between the wall clock and System.nanoTime().
    assertTrue(measured >= seconds - 0.001, "came too early: " + measured + " s < " + seconds);
    assertTrue(measured < seconds + margin, "came too late: " + measured + " s");
    assertTrue(printed >= seconds, "printed too early: " + line.text());
    assertTrue(printed < seconds + margin, "printed too late: " + line.text());
  }

  @Test
  void registryListsTheSeedFirstThenTheSixExamplesInTutorialOrderThenTheRest() {
    Map<String, Scenario> registry = Scenarios.registry(new SteppedTime().time);
    // The tutorial comes first, in its order; other modules' scenarios follow it.
    assertEquals(
        List.of(
            "seed", "background", "todo", "withCancel", "withTimeout", "withDeadline", "withValue"),
        List.copyOf(registry.keySet()).subList(0, 7));
    registry.forEach((name, s) -> assertEquals(name, s.name()));
    assertEquals(Scenarios.DEFAULT, List.copyOf(registry.keySet()).get(0));
  }

  /** The body of a test thread; may throw anything, which fails the returned future. */
  @FunctionalInterface
  interface Body {
    void run() throws Exception;
  }

  private static CompletableFuture<Void> runInBackground(Body body) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    Thread t =
        new Thread(
            () -> {
              try {
                body.run();
                done.complete(null);
              } catch (Throwable e) {
                done.completeExceptionally(e);
              }
            },
            "scenario");
    t.setDaemon(true);
    t.start();
    return done;
  }
}
