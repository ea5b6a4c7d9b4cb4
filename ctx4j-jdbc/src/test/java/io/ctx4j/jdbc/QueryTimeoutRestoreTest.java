package io.ctx4j.jdbc;

import static io.ctx4j.jdbc.TestDb.freshStatementTimeout;
import static io.ctx4j.jdbc.TestDb.sum;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.Registration;
import io.ctx4j.testing.ForeignContext;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.UUID;
import org.h2.jdbcx.JdbcConnectionPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The query timeout that {@code execute} sets is taken back on every way out, on the statement and,
 * since H2 keeps it per session ({@code SET QUERY_TIMEOUT}), on the connection (issue 15 item 3).
 */
@Timeout(120)
class QueryTimeoutRestoreTest extends H2Test {

  private static CancelableContext seconds(int s) {
    return Context.withTimeout(Context.background(), Duration.ofSeconds(s));
  }

  /** Neither the statement nor H2's session keeps a query timeout once ctx4j has taken it back. */
  private void assertNoTimeoutLeft(Statement st) throws SQLException {
    assertEquals(0, st.getQueryTimeout());
    assertEquals(0, freshStatementTimeout(connection));
  }

  @Test
  void aStatementReusedWithoutDeadlineRunsALongQueryToTheEnd() throws Exception {
    try (Statement st = connection.createStatement()) {
      try (CancelableContext ctx =
          Context.withTimeout(Context.background(), Duration.ofMillis(300))) {
        assertThrows(
            DeadlineExceededException.class,
            () -> ContextStatements.execute(ctx, st, s -> sum(s.executeQuery(TestDb.SLOW))));
      }
      assertEquals(0, st.getQueryTimeout(), "the 1 s timeout of the 300 ms context is gone");
      assertEquals(0, freshStatementTimeout(connection), "and so is H2's session timeout");
      // 1.5 s of work: the old code's leftover 1 s timeout killed it after about 1.1 s.
      long expected = 1500L * 1501 / 2;
      assertEquals(
          expected,
          (long)
              ContextStatements.execute(
                  Context.background(), st, s -> sum(s.executeQuery(TestDb.sleepingFor(1500)))));
      try (Statement other = connection.createStatement()) {
        assertEquals(expected, sum(other.executeQuery(TestDb.sleepingFor(1500))));
      }
    }
  }

  @Test
  void theTimeoutIsSetWhileTheBodyRunsAndTakenBackWhenItReturns() throws Exception {
    try (CancelableContext ctx = seconds(30);
        PreparedStatement ps =
            connection.prepareStatement("SELECT SUM(X) FROM SYSTEM_RANGE(1, 10)")) {
      int during =
          ContextStatements.execute(
              ctx,
              ps,
              s -> {
                assertEquals(55L, sum(s.executeQuery()));
                return s.getQueryTimeout();
              });
      assertTrue(during <= 30 && during >= 20, "rounded up from the time left: " + during);
      assertNoTimeoutLeft(ps);
    }
  }

  @Test
  void theTimeoutIsTakenBackWhenTheBodyThrowsAnSqlException() throws Exception {
    try (CancelableContext ctx = seconds(30);
        Statement st = connection.createStatement()) {
      SQLException e =
          assertThrows(
              SQLException.class,
              () -> ContextStatements.execute(ctx, st, s -> s.executeQuery("SELEKT 1")));
      assertTrue(e.getMessage().contains("SELEKT"), e.getMessage());
      assertNoTimeoutLeft(st);
    }
  }

  // A RuntimeException or Error of the body: ExecuteOutcomesTest#runtimeExceptionsAndErrors...

  /**
   * A foreign context whose onDone throws a checked exception it does not declare (Kotlin, a
   * sneaky-throw helper): the caller gets it as thrown, and the timeout set for it is taken back.
   */
  @Test
  void theTimeoutIsTakenBackWhenAForeignContextRefusesTheCancelHookSneakily() throws Exception {
    IOException failure = new IOException("onDone broken");
    Context foreign =
        new ForeignContext(Instant.now().plusSeconds(30)) {
          @Override
          public Registration onDone(Runnable callback) {
            throw QueryTimeoutRestoreTest.<RuntimeException>sneaky(failure);
          }
        };
    try (Statement st = connection.createStatement()) {
      assertSame(
          failure,
          assertThrows(
              IOException.class,
              () -> ContextStatements.execute(foreign, st, Statement::getQueryTimeout)));
      assertNoTimeoutLeft(st);
    }
  }

  @SuppressWarnings("unchecked")
  private static <E extends Throwable> E sneaky(Throwable t) throws E {
    throw (E) t;
  }

  @Test
  void theTimeoutIsTakenBackWhenTheBodyClosesTheStatement() throws Exception {
    try (CancelableContext ctx = seconds(30)) {
      Statement st = connection.createStatement();
      long r =
          ContextStatements.execute(
              ctx,
              st,
              s -> {
                try (s) {
                  return sum(s.executeQuery("SELECT SUM(X) FROM SYSTEM_RANGE(1, 10)"));
                }
              });
      assertEquals(55L, r);
      assertTrue(st.isClosed());
      assertEquals(
          0, freshStatementTimeout(connection), "H2's session timeout is not left at 30 s");
    }
  }

  /**
   * Runs a query on a statement of {@code c} whose body closes {@code c} once it has the result;
   * checks that {@code execute} returned that result.
   */
  private static void assertABodyClosingItsConnectionGetsItsResult(Context ctx, Connection c)
      throws SQLException {
    long r =
        ContextStatements.execute(
            ctx,
            c.createStatement(),
            s -> {
              try (Connection closed = s.getConnection()) {
                return sum(s.executeQuery("SELECT SUM(X) FROM SYSTEM_RANGE(1, 10)"));
              }
            });
    assertEquals(55L, r);
    assertTrue(c.isClosed());
  }

  /**
   * A body that closes its connection (a plain H2 connection here) gets its result: the timeout is
   * gone with the session, and nothing is left to put it back on.
   */
  @Test
  void aBodyThatClosesItsConnectionGetsItsResult() throws Exception {
    try (CancelableContext ctx = seconds(30)) {
      assertABodyClosingItsConnectionGetsItsResult(ctx, TestDb.open());
    }
  }

  /**
   * A body that closes the connection itself, a pooled one (H2's own {@link JdbcConnectionPool},
   * one session): JDBC gives no way back to the session once its handle is closed, and the pool may
   * have handed it on already, so ctx4j cannot take its timeout back. The next borrower gets the
   * session with the finished context's 30 s on it, and every statement it makes starts with it
   * (the README's known limit). Closing the connection after {@code execute} returns leaves
   * nothing.
   */
  @Test
  void aBodyThatClosesItsPooledConnectionLeavesItsTimeoutOnTheSessionButOneClosingAfterwardsDoesNot()
      throws Exception {
    JdbcConnectionPool pool =
        JdbcConnectionPool.create("jdbc:h2:mem:pooled-" + UUID.randomUUID(), "sa", "");
    pool.setMaxConnections(1);
    try (CancelableContext ctx = seconds(30)) {
      assertABodyClosingItsConnectionGetsItsResult(ctx, pool.getConnection());
      try (Connection next = pool.getConnection()) {
        assertEquals(1, pool.getActiveConnections(), "not the pool's one session");
        int inherited = freshStatementTimeout(next);
        assertTrue(
            inherited > 0 && inherited <= 30,
            "the next borrower's statements start with the context's timeout: " + inherited);
        try (Statement s = next.createStatement()) {
          s.setQueryTimeout(0); // the next borrower's own repair
        }
      }
      try (Connection again = pool.getConnection();
          Statement st2 = again.createStatement()) {
        ContextStatements.execute(ctx, st2, s -> sum(s.executeQuery("SELECT 1")));
      } // closed after execute returned: the timeout was taken back on the session first
      try (Connection next = pool.getConnection()) {
        assertEquals(0, freshStatementTimeout(next), "a connection closed after execute keeps a timeout");
      }
    } finally {
      pool.dispose();
    }
  }

  @Test
  void aLargerTimeoutOfTheUserIsLoweredForTheBodyAndRestoredAfterwards() throws Exception {
    try (CancelableContext ctx = seconds(100);
        Statement st = connection.createStatement()) {
      st.setQueryTimeout(500);
      int during = ContextStatements.execute(ctx, st, Statement::getQueryTimeout);
      assertTrue(during <= 100 && during >= 90, "got " + during);
      assertEquals(500, st.getQueryTimeout());
    }
  }

  @Test
  void aSmallerTimeoutOfTheUserIsKeptAndStillThereAfterwards() throws Exception {
    try (CancelableContext ctx = seconds(100);
        Statement st = connection.createStatement()) {
      st.setQueryTimeout(5);
      assertEquals(5, ContextStatements.execute(ctx, st, Statement::getQueryTimeout));
      assertEquals(5, st.getQueryTimeout());
    }
  }

  @Test
  void aContextWithoutDeadlineLeavesTheUsersTimeoutAsItIs() throws Exception {
    try (Statement st = connection.createStatement()) {
      st.setQueryTimeout(7);
      CancelableContext ctx = Context.withCancel(Context.background());
      assertEquals(7, ContextStatements.execute(ctx, st, Statement::getQueryTimeout));
      assertEquals(7, st.getQueryTimeout());
      ctx.cancel();
    }
  }

  @Test
  void nestedExecutesOnOneStatementRestoreInTurn() throws Exception {
    try (CancelableContext outer = seconds(100);
        CancelableContext inner = Context.withTimeout(outer, Duration.ofSeconds(3));
        Statement st = connection.createStatement()) {
      int[] seen = new int[3];
      ContextStatements.execute(
          outer,
          st,
          s -> {
            seen[0] = s.getQueryTimeout();
            seen[1] = ContextStatements.execute(inner, s, Statement::getQueryTimeout);
            seen[2] = s.getQueryTimeout();
            return null;
          });
      assertTrue(seen[0] <= 100 && seen[0] >= 90, "outer " + seen[0]);
      assertTrue(seen[1] <= 3 && seen[1] >= 1, "inner " + seen[1]);
      assertEquals(seen[0], seen[2], "the inner execute gives the outer's timeout back");
      assertNoTimeoutLeft(st);
    }
  }

  @Test
  void bindSetsTheTimeoutAndStopTakesItBack() throws Exception {
    try (CancelableContext ctx = seconds(30);
        Statement st = connection.createStatement()) {
      st.setQueryTimeout(90);
      try (Registration r = ContextStatements.bind(ctx, st)) {
        assertTrue(st.getQueryTimeout() <= 30, "got " + st.getQueryTimeout());
      }
      assertEquals(90, st.getQueryTimeout());
    }
  }
}
