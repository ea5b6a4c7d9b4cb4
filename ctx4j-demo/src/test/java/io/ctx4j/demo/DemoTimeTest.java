package io.ctx4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.TimeSource;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@link DemoTime}: Go's time functions over an injectable time source; {@link Scenario#of}. */
class DemoTimeTest {
  private final SteppedTime clock = new SteppedTime();
  private final DemoTime time = clock.time;

  @Test
  void sleepReturnsOnlyWhenItsTimeHasCome() throws Exception {
    CountDownLatch woke = new CountDownLatch(1);
    Thread sleeper =
        new Thread(
            () -> {
              try {
                time.sleep(Duration.ofSeconds(1));
                woke.countDown();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    sleeper.setDaemon(true);
    sleeper.start();
    clock.awaitScheduled(1);
    clock.advanceFiringNothing(Duration.ofMillis(999));
    assertEquals(1, woke.getCount());
    clock.advance(Duration.ofMillis(1));
    assertTrue(woke.await(Lines.PATIENCE_SECONDS, TimeUnit.SECONDS));
  }

  @Test
  void afterCompletesWithTheInstantItWasDue() throws Exception {
    Instant start = time.now();
    CompletableFuture<Instant> op = time.after(Duration.ofSeconds(5));
    clock.advanceFiringNothing(Duration.ofMillis(4999));
    assertFalse(op.isDone());
    clock.advance(Duration.ofMillis(1));
    assertEquals(start.plusSeconds(5), op.getNow(null));
    assertEquals(0, clock.pendingCount());
  }

  @Test
  void cancellingAnOperationWithdrawsItsTimer() {
    CompletableFuture<Instant> op = time.after(Duration.ofSeconds(5));
    assertEquals(1, clock.pendingCount());
    op.cancel(false);
    assertEquals(0, clock.pendingCount());
  }

  @Test
  void rootContextFollowsTheInjectedClock() {
    try (CancelableContext ctx = Context.withTimeout(time.root(), Duration.ofSeconds(3))) {
      assertEquals(time.now().plusSeconds(3), ctx.deadline().orElseThrow());
      clock.advance(Duration.ofSeconds(3));
      assertSame(Context.DEADLINE_EXCEEDED, ctx.err());
    }
  }

  @Test
  void systemTimeUsesTheBackgroundContextItself() {
    assertSame(Context.background(), DemoTime.system().root());
    assertSame(DemoTime.system(), DemoTime.of(TimeSource.system()));
  }

  @Test
  void sincePrintsOneDecimalWithAPointWhateverTheLocale() {
    // Surefire runs with a Turkish default locale, whose decimal separator is a comma.
    Instant start = time.now();
    clock.advance(Duration.ofMillis(1500));
    assertEquals("(after 1.5 s)", time.since(start));
  }

  @Test
  void badDurationsAreRejectedEarlyByName() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> time.sleep(Duration.ofSeconds(-1)));
    assertTrue(e.getMessage().startsWith("duration is negative"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> time.after(Duration.ofMillis(-1)));
    assertEquals("duration", assertThrows(NullPointerException.class, () -> time.after(null)).getMessage());
    assertEquals("source", assertThrows(NullPointerException.class, () -> DemoTime.of(null)).getMessage());
    assertEquals(0, clock.pendingCount());
  }

  @Test
  void scenarioNamesMustBeOneWord() {
    Scenario.Body body = out -> out.println("x");
    assertThrows(IllegalArgumentException.class, () -> Scenario.of("two words", "d", body));
    assertThrows(IllegalArgumentException.class, () -> Scenario.of(" ", "d", body));
    assertEquals("body", assertThrows(NullPointerException.class, () -> Scenario.of("n", "d", null)).getMessage());
    Scenario s = Scenario.of("n", "d", body);
    assertEquals("n", s.name());
    assertEquals("d", s.description());
  }
}
