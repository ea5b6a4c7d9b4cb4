package io.ctx4j.jcstress;

/**
 * Distinct causes for the tests, and a way to turn what a context reports back into a small number
 * that a jcstress result can hold. Immutable and thread-safe.
 */
public final class Causes {
  /** The cause the first actor cancels with. */
  public static final Throwable A = new IllegalStateException("cause A");

  /** The cause the second actor cancels with (or the deadline's cause). */
  public static final Throwable B = new IllegalStateException("cause B");

  private Causes() {}

  /**
   * Encodes a cause as a number so that outcomes stay readable.
   *
   * @param cause what {@code cause()} returned
   * @return 0 for null, 1 for {@link #A}, 2 for {@link #B}, 3 for {@code Context.CANCELED}, 4 for
   *     {@code Context.DEADLINE_EXCEEDED}, 9 for anything else
   */
  public static int code(Throwable cause) {
    if (cause == null) {
      return 0;
    }
    if (cause == A) {
      return 1;
    }
    if (cause == B) {
      return 2;
    }
    if (cause == io.ctx4j.Context.CANCELED) {
      return 3;
    }
    if (cause == io.ctx4j.Context.DEADLINE_EXCEEDED) {
      return 4;
    }
    return 9;
  }

  /**
   * Encodes an error as a number.
   *
   * @param err what {@code err()} returned
   * @return 0 for null, 3 for {@code CANCELED}, 4 for {@code DEADLINE_EXCEEDED}, 9 otherwise
   */
  public static int errCode(io.ctx4j.ContextException err) {
    return err == null ? 0 : code(err);
  }
}
