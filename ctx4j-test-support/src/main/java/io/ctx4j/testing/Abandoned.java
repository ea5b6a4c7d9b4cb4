package io.ctx4j.testing;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.function.IntSupplier;

/**
 * The leak check for responses a caller drops without reading or closing them: each holds a
 * registration while it may still be read, and the collector, through a {@link
 * java.lang.ref.Cleaner}, releases all of them once they are unreachable.
 *
 * <p>Thread safety: stateless; call from any thread.
 */
public final class Abandoned {
  private Abandoned() {}

  /**
   * Opens {@code count} responses with {@code open} and keeps them reachable until {@code held}
   * counts one registration for each; then drops them and waits (as {@link Gc#untilUnderPressure},
   * at most 60 s) until {@code held} is zero.
   *
   * @param count how many responses
   * @param open opens one response (and may check it), neither reading nor closing it
   * @param held the registrations held, e.g. the core's count on the context the responses ran under
   * @param what what the responses are, plural, for the failure message
   * @throws AssertionError if {@code held} is not {@code count} while the responses are reachable, or
   *     not zero in time once they are dropped
   * @throws Exception what {@code open} throws
   */
  public static void releasedWhenCollected(int count, Callable<?> open, IntSupplier held, String what)
      throws Exception {
    Objects.requireNonNull(open, "open");
    Objects.requireNonNull(held, "held");
    // Held reachable until counted: a collection during the loop may otherwise release some early.
    List<Object> dropped = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      dropped.add(open.call());
    }
    int whileReachable = held.getAsInt();
    if (whileReachable != count) {
      throw new AssertionError(
          "held while the " + what + " may be read: expected " + count + " but was " + whileReachable);
    }
    dropped.clear();
    Gc.untilUnderPressure(() -> held.getAsInt() == 0, Duration.ofSeconds(60));
    int left = held.getAsInt();
    if (left != 0) {
      throw new AssertionError("registrations of abandoned " + what + " left: " + left);
    }
  }
}
