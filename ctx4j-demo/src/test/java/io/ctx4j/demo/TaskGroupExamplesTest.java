package io.ctx4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The task-group scenarios on a manual clock: time moves one service at a time, and only after the
 * previous line was printed, so every printed time is exact. Services cancelled together print in
 * either order, so those lines are compared as a set.
 */
@Timeout(60)
class TaskGroupExamplesTest {
  private static final Duration HALF_SECOND = Duration.ofMillis(500);

  /** Each test's clock and the lines its scenario prints (a new test instance per test). */
  private final SteppedTime clock = new SteppedTime();
  private final Lines lines = new Lines();

  private static Scenario scenario(SteppedTime clock, String name) {
    Map<String, Scenario> byName = new java.util.LinkedHashMap<>();
    TaskGroupExamples.all(clock.time).forEach(s -> byName.put(s.name(), s));
    return byName.get(name);
  }

  private static CompletableFuture<Void> start(Scenario s, Lines lines) {
    return CompletableFuture.runAsync(
        () -> {
          try {
            s.run(lines.stream());
          } catch (Exception e) {
            throw new java.util.concurrent.CompletionException(e);
          }
        });
  }

  /**
   * Starts scenario {@code name}, expects its title, waits for every timer, then moves time to the
   * answers of users (0.5 s) and orders (1 s).
   */
  private CompletableFuture<Void> startUntilTheFastServicesAnswered(String name, String title, int timers)
      throws InterruptedException {
    CompletableFuture<Void> run = start(scenario(clock, name), lines);
    lines.expect("== " + name + ": " + title + " ==");
    clock.awaitScheduled(timers);
    clock.advance(HALF_SECOND);
    lines.expect("  users           answered \"alice\" (after 0.5 s)");
    clock.advance(HALF_SECOND);
    lines.expect("  orders          answered \"3 orders\" (after 1.0 s)");
    return run;
  }

  /** The scenario ended, printed nothing more, and left no timer behind. */
  private void assertEndedAndReleasedItsTimers(CompletableFuture<Void> run) throws Exception {
    run.get(Lines.PATIENCE_SECONDS, TimeUnit.SECONDS);
    assertEquals(List.of(), lines.rest());
    assertEquals(0, clock.pendingCount(), "the deadline and the stopped calls released their timers");
  }

  private static Set<String> nextTwo(Lines lines) throws InterruptedException {
    return Set.of(lines.next().text(), lines.next().text());
  }

  @Test
  void theFirstFailureStopsTheSlowServicesAtOnce() throws Exception {
    CompletableFuture<Void> run = // 6 timers: the 3 s deadline and five calls
        startUntilTheFastServicesAnswered("taskGroup", "five services, 3 s timeout, payments fails at 1.5 s", 6);
    clock.advance(HALF_SECOND);
    lines.expect("  payments        failed: payments: 503 Service Unavailable (after 1.5 s)");
    String cause = " (cause: payments: 503 Service Unavailable) (after 1.5 s)";
    assertEquals(
        Set.of(
            "  search          stopped: context canceled" + cause,
            "  recommendations stopped: context canceled" + cause),
        nextTwo(lines));
    lines.expect("await: first failure: payments: 503 Service Unavailable (after 1.5 s)");
    assertEndedAndReleasedItsTimers(run);
  }

  @Test
  void theTimeoutStopsTheServicesThatNeedLonger() throws Exception {
    CompletableFuture<Void> run =
        startUntilTheFastServicesAnswered("taskGroupTimeout", "four services, 3 s timeout, two need longer", 5);
    clock.advanceFiringNothing(Duration.ofMillis(1999));
    clock.advance(Duration.ofMillis(1));
    assertEquals(
        Set.of(
            "  search          stopped: context deadline exceeded (after 3.0 s)",
            "  recommendations stopped: context deadline exceeded (after 3.0 s)"),
        nextTwo(lines));
    lines.expect("await: first failure: context deadline exceeded (after 3.0 s)");
    assertEndedAndReleasedItsTimers(run);
  }
}
