package io.ctx4j.testing;

import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Key;
import io.ctx4j.Registration;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A context implemented outside ctx4j, well-behaved by default: never done, no values, and an
 * {@code onDone} that registers nothing; no deadline, or a fixed one that passes without the context
 * ever becoming done (the state of any context between its deadline and the moment its timer fires,
 * held still). Tests override single methods to make it misbehave.
 *
 * <p>Thread safety: immutable unless a subclass adds state.
 */
public class ForeignContext implements Context {
  private final Instant deadline;

  /** A foreign context with no deadline. */
  public ForeignContext() {
    this.deadline = null;
  }

  /**
   * A foreign context whose deadline is {@code deadline} but which never becomes done by itself.
   *
   * @param deadline the deadline it reports
   * @throws NullPointerException if {@code deadline} is null
   */
  public ForeignContext(Instant deadline) {
    if (deadline == null) {
      throw new NullPointerException("deadline");
    }
    this.deadline = deadline;
  }

  /**
   * A foreign context that breaks {@code onDone}'s contract: it returns {@code null} instead of a
   * {@link Registration} (and keeps nothing).
   *
   * @return a new context, never done, with no deadline
   */
  public static ForeignContext returningNullFromOnDone() {
    return new ForeignContext() {
      @Override
      public Registration onDone(Runnable callback) {
        return null;
      }
    };
  }

  /**
   * A foreign context whose clock steps back just after its deadline (a wall clock set back by a
   * time service, say): the first {@link #remaining()} says the deadline has been reached (zero
   * left), every later one that a second is left. Never done, no values. A caller that asks it
   * twice and expects the same answer (the deadline has passed, so the second question must say so
   * too) breaks on it; one that asks once and acts on that answer does not.
   *
   * <p>Thread safety: the first question, from whichever thread, gets the zero.
   *
   * @return a new context, never done, with a deadline far in the future
   */
  public static ForeignContext steppingBack() {
    return new ForeignContext(Instant.parse("2100-01-01T00:00:00Z")) {
      private final AtomicBoolean asked = new AtomicBoolean();

      @Override
      public Optional<Duration> remaining() {
        return Optional.of(asked.getAndSet(true) ? Duration.ofSeconds(1) : Duration.ZERO);
      }
    };
  }

  /**
   * The message of the {@code NullPointerException} with which ctx4j refuses a context whose {@code
   * onDone} returned {@code null}: the core's wording, naming the context's class.
   *
   * @param ctx the context
   * @return the message
   */
  public static String nullRegistrationMessage(Context ctx) {
    return "onDone of " + ctx.getClass().getName() + " returned null instead of a Registration";
  }

  /**
   * Never done by default.
   *
   * @return {@code null}
   */
  @Override
  public ContextException err() {
    return null;
  }

  /**
   * The deadline given to the constructor, if any.
   *
   * @return the deadline or empty
   */
  @Override
  public Optional<Instant> deadline() {
    return Optional.ofNullable(deadline);
  }

  /**
   * No values by default.
   *
   * @return {@code null}
   */
  @Override
  public <T> T value(Key<T> key) {
    return null;
  }

  /**
   * Registers nothing by default, as befits a context that never ends.
   *
   * @return a registration whose {@code stop()} always reports success
   */
  @Override
  public Registration onDone(Runnable callback) {
    return () -> true;
  }
}
