package io.ctx4j.jdbc;

import static io.ctx4j.jdbc.TestDb.sum;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.concurrent.InterruptScope;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * "When execute returns, no cancel can reach the statement any more" holds when the thread is
 * interrupted, too (issue 15 item 4).
 */
@Timeout(300)
class LateCancelTest extends H2Test {
  private static final int ROUNDS = 200;

  /** About 30 ms of work, so that a cancel arriving late finds it running. */
  private static final String NEXT_QUERY = TestDb.sleepingFor(30);

  private static final long NEXT_SUM = 30L * 31 / 2;

  /**
   * A driver whose cancel takes a while (PostgreSQL and MySQL open a connection to send one): the
   * body ends while a cancel is in flight and the thread is interrupted; execute must still wait.
   */
  @Test
  void executeWaitsForACancelInFlightEvenWhenInterrupted() throws Exception {
    CountDownLatch cancelEntered = new CountDownLatch(1);
    CountDownLatch releaseCancel = new CountDownLatch(1);
    AtomicInteger cancelsInFlight = new AtomicInteger();
    try (PreparedStatement real =
        connection.prepareStatement("SELECT SUM(X) FROM SYSTEM_RANGE(1, 10)")) {
      PreparedStatement ps =
          CancelHookStatements.wrap(
              PreparedStatement.class,
              real,
              r -> {
                cancelsInFlight.incrementAndGet();
                cancelEntered.countDown();
                try {
                  releaseCancel.await();
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                } finally {
                  cancelsInFlight.decrementAndGet();
                }
              });
      CancelableContext ctx = Context.withCancel(Context.background());
      AtomicInteger inFlightAtReturn = new AtomicInteger(-1);
      AtomicReference<Boolean> interruptedAfter = new AtomicReference<>();
      Thread worker =
          new Thread(
              () -> {
                try {
                  ContextStatements.execute(
                      ctx,
                      ps,
                      s -> {
                        long v = sum(s.executeQuery());
                        ctx.cancel();
                        TestDb.awaitInBody(cancelEntered);
                        Thread.currentThread().interrupt();
                        return v;
                      });
                } catch (Exception e) {
                  // the outcome is not what this test is about
                } finally {
                  inFlightAtReturn.set(cancelsInFlight.get());
                  interruptedAfter.set(Thread.currentThread().isInterrupted());
                }
              });
      worker.start();
      assertTrue(cancelEntered.await(30, TimeUnit.SECONDS));
      // Let the worker reach its wait for the cancel (or, on the old code, return from execute).
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (worker.isAlive()
          && worker.getState() != Thread.State.WAITING
          && System.nanoTime() < until) {
        Thread.onSpinWait();
      }
      releaseCancel.countDown();
      worker.join(TimeUnit.SECONDS.toMillis(30));
      assertFalse(worker.isAlive());
      assertEquals(0, inFlightAtReturn.get(), "a cancel was still in flight when execute returned");
      assertTrue(interruptedAfter.get(), "the interrupt is re-asserted after the wait");
    }
  }

  /** What a round does with its context before the next query runs on the statement. */
  @FunctionalInterface
  private interface Round {
    void run(CancelableContext ctx, PreparedStatement ps) throws SQLException;
  }

  /** Runs {@code round} {@link #ROUNDS} times, each followed by the next query on the statement. */
  private void assertNoCancelLandsOnTheNextQuery(Round round) throws SQLException {
    List<String> failures = new ArrayList<>();
    try (PreparedStatement ps = connection.prepareStatement(NEXT_QUERY)) {
      for (int i = 0; i < ROUNDS; i++) {
        round.run(Context.withCancel(Context.background()), ps);
        try {
          assertEquals(NEXT_SUM, sum(ps.executeQuery()));
        } catch (SQLException e) {
          failures.add("round " + i + ": " + e.getMessage());
        }
      }
    }
    assertEquals(
        List.of(), failures, failures.size() + " of " + ROUNDS + " next queries cancelled");
  }

  /** The context ends and the thread is interrupted while the body runs; the next query is safe. */
  @Test
  void noCancelLandsOnTheNextQueryAfterAnInterruptedExecute() throws Exception {
    assertNoCancelLandsOnTheNextQuery(
        (ctx, ps) -> {
          ContextStatements.execute(
              ctx,
              ps,
              s -> {
                ctx.cancel();
                Thread.currentThread().interrupt();
                return null;
              });
          assertTrue(Thread.interrupted(), "the interrupt was kept");
        });
  }

  /** The same with the interrupt delivered by an InterruptScope of ctx4j-concurrent. */
  @Test
  void noCancelLandsOnTheNextQueryAfterAnInterruptScope() throws Exception {
    assertNoCancelLandsOnTheNextQuery(
        (ctx, ps) -> {
          try (InterruptScope scope = InterruptScope.open(ctx)) {
            ContextStatements.execute(
                ctx,
                ps,
                s -> {
                  ctx.cancel(); // the scope interrupts this thread from inside cancel()
                  return null;
                });
            assertTrue(scope.interrupted());
          }
        });
  }

  /**
   * A slow query stopped by its context on a thread that is also interrupted, with a driver that
   * ignores interrupts (the DEAF query): rounds on rounds, the statement then runs a query to the
   * end.
   */
  @Test
  void aQueryStoppedUnderInterruptLeavesNoCancelBehind() throws Exception {
    List<String> failures = new ArrayList<>();
    try (Statement st = connection.createStatement()) {
      for (int i = 0; i < ROUNDS / 10; i++) {
        CancelableContext ctx = Context.withCancel(Context.background());
        CountDownLatch running = new CountDownLatch(1);
        Thread me = Thread.currentThread();
        CompletableFuture<Void> stopper =
            CompletableFuture.runAsync(
                () -> {
                  try {
                    running.await();
                  } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                  }
                  ctx.cancel();
                  me.interrupt();
                });
        try {
          ContextStatements.execute(
              ctx,
              st,
              s -> {
                SlowFunctions.onNextRow(running);
                return sum(s.executeQuery(TestDb.DEAF));
              });
          failures.add("round " + i + ": the slow query was not stopped");
        } catch (io.ctx4j.CanceledException expected) {
          // stopped by the context
        }
        stopper.get(30, TimeUnit.SECONDS);
        Thread.interrupted();
        try {
          assertEquals(NEXT_SUM, sum(st.executeQuery(NEXT_QUERY)));
        } catch (SQLException e) {
          failures.add("round " + i + ": " + e.getMessage());
        }
      }
    }
    assertEquals(List.of(), failures, failures.size() + " failures");
  }
}
