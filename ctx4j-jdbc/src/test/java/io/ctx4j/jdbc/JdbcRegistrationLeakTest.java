package io.ctx4j.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.Registration;
import io.ctx4j.internal.CoreInternals;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Statement work that is over, however it ended, leaves no registration on a long-lived context
 * (the core's exact count, through CoreInternals), and no query timeout on the connection.
 */
@Timeout(120)
class JdbcRegistrationLeakTest extends H2Test {
  private static final int ROUNDS = 500;

  @Test
  void workEndedEveryWayLeavesNoRegistrationOnALongLivedContext() throws Exception {
    try (CancelableContext withDeadline =
            Context.withTimeout(Context.background(), Duration.ofMinutes(5));
        CancelableContext withoutDeadline = Context.withCancel(Context.background())) {
      for (CancelableContext ctx : List.of(withDeadline, withoutDeadline)) {
        String which = ctx == withDeadline ? "with a deadline" : "without a deadline";
        try (PreparedStatement ps = connection.prepareStatement("SELECT SUM(X) FROM SYSTEM_RANGE(1, 10)")) {
          for (int i = 0; i < ROUNDS; i++) {
            assertEquals(55L, (long) ContextStatements.execute(ctx, ps, s -> TestDb.sum(s.executeQuery())));
            assertThrows(
                SQLException.class,
                () -> ContextStatements.execute(ctx, ps, s -> s.executeQuery("SELECT NO_SUCH_COLUMN")));
            assertThrows(
                IllegalStateException.class,
                () -> ContextStatements.execute(ctx, ps, s -> { throw new IllegalStateException("body"); }));
            try (Registration r = ContextStatements.bind(ctx, ps)) {
              ps.executeQuery().close();
            }
            CancelableContext ended = Context.withCancel(ctx);
            ended.cancel();
            assertThrows(CanceledException.class, () -> ContextStatements.execute(ended, ps, s -> 1));
            Statement closedByTheBody = connection.createStatement();
            ContextStatements.execute(ctx, closedByTheBody, s -> { s.close(); return 1; });
          }
        }
        assertEquals(0, CoreInternals.registrationCount(ctx), which + ": registrations left");
        assertEquals(0, TestDb.freshStatementTimeout(connection), which + ": timeout left on the connection");
        assertFalse(ctx.isDone(), which);
      }
    }
  }
}
