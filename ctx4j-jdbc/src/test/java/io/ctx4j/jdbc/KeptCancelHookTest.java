package io.ctx4j.jdbc;

import static io.ctx4j.jdbc.TestDb.freshStatementTimeout;
import static io.ctx4j.jdbc.TestDb.sum;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import io.ctx4j.Context;
import io.ctx4j.Registration;
import io.ctx4j.testing.ForeignContext;
import java.io.IOException;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A foreign context that keeps ctx4j's cancel hook although handing it over or taking it back
 * failed (its {@code onDone} stores the callback and then throws, or the registration's {@code
 * stop()} throws): the call fails with that throwable, but when the context ends later, the kept
 * hook finds the work over and never cancels what the caller runs next on the statement. The old
 * code's hook cancelled every 20 ms until the statement was closed.
 */
@Timeout(120)
class KeptCancelHookTest extends H2Test {

  /** What the caller runs on the statement after the failed call: 500 ms of H2 work. */
  private static final int NEXT_QUERY_ROWS = 500;

  /** An unchecked throwable, and a checked one thrown without being declared (Kotlin, a helper). */
  static Stream<Throwable> failures() {
    return Stream.of(new IllegalStateException("broken"), new IOException("broken, sneakily"));
  }

  /** The ways the work can end while the registration's {@code stop()} throws. */
  enum Ending {
    BODY_RETURNS {
      @Override
      void run(Context ctx, Statement st) throws SQLException {
        ContextStatements.execute(ctx, st, Statement::getQueryTimeout);
      }
    },
    BODY_THROWS {
      @Override
      void run(Context ctx, Statement st) throws SQLException {
        ContextStatements.execute(ctx, st, s -> s.executeQuery("SELEKT 1"));
      }
    },
    BIND_STOPPED {
      @Override
      void run(Context ctx, Statement st) throws SQLException {
        ContextStatements.bind(ctx, st).stop();
      }
    };

    abstract void run(Context ctx, Statement st) throws SQLException;
  }

  static Stream<Arguments> endingsAndFailures() {
    return Stream.of(Ending.values())
        .flatMap(e -> failures().map(f -> arguments(e, f)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("failures")
  void aHookKeptByAnOnDoneThatThrowsNeverCancelsTheNextQuery(Throwable failure) throws Exception {
    KeepingContext foreign = new KeepingContext(failure, null);
    AtomicInteger cancels = new AtomicInteger();
    try (Statement st = countingCancels(cancels)) {
      assertThrowsSame(
          failure, () -> ContextStatements.execute(foreign, st, Statement::getQueryTimeout));
      foreign.end();
      assertNextQueryRunsUncancelled(st, cancels);
    }
  }

  @ParameterizedTest(name = "{0}, {1}")
  @MethodSource("endingsAndFailures")
  void aHookKeptByAStopThatThrowsNeverCancelsTheNextQuery(Ending ending, Throwable failure)
      throws Exception {
    KeepingContext foreign = new KeepingContext(null, failure);
    AtomicInteger cancels = new AtomicInteger();
    try (Statement st = countingCancels(cancels)) {
      assertThrowsSame(failure, () -> ending.run(foreign, st));
      assertEquals(0, st.getQueryTimeout(), "the timeout set for the 30 s context is taken back");
      assertEquals(0, freshStatementTimeout(connection), "and so is H2's session timeout");
      foreign.end();
      assertNextQueryRunsUncancelled(st, cancels);
    }
  }

  /** A real H2 statement whose {@code cancel()} calls are counted, and then made. */
  private Statement countingCancels(AtomicInteger cancels) throws SQLException {
    return CancelHookStatements.wrap(
        Statement.class,
        connection.createStatement(),
        real -> {
          cancels.incrementAndGet();
          real.cancel();
        });
  }

  private static void assertThrowsSame(Throwable expected, Executable call) {
    assertSame(expected, assertThrows(expected.getClass(), call));
  }

  /**
   * The kept hook only hands the cancel loop to a ctx4j thread, and a loop that finds the work over
   * returns without a trace; so the proof is the caller's next query: a loop left running would
   * cancel it within {@value ContextStatements#RETRY_MILLIS} ms of its start.
   */
  private static void assertNextQueryRunsUncancelled(Statement st, AtomicInteger cancels)
      throws SQLException {
    long expected = (long) NEXT_QUERY_ROWS * (NEXT_QUERY_ROWS + 1) / 2;
    assertEquals(expected, sum(st.executeQuery(TestDb.sleepingFor(NEXT_QUERY_ROWS))));
    assertEquals(0, cancels.get(), "cancel() calls on the statement after the failed call");
  }

  /**
   * A foreign context, 30 s from its deadline (so ctx4j sets a query timeout), whose {@code
   * onDone} keeps the callback and then throws {@code onDoneFailure} if not null, else returns a
   * registration whose {@code stop()} throws {@code stopFailure}. {@link #end()} runs the kept
   * callback, as the context would when it ends.
   */
  private static final class KeepingContext extends ForeignContext {
    private final Throwable onDoneFailure;
    private final Throwable stopFailure;
    private volatile Runnable kept;

    KeepingContext(Throwable onDoneFailure, Throwable stopFailure) {
      super(Instant.now().plusSeconds(30));
      this.onDoneFailure = onDoneFailure;
      this.stopFailure = stopFailure;
    }

    @Override
    public Registration onDone(Runnable callback) {
      kept = callback;
      if (onDoneFailure != null) {
        throw KeptCancelHookTest.<RuntimeException>sneaky(onDoneFailure);
      }
      return () -> {
        throw KeptCancelHookTest.<RuntimeException>sneaky(stopFailure);
      };
    }

    void end() {
      kept.run();
    }
  }

  @SuppressWarnings("unchecked")
  private static <E extends Throwable> E sneaky(Throwable t) throws E {
    throw (E) t;
  }
}
