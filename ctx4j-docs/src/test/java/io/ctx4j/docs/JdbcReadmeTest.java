package io.ctx4j.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.Context;
import io.ctx4j.Registration;
import io.ctx4j.jdbc.ContextStatements;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The snippet of ctx4j-jdbc/README.md, run on an in-memory H2 database. */
@Timeout(120)
class JdbcReadmeTest {
  record Row(long id, String name) {}

  static List<Row> readRows(ResultSet rs) throws SQLException {
    List<Row> rows = new ArrayList<>();
    while (rs.next()) rows.add(new Row(rs.getLong(1), rs.getString(2)));
    return rows;
  }

  Connection connection;
  Statement statement;

  // snippet:start execute
  List<Row> find(Context ctx, long id) throws SQLException {
    try (PreparedStatement ps = connection.prepareStatement("SELECT id, name FROM users WHERE id = ?")) {
      ps.setLong(1, id);
      return ContextStatements.execute(ctx, ps, s -> readRows(s.executeQuery()));
    }   // a fresh DeadlineExceededException / CanceledException if the context stopped the query,
        // with the driver's SQLException attached as suppressed
  }

  @SuppressWarnings("try") // r is held, not read
  void update(Context ctx, String sql) throws SQLException {
    try (Registration r = ContextStatements.bind(ctx, statement)) {   // the bare arrangement
      statement.executeUpdate(sql);
    }
  }
  // snippet:end execute

  @Test
  void queriesAndUpdatesUnderAContext() throws Exception {
    try (Connection c = DriverManager.getConnection("jdbc:h2:mem:readme;DB_CLOSE_DELAY=-1");
         Statement st = c.createStatement()) {
      connection = c;
      statement = st;
      st.execute("CREATE TABLE users(id BIGINT PRIMARY KEY, name VARCHAR(20))");
      st.execute("INSERT INTO users VALUES (1, 'ann'), (2, 'bob')");
      assertEquals(List.of(new Row(2, "bob")), find(Context.background(), 2));
      update(Context.background(), "UPDATE users SET name = 'BOB' WHERE id = 2");
      assertEquals(List.of(new Row(2, "BOB")), find(Context.background(), 2));
    }
  }
}
