package io.ctx4j.http;

import io.ctx4j.Context;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * The HTTP header that carries a request's remaining time from a client to a server: {@value #NAME},
 * whose value is the number of whole milliseconds left, as a plain decimal integer.
 *
 * <pre>
 * GET /quote HTTP/1.1
 * Ctx4j-Timeout-Ms: 287
 * </pre>
 *
 * <p>The format, precisely: one to eight ASCII digits ({@code 0}&ndash;{@value #MAX_MILLIS}), no
 * sign, no unit, no spaces other than the optional whitespace HTTP allows around a field value. The
 * value is a <em>duration</em>, not a point in time, so the two machines' clocks never need to
 * agree; the receiver's deadline is its own "now" plus the value, which makes the time spent on the
 * wire count against the server's budget only approximately (it is lost, never added). A sender
 * rounds down, so a receiver never gets more time than the sender had; a value of {@code 0} means
 * the request is already out of time. A sender with more than {@value #MAX_MILLIS} ms (27.7
 * hours) left sends {@value #MAX_MILLIS}.
 *
 * <p>Why not reuse gRPC's {@code grpc-timeout} format ({@code 250m}, {@code 3S}, {@code 100u}...)?
 * Its units exist to squeeze nanosecond-precision values into eight digits; HTTP services, proxies,
 * logs and {@code curl} users are better served by one unit that needs no parsing table, and
 * ctx4j's own timer has a resolution of one millisecond anyway. The name says the unit, the way
 * Envoy's {@code x-envoy-expected-rq-timeout-ms} does, and differs from {@code grpc-timeout} so that
 * gRPC-aware proxies do not mistake a plain HTTP request for a gRPC call. The eight-digit limit is
 * the one gRPC uses.
 *
 * <p>This class is stateless and thread-safe.
 *
 * @since 0.1
 */
public final class DeadlineHeader {

  /** The header name, {@code Ctx4j-Timeout-Ms}. HTTP header names are case-insensitive. */
  public static final String NAME = "Ctx4j-Timeout-Ms";

  /** The largest value that may be sent: 99,999,999 ms, eight digits as in gRPC. */
  public static final long MAX_MILLIS = 99_999_999L;

  private DeadlineHeader() {}

  /**
   * Formats a remaining time as a header value: whole milliseconds, rounded down, negative values
   * as {@code 0}, values above {@link #MAX_MILLIS} as {@link #MAX_MILLIS}.
   *
   * @param remaining the time left
   * @return the header value, for example {@code "287"}
   * @throws NullPointerException if {@code remaining} is null
   */
  public static String format(Duration remaining) {
    Objects.requireNonNull(remaining, "remaining");
    if (remaining.isNegative()) {
      return "0";
    }
    // Compare before converting: toMillis() overflows for durations of more than 292 million years.
    if (remaining.compareTo(Duration.ofMillis(MAX_MILLIS)) >= 0) {
      return Long.toString(MAX_MILLIS);
    }
    return Long.toString(remaining.toMillis());
  }

  /**
   * Parses a header value produced by {@link #format(Duration)}, or by any client following the
   * format above.
   *
   * @param value the header value; surrounding spaces and tabs are ignored
   * @return the remaining time it states
   * @throws NullPointerException if {@code value} is null
   * @throws IllegalArgumentException if {@code value} is not one to eight ASCII digits; the message
   *     names the header and quotes the value
   */
  public static Duration parse(String value) {
    Objects.requireNonNull(value, "value");
    String v = value.strip();
    if (v.isEmpty() || v.length() > 8) {
      throw malformed(value);
    }
    long millis = 0;
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      // Character.isDigit would accept non-ASCII digits, which no sender produces.
      if (c < '0' || c > '9') {
        throw malformed(value);
      }
      millis = millis * 10 + (c - '0');
    }
    return Duration.ofMillis(millis);
  }

  /**
   * Returns the time left before {@code ctx}'s deadline, measured with the system clock, if it has
   * a deadline; never negative.
   *
   * @param ctx the context
   * @return the remaining time, or empty if the context has no deadline
   * @throws NullPointerException if {@code ctx} is null
   */
  public static Optional<Duration> remaining(Context ctx) {
    Objects.requireNonNull(ctx, "ctx");
    Optional<Instant> deadline = ctx.deadline();
    if (deadline.isEmpty()) {
      return Optional.empty();
    }
    Duration left = Duration.between(Context.timeSourceOf(ctx).now(), deadline.get());
    return Optional.of(left.isNegative() ? Duration.ZERO : left);
  }

  /**
   * Returns the header value to send for {@code ctx}: its {@linkplain #remaining(Context) remaining
   * time}, {@linkplain #format(Duration) formatted}.
   *
   * @param ctx the context
   * @return the header value, or empty if the context has no deadline (send no header then)
   * @throws NullPointerException if {@code ctx} is null
   */
  public static Optional<String> valueFor(Context ctx) {
    return remaining(ctx).map(DeadlineHeader::format);
  }

  private static IllegalArgumentException malformed(String value) {
    return new IllegalArgumentException(
        NAME + " must be 1 to 8 ASCII digits (milliseconds), got \"" + value + "\"");
  }
}
