package io.ctx4j;

/** Formats nanoseconds the way Go's {@code time.Duration.String} does, e.g. {@code 2.999823s}. */
final class GoDuration {
  private GoDuration() {}

  static String format(long nanos) {
    if (nanos == 0) {
      return "0s";
    }
    StringBuilder sb = new StringBuilder();
    if (nanos < 0) {
      sb.append('-');
      if (nanos == Long.MIN_VALUE) {
        // Its magnitude, MAX_VALUE + 1, does not fit in a long; Go prints it exactly.
        return sb.append("2562047h47m16.854775808s").toString();
      }
      nanos = -nanos;
    }
    if (nanos < 1_000) {
      return sb.append(nanos).append("ns").toString();
    }
    if (nanos < 1_000_000) {
      return fraction(sb, nanos, 1_000).append("µs").toString();
    }
    if (nanos < 1_000_000_000) {
      return fraction(sb, nanos, 1_000_000).append("ms").toString();
    }
    long seconds = nanos / 1_000_000_000L;
    long h = seconds / 3600;
    long m = (seconds / 60) % 60;
    if (h > 0) {
      sb.append(h).append('h');
    }
    if (h > 0 || m > 0) {
      sb.append(m).append('m');
    }
    long secNanos = nanos - (h * 3600 + m * 60) * 1_000_000_000L;
    return fraction(sb, secNanos, 1_000_000_000L).append('s').toString();
  }

  private static StringBuilder fraction(StringBuilder sb, long v, long unit) {
    sb.append(v / unit);
    long frac = v % unit;
    if (frac != 0) {
      String digits = Long.toString(unit + frac).substring(1);
      int end = digits.length();
      while (digits.charAt(end - 1) == '0') {
        end--;
      }
      sb.append('.').append(digits, 0, end);
    }
    return sb;
  }
}
