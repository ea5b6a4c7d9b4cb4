package io.ctx4j.jdbc;

import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Registration;
import io.ctx4j.internal.CoreInternals;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * JDBC statements that follow a context, as Go's {@code database/sql} does with {@code
 * QueryContext}: the statement's query timeout is set from the context's remaining time while the
 * work runs, and the statement is {@linkplain Statement#cancel() cancelled} when the context ends.
 *
 * <pre>{@code
 * try (PreparedStatement ps = connection.prepareStatement("SELECT ... WHERE id = ?")) {
 *   ps.setLong(1, id);
 *   List<Row> rows = ContextStatements.execute(ctx, ps, s -> readRows(s.executeQuery()));
 * } // a fresh DeadlineExceededException/CanceledException if the context stopped the query
 * }</pre>
 *
 * <h2>Query timeout</h2>
 *
 * The timeout is {@link Context#remaining()} rounded up to whole seconds (JDBC counts in seconds,
 * and 0 would mean "no timeout"), so it is at least one second and never ends the query before the
 * context's deadline, on a context whose time passes as fast as the driver's (the system clock; the
 * driver counts in real time, so a context on a {@link io.ctx4j.ManualTimeSource} that is not moved
 * is outlived by it, and {@code execute} then throws the driver's exception: see the module's
 * README). It is applied only if it is smaller than the timeout already on the statement
 * (0 counts as none), and the previous value is put back when the work is over, whichever way it
 * ends: a statement (or, on drivers that keep the timeout per connection, such as H2 where {@code
 * setQueryTimeout} runs {@code SET QUERY_TIMEOUT} on the session, every statement of the
 * connection) carries no timeout of a finished context. A body that closes the connection itself
 * leaves nothing to put it back on: {@code execute} returns its result, and on such a driver the
 * session keeps the timeout (a pooled connection goes back to its pool with it, and the next
 * borrower's statements start with it), so close the connection after {@code execute} returns (see
 * the module's README). A context without deadline, or with more
 * than {@value #MAX_TIMEOUT_SECONDS} seconds left, leaves the timeout untouched: drivers that count
 * milliseconds in an {@code int} (H2 does) reject or wrap larger values. The driver's timeout is a
 * second line of defence; the context's own deadline normally fires first and cancels the
 * statement.
 *
 * <h2>Cancellation</h2>
 *
 * When the context ends, {@code cancel()} is called on a thread of its own (it may talk to the
 * server), and repeated every {@value #RETRY_MILLIS} ms until the work is over, because drivers (H2
 * among them) drop a cancel that arrives just before the statement starts executing. (H2 2.5 can
 * also lose a cancel that overlaps the start of a query for good: its {@code cancel()} clears the
 * executing command without a lock and may erase the one just recorded; then only a query timeout
 * stops that query. See the module's README.) When {@link
 * #execute} returns, or the registration of {@link #bind} is stopped, no {@code cancel()} call can
 * reach the statement any more, so it can be reused: the end of the work waits for a {@code
 * cancel()} call in flight, without giving up on an interrupt (the interrupt status is left set),
 * and bars later ones. A driver whose {@code cancel()} hangs therefore holds up the end of the work.
 * What a driver does with a cancel it took and kept is its own: H2 2.5 flags the statement's
 * command and checks the flag only every 128 rows, so a query with fewer rows left runs to its end
 * and the flag stops the next run of that SQL on the connection, with {@code SQLState} 57014, once
 * (see the module's README).
 *
 * <p>A {@code cancel()} that fails (an {@code SQLException} or {@code RuntimeException} from the
 * driver) is not retried; it is reported: {@linkplain Throwable#addSuppressed suppressed} on the
 * exception that {@code execute} throws, or, if {@code execute} returns normally or a registration
 * of {@code bind} is stopped, handed to the {@linkplain Thread#getUncaughtExceptionHandler()
 * uncaught-exception handler} of the thread that ends the work (without ending that thread). A
 * cancel that fails because the body already closed the statement, or its connection (H2 then
 * leaves the statement open but refuses it), is not reported: nothing was left to cancel.
 *
 * <p>A context implemented outside ctx4j whose {@code onDone}, or whose registration's {@code
 * stop()}, throws makes the call throw what it threw, unchanged, after ending the work all the
 * same: the timeout is put back, and a hook that the context kept anyway finds the work over and
 * never cancels what the statement runs next. If the body of {@code execute} had thrown, its
 * exception is {@linkplain Throwable#addSuppressed suppressed} on that throwable (after a failed
 * cancel, if any), so the reason the work failed is not lost.
 *
 * <h2>Connections</h2>
 *
 * Where the driver keeps the timeout per connection, the save and restore of the timeout nest
 * properly (an {@code execute} inside the body of another, on the same or another statement of the
 * connection), but two {@code execute} calls running at the same time on one connection from two
 * threads may leave either's timeout behind; JDBC connections are not meant for that use anyway.
 * The same holds for {@code bind}: bindings on one connection are stopped in the reverse order of
 * their making (as try-with-resources does); stopped in the order they were made, the last stop
 * puts back the timeout the first binding had set, and a finished context's timeout stays on the
 * connection.
 *
 * <p>Thread safety: all methods are static and thread-safe; {@code Statement.cancel()} is the one
 * JDBC method meant to be called from another thread, and drivers support it to varying degrees
 * (H2, PostgreSQL, MySQL and Oracle do). Memory consistency effects: actions before the context
 * ends happen-before the cancel; a cancel happens-before the return of {@code execute} (or of the
 * registration's {@code stop()}) that waited for it.
 *
 * @since 0.1
 */
public final class ContextStatements {
  /** How often a cancel is repeated while the statement's work is not over. */
  public static final int RETRY_MILLIS = 20;

  /**
   * The largest query timeout, in seconds, that is set on a statement: {@code Integer.MAX_VALUE /
   * 1000}, about 24.8 days. Drivers that keep milliseconds in an {@code int} (H2 multiplies by
   * 1000) reject larger values or wrap them to a small one; a context with more time left than this
   * gets no driver timeout and relies on its own deadline.
   */
  public static final int MAX_TIMEOUT_SECONDS = Integer.MAX_VALUE / 1000;

  private static final long NANOS_PER_SECOND = TimeUnit.SECONDS.toNanos(1);

  private ContextStatements() {}

  /**
   * The statement work done under a context.
   *
   * @param <S> the statement type
   * @param <T> the result type
   */
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
   * Ties {@code statement} to {@code ctx}: sets its query timeout from the remaining time and
   * cancels it when the context ends, until the returned registration is stopped (closed). Stop it
   * when the statement's work is over, before the statement is reused for other work: stopping
   * waits for a cancel in flight, bars later ones, and puts the previous query timeout back.
   * Failures found while stopping (a failed cancel, a timeout that cannot be put back) go to the
   * uncaught-exception handler of the stopping thread. {@link Registration#stop()} returns {@code
   * true} if no {@code cancel()} call was ever started on the statement, also when the context had
   * ended but the cancel had not begun yet (the stop bars it); {@code false} if one was, or if an
   * earlier stop already ended the binding.
   *
   * @param ctx the context
   * @param statement the statement
   * @return the registration of the cancel
   * @throws ContextException if the context is already done, or its deadline has passed (then a
   *     {@link io.ctx4j.DeadlineExceededException}); the statement is left untouched
   * @throws SQLException if the driver rejects reading or setting the timeout
   * @throws NullPointerException if an argument is null
   */
  public static Registration bind(Context ctx, Statement statement) throws SQLException {
    return Binding.open(ctx, statement);
  }

  /**
   * Runs {@code body} on {@code statement} under {@code ctx}: binds as {@link #bind} does, runs the
   * body, and unbinds, waiting for a cancel already under way so that none lands afterwards, and
   * putting the previous query timeout back.
   *
   * <p>Outcomes:
   *
   * <ul>
   *   <li>The context is done (or its deadline has passed) before the call: a fresh copy of its
   *       error; the body does not run and the statement is not touched.
   *   <li>The body returns: its result, even if the context ended meanwhile (the work completed).
   *   <li>The body throws an {@link SQLException} after the context ended: the query is taken to
   *       have been stopped by the context, and a fresh copy of the context's error is thrown, with
   *       the context's {@linkplain Context#cause() cause} as cause and the {@code SQLException}
   *       {@linkplain Throwable#getSuppressed() suppressed} (first). A deadline that has passed
   *       counts as an ended context even if its timer has not fired yet (the driver's timeout may
   *       fire first); the error then has no cause.
   *   <li>Otherwise the body's own exception, {@code RuntimeException}s and {@code Error}s always,
   *       unchanged.
   * </ul>
   *
   * A failed cancel, and a failure to put the timeout back, are suppressed on what is thrown; if
   * nothing is thrown, a failure to put the timeout back is thrown as an {@code SQLException} (the
   * result is lost: the statement is not as it was) and a failed cancel goes to the calling
   * thread's uncaught-exception handler.
   *
   * <p>The body may close the statement; the timeout is then put back through a new statement of
   * the same connection, for drivers that keep it per connection. An interrupt of the calling
   * thread does not cut short the wait for a cancel in flight and is left set.
   *
   * @param ctx the context
   * @param statement the statement; {@code PreparedStatement} and {@code CallableStatement} too
   * @param body the work, given {@code statement}
   * @param <S> the statement type
   * @param <T> the result type
   * @return what {@code body} returns
   * @throws ContextException if the context is done before the call, or its end stopped the query
   * @throws SQLException what the body throws otherwise, or if the driver rejects the timeout
   * @throws NullPointerException if an argument is null
   */
  public static <S extends Statement, T> T execute(Context ctx, S statement, SqlBody<S, T> body)
      throws SQLException {
    Objects.requireNonNull(body, "body");
    Binding binding = Binding.open(ctx, statement);
    T result;
    try {
      result = body.run(statement);
    } catch (Throwable t) {
      ContextException stopped = binding.endAfterFailure(t);
      if (stopped != null) {
        throw stopped;
      }
      throw t;
    }
    binding.endAfterSuccess();
    return result;
  }

  /**
   * Returns the query timeout, in whole seconds, that a statement run under {@code ctx} gets now:
   * {@link Context#remaining()} rounded up, at least 1 (also once the deadline has passed, since 0
   * means no timeout), at most {@code Integer.MAX_VALUE}; 0 without a deadline. {@link #execute}
   * and {@link #bind} set it only if it is at most {@link #MAX_TIMEOUT_SECONDS}. The time left is
   * first saturated to a {@code long} number of nanoseconds, as {@link Context#remaining()} does by
   * default, so a context implemented outside ctx4j whose {@code remaining()} returns a Duration near
   * either end of its range gets 1 or {@code Integer.MAX_VALUE}, never an {@code
   * ArithmeticException}.
   *
   * @param ctx the context
   * @return the timeout in seconds
   * @throws NullPointerException if {@code ctx} is null
   */
  public static int queryTimeoutSeconds(Context ctx) {
    Objects.requireNonNull(ctx, "ctx");
    Optional<Duration> left = ctx.remaining();
    // Saturated: a context implemented outside ctx4j may override remaining() with a Duration
    // beyond a long of nanoseconds, where toNanos() would throw.
    return left.isEmpty() ? 0 : roundUpToSeconds(CoreInternals.saturatedNanos(left.get()));
  }

  private static int roundUpToSeconds(long nanos) {
    if (nanos <= 0) {
      return 1;
    }
    long seconds = nanos / NANOS_PER_SECOND + (nanos % NANOS_PER_SECOND == 0 ? 0 : 1);
    return (int) Math.min(seconds, Integer.MAX_VALUE);
  }

  /**
   * One statement's tie to one context, from {@link #open} to the end of the work.
   *
   * <p>Implementation notes. The cancel loop runs on the thread of {@link Context#afterFunc}; every
   * {@code cancel()} call happens while holding {@code lock}, after checking {@code over}. The end
   * of the work sets {@code over} under the same lock, taken with the uninterruptible {@link
   * ReentrantLock#lock()}. So the linearization point of "the work is over" is that critical
   * section: a cancel in flight finishes before it (the end waits for the lock), and no cancel
   * starts after it (the loop sees {@code over}). The loop's 20 ms pause is outside the lock and is
   * cut short by {@code overSignal}. {@code cancelFailure} and {@code cancelStarted} are written by
   * the loop under the lock and read by the end after it has set {@code over}, so they are final
   * when read: {@code bind}'s {@code stop()} answers from {@code cancelStarted}, since the loop may
   * have been handed to its thread (the context's registration no longer prevents it) and still
   * find the work over before it cancels anything. A registration that fails (a foreign {@code
   * onDone} or {@code stop()} that throws) ends the work as well, before its throwable goes on:
   * the context may have kept the hook, which may still run.
   */
  private static final class Binding implements Registration {
    private final Context ctx;
    private final Statement statement;

    /** Whether this binding set the timeout, and so must put {@link #previousTimeout} back. */
    private final boolean timeoutSet;

    private final int previousTimeout;

    /** The statement's connection, when {@link #timeoutSet}: to restore once the body closed it. */
    private final Connection connection;

    private final ReentrantLock lock = new ReentrantLock();
    private final CountDownLatch overSignal = new CountDownLatch(1);
    private boolean over; // guarded by lock
    /** Whether the loop ever called {@code cancel()}: what {@link #stop()} answers. */
    private boolean cancelStarted; // guarded by lock
    private Exception cancelFailure; // guarded by lock
    private Registration registration;

    private Binding(
        Context ctx, Statement statement, boolean timeoutSet, int previousTimeout, Connection c) {
      this.ctx = ctx;
      this.statement = statement;
      this.timeoutSet = timeoutSet;
      this.previousTimeout = previousTimeout;
      this.connection = c;
    }

    static Binding open(Context ctx, Statement statement) throws SQLException {
      Objects.requireNonNull(ctx, "ctx");
      Objects.requireNonNull(statement, "statement");
      ContextException ended = CoreInternals.endOf(ctx);
      if (ended != null) {
        throw ended;
      }
      int seconds = queryTimeoutSeconds(ctx);
      boolean set = false;
      int previous = 0;
      // Kept: a statement may not tell that the body closed its connection (H2's does not).
      Connection connection = statement.getConnection();
      if (seconds != 0 && seconds <= MAX_TIMEOUT_SECONDS) {
        previous = statement.getQueryTimeout();
        if (previous == 0 || seconds < previous) {
          statement.setQueryTimeout(seconds);
          set = true;
        }
      }
      Binding b = new Binding(ctx, statement, set, previous, connection);
      try {
        // Last: if ctx is already done the loop starts at once, and it may see the whole binding.
        b.registration = Context.afterFunc(ctx, b::cancelUntilOver);
      } catch (Throwable e) { // even a checked one, thrown undeclared by a foreign context
        b.endAfterBrokenRegistration(e);
        throw e;
      }
      return b;
    }

    private void cancelUntilOver() {
      while (true) {
        lock.lock();
        try {
          if (over) {
            return;
          }
          cancelStarted = true;
          try {
            statement.cancel();
          } catch (SQLException | RuntimeException e) {
            if (!closed()) {
              cancelFailure = e;
            }
            return;
          }
        } finally {
          lock.unlock();
        }
        try {
          if (overSignal.await(RETRY_MILLIS, TimeUnit.MILLISECONDS)) {
            return;
          }
        } catch (InterruptedException e) {
          // Not ours to interrupt: a pool shutting down. The end of the work still finds us quiet.
          Thread.currentThread().interrupt();
          return;
        }
      }
    }

    /**
     * Whether the body closed the statement or its connection: H2 leaves a statement open when its
     * connection closes, but refuses it (its cancel too) from then on.
     */
    private boolean closed() {
      try {
        return statement.isClosed() || (connection != null && connection.isClosed());
      } catch (SQLException | RuntimeException e) {
        return false;
      }
    }

    /** Withdraws the cancel loop and bars cancels from now on, waiting for one in flight. */
    private void endCancels() {
      withdraw();
      markOver();
    }

    /**
     * Returns what the registration's {@code stop()} returns; if it throws, ends the binding
     * before rethrowing (see {@link #endAfterBrokenRegistration}).
     */
    private boolean withdraw() {
      try {
        return registration.stop();
      } catch (Throwable t) { // even a checked one, thrown undeclared by a foreign context
        endAfterBrokenRegistration(t);
        throw t;
      }
    }

    /**
     * Ends the binding when its registration could not be made or stopped ({@code t}, which the
     * caller rethrows). A foreign context may keep the hook all the same (an {@code onDone} that
     * stores the callback and then throws, a {@code stop()} that throws): when that context ends,
     * the hook must find the work over, or it would cancel whatever the caller runs next on the
     * statement, every {@value ContextStatements#RETRY_MILLIS} ms until the statement is closed.
     */
    private void endAfterBrokenRegistration(Throwable t) {
      if (markOver()) {
        addSuppressed(t, cancelFailure());
        restoreTimeout(t);
      }
    }

    /**
     * Bars cancels from now on, waiting for one in flight; returns whether this call ended the
     * binding (false if it was over already).
     */
    private boolean markOver() {
      overSignal.countDown();
      lock.lock(); // not lockInterruptibly: an interrupt must not let a cancel land after the end
      try {
        if (over) {
          return false;
        }
        over = true;
        return true;
      } finally {
        lock.unlock();
      }
    }

    private Exception cancelFailure() {
      lock.lock();
      try {
        return cancelFailure;
      } finally {
        lock.unlock();
      }
    }

    /**
     * Puts the previous timeout back; a failure is suppressed on {@code primary}, or returned if
     * {@code primary} is null.
     */
    private SQLException restoreTimeout(Throwable primary) {
      if (!timeoutSet) {
        return null;
      }
      try {
        if (connection == null || connection.isClosed()) {
          // The body closed the connection. Drivers need not close its statements with it (H2
          // does not), but refuse them from then on: what was not put back stays on a session no
          // handle reaches any more (gone with it, or, with a pool, lent on: the README's limit).
          return null;
        }
        if (!statement.isClosed()) {
          statement.setQueryTimeout(previousTimeout);
        } else {
          // The body closed the statement; drivers that keep the timeout per connection (H2)
          // still carry ours, and a statement of the same connection reaches it.
          try (Statement s = connection.createStatement()) {
            s.setQueryTimeout(previousTimeout);
          }
        }
        return null;
      } catch (SQLException | RuntimeException e) {
        SQLException failure =
            e instanceof SQLException
                ? (SQLException) e
                : new SQLException("could not put the query timeout back", e);
        if (primary == null) {
          return failure;
        }
        addSuppressed(primary, failure);
        return null;
      }
    }

    private static void addSuppressed(Throwable on, Throwable t) {
      if (t != null && t != on) {
        on.addSuppressed(t);
      }
    }

    /**
     * Ends the work after the body threw {@code t}; returns the context's error to throw instead.
     */
    ContextException endAfterFailure(Throwable t) {
      try {
        endCancels();
      } catch (Throwable broken) { // a foreign stop() threw: it goes on, with the body's failure
        addSuppressed(broken, t); // on it, or the reason the work failed would be lost
        throw broken;
      }
      ContextException stopped = null;
      if (t instanceof SQLException) {
        stopped = CoreInternals.endOf(ctx);
      }
      Throwable thrown = stopped != null ? stopped : t;
      if (stopped != null) {
        stopped.addSuppressed(t);
      }
      addSuppressed(thrown, cancelFailure());
      restoreTimeout(thrown);
      return stopped;
    }

    /** Ends the work after the body returned. */
    void endAfterSuccess() throws SQLException {
      endCancels();
      Exception cancelFailed = cancelFailure();
      SQLException restoreFailed = restoreTimeout(null);
      if (restoreFailed != null) {
        addSuppressed(restoreFailed, cancelFailed);
        throw restoreFailed;
      }
      if (cancelFailed != null) {
        CoreInternals.reportUncaught(cancelFailed);
      }
    }

    /**
     * The registration of {@link #bind}: ends the work; failures go to the handler. Answers whether
     * no cancel was ever started, not whether {@link #withdraw} prevented the loop: a loop already
     * handed to its thread that finds the work over makes no call, and the answer is then true.
     */
    @Override
    public boolean stop() {
      withdraw();
      if (!markOver()) {
        return false;
      }
      boolean prevented;
      lock.lock();
      try {
        prevented = !cancelStarted; // final: markOver barred the loop
      } finally {
        lock.unlock();
      }
      Exception cancelFailed = cancelFailure();
      SQLException restoreFailed = restoreTimeout(null);
      if (cancelFailed != null) {
        CoreInternals.reportUncaught(cancelFailed);
      }
      if (restoreFailed != null) {
        CoreInternals.reportUncaught(restoreFailed);
      }
      return prevented;
    }
  }
}
