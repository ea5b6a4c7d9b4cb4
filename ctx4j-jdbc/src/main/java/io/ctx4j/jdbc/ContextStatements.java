package io.ctx4j.jdbc;

import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Registration;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * JDBC statements that follow a context, as Go's {@code database/sql} does with {@code
 * QueryContext}: the statement's query timeout is set from the context's remaining time, and the
 * statement is {@linkplain Statement#cancel() cancelled} when the context ends.
 *
 * <pre>{@code
 * try (PreparedStatement ps = connection.prepareStatement("SELECT ... WHERE id = ?")) {
 *   ps.setLong(1, id);
 *   List<Row> rows = ContextStatements.execute(ctx, ps, s -> readRows(s.executeQuery()));
 * } // a fresh DeadlineExceededException/CanceledException if the context stopped the query
 * }</pre>
 *
 * <p>The timeout is the time left until {@link Context#deadline()}, rounded up to whole seconds (JDBC
 * counts in seconds) and at least one; a smaller timeout already set on the statement is kept. The
 * driver's timeout is a second line of defence: the context's own deadline normally fires first
 * and cancels the statement. The cancellation runs on a thread of its own, since {@code cancel()}
 * may talk to the server, and it is repeated every {@value #RETRY_MILLIS} ms until the work is over:
 * drivers (H2 among them) drop a cancel that arrives just before the statement starts executing.
 *
 * <p>Thread safety: all methods are static and thread-safe; {@code Statement.cancel()} is the one
 * JDBC method meant to be called from another thread, and drivers support it to varying degrees (H2,
 * PostgreSQL, MySQL and Oracle do). Memory consistency effects: actions before the context ends
 * happen-before the cancel.
 *
 * @since 0.1
 */
public final class ContextStatements {
  /** How often a cancel is repeated while the statement's work is not over. */
  public static final int RETRY_MILLIS = 20;

  private ContextStatements() {}

  /** The statement work done under a context. */
  @FunctionalInterface
  public interface SqlBody<S extends Statement, T> {
    /**
     * Runs the statement.
     *
     * @param statement the statement handed to {@link #execute}
     * @return the result
     * @throws SQLException as JDBC does
     */
    T run(S statement) throws SQLException;
  }

  /**
   * Ties {@code statement} to {@code ctx}: sets its query timeout from the remaining time and cancels
   * it when the context ends. Stop (close) the returned registration when the statement's work is
   * over, before the statement is reused for other work.
   *
   * @param ctx the context
   * @param statement the statement
   * @return the registration of the cancel
   * @throws ContextException if the context is already done; the statement is left untouched
   * @throws SQLException if the driver rejects the timeout
   * @throws NullPointerException if an argument is null
   */
  public static Registration bind(Context ctx, Statement statement) throws SQLException {
    applyTimeout(ctx, statement);
    return new Canceller(ctx, statement);
  }

  /**
   * Runs {@code body} on {@code statement} under {@code ctx}: binds as {@link #bind} does, runs the
   * body, and unbinds, waiting for a cancel already under way so that none lands afterwards.
   *
   * <p>Outcomes: the body's result if it returns, even if the context ended at the same instant; a
   * fresh copy of the context's error (with the driver's {@link SQLException} attached as suppressed)
   * if the body fails after the context ended; otherwise the body's own exception.
   *
   * @param ctx the context
   * @param statement the statement
   * @param body the work, given {@code statement}
   * @param <S> the statement type
   * @param <T> the result type
   * @return what {@code body} returns
   * @throws ContextException if the context is done before the call, or its end stopped the query
   * @throws SQLException what the body throws otherwise
   * @throws NullPointerException if an argument is null
   */
  public static <S extends Statement, T> T execute(Context ctx, S statement, SqlBody<S, T> body)
      throws SQLException {
    Objects.requireNonNull(body, "body");
    applyTimeout(ctx, statement);
    Canceller canceller = new Canceller(ctx, statement);
    try {
      return body.run(statement);
    } catch (SQLException e) {
      try {
        ctx.throwIfDone();
      } catch (ContextException err) {
        err.addSuppressed(e);
        throw err;
      }
      throw e;
    } finally {
      canceller.stop();
    }
  }

  /**
   * Returns the query timeout, in whole seconds, that a statement run under {@code ctx} gets now:
   * the remaining time rounded up, at least 1, or 0 (no limit) without a deadline.
   *
   * @param ctx the context
   * @return the timeout in seconds
   * @throws NullPointerException if {@code ctx} is null
   */
  public static int queryTimeoutSeconds(Context ctx) {
    Objects.requireNonNull(ctx, "ctx");
    Optional<Instant> deadline = ctx.deadline();
    if (deadline.isEmpty()) {
      return 0;
    }
    Duration left = Duration.between(Context.timeSourceOf(ctx).now(), deadline.get());
    if (left.isNegative() || left.isZero()) {
      return 1;
    }
    long seconds = left.getSeconds() + (left.getNano() > 0 ? 1 : 0);
    return (int) Math.min(seconds, Integer.MAX_VALUE);
  }

  private static void applyTimeout(Context ctx, Statement statement) throws SQLException {
    Objects.requireNonNull(ctx, "ctx");
    Objects.requireNonNull(statement, "statement");
    ctx.throwIfDone();
    int seconds = queryTimeoutSeconds(ctx);
    if (seconds == 0) {
      return;
    }
    int current = statement.getQueryTimeout();
    if (current == 0 || seconds < current) {
      statement.setQueryTimeout(seconds);
    }
  }

  /**
   * Cancels a statement, repeatedly, from the context's end until {@link #stop()}. Once {@code
   * stop()} returns, no further cancel reaches the statement.
   */
  private static final class Canceller implements Registration {
    private final Context ctx;
    private final Statement statement;
    private final CountDownLatch over = new CountDownLatch(1);
    private final CountDownLatch quiet = new CountDownLatch(1);
    private final Registration registration;

    Canceller(Context ctx, Statement statement) {
      this.ctx = ctx;
      this.statement = statement;
      this.registration = Context.afterFunc(ctx, this::cancelUntilOver);
    }

    private void cancelUntilOver() {
      try {
        do {
          statement.cancel();
        } while (!over.await(RETRY_MILLIS, TimeUnit.MILLISECONDS));
      } catch (SQLException e) {
        // closed or unsupported: nothing more can be done from here
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        quiet.countDown();
      }
    }

    @Override
    public boolean stop() {
      over.countDown();
      if (registration.stop()) {
        return true;
      }
      if (ctx.isDone()) {
        // The loop has started; it ends within one cancel() call now that the work is over.
        try {
          quiet.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      return false;
    }
  }
}
