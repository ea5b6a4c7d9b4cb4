package io.ctx4j.jdbc;

import static io.ctx4j.jdbc.TestDb.awaitInBody;
import static io.ctx4j.jdbc.TestDb.freshStatementTimeout;
import static io.ctx4j.jdbc.TestDb.sum;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.Registration;
import io.ctx4j.testing.ForeignContext;
import io.ctx4j.testing.LatchThreads;
import java.sql.BatchUpdateException;
import java.sql.CallableStatement;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.SQLTimeoutException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** What execute returns or throws, case by case, against its Javadoc and the README. */
@Timeout(120)
class ExecuteOutcomesTest extends H2Test {
  private static final String FAST = "SELECT SUM(X) FROM SYSTEM_RANGE(1, 10)";
  private static final long STOPPED_WITHIN_NANOS = Duration.ofSeconds(15).toNanos();

  private static CancelableContext thirtySeconds() {
    return Context.withTimeout(Context.background(), Duration.ofSeconds(30));
  }

  @Test
  void aContextPastItsDeadlineWhoseTimerHasNotFiredDoesNotRunTheBody() throws Exception {
    Context expired = new ForeignContext(Instant.now().minusSeconds(1));
    AtomicInteger ran = new AtomicInteger();
    try (Statement st = connection.createStatement()) {
      DeadlineExceededException e =
          assertThrows(
              DeadlineExceededException.class,
              () -> ContextStatements.execute(expired, st, s -> ran.incrementAndGet()));
      assertNull(e.getCause());
      assertThrows(DeadlineExceededException.class, () -> ContextStatements.bind(expired, st));
      assertEquals(0, ran.get(), "the body never ran");
      assertEquals(0, st.getQueryTimeout(), "the statement was not touched");
    }
  }

  @Test
  void theDriversTimeoutFiringBeforeTheContextsTimerGivesTheDeadlineError() throws Exception {
    // The deadline passes in 300 ms but the context lags; H2's 1 s timeout stops the query.
    Context lagging = new ForeignContext(Instant.now().plusMillis(300));
    try (Statement st = connection.createStatement()) {
      DeadlineExceededException e =
          assertThrows(
              DeadlineExceededException.class,
              () -> ContextStatements.execute(lagging, st, s -> sum(s.executeQuery(TestDb.SLOW))));
      assertTrue(
          e.getSuppressed()[0] instanceof SQLTimeoutException, "got " + e.getSuppressed()[0]);
      assertEquals(0, st.getQueryTimeout());
    }
  }

  /**
   * A context implemented outside ctx4j may return from {@code remaining()} a Duration that the
   * default method would have saturated to a long of nanoseconds: one at the bottom of Duration's
   * range is a deadline long passed (1 s, as for any time that is up, and execute gives the
   * deadline's error), one at the top the most JDBC can hold (and too far for the driver: the
   * timeout is left alone), never an ArithmeticException.
   */
  @Test
  void aForeignContextsUnsaturatedTimeLeftIsSaturated() throws Exception {
    Context longPassed = remainingAlways(Instant.EPOCH, Duration.ofSeconds(Long.MIN_VALUE));
    Context farAway = remainingAlways(Instant.MAX, Duration.ofSeconds(Long.MAX_VALUE, 999_999_999));
    assertEquals(1, ContextStatements.queryTimeoutSeconds(longPassed), "long passed");
    assertEquals(Integer.MAX_VALUE, ContextStatements.queryTimeoutSeconds(farAway), "far away");
    AtomicInteger ran = new AtomicInteger();
    try (Statement st = connection.createStatement()) {
      assertEquals(0, ContextStatements.execute(farAway, st, Statement::getQueryTimeout));
      assertThrows(
          DeadlineExceededException.class,
          () -> ContextStatements.execute(longPassed, st, s -> ran.incrementAndGet()));
      assertEquals(0, ran.get(), "the body of a context long past its deadline ran");
      assertEquals(0, st.getQueryTimeout());
    }
  }

  /** A foreign context with {@code deadline} whose remaining() returns {@code left}. */
  private static Context remainingAlways(Instant deadline, Duration left) {
    return new ForeignContext(deadline) {
      @Override
      public Optional<Duration> remaining() {
        return Optional.of(left);
      }
    };
  }

  @Test
  void aDeadlineTooFarForTheDriverLeavesTheTimeoutAlone() throws Exception {
    // H2 keeps milliseconds in an int: 30 days is rejected, 4,294,968 s wraps to a 704 ms timeout.
    for (long seconds : new long[] {4_294_968L, 2_592_000L}) {
      try (CancelableContext ctx =
              Context.withTimeout(Context.background(), Duration.ofSeconds(seconds));
          Statement st = connection.createStatement()) {
        long v =
            ContextStatements.execute(
                ctx,
                st,
                s -> {
                  long r = sum(s.executeQuery(TestDb.sleepingFor(1000)));
                  assertEquals(0, s.getQueryTimeout(), "no driver timeout for " + seconds + " s");
                  return r;
                });
        assertEquals(1000L * 1001 / 2, v);
      }
    }
    try (CancelableContext ctx =
            Context.withTimeout(
                Context.background(),
                Duration.ofSeconds(ContextStatements.MAX_TIMEOUT_SECONDS - 5));
        Statement st = connection.createStatement()) {
      int during = ContextStatements.execute(ctx, st, Statement::getQueryTimeout);
      assertTrue(during > ContextStatements.MAX_TIMEOUT_SECONDS - 60, "got " + during);
    }
  }

  @Test
  void theBodysResultWinsWhenTheContextEndsAfterTheQueryFinished() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    try (Statement st = connection.createStatement()) {
      long v =
          ContextStatements.execute(
              ctx,
              st,
              s -> {
                long r = sum(s.executeQuery(FAST));
                ctx.cancel();
                return r;
              });
      assertEquals(55L, v);
      assertEquals(55L, sum(st.executeQuery(FAST)), "and the statement is usable");
    }
  }

  @Test
  void runtimeExceptionsAndErrorsOfTheBodyPassUnchangedEvenAfterTheContextEnded() throws Exception {
    assertThrownUnchangedAfterTheContextEnded(new IllegalStateException("bug"));
    assertThrownUnchangedAfterTheContextEnded(new StackOverflowError("deep"));
  }

  private void assertThrownUnchangedAfterTheContextEnded(Throwable t) throws SQLException {
    try (CancelableContext ctx = thirtySeconds();
        Statement st = connection.createStatement()) {
      Throwable thrown =
          assertThrows(
              t.getClass(),
              () ->
                  ContextStatements.execute(
                      ctx,
                      st,
                      s -> {
                        ctx.cancel();
                        if (t instanceof Error) {
                          throw (Error) t;
                        }
                        throw (RuntimeException) t;
                      }));
      assertSame(t, thrown);
      assertEquals(0, t.getSuppressed().length);
      assertEquals(0, st.getQueryTimeout(), "the timeout is put back");
      assertEquals(0, freshStatementTimeout(connection));
    }
  }

  @Test
  void anSqlExceptionWhileTheContextIsLiveIsThrownAsItIs() throws Exception {
    try (CancelableContext ctx = thirtySeconds();
        Statement st = connection.createStatement()) {
      SQLException e =
          assertThrows(
              SQLException.class,
              () -> ContextStatements.execute(ctx, st, s -> s.execute("SELEKT")));
      assertFalse(e instanceof SQLTimeoutException);
      assertEquals(0, e.getSuppressed().length);
    }
  }

  @Test
  void aSlowCallableStatementIsStoppedByTheDeadline() throws Exception {
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMillis(300));
        CallableStatement cs =
            connection.prepareCall("CALL (SELECT SUM(SLOW_ROW(X)) FROM SYSTEM_RANGE(1, ?))")) {
      cs.setLong(1, 100_000);
      long start = System.nanoTime();
      DeadlineExceededException e =
          assertThrows(
              DeadlineExceededException.class,
              () -> ContextStatements.execute(ctx, cs, s -> sum(s.executeQuery())));
      assertTrue(System.nanoTime() - start < STOPPED_WITHIN_NANOS);
      assertTrue(e.getSuppressed()[0] instanceof SQLException);
      assertEquals(0, cs.getQueryTimeout());
    }
  }

  /**
   * H2's {@code cancel()} does not reach the elements of a batch, and H2 goes on with the next
   * element after one fails: only the query timeout stops each element (after 1 s here), so a batch
   * of n slow elements ends after about n seconds instead of 300 ms. It still ends with the
   * context's error, and the timeout is put back.
   */
  @Test
  void aSlowBatchEndsWithTheDeadlineErrorOnceH2sTimeoutStoppedEachElement() throws Exception {
    try (Statement ddl = connection.createStatement()) {
      ddl.execute("CREATE TABLE T(V BIGINT)");
    }
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMillis(300));
        PreparedStatement ps =
            connection.prepareStatement(
                "INSERT INTO T SELECT SUM(SLOW_ROW(X)) FROM SYSTEM_RANGE(1, ?)")) {
      for (int i = 0; i < 2; i++) {
        ps.setLong(1, 100_000); // about 100 s each
        ps.addBatch();
      }
      long start = System.nanoTime();
      DeadlineExceededException e =
          assertThrows(
              DeadlineExceededException.class,
              () -> ContextStatements.execute(ctx, ps, PreparedStatement::executeBatch));
      assertTrue(System.nanoTime() - start < STOPPED_WITHIN_NANOS);
      assertTrue(
          e.getSuppressed()[0] instanceof BatchUpdateException, "got " + e.getSuppressed()[0]);
      assertEquals(0, freshStatementTimeout(connection));
    }
  }

  @Test
  void aClosedStatementGivesTheDriversErrorAndLeavesNoTimeout() throws Exception {
    Statement st = connection.createStatement();
    st.close();
    try (CancelableContext ctx = thirtySeconds()) {
      assertThrows(
          SQLException.class, () -> ContextStatements.execute(ctx, st, s -> s.execute(FAST)));
      assertThrows(SQLException.class, () -> ContextStatements.bind(ctx, st));
    }
    assertThrows(
        SQLException.class,
        () -> ContextStatements.execute(Context.background(), st, s -> s.execute(FAST)));
    assertEquals(0, freshStatementTimeout(connection));
  }

  /**
   * The same with a body that closes the statement's connection (one of its own) instead: H2
   * leaves the statement open then but refuses it, so its cancel fails as well, and there was
   * nothing left to cancel either.
   */
  @ParameterizedTest
  @ValueSource(strings = {"statement", "connection"})
  void aBodyThatClosedTheStatementIsNotReportedForTheCancelThatFindsItClosed(String closes) throws Exception {
    List<Throwable> reported = new CopyOnWriteArrayList<>();
    Thread.UncaughtExceptionHandler previous = Thread.currentThread().getUncaughtExceptionHandler();
    Thread.currentThread().setUncaughtExceptionHandler((t, e) -> reported.add(e));
    try {
      CountDownLatch attempted = new CountDownLatch(1);
      Connection c = closes.equals("connection") ? TestDb.open() : connection;
      Statement st =
          CancelHookStatements.wrap(
              Statement.class,
              c.createStatement(),
              real -> {
                try {
                  real.cancel(); // H2 refuses: the statement, or its connection, is closed
                } finally {
                  attempted.countDown();
                }
              });
      CancelableContext ctx = Context.withCancel(Context.background());
      long v =
          ContextStatements.execute(
              ctx,
              st,
              s -> {
                long r = sum(s.executeQuery(FAST));
                if (closes.equals("connection")) {
                  s.getConnection().close();
                } else {
                  s.close();
                }
                ctx.cancel();
                awaitInBody(attempted);
                return r;
              });
      assertEquals(55L, v);
      assertEquals(List.of(), reported);
    } finally {
      Thread.currentThread().setUncaughtExceptionHandler(previous);
    }
  }

  @Test
  void anInterruptedThreadEnteringExecuteRunsTheBodyAndKeepsItsInterrupt() throws Exception {
    try (CancelableContext ctx = thirtySeconds();
        Statement st = connection.createStatement()) {
      Thread.currentThread().interrupt();
      try {
        assertEquals(
            55L, (long) ContextStatements.execute(ctx, st, s -> sum(s.executeQuery(FAST))));
        assertTrue(Thread.currentThread().isInterrupted());
      } finally {
        Thread.interrupted();
      }
    }
  }

  @Test
  void aNestedExecuteStoppedByItsContextLeavesTheOuterStatementUsable() throws Exception {
    try (CancelableContext outer =
            Context.withTimeout(Context.background(), Duration.ofSeconds(60));
        Statement st = connection.createStatement()) {
      long v =
          ContextStatements.execute(
              outer,
              st,
              s -> {
                CancelableContext inner = Context.withTimeout(outer, Duration.ofMillis(300));
                assertThrows(
                    DeadlineExceededException.class,
                    () ->
                        ContextStatements.execute(inner, s, i -> sum(i.executeQuery(TestDb.SLOW))));
                return sum(s.executeQuery(TestDb.sleepingFor(50)));
              });
      assertEquals(50L * 51 / 2, v);
      assertFalse(outer.isDone());
    }
  }

  @Test
  void executeInsideATransactionLeavesItOpen() throws Exception {
    try (Statement ddl = connection.createStatement()) {
      ddl.execute("CREATE TABLE T(V INT)");
    }
    connection.setAutoCommit(false);
    try (CancelableContext ctx = thirtySeconds();
        Statement st = connection.createStatement()) {
      ContextStatements.execute(ctx, st, s -> s.executeUpdate("INSERT INTO T VALUES 1"));
      connection.rollback(); // setting and restoring H2's session timeout committed nothing
      assertEquals(0L, sum(st.executeQuery("SELECT COUNT(*) FROM T")));
    }
  }

  @Test
  void stoppingABindingTwiceRestoresOnceAndTellsTheTruth() throws Exception {
    try (CancelableContext ctx = thirtySeconds();
        Statement st = connection.createStatement()) {
      Registration r = ContextStatements.bind(ctx, st);
      assertTrue(r.stop(), "no cancel was ever started");
      st.setQueryTimeout(9);
      assertFalse(r.stop());
      assertEquals(9, st.getQueryTimeout(), "the second stop did not restore again");
    }
  }

  @Test
  void aCancelledContextWithoutDeadlineStopsTheQueryAndGivesItsCause() throws Exception {
    IllegalStateException why = new IllegalStateException("client hung up");
    CancelableContext ctx = Context.withCancel(Context.background());
    try (Statement st = connection.createStatement()) {
      CountDownLatch running = new CountDownLatch(1);
      Thread canceller = LatchThreads.startAfter(running, () -> ctx.cancel(why));
      CanceledException e =
          assertThrows(
              CanceledException.class,
              () ->
                  ContextStatements.execute(
                      ctx,
                      st,
                      s -> {
                        SlowFunctions.onNextRow(running);
                        return sum(s.executeQuery(TestDb.SLOW));
                      }));
      canceller.join();
      assertSame(why, e.getCause());
      assertTrue(e.getSuppressed()[0] instanceof SQLException);
    }
  }

  @Test
  void aForeignStopThatThrowsKeepsTheBodysFailureSuppressedOnWhatItThrew() throws Exception {
    IllegalStateException broken = new IllegalStateException("stop() broken");
    Context foreign =
        new ForeignContext(Instant.now().plusSeconds(30)) {
          @Override
          public Registration onDone(Runnable callback) {
            return () -> {
              throw broken;
            };
          }
        };
    try (Statement st = connection.createStatement()) {
      IllegalStateException e =
          assertThrows(
              IllegalStateException.class,
              () -> ContextStatements.execute(foreign, st, s -> s.executeQuery("SELEKT 1")));
      assertSame(broken, e, "the foreign throwable, unchanged");
      assertEquals(1, e.getSuppressed().length, "the body's failure is not lost");
      assertTrue(e.getSuppressed()[0] instanceof SQLException, e.getSuppressed()[0].toString());
      assertEquals("42001", ((SQLException) e.getSuppressed()[0]).getSQLState());
      assertEquals(0, freshStatementTimeout(connection), "the work was ended all the same");
    }
  }

  @Test
  void nullArgumentsAreNamed() throws Exception {
    try (Statement st = connection.createStatement()) {
      Context bg = Context.background();
      assertEquals(
          "ctx",
          assertThrows(
                  NullPointerException.class, () -> ContextStatements.execute(null, st, s -> 1))
              .getMessage());
      assertEquals(
          "statement",
          assertThrows(
                  NullPointerException.class, () -> ContextStatements.execute(bg, null, s -> 1))
              .getMessage());
      assertEquals(
          "body",
          assertThrows(NullPointerException.class, () -> ContextStatements.execute(bg, st, null))
              .getMessage());
      assertEquals(
          "statement",
          assertThrows(NullPointerException.class, () -> ContextStatements.bind(bg, null))
              .getMessage());
      assertEquals(
          "ctx",
          assertThrows(
                  NullPointerException.class, () -> ContextStatements.queryTimeoutSeconds(null))
              .getMessage());
    }
  }
}
