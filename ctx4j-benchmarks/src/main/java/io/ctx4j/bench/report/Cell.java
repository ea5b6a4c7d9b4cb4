package io.ctx4j.bench.report;

/**
 * One measured number of one library on one row: time per operation in nanoseconds with its error
 * (half-width of the confidence interval JMH reports, or half the spread of Go's repeated runs),
 * and bytes allocated per operation (NaN when not measured). Immutable.
 */
final class Cell {
  final double nanos;
  final double error;
  final double bytes;

  Cell(double nanos, double error, double bytes) {
    this.nanos = nanos;
    this.error = error;
    this.bytes = bytes;
  }

  /**
   * The difference of two cells, for "context overhead = total minus baseline"; errors add up.
   *
   * @param baseline the cell to subtract
   * @return this minus the baseline
   */
  Cell minus(Cell baseline) {
    return new Cell(
        nanos - baseline.nanos,
        Double.isNaN(error) && Double.isNaN(baseline.error)
            ? Double.NaN
            : safe(error) + safe(baseline.error),
        Double.isNaN(bytes) || Double.isNaN(baseline.bytes) ? bytes : bytes - baseline.bytes);
  }

  private static double safe(double x) {
    return Double.isNaN(x) ? 0 : x;
  }

  /**
   * Whether this is at most {@code other} once both errors are allowed for.
   *
   * @param other the cell to compare with
   * @return true if the intervals say this is not slower
   */
  boolean notSlowerThan(Cell other) {
    return nanos - safe(error) <= other.nanos + safe(other.error);
  }
}
