package io.ctx4j.concurrent;

/** Throws a checked exception from code that does not declare it, as some libraries do. */
final class Sneaky {
  private Sneaky() {}

  @SuppressWarnings("unchecked")
  static <E extends Throwable> void rethrow(Throwable t) throws E {
    throw (E) t;
  }
}
