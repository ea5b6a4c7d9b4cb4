package io.ctx4j.jdbc;

import java.sql.Connection;
import java.sql.SQLException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** Base of the tests that need a fresh H2 database ({@link TestDb#open()}) per test. */
abstract class H2Test {
  /** The connection of the running test. */
  protected Connection connection;

  @BeforeEach
  final void openDatabase() throws SQLException {
    connection = TestDb.open();
  }

  @AfterEach
  final void closeDatabase() throws SQLException {
    connection.close();
  }
}
