package io.ctx4j.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Registration;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What {@code stop()} of a {@link ContextStatements#bind} registration answers: {@code true} if no
 * {@code cancel()} was ever started, as its Javadoc says, also when the context ended just before
 * the stop and its cancel loop, already handed to a thread, had not yet run: the stop then bars it,
 * so no cancel is ever started. The old code answered what the context's own registration said
 * ("the loop was handed over"), {@code false} with no cancel made.
 */
@Timeout(120)
class BindStopAnswerTest extends H2Test {
  private static final int ROUNDS = 300;

  @Test
  void stopRightAfterTheContextEndedTellsWhetherACancelWasStarted() throws Exception {
    AtomicInteger cancels = new AtomicInteger();
    try (Statement st =
        CancelHookStatements.wrap(
            Statement.class,
            connection.createStatement(),
            real -> {
              cancels.incrementAndGet();
              real.cancel();
            })) {
      for (int round = 0; round < ROUNDS; round++) {
        cancels.set(0);
        CancelableContext ctx = Context.withCancel(Context.background());
        Registration r = ContextStatements.bind(ctx, st);
        ctx.cancel();
        boolean answer = r.stop(); // waits for a cancel in flight: the count is final
        int made = cancels.get();
        assertEquals(
            made == 0,
            answer,
            "round " + round + ": stop() answered " + answer + " after " + made + " cancel calls");
        assertFalse(r.stop(), "a second stop prevents nothing");
      }
      assertEquals(0, st.getQueryTimeout());
    }
  }

  @Test
  void stopBeforeTheContextEndsPreventsEveryCancel() throws SQLException {
    AtomicInteger cancels = new AtomicInteger();
    try (Statement st =
        CancelHookStatements.wrap(
            Statement.class,
            connection.createStatement(),
            real -> {
              cancels.incrementAndGet();
              real.cancel();
            })) {
      CancelableContext ctx = Context.withCancel(Context.background());
      Registration r = ContextStatements.bind(ctx, st);
      assertTrue(r.stop());
      ctx.cancel();
      assertEquals(0, cancels.get());
    }
  }
}
