package io.ctx4j.jdbc;

import static io.ctx4j.jdbc.TestDb.awaitInBody;
import static io.ctx4j.jdbc.TestDb.sum;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.Registration;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A driver whose {@code cancel()} fails is reported, not swallowed (issue 15 item 5): suppressed on
 * what execute throws, else to the calling thread's uncaught-exception handler.
 */
@Timeout(60)
class CancelFailureTest extends H2Test {
  private final SQLException refusal = new SQLException("cancel refused by the server");
  private final CountDownLatch attempted = new CountDownLatch(1);
  private final List<Throwable> reported = new CopyOnWriteArrayList<>();
  private Thread.UncaughtExceptionHandler previousHandler;

  @BeforeEach
  void catchReports() {
    previousHandler = Thread.currentThread().getUncaughtExceptionHandler();
    Thread.currentThread().setUncaughtExceptionHandler((t, e) -> reported.add(e));
  }

  @AfterEach
  void restoreHandler() {
    Thread.currentThread().setUncaughtExceptionHandler(previousHandler);
  }

  /** A real H2 statement whose cancel fails, after counting down {@link #attempted}. */
  private Statement refusingCancel(Statement real) {
    return CancelHookStatements.wrap(
        Statement.class,
        real,
        r -> {
          attempted.countDown();
          throw refusal;
        });
  }

  /**
   * Runs execute with a body that ends its context, waits for the refused cancel, then {@code end}.
   */
  private <T> T executeAfterRefusedCancel(ContextStatements.SqlBody<Statement, T> end)
      throws SQLException {
    CancelableContext ctx = Context.withCancel(Context.background());
    try (Statement real = connection.createStatement()) {
      return ContextStatements.execute(
          ctx,
          refusingCancel(real),
          s -> {
            ctx.cancel();
            awaitInBody(attempted);
            return end.run(s);
          });
    }
  }

  /** What {@link #executeAfterRefusedCancel} throws when its body ends with {@code end}. */
  private <X extends Throwable> X thrownAfterRefusedCancel(
      Class<X> type, ContextStatements.SqlBody<Statement, ?> end) {
    return assertThrows(type, () -> executeAfterRefusedCancel(end));
  }

  @Test
  void aFailedCancelIsSuppressedOnTheExceptionExecuteThrows() {
    SQLException bodyFailure = new SQLException("the body's own failure");
    CanceledException e =
        thrownAfterRefusedCancel(
            CanceledException.class,
            s -> {
              throw bodyFailure;
            });
    assertEquals(List.of(bodyFailure, refusal), List.of(e.getSuppressed()));
    assertEquals(List.of(), reported, "reported once, not twice");
  }

  @Test
  void aFailedCancelIsSuppressedOnTheBodysRuntimeException() {
    IllegalStateException bug = new IllegalStateException("bug");
    IllegalStateException e =
        thrownAfterRefusedCancel(
            IllegalStateException.class,
            s -> {
              throw bug;
            });
    assertSame(bug, e);
    assertEquals(List.of(refusal), List.of(e.getSuppressed()));
    assertEquals(List.of(), reported);
  }

  @Test
  void aFailedCancelGoesToTheUncaughtExceptionHandlerWhenExecuteReturns() throws Exception {
    long v =
        executeAfterRefusedCancel(
            s -> sum(s.executeQuery("SELECT SUM(X) FROM SYSTEM_RANGE(1, 10)")));
    assertEquals(55L, v);
    assertEquals(List.of(refusal), reported);
  }

  @Test
  void aFailedCancelOfABoundStatementGoesToTheHandlerOfTheThreadThatStops() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    try (Statement real = connection.createStatement()) {
      Registration r = ContextStatements.bind(ctx, refusingCancel(real));
      ctx.cancel();
      assertTrue(attempted.await(30, TimeUnit.SECONDS));
      r.stop();
      assertEquals(List.of(refusal), reported);
    }
  }
}
