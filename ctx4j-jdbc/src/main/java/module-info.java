/**
 * ctx4j-jdbc: JDBC statements that follow a context. Start with
 * {@link io.ctx4j.jdbc.ContextStatements}.
 */
module io.ctx4j.jdbc {
  requires transitive io.ctx4j;
  requires transitive java.sql;

  exports io.ctx4j.jdbc;
}
