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
 * empty elements (nothing but spaces and tabs) are ignored, as RFC 9110 (section 5.6.1) asks of a
 * recipient and as ctx4j-http's {@code DeadlineHeader} does, but a line must hold at least one
 * value; every other element must be valid for its header's format (else the request is
 * malformed, even if another element is valid: a caller that tried to set a deadline must learn
 * that it did not work); the smallest duration of all wins. Stateless and thread-safe.
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

  /** How many headers are read: {@link #header()} is below this. */
  public static final int HEADERS = NAMES.length;

  private final Duration timeout;
  private final int header;

  private IncomingDeadline(Duration timeout, int header) {
    this.timeout = timeout;
    this.header = header;
  }

  /**
   * Returns the name of header {@code h}, as ctx4j spells it.
   *
   * @param h a header's number, from 0 to {@link #HEADERS} - 1
   * @return {@code Ctx4j-Timeout-Ms}, {@code Connect-Timeout-Ms} or {@code grpc-timeout}
   * @throws ArrayIndexOutOfBoundsException if {@code h} is not a header's number
   */
  public static String name(int h) {
    return NAMES[h];
  }

  /**
   * Returns the smallest budget the request's headers state, or null if they state none.
   *
   * <p>On Jetty's own servlet request, one pass over its header fields ({@link
   * ContainerHooks#readDeadline}); otherwise (Tomcat, a wrapped request) up to three lookups and an
   * enumeration per header present, through the Servlet API. Both give the same answer.
   *
   * @param request the request
   * @return the budget and where it came from, or null
   * @throws IllegalArgumentException if any element of any of the headers is malformed; the message
   *     names the header and quotes the value
   */
  public static IncomingDeadline read(HttpServletRequest request) {
    IncomingDeadline fast = ContainerHooks.readDeadline(request);
    return fast != NOT_READ ? fast : readServletApi(request);
  }

  /** Through the Servlet API, header by header: what the filter gets on any container. */
  static IncomingDeadline readServletApi(HttpServletRequest request) {
    IncomingDeadline best = null;
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
        best = consider(best, h, lines.nextElement());
      }
    }
    return best;
  }

  /** Returned by {@link ContainerHooks#readDeadline} when it did not read the headers. */
  static final IncomingDeadline NOT_READ = new IncomingDeadline(Duration.ZERO, -1);

  /**
   * Which of the three headers {@code name} is, ignoring case as HTTP does, or -1 for none of them.
   *
   * @param name a header field's name
   * @return 0, 1 or 2 (the order of {@code NAMES}), or -1
   */
  static int headerIndex(String name) {
    int n = name.length();
    for (int h = 0; h < NAMES.length; h++) {
      if (n == NAMES[h].length() && NAMES[h].equalsIgnoreCase(name)) {
        return h;
      }
    }
    return -1;
  }

  /**
   * Returns the better of {@code best} and the elements of {@code line}, one line of header {@code
   * h}: the smaller duration; between equal ones, the earlier header in {@code NAMES}, then the one
   * seen first. Read header by header, as the Servlet API path does, that is "the first smallest";
   * read in the order the fields came, as Jetty's single pass does, it picks the same one.
   *
   * @throws IllegalArgumentException if an element is malformed for header {@code h}
   */
  static IncomingDeadline consider(IncomingDeadline best, int h, String line) {
    int start = 0;
    boolean any = false;
    while (true) {
      int comma = line.indexOf(',', start);
      int end = comma < 0 ? line.length() : comma;
      if (!blank(line, start, end)) {
        String element =
            comma < 0 ? (start == 0 ? line : line.substring(start)) : line.substring(start, comma);
        Duration d = PARSERS[h].apply(element);
        any = true;
        int c = best == null ? -1 : d.compareTo(best.timeout);
        if (c < 0 || (c == 0 && h < best.header)) {
          best = new IncomingDeadline(d, h);
        }
      }
      if (comma < 0) {
        if (!any) {
          PARSERS[h].apply(line); // no value at all: throws, with the header's own message
          throw new IllegalArgumentException(NAMES[h] + " holds no value, got \"" + line + "\"");
        }
        return best;
      }
      start = comma + 1;
    }
  }

  /** Whether {@code s[from, to)} holds nothing but HTTP's optional whitespace (space, tab). */
  private static boolean blank(String s, int from, int to) {
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      if (c != ' ' && c != '\t') {
        return false;
      }
    }
    return true;
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
   * Returns the number of the header the budget came from: an index for {@link #name(int)}.
   *
   * @return 0 to {@link #HEADERS} - 1
   */
  public int header() {
    return header;
  }

  @Override
  public String toString() {
    return timeout.toNanos() + " ns from " + NAMES[header];
  }
}
