package io.ctx4j.jdbc;

import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Key;
import io.ctx4j.Registration;
import java.time.Instant;
import java.util.Optional;

/**
 * A context implemented outside ctx4j whose deadline passes without it ever becoming done: the
 * state of any context between its deadline and the moment its timer fires, held still.
 */
final class LaggingContext implements Context {
  private final Instant deadline;

  LaggingContext(Instant deadline) {
    this.deadline = deadline;
  }

  @Override
  public ContextException err() {
    return null;
  }

  @Override
  public Optional<Instant> deadline() {
    return Optional.of(deadline);
  }

  @Override
  public <T> T value(Key<T> key) {
    return null;
  }

  @Override
  public Registration onDone(Runnable callback) {
    return () -> true;
  }
}
