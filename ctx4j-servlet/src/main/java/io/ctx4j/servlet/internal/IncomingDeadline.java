package io.ctx4j.servlet.internal;

import io.ctx4j.http.ConnectTimeoutHeader;
import io.ctx4j.http.DeadlineHeader;
import io.ctx4j.http.GrpcTimeoutHeader;
import jakarta.servlet.http.HttpServletRequest;
import java.time.Duration;
import java.util.Enumeration;
import java.util.function.Function;

/**
 * Reads the caller's time budget from the three headers ctx4j accepts. Not part of the API.
 *
 * <p>Rules: each header may occur on several lines and each line may hold a comma-separated list;
 * every element must be valid for its header's format (else the request is malformed, even if
 * another element is valid: a caller that tried to set a deadline must learn that it did not
 * work); the smallest duration of all wins. Stateless and thread-safe.
 */
public final class IncomingDeadline {
  private static final String[] NAMES = {
    DeadlineHeader.NAME, ConnectTimeoutHeader.NAME, GrpcTimeoutHeader.NAME
  };

  @SuppressWarnings("unchecked")
  private static final Function<String, Duration>[] PARSERS =
      new Function[] {
        (Function<String, Duration>) DeadlineHeader::parse,
        (Function<String, Duration>) ConnectTimeoutHeader::parse,
        (Function<String, Duration>) GrpcTimeoutHeader::parse
      };

  private final Duration timeout;
  private final int header;
  private final String element;

  private IncomingDeadline(Duration timeout, int header, String element) {
    this.timeout = timeout;
    this.header = header;
    this.element = element;
  }

  /**
   * Returns the smallest budget the request's headers state, or null if they state none.
   *
   * @param request the request
   * @return the budget and where it came from, or null
   * @throws IllegalArgumentException if any element of any of the headers is malformed; the message
   *     names the header and quotes the value
   */
  public static IncomingDeadline read(HttpServletRequest request) {
    Duration best = null;
    int bestHeader = -1;
    String bestElement = null;
    for (int h = 0; h < NAMES.length; h++) {
      // The common case, a header that is absent, costs a lookup and no allocation.
      if (request.getHeader(NAMES[h]) == null) {
        continue;
      }
      Enumeration<String> lines = request.getHeaders(NAMES[h]);
      if (lines == null) {
        continue;
      }
      while (lines.hasMoreElements()) {
        String line = lines.nextElement();
        int start = 0;
        while (true) {
          int comma = line.indexOf(',', start);
          String element =
              comma < 0 ? (start == 0 ? line : line.substring(start)) : line.substring(start, comma);
          Duration d = PARSERS[h].apply(element);
          if (best == null || d.compareTo(best) < 0) {
            best = d;
            bestHeader = h;
            bestElement = element;
          }
          if (comma < 0) {
            break;
          }
          start = comma + 1;
        }
      }
    }
    // The description is built only if asked for (toString), for the winner only.
    return best == null ? null : new IncomingDeadline(best, bestHeader, bestElement);
  }

  /**
   * Returns the budget.
   *
   * @return the duration
   */
  public Duration timeout() {
    return timeout;
  }

  /**
   * Returns the header and element the budget came from, for example {@code "grpc-timeout: 250m"}.
   *
   * @return a short description
   */
  public String source() {
    return NAMES[header] + ": " + element.strip();
  }

  /**
   * Tells whether {@code other} came from the same header and the same element, so that its
   * {@link #source()} is the same.
   *
   * @param other another budget
   * @return true if both have the same source
   */
  public boolean sameSource(IncomingDeadline other) {
    return header == other.header && element.equals(other.element);
  }

  /**
   * Returns {@link #source()}: the filter passes this object as the lazily built detail of the
   * deadline's cause, so that the string is built only for the causes someone reads.
   *
   * @return the source
   */
  @Override
  public String toString() {
    return source();
  }
}
