package io.ctx4j.http;

import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

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
 * sign, no unit, surrounded by nothing but HTTP's optional whitespace (spaces and horizontal tabs,
 * RFC 9110 {@code OWS}; no other control or Unicode space). The value is a <em>duration</em>, not a
 * point in time, so the two machines' clocks never need to agree; the receiver's deadline is its own
 * "now" at the request's arrival plus the value. A value of {@code 0} means the request is already
 * out of time. A sender with more than {@value #MAX_MILLIS} ms (27.7 hours) left sends {@value
 * #MAX_MILLIS}.
 *
 * <p><b>Several values.</b> A request may carry the header more than once, or several
 * comma-separated values in one line (RFC 9110 treats the two alike): the <em>smallest</em> value
 * wins, so a proxy or library that adds its own budget can only shorten the request's time, never
 * lengthen it. Empty list elements ({@code "50,"}) are ignored, as RFC 9110 asks of list-based
 * fields, but at least one value must be there; any malformed value makes the whole header
 * malformed, since the receiver cannot know which budget the sender meant.
 *
 * <p><b>Transit.</b> The request's way from the sender's clock read to the receiver's arrival would
 * be added to the receiver's budget if the sender sent all its time: the receiver starts counting
 * only when the request arrives. {@link #valueFor(Context)} therefore rounds down to whole
 * milliseconds and withholds {@link #TRANSIT_ALLOWANCE} (5 ms), so the receiver gives up first
 * whenever the request takes less than that to reach it (measured in one JVM over loopback with the
 * JDK client and server: 1.3 ms median, 3.8 ms at the 90th percentile on a loaded two-core machine,
 * occasionally more; across a network add its one-way latency). A request that takes longer gives
 * the receiver a deadline later than the sender's by the excess.
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

  /**
   * The time a sender withholds from its remaining time for the request's way to the receiver: 5
   * ms. See the class documentation.
   */
  public static final Duration TRANSIT_ALLOWANCE = Duration.ofMillis(5);

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
    return HeaderValues.millis(remaining, MAX_MILLIS);
  }

  /**
   * Parses one header line: a value produced by {@link #format(Duration)}, or a comma-separated
   * list of such values, of which the smallest wins.
   *
   * @param value the field value; spaces and horizontal tabs around each value are ignored, and so
   *     are empty list elements
   * @return the remaining time it states (the smallest, if several)
   * @throws NullPointerException if {@code value} is null
   * @throws IllegalArgumentException if a value is not one to eight ASCII digits, or if there is no
   *     value at all; the message names the header and quotes the value
   */
  public static Duration parse(String value) {
    Objects.requireNonNull(value, "value");
    long smallest = smallest(value, NONE);
    if (smallest == NONE) {
      throw malformed(value);
    }
    return Duration.ofMillis(smallest);
  }

  /**
   * Parses every line of the header that a request carried, as a server sees them (for example
   * {@code Headers.get(NAME)} of the JDK server): the smallest value of all lines wins.
   *
   * @param lines the field values, one per header line, each as {@link #parse(String)} accepts
   * @return the remaining time they state (the smallest), or empty if {@code lines} is empty
   * @throws NullPointerException if {@code lines} or one of its elements is null
   * @throws IllegalArgumentException if any line is malformed as {@link #parse(String)} defines it
   */
  public static Optional<Duration> parseAll(List<String> lines) {
    Objects.requireNonNull(lines, "lines");
    long smallest = NONE;
    for (String line : lines) {
      Objects.requireNonNull(line, "lines contains null");
      long s = smallest(line, NONE);
      if (s == NONE) {
        throw malformed(line);
      }
      smallest = Math.min(smallest, s);
    }
    return smallest == NONE ? Optional.empty() : Optional.of(Duration.ofMillis(smallest));
  }

  /** Larger than any valid value: "no value seen". */
  private static final long NONE = Long.MAX_VALUE;

  /** The smallest value of one comma-separated line, or {@code none} if it holds no value. */
  private static long smallest(String line, long none) {
    long smallest = none;
    int n = line.length();
    int i = 0;
    while (i <= n) {
      int comma = line.indexOf(',', i);
      int end = comma < 0 ? n : comma;
      int from = i;
      int to = end;
      while (from < to && isOws(line.charAt(from))) {
        from++;
      }
      while (to > from && isOws(line.charAt(to - 1))) {
        to--;
      }
      if (from < to) {
        if (to - from > 8) {
          throw malformed(line);
        }
        long millis = 0;
        for (int k = from; k < to; k++) {
          char c = line.charAt(k);
          // Character.isDigit would accept non-ASCII digits, which no sender produces.
          if (c < '0' || c > '9') {
            throw malformed(line);
          }
          millis = millis * 10 + (c - '0');
        }
        smallest = Math.min(smallest, millis);
      }
      i = end + 1;
    }
    return smallest;
  }

  /** RFC 9110 OWS: space and horizontal tab only, unlike String.strip(). */
  private static boolean isOws(char c) {
    return c == ' ' || c == '\t';
  }

  /**
   * Returns the time left before {@code ctx}'s deadline, by the context's own time source ({@link
   * Context#remaining()}), if it has a deadline; never negative.
   *
   * @param ctx the context
   * @return the remaining time, or empty if the context has no deadline
   * @throws NullPointerException if {@code ctx} is null
   */
  public static Optional<Duration> remaining(Context ctx) {
    Objects.requireNonNull(ctx, "ctx");
    return ctx.remaining().map(left -> left.isNegative() ? Duration.ZERO : left);
  }

  /**
   * Returns the header value to send for {@code ctx} now: its remaining time less {@link
   * #TRANSIT_ALLOWANCE}, {@linkplain #format(Duration) formatted} (rounded down, {@code 0} at
   * least). Call it as late as possible before the request leaves, once per attempt: the time in
   * between is added to the receiver's budget. The remaining time is first saturated to a {@code
   * long} number of nanoseconds, as {@link Context#remaining()} does by default, so a context
   * implemented outside ctx4j whose {@code remaining()} returns a Duration near either end of its
   * range gets {@code 0} or {@link #MAX_MILLIS}, never an {@code ArithmeticException}.
   *
   * @param ctx the context
   * @return the header value, or empty if the context has no deadline (send no header then)
   * @throws NullPointerException if {@code ctx} is null
   */
  public static Optional<String> valueFor(Context ctx) {
    Objects.requireNonNull(ctx, "ctx");
    // Saturated first: a foreign context's remaining() need not be, and Duration.minus throws
    // below Long.MIN_VALUE seconds; a long of nanoseconds less 5 ms always fits in a Duration.
    return ctx.remaining()
        .map(left -> Duration.ofNanos(CoreInternals.saturatedNanos(left)))
        .map(left -> format(left.minus(TRANSIT_ALLOWANCE)));
  }

  /**
   * States {@code ctx}'s time left on a request about to leave, through the request's own header
   * type: every {@value #NAME} header it carries is removed ({@code remove}, given {@link #NAME}),
   * and if the context has a deadline, the one value of {@link #valueFor(Context)} is set ({@code
   * set}, given {@link #NAME} and the value). A stale value, the caller's or one copied from an
   * earlier attempt, is never forwarded, and none is left beside the new one (the receiver takes
   * the smallest). A context without a deadline leaves the request without the header. Call it as
   * late as possible before the request leaves, once per attempt, as {@link #valueFor(Context)}
   * says. For example:
   *
   * <pre>{@code
   * DeadlineHeader.restate(ctx, headers::remove, headers::set);             // Spring's HttpHeaders
   * request.headers(h -> DeadlineHeader.restate(ctx, h::remove, h::put));    // Jetty's Request
   * DeadlineHeader.restate(ctx, request::removeHeaders, request::addHeader); // Apache's HttpRequest
   * }</pre>
   *
   * <p>The value is computed before anything is removed: if the context's {@code remaining()}
   * throws (a context implemented outside ctx4j), that exception propagates and neither function
   * is called. Both are called on the calling thread, {@code remove} once, then {@code set} at
   * most once; what they throw propagates.
   *
   * @param ctx the context
   * @param remove removes every header of the name it is given (all of them, not only the first)
   * @param set sets the header of the name it is given to the value it is given
   * @return the value set, or empty if the context has no deadline (the header was only removed)
   * @throws NullPointerException if an argument is null
   */
  public static Optional<String> restate(
      Context ctx, Consumer<String> remove, BiConsumer<String, String> set) {
    Objects.requireNonNull(ctx, "ctx");
    Objects.requireNonNull(remove, "remove");
    Objects.requireNonNull(set, "set");
    Optional<String> value = valueFor(ctx);
    remove.accept(NAME);
    value.ifPresent(v -> set.accept(NAME, v));
    return value;
  }

  private static IllegalArgumentException malformed(String value) {
    return new IllegalArgumentException(
        NAME
            + " must be 1 to 8 ASCII digits (milliseconds), or a comma-separated list of them, got \""
            + HeaderValues.printable(value)
            + "\"");
  }
}
