package io.ctx4j.jdbc;

import static io.ctx4j.jdbc.TestDb.sum;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Pins a known limit of H2 that the README states: H2's {@code cancel()} only flags the statement's
 * command, H2 looks at the flag every 128 rows the command scans, and nothing else clears it. A
 * context that ends while a query with fewer rows runs does not stop it ({@code execute} returns its
 * result), and the flag then stops the statement's next run, with no context involved, although no
 * {@code cancel()} call reaches the statement after {@code execute} returned. If H2 clears the flag
 * (or checks it) at the end of a run, this test fails and the README must change.
 */
@Timeout(300)
class H2StaleCancelTest extends H2Test {
  private static final int MAX_ROUNDS = 20;

  private static final long SHORT_SUM = 100L * 101 / 2;

  /**
   * 100 rows of SLOW_ROW, about 100 ms: fewer than the 128 after which a fresh command first checks
   * for a cancel. The SQL differs per round, because H2 caches commands per SQL text on the
   * connection, row count included: a command reused from an earlier round may check sooner.
   */
  private static String shortQuery(int round) {
    return "SELECT SUM(SLOW_ROW(X)) + " + round + " FROM SYSTEM_RANGE(1, 100)";
  }

  @Test
  void aCancelThatAShortQueryNeverCheckedStopsTheStatementsNextRun() throws Exception {
    String landed = null;
    for (int round = 0; round < MAX_ROUNDS && landed == null; round++) {
      try (PreparedStatement ps = connection.prepareStatement(shortQuery(round))) {
        CancelableContext ctx = Context.withCancel(Context.background());
        CountDownLatch running = new CountDownLatch(1);
        CompletableFuture<Void> ender =
            CompletableFuture.runAsync(
                () -> {
                  TestDb.awaitInBody(running);
                  ctx.cancel();
                });
        long result;
        try {
          result =
              ContextStatements.execute(
                  ctx,
                  ps,
                  s -> {
                    SlowFunctions.onNextRow(running); // the context ends once the query runs
                    return sum(s.executeQuery());
                  });
        } catch (io.ctx4j.CanceledException stopped) {
          continue; // H2 saw the cancel in time (a slow machine): nothing left behind this round
        } finally {
          SlowFunctions.onNextRow(null);
          ender.get(30, TimeUnit.SECONDS);
        }
        assertEquals(SHORT_SUM + round, result, "the query ran to its end");
        assertTrue(ctx.isDone());
        try {
          assertEquals(SHORT_SUM + round, sum(ps.executeQuery())); // no context, no cancel() call
        } catch (SQLException e) {
          assertEquals(57014, e.getErrorCode(), "H2's 'Statement was canceled'");
          landed = "round " + round + ": " + e.getMessage();
        }
      }
    }
    assertNotNull(
        landed,
        "in "
            + MAX_ROUNDS
            + " rounds no next run was stopped by a cancel H2 had not checked: if H2 no longer keeps"
            + " such a cancel, update the README's known limits");
  }
}
