package io.ctx4j.http;

import java.time.Duration;
import java.util.Objects;

/**
 * gRPC's {@value #NAME} header, for HTTP servers and clients that meet gRPC or gRPC-Web callers:
 * the time the caller allows, as one to eight ASCII digits followed by a unit letter.
 *
 * <pre>
 * grpc-timeout: 250m
 * </pre>
 *
 * <table>
 *   <caption>units</caption>
 *   <tr><th>letter</th><th>unit</th></tr>
 *   <tr><td>{@code H}</td><td>hours</td></tr>
 *   <tr><td>{@code M}</td><td>minutes</td></tr>
 *   <tr><td>{@code S}</td><td>seconds</td></tr>
 *   <tr><td>{@code m}</td><td>milliseconds</td></tr>
 *   <tr><td>{@code u}</td><td>microseconds</td></tr>
 *   <tr><td>{@code n}</td><td>nanoseconds</td></tr>
 * </table>
 *
 * <p>The gRPC protocol ({@code grpc/grpc:doc/PROTOCOL-HTTP2.md}) calls the number a positive
 * integer; like grpc-java and grpc-go, this parser also accepts {@code 0} (a caller whose time ran
 * out while it wrote the headers sends it), which means the request is already out of time. The
 * value is a duration measured from when the receiver reads it. Only spaces and tabs around the
 * value are ignored (HTTP's optional whitespace); anything else is malformed.
 *
 * <p>This class is stateless and thread-safe.
 *
 * @since 0.1
 */
public final class GrpcTimeoutHeader {

  /** The header name, {@code grpc-timeout}. HTTP header names are case-insensitive. */
  public static final String NAME = "grpc-timeout";

  /** The largest number the format allows before the unit: 99,999,999 (eight digits). */
  public static final long MAX_VALUE = 99_999_999L;

  private GrpcTimeoutHeader() {}

  /**
   * Parses one {@code grpc-timeout} value.
   *
   * @param value the header value; surrounding spaces and tabs are ignored
   * @return the duration it states (at most 99,999,999 hours)
   * @throws NullPointerException if {@code value} is null
   * @throws IllegalArgumentException if {@code value} is not one to eight ASCII digits followed by
   *     one of {@code H M S m u n}; the message names the header and quotes the value
   */
  public static Duration parse(String value) {
    Objects.requireNonNull(value, "value");
    String v = HeaderValues.trimOws(value);
    int digits = v.length() - 1;
    if (digits < 1 || digits > 8) {
      throw malformed(value);
    }
    long n = HeaderValues.asciiDigits(v, 0, digits);
    if (n < 0) {
      throw malformed(value);
    }
    switch (v.charAt(digits)) {
      case 'H':
        return Duration.ofHours(n);
      case 'M':
        return Duration.ofMinutes(n);
      case 'S':
        return Duration.ofSeconds(n);
      case 'm':
        return Duration.ofMillis(n);
      case 'u':
        return Duration.ofNanos(n * 1_000L);
      case 'n':
        return Duration.ofNanos(n);
      default:
        throw malformed(value);
    }
  }

  /**
   * Formats a remaining time as a {@code grpc-timeout} value, in the finest unit whose count fits
   * in eight digits, rounded down so that the receiver never gets more time than the sender had;
   * zero and negative durations give {@code "0n"}, durations beyond 99,999,999 hours give {@code
   * "99999999H"}.
   *
   * @param remaining the time left
   * @return the header value, for example {@code "250000u"}
   * @throws NullPointerException if {@code remaining} is null
   */
  public static String format(Duration remaining) {
    Objects.requireNonNull(remaining, "remaining");
    if (remaining.isNegative() || remaining.isZero()) {
      return "0n";
    }
    // Each unit in turn, finest first; compare Durations, since toNanos() overflows past 292 years.
    long[] unitNanos = {1L, 1_000L, 1_000_000L, 1_000_000_000L, 60_000_000_000L, 3_600_000_000_000L};
    char[] letters = {'n', 'u', 'm', 'S', 'M', 'H'};
    for (int i = 0; i < letters.length; i++) {
      Duration unit = Duration.ofNanos(unitNanos[i]);
      if (remaining.compareTo(unit.multipliedBy(MAX_VALUE + 1)) < 0) {
        return remaining.dividedBy(unit) + String.valueOf(letters[i]);
      }
    }
    return MAX_VALUE + "H";
  }

  private static IllegalArgumentException malformed(String value) {
    return new IllegalArgumentException(
        NAME
            + " must be 1 to 8 ASCII digits and a unit (H, M, S, m, u, n), got \""
            + HeaderValues.printable(value)
            + "\"");
  }
}
