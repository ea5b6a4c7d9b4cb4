package io.ctx4j.bench.report;

/**
 * One library's numbers on one row: its independent samples of time per operation in nanoseconds
 * (one per JMH fork, the mean of that fork's iterations; or one per Go {@code -count} run) and of
 * bytes allocated per operation (empty when not measured), with their means and the half-width of
 * the 95% t interval of the time's mean (NaN with one sample). Immutable.
 */
final class Cell {
  final double[] samples;
  final double[] byteSamples;
  /** Whether the numbers come from Go's own {@code go test -bench} output. */
  final boolean go;

  final double nanos;
  final double error;
  final double bytes;

  Cell(double[] samples, double[] byteSamples, boolean go) {
    this.samples = samples.clone();
    this.byteSamples = byteSamples.clone();
    this.go = go;
    this.nanos = Stats.mean(samples);
    this.error = Stats.halfWidth(samples);
    this.bytes = byteSamples.length == 0 ? Double.NaN : Stats.mean(byteSamples);
  }

  /** Number of independent samples of the time. */
  int n() {
    return samples.length;
  }
}
