package io.ctx4j.jdbc;

import static io.ctx4j.jdbc.TestDb.freshStatementTimeout;
import static io.ctx4j.jdbc.TestDb.sum;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ManualTimeSource;
import java.sql.Connection;
import java.sql.SQLTimeoutException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ManualClockTimeoutTest {
  /** Far from the wall clock: a helper reading Instant.now() would see years left or none. */
  private static final Instant START = Instant.parse("2040-06-01T00:00:00Z");

  @Test
  void theQueryTimeoutFollowsTheContextsOwnClock() {
    ManualTimeSource time = ManualTimeSource.startingAt(START);
    Context root = Context.withTimeSource(Context.background(), time);
    try (CancelableContext ctx = Context.withTimeout(root, Duration.ofMillis(2_500))) {
      assertEquals(3, ContextStatements.queryTimeoutSeconds(ctx), "2.5 s left rounds up to 3 s");
      time.advance(Duration.ofMillis(1_600));
      assertEquals(1, ContextStatements.queryTimeoutSeconds(ctx), "0.9 s left rounds up to 1 s");
    }
  }

  @ParameterizedTest(name = "{0} ns left: {1} s")
  @CsvSource({
    "1, 1",
    "999999999, 1",
    "1000000000, 1",
    "1000000001, 2",
    "2000000000, 2",
    "2000000001, 3",
    "0, 1",
    "-5000000000, 1",
    "9223372036854775807, 2147483647",
  })
  void theTimeLeftRoundsUpToWholeSecondsAndNeverToZero(long nanosLeft, int seconds) {
    ManualTimeSource time = ManualTimeSource.startingAt(START);
    Context root = Context.withTimeSource(Context.background(), time);
    try (CancelableContext ctx =
        Context.withDeadline(root, START.plusNanos(Math.max(nanosLeft, 1)))) {
      if (nanosLeft <= 0) {
        time.advance(Duration.ofNanos(1 - nanosLeft)); // to the deadline, or past it
      }
      assertEquals(seconds, ContextStatements.queryTimeoutSeconds(ctx));
    }
  }

  /**
   * A known limit (README): the driver counts the timeout in real time, the context on its own
   * clock. A clock that does not move (or lags the real one) leaves the context live when the
   * driver's timeout, its time left rounded up, has passed in real time: the driver stops the query
   * and execute throws the driver's exception as it is, since the context has not ended.
   */
  @Test
  @Timeout(60)
  void theDriverCountsTheTimeoutInRealTimeSoAContextOnAStoppedClockIsOutlived() throws Exception {
    ManualTimeSource time = ManualTimeSource.startingAt(START);
    Context root = Context.withTimeSource(Context.background(), time);
    try (CancelableContext ctx = Context.withTimeout(root, Duration.ofMillis(500));
        Connection c = TestDb.open();
        Statement st = c.createStatement()) {
      assertThrows(
          SQLTimeoutException.class,
          () -> ContextStatements.execute(ctx, st, s -> sum(s.executeQuery(TestDb.SLOW))));
      assertFalse(ctx.isDone(), "no time passed on the context's clock: its deadline is ahead");
      assertEquals(0, freshStatementTimeout(c), "the 1 s timeout is put back all the same");
    }
  }

  @Test
  void noDeadlineNoTimeout() {
    assertEquals(0, ContextStatements.queryTimeoutSeconds(Context.background()));
    try (CancelableContext ctx = Context.withCancel(Context.background())) {
      assertEquals(0, ContextStatements.queryTimeoutSeconds(ctx));
    }
  }
}
