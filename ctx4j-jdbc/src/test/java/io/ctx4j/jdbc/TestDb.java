package io.ctx4j.jdbc;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** A fresh in-memory H2 database per test, with the slow functions of {@link SlowFunctions}. */
final class TestDb {
  /** About 100 s if nothing stops it; H2 checks for a cancel or its timeout between rows. */
  static final String SLOW = "SELECT SUM(SLOW_ROW(X)) FROM SYSTEM_RANGE(1, 100000)";

  /** Like {@link #SLOW}, but an interrupt does not stop it: only a cancel or a timeout does. */
  static final String DEAF = "SELECT SUM(DEAF_ROW(X)) FROM SYSTEM_RANGE(1, 100000)";

  private static final AtomicInteger DB = new AtomicInteger();

  private TestDb() {}

  static Connection open() throws SQLException {
    Connection c = DriverManager.getConnection("jdbc:h2:mem:ctx" + DB.incrementAndGet());
    try (Statement s = c.createStatement()) {
      s.execute("CREATE ALIAS SLOW_ROW FOR \"" + SlowFunctions.class.getName() + ".slowRow\"");
      s.execute("CREATE ALIAS DEAF_ROW FOR \"" + SlowFunctions.class.getName() + ".deafRow\"");
    }
    return c;
  }

  /** A query that takes about {@code millis} ms of SLOW_ROW calls (longer on a loaded machine). */
  static String sleepingFor(int millis) {
    return "SELECT SUM(SLOW_ROW(X)) FROM SYSTEM_RANGE(1, " + millis + ")";
  }

  /** Waits for {@code latch} inside a statement body, which may throw only SQLException. */
  static void awaitInBody(CountDownLatch latch) {
    try {
      if (!latch.await(30, TimeUnit.SECONDS)) {
        throw new AssertionError("not counted down within 30 s");
      }
    } catch (InterruptedException e) {
      throw new AssertionError("interrupted", e);
    }
  }

  static long sum(ResultSet rs) throws SQLException {
    rs.next();
    return rs.getLong(1);
  }

  /** The query timeout a statement made now on {@code c} starts with (on H2: the session's). */
  static int freshStatementTimeout(Connection c) throws SQLException {
    try (Statement s = c.createStatement()) {
      return s.getQueryTimeout();
    }
  }
}
