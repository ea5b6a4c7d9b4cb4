package io.ctx4j.bench.report;

import java.util.Locale;
import org.apache.commons.math3.distribution.TDistribution;

/**
 * The report's one statistical method: a 95% confidence interval for the ratio ctx4j / peer, and the
 * win / tie / loss call it gives.
 *
 * <p>Method (Welch's interval on the log scale): the independent samples are one number per JMH fork
 * (the mean of that fork's measured iterations; iterations within one JVM are not independent, forks
 * are) and, for Go, one number per {@code go test -count} run. With {@code x} the logarithms of
 * ctx4j's samples and {@code y} the peer's, the log ratio is {@code mean(x) - mean(y)}, its standard
 * error {@code sqrt(var(x)/n + var(y)/m)}, and the interval {@code exp(log ratio ± t * se)} with
 * Student's t at Welch-Satterthwaite's degrees of freedom. The point ratio is therefore the ratio of
 * geometric means. Logs make the interval multiplicative, as ratios are, and keep it positive.
 *
 * <p>A side with a single sample is a fixed reference (zero variance): this is how Go's published
 * one-run numbers are treated, and it is labelled so in the report. ctx4j's side needs at least two
 * forks; with one (quick mode) there is no interval and no call. Verdict: win if the upper bound is
 * below 1, loss if the lower bound is above 1, tie otherwise. Stateless, thread-safe.
 */
final class Stats {
  /** Confidence level of every interval in the report. */
  static final double LEVEL = 0.95;

  /** The call on one row. */
  enum Verdict {
    WIN("win"),
    TIE("tie"),
    LOSS("loss"),
    NONE("n/a");

    final String text;

    Verdict(String text) {
      this.text = text;
    }
  }

  /** A ratio with its interval and the call it gives; {@code lo}/{@code hi} NaN without one. */
  static final class Ratio {
    final double point;
    final double lo;
    final double hi;
    final Verdict verdict;

    Ratio(double point, double lo, double hi, Verdict verdict) {
      this.point = point;
      this.lo = lo;
      this.hi = hi;
      this.verdict = verdict;
    }

    static final Ratio NONE = new Ratio(Double.NaN, Double.NaN, Double.NaN, Verdict.NONE);

    String text() {
      if (Double.isNaN(point)) {
        return "n/a";
      }
      String p = String.format(Locale.ROOT, "%.2f", point);
      return Double.isNaN(lo) ? p : p + String.format(Locale.ROOT, " [%.2f, %.2f]", lo, hi);
    }
  }

  private Stats() {}

  /**
   * The ratio {@code mine / theirs} with its interval, as the class describes.
   *
   * @param mine ctx4j's samples (positive)
   * @param theirs the peer's samples (positive); one sample = a fixed reference
   * @return the ratio; {@link Ratio#NONE} if a side is empty or holds a non-positive number
   */
  static Ratio ratio(double[] mine, double[] theirs) {
    if (mine.length == 0 || theirs.length == 0 || !positive(mine) || !positive(theirs)) {
      return Ratio.NONE;
    }
    int n = mine.length;
    int m = theirs.length;
    double mx = meanLog(mine);
    double my = meanLog(theirs);
    double point = Math.exp(mx - my);
    if (n < 2) {
      return new Ratio(point, Double.NaN, Double.NaN, Verdict.NONE);
    }
    double vx = varLog(mine, mx) / n;
    double vy = m < 2 ? 0 : varLog(theirs, my) / m;
    double se = Math.sqrt(vx + vy);
    if (se == 0) {
      // Identical samples on both sides (e.g. bytes per operation): the ratio is exact.
      return new Ratio(point, point, point, call(point, point));
    }
    double denom = vx * vx / (n - 1) + (m < 2 ? 0 : vy * vy / (m - 1));
    double df = (vx + vy) * (vx + vy) / denom;
    double t = tQuantile(df);
    double lo = Math.exp(mx - my - t * se);
    double hi = Math.exp(mx - my + t * se);
    return new Ratio(point, lo, hi, call(lo, hi));
  }

  /**
   * Half-width of the 95% t interval of the mean of {@code xs}, or NaN with fewer than 2 samples.
   *
   * @param xs the samples
   * @return the half-width, in the samples' unit
   */
  static double halfWidth(double[] xs) {
    int n = xs.length;
    if (n < 2) {
      return Double.NaN;
    }
    double mean = mean(xs);
    double ss = 0;
    for (double x : xs) {
      ss += (x - mean) * (x - mean);
    }
    return tQuantile(n - 1) * Math.sqrt(ss / (n - 1) / n);
  }

  static double mean(double[] xs) {
    double s = 0;
    for (double x : xs) {
      s += x;
    }
    return xs.length == 0 ? Double.NaN : s / xs.length;
  }

  private static Verdict call(double lo, double hi) {
    if (hi < 1) {
      return Verdict.WIN;
    }
    if (lo > 1) {
      return Verdict.LOSS;
    }
    return Verdict.TIE;
  }

  private static double tQuantile(double df) {
    return new TDistribution(null, df).inverseCumulativeProbability(0.5 + LEVEL / 2);
  }

  private static boolean positive(double[] xs) {
    for (double x : xs) {
      if (!(x > 0) || Double.isInfinite(x)) {
        return false;
      }
    }
    return true;
  }

  /**
   * The geometric mean of {@code xs}, the point the ratios are built on; NaN if {@code xs} is empty
   * or holds a non-positive number.
   *
   * @param xs the samples
   * @return the geometric mean
   */
  static double geoMean(double[] xs) {
    return xs.length == 0 || !positive(xs) ? Double.NaN : Math.exp(meanLog(xs));
  }

  private static double meanLog(double[] xs) {
    double s = 0;
    for (double x : xs) {
      s += Math.log(x);
    }
    return s / xs.length;
  }

  private static double varLog(double[] xs, double meanLog) {
    double s = 0;
    for (double x : xs) {
      double d = Math.log(x) - meanLog;
      s += d * d;
    }
    return s / (xs.length - 1);
  }
}
