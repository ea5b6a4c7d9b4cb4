package io.ctx4j;

import java.time.Duration;
import java.time.Instant;

/** Arithmetic on time that saturates instead of throwing. */
final class Durations {
  private Durations() {}

  static long saturatedNanos(Instant from, Instant to) {
    try {
      return Duration.between(from, to).toNanos();
    } catch (ArithmeticException e) {
      return to.isAfter(from) ? Long.MAX_VALUE : Long.MIN_VALUE;
    }
  }

  static long saturatedNanos(Duration d) {
    try {
      return d.toNanos();
    } catch (ArithmeticException e) {
      return d.isNegative() ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
  }

  static Instant saturatedPlus(Instant t, Duration d) {
    try {
      return t.plus(d);
    } catch (ArithmeticException | java.time.DateTimeException e) {
      return d.isNegative() ? Instant.MIN : Instant.MAX;
    }
  }
}
