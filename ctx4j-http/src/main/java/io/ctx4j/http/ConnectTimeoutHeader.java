package io.ctx4j.http;

import java.time.Duration;
import java.util.Objects;

/**
 * The Connect protocol's {@value #NAME} header ({@code connectrpc.com/docs/protocol}): the time the
 * caller allows, in whole milliseconds, as one to ten ASCII digits.
 *
 * <pre>
 * Connect-Timeout-Ms: 250
 * </pre>
 *
 * <p>Connect calls the number positive; like its implementations, this parser also accepts {@code
 * 0}, which means the request is already out of time. The value is a duration measured from when
 * the receiver reads it. Only spaces and tabs around the value are ignored (HTTP's optional
 * whitespace); anything else, including a sign, a unit or an eleventh digit, is malformed.
 *
 * <p>This class is stateless and thread-safe.
 *
 * @since 0.1
 */
public final class ConnectTimeoutHeader {

  /** The header name, {@code Connect-Timeout-Ms}. HTTP header names are case-insensitive. */
  public static final String NAME = "Connect-Timeout-Ms";

  /** The largest value the format allows: 9,999,999,999 ms (ten digits, about 115 days). */
  public static final long MAX_MILLIS = 9_999_999_999L;

  private ConnectTimeoutHeader() {}

  /**
   * Parses one {@code Connect-Timeout-Ms} value.
   *
   * @param value the header value; surrounding spaces and tabs are ignored
   * @return the duration it states
   * @throws NullPointerException if {@code value} is null
   * @throws IllegalArgumentException if {@code value} is not one to ten ASCII digits; the message
   *     names the header and quotes the value
   */
  public static Duration parse(String value) {
    Objects.requireNonNull(value, "value");
    String v = HeaderValues.trimOws(value);
    if (v.isEmpty() || v.length() > 10) {
      throw malformed(value);
    }
    long millis = HeaderValues.asciiDigits(v, 0, v.length());
    if (millis < 0) {
      throw malformed(value);
    }
    return Duration.ofMillis(millis);
  }

  /**
   * Formats a remaining time as a {@code Connect-Timeout-Ms} value: whole milliseconds, rounded
   * down, negative values as {@code 0}, values above {@link #MAX_MILLIS} as {@link #MAX_MILLIS}.
   *
   * @param remaining the time left
   * @return the header value, for example {@code "287"}
   * @throws NullPointerException if {@code remaining} is null
   */
  public static String format(Duration remaining) {
    return HeaderValues.millis(remaining, MAX_MILLIS);
  }

  private static IllegalArgumentException malformed(String value) {
    return new IllegalArgumentException(
        NAME
            + " must be 1 to 10 ASCII digits (milliseconds), got \""
            + HeaderValues.printable(value)
            + "\"");
  }
}
