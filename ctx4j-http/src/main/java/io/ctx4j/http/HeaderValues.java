package io.ctx4j.http;

import java.time.Duration;
import java.util.Objects;

/** Lexical helpers shared by the timeout header parsers and formatters of this package. */
final class HeaderValues {
  private HeaderValues() {}

  /**
   * Removes HTTP's optional whitespace (spaces and horizontal tabs only, RFC 9110 section 5.6.3)
   * from both ends; {@link String#strip()} would also remove Unicode spaces no sender produces.
   */
  static String trimOws(String value) {
    int start = 0;
    int end = value.length();
    while (start < end && isOws(value.charAt(start))) {
      start++;
    }
    while (end > start && isOws(value.charAt(end - 1))) {
      end--;
    }
    return value.substring(start, end);
  }

  /**
   * Formats a remaining time as whole milliseconds, rounded down: negative as {@code 0}, at or above
   * {@code maxMillis} as {@code maxMillis}. Compares before converting, as {@code toMillis()}
   * overflows beyond about 292 million years.
   */
  static String millis(Duration remaining, long maxMillis) {
    Objects.requireNonNull(remaining, "remaining");
    if (remaining.isNegative()) {
      return "0";
    }
    if (remaining.compareTo(Duration.ofMillis(maxMillis)) >= 0) {
      return Long.toString(maxMillis);
    }
    return Long.toString(remaining.toMillis());
  }

  /**
   * The value with anything but printable ASCII escaped (a backslash, {@code u} and four hex
   * digits), for the messages that quote a caller's value: a control character then shows, and
   * cannot break the line of a log or of a {@code 400} answer.
   */
  static String printable(String value) {
    StringBuilder b = new StringBuilder(value.length());
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c >= 0x20 && c < 0x7f) {
        b.append(c);
      } else {
        b.append(String.format(java.util.Locale.ROOT, "\\u%04X", (int) c));
      }
    }
    return b.toString();
  }

  private static boolean isOws(char c) {
    return c == ' ' || c == '\t';
  }

  /**
   * Returns the value of the ASCII digits {@code s[from, to)}, or -1 if any character is not one.
   * At most 18 digits, so the result cannot overflow.
   */
  static long asciiDigits(String s, int from, int to) {
    long n = 0;
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      // Character.isDigit would accept non-ASCII digits, which no sender produces.
      if (c < '0' || c > '9') {
        return -1;
      }
      n = n * 10 + (c - '0');
    }
    return n;
  }
}
