package io.ctx4j.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Registration;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The README's snippet, inside {@link #snippet} as written there, so that it keeps compiling. */
@Timeout(60)
class ReadmeExampleTest extends H2Test {
  record Row(long id, String name) {}

  private static List<Row> readRows(ResultSet rs) throws SQLException {
    List<Row> rows = new ArrayList<>();
    while (rs.next()) {
      rows.add(new Row(rs.getLong(1), rs.getString(2)));
    }
    return rows;
  }

  private List<Row> snippet(Context ctx, long id, Statement statement, String sql)
      throws SQLException {
    List<Row> result;
    // --- README, ctx4j-jdbc (the query's text filled in)
    try (PreparedStatement ps =
        connection.prepareStatement("SELECT ID, NAME FROM P WHERE ID = ?")) {
      ps.setLong(1, id);
      List<Row> rows = ContextStatements.execute(ctx, ps, s -> readRows(s.executeQuery()));
      result = rows;
    }

    try (Registration r = ContextStatements.bind(ctx, statement)) { // the bare arrangement
      statement.executeUpdate(sql);
    }
    // --- end
    return result;
  }

  @Test
  void theReadmeSnippetRuns() throws SQLException {
    try (Statement st = connection.createStatement();
        CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofSeconds(30))) {
      st.execute("CREATE TABLE P(ID BIGINT, NAME VARCHAR)");
      st.execute("INSERT INTO P VALUES (1, 'one'), (2, 'two')");
      assertEquals(
          List.of(new Row(2, "two")),
          snippet(ctx, 2, st, "UPDATE P SET NAME = 'deux' WHERE ID = 2"));
      assertEquals(0, st.getQueryTimeout());
    }
  }
}
