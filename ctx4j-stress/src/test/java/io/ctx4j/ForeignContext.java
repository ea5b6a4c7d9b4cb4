package io.ctx4j;

import java.time.Instant;
import java.util.Optional;

/**
 * A context implemented outside ctx4j, well-behaved by default: never done, no deadline, no values,
 * and an {@code onDone} that registers nothing. Tests override single methods to make it misbehave.
 */
class ForeignContext implements Context {
  @Override
  public ContextException err() {
    return null;
  }

  @Override
  public Optional<Instant> deadline() {
    return Optional.empty();
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
