package io.ctx4j.jdbc;

import static io.ctx4j.jdbc.TestDb.sum;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.Registration;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(120)
class ContextStatementsTest extends H2Test {
  private static final String SLOW = TestDb.SLOW;
  private static final long STOPPED_WITHIN_NANOS = Duration.ofSeconds(15).toNanos();

  @Test
  void aFastQueryRunsAndKeepsItsResult() throws Exception {
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofSeconds(30));
        PreparedStatement ps =
            connection.prepareStatement("SELECT SUM(X) FROM SYSTEM_RANGE(1, ?)")) {
      ps.setLong(1, 100);
      assertEquals(5050L, (long) ContextStatements.execute(ctx, ps, s -> sum(s.executeQuery())));
    }
  }

  @Test
  void aSlowQueryIsStoppedByTheDeadlineLongBeforeItWouldFinish() throws Exception {
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMillis(300));
        Statement st = connection.createStatement()) {
      long start = System.nanoTime();
      DeadlineExceededException e =
          assertThrows(
              DeadlineExceededException.class,
              () ->
                  ContextStatements.execute(
                      ctx,
                      st,
                      s -> {
                        assertEquals(1, s.getQueryTimeout(), "300 ms rounds up to one second");
                        return sum(s.executeQuery(SLOW));
                      }));
      long took = System.nanoTime() - start;
      assertTrue(took < STOPPED_WITHIN_NANOS, "took " + took / 1_000_000 + " ms");
      assertTrue(e.getSuppressed()[0] instanceof SQLException, "the driver's error is kept");
    }
  }

  @Test
  void aSlowQueryIsStoppedByCancellationWithTheCause() throws Exception {
    IllegalStateException why = new IllegalStateException("client hung up");
    CancelableContext ctx = Context.withCancel(Context.background());
    try (Statement st = connection.createStatement()) {
      CountDownLatch running = new CountDownLatch(1);
      CompletableFuture<Long> query =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return ContextStatements.execute(
                      ctx,
                      st,
                      s -> {
                        SlowFunctions.onNextRow(running);
                        return sum(s.executeQuery(SLOW));
                      });
                } catch (SQLException e) {
                  throw new java.util.concurrent.CompletionException(e);
                }
              });
      assertTrue(running.await(10, TimeUnit.SECONDS));
      long start = System.nanoTime();
      ctx.cancel(why);
      Throwable e = query.handle((v, x) -> x).get(30, TimeUnit.SECONDS).getCause();
      assertTrue(e instanceof CanceledException, "got " + e);
      assertSame(why, e.getCause());
      assertTrue(System.nanoTime() - start < STOPPED_WITHIN_NANOS);
      assertEquals(0, st.getQueryTimeout(), "no deadline, no timeout");
    }
  }

  /**
   * H2 drops a {@code cancel()} that comes while no query runs: the context's cancel is repeated
   * every {@link ContextStatements#RETRY_MILLIS} ms, so a query started after the first one is still
   * stopped.
   */
  @Test
  void aCancelThatFoundNoQueryRunningIsRepeatedUntilItStopsTheQuery() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    AtomicInteger cancels = new AtomicInteger();
    CountDownLatch firstCancelDone = new CountDownLatch(1);
    try (Statement real = connection.createStatement()) {
      Statement st =
          CancelHookStatements.wrap(
              Statement.class,
              real,
              r -> {
                r.cancel();
                cancels.incrementAndGet();
                firstCancelDone.countDown();
              });
      long start = System.nanoTime();
      assertThrows(
          CanceledException.class,
          () ->
              ContextStatements.execute(
                  ctx,
                  st,
                  s -> {
                    ctx.cancel();
                    TestDb.awaitInBody(firstCancelDone); // it found nothing to cancel
                    return sum(s.executeQuery(SLOW));
                  }));
      assertTrue(System.nanoTime() - start < STOPPED_WITHIN_NANOS);
      assertTrue(cancels.get() >= 2, cancels + " cancel calls");
    }
  }

  @Test
  void bindCancelsAndReleases() throws Exception {
    try (Statement st = connection.createStatement()) {
      CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMillis(200));
      try (Registration r = ContextStatements.bind(ctx, st)) {
        long start = System.nanoTime();
        SQLException e = assertThrows(SQLException.class, () -> st.executeQuery(SLOW));
        assertTrue(System.nanoTime() - start < STOPPED_WITHIN_NANOS);
        assertTrue(ctx.isDone(), "stopped by the context: " + e);
        assertFalse(r.stop());
      }
      // The statement is usable again afterwards.
      assertEquals(3L, sum(st.executeQuery("SELECT SUM(X) FROM SYSTEM_RANGE(1, 2)")));
    }
  }

  @Test
  void aSmallerTimeoutAlreadySetIsKept() throws Exception {
    try (CancelableContext ctx =
            Context.withTimeout(Context.background(), Duration.ofSeconds(100));
        Statement st = connection.createStatement()) {
      st.setQueryTimeout(5);
      try (Registration r = ContextStatements.bind(ctx, st)) {
        assertEquals(5, st.getQueryTimeout());
      }
      st.setQueryTimeout(500);
      try (Registration r = ContextStatements.bind(ctx, st)) {
        assertTrue(st.getQueryTimeout() <= 100 && st.getQueryTimeout() >= 90);
      }
    }
  }

  @Test
  void timeoutsRoundUpToWholeSeconds() {
    assertEquals(0, ContextStatements.queryTimeoutSeconds(Context.background()));
    try (CancelableContext ctx =
        Context.withTimeout(Context.background(), Duration.ofMillis(2500))) {
      int s = ContextStatements.queryTimeoutSeconds(ctx);
      assertTrue(s >= 1 && s <= 3, "got " + s); // 3 unless the machine stalled meanwhile
    }
  }

  @Test
  void aDoneContextLeavesTheStatementUntouched() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    ctx.cancel();
    try (Statement st = connection.createStatement()) {
      assertThrows(CanceledException.class, () -> ContextStatements.bind(ctx, st));
      AtomicInteger ran = new AtomicInteger();
      assertThrows(
          CanceledException.class,
          () -> ContextStatements.execute(ctx, st, s -> ran.incrementAndGet()));
      assertEquals(0, ran.get());
      assertEquals(0, st.getQueryTimeout());
    }
  }

  /**
   * A context that ends just as its query finishes gives the call one outcome, the result or the
   * context's error, and no {@code cancel()} call reaches the statement after {@code execute} has
   * returned, nor is one still running then, so the statement could be reused. Checked on the
   * statement's {@code cancel()} itself, not by running the statement again: H2 keeps a cancel it
   * took but never checked (this 10-row query ends before H2's first check) on the command, and
   * fails the next run of that SQL on the connection with it (the README's known limit), which
   * would fail a round with no late cancel at all. So each round runs SQL of its own on a fresh
   * statement, and no round inherits another's flag.
   */
  @Test
  void aQueryFinishingAsTheContextEndsHasOneOutcomeAndNoCancelReachesTheStatementAfterwards()
      throws Exception {
    CyclicBarrier barrier = new CyclicBarrier(2);
    AtomicInteger late = new AtomicInteger();
    for (int i = 0; i < 300; i++) {
      AtomicBoolean returned = new AtomicBoolean();
      try (PreparedStatement real =
          connection.prepareStatement("SELECT SUM(X) + " + i + " FROM SYSTEM_RANGE(1, 10)")) {
        PreparedStatement ps =
            CancelHookStatements.wrap(
                PreparedStatement.class,
                real,
                r -> {
                  if (returned.get()) {
                    late.incrementAndGet(); // began after execute returned
                  }
                  r.cancel();
                  if (returned.get()) {
                    late.incrementAndGet(); // still running when execute returned
                  }
                });
        CancelableContext ctx = Context.withCancel(Context.background());
        CompletableFuture<Void> canceller =
            CompletableFuture.runAsync(
                () -> {
                  try {
                    barrier.await(10, TimeUnit.SECONDS);
                  } catch (Exception e) {
                    throw new IllegalStateException(e);
                  }
                  ctx.cancel();
                });
        barrier.await(10, TimeUnit.SECONDS);
        try {
          assertEquals(55L + i, (long) ContextStatements.execute(ctx, ps, s -> sum(s.executeQuery())));
        } catch (CanceledException expected) {
          // the other allowed outcome
        } finally {
          returned.set(true);
        }
        canceller.get(10, TimeUnit.SECONDS);
      }
    }
    assertEquals(0, late.get(), "cancel() calls on a statement after its execute returned");
  }
}
