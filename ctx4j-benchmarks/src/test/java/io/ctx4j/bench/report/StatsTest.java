package io.ctx4j.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.SplittableRandom;
import org.apache.commons.math3.stat.inference.TTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The report's statistics and its reading of JMH's JSON. */
@Timeout(60)
class StatsTest {

  /**
   * The interval on the log ratio excludes 1 exactly when Welch's two-sided t-test on the logs
   * (commons-math's own implementation, independent of Stats' code) rejects equality at 5%.
   */
  @Test
  void callAgreesWithWelchTestOnLogs() {
    SplittableRandom rnd = new SplittableRandom(19);
    int calls = 0;
    for (int trial = 0; trial < 2000; trial++) {
      int n = 2 + rnd.nextInt(4);
      int m = 2 + rnd.nextInt(4);
      double shift = rnd.nextDouble(-0.3, 0.3);
      double[] a = new double[n];
      double[] b = new double[m];
      for (int i = 0; i < n; i++) {
        a[i] = Math.exp(shift + rnd.nextDouble(-0.2, 0.2));
      }
      for (int i = 0; i < m; i++) {
        b[i] = Math.exp(rnd.nextDouble(-0.1, 0.1));
      }
      Stats.Ratio r = Stats.ratio(a, b);
      double p = new TTest().tTest(logs(a), logs(b));
      if (Math.abs(p - 0.05) < 1e-6) {
        continue; // on the boundary either answer is right
      }
      boolean decided = r.verdict != Stats.Verdict.TIE;
      assertEquals(p < 0.05, decided, "a=" + Arrays.toString(a) + " b=" + Arrays.toString(b) + " p=" + p);
      if (decided) {
        calls++;
        assertEquals(r.hi < 1, r.verdict == Stats.Verdict.WIN);
      }
      assertTrue(r.lo <= r.point && r.point <= r.hi);
    }
    assertTrue(calls > 100, "the random cases should include clear wins and losses: " + calls);
  }

  @Test
  void pointIsTheRatioOfGeometricMeans() {
    Stats.Ratio r = Stats.ratio(new double[] {1, 4}, new double[] {4, 16});
    assertEquals(0.25, r.point, 1e-12);
  }

  @Test
  void identicalSamplesGiveAnExactRatio() {
    Stats.Ratio r = Stats.ratio(new double[] {40, 40, 40}, new double[] {80, 80, 80});
    assertEquals(0.5, r.lo, 1e-12);
    assertEquals(0.5, r.hi, 1e-12);
    assertEquals(Stats.Verdict.WIN, r.verdict);
    assertEquals(Stats.Verdict.TIE, Stats.ratio(new double[] {8, 8}, new double[] {8, 8}).verdict);
  }

  @Test
  void oneForkOfCtx4jGivesNoCall() {
    Stats.Ratio r = Stats.ratio(new double[] {1}, new double[] {2, 2.1, 1.9});
    assertEquals(0.5, r.point, 0.01);
    assertEquals(Stats.Verdict.NONE, r.verdict);
  }

  /** A single Go run is a fixed reference: the interval is ctx4j's alone, divided by it. */
  @Test
  void singlePeerSampleIsAFixedReference() {
    double[] a = {1.0, 1.1, 0.9};
    Stats.Ratio r = Stats.ratio(a, new double[] {2});
    Stats.Ratio own = Stats.ratio(a, new double[] {1});
    assertEquals(own.lo / 2, r.lo, 1e-12);
    assertEquals(own.hi / 2, r.hi, 1e-12);
    assertEquals(Stats.Verdict.WIN, r.verdict);
  }

  @Test
  void nonPositiveSamplesGiveNoRatio() {
    assertEquals(Stats.Verdict.NONE, Stats.ratio(new double[] {1, 0}, new double[] {1, 1}).verdict);
    assertTrue(Double.isNaN(Stats.ratio(new double[0], new double[] {1}).point));
  }

  /** JMH's rawData (per fork, per iteration, in the score's unit) becomes one sample per fork, in ns. */
  @Test
  void readsOneSamplePerForkFromJmhJson() throws Exception {
    String json =
        "[{\"benchmark\":\"io.ctx4j.bench.CancelTreeLeaf.watched_grpc\",\"params\":{\"depth\":\"10\"},"
            + "\"primaryMetric\":{\"score\":2.0,\"scoreUnit\":\"us/op\",\"rawData\":[[1.0,3.0],[2.0,2.0],[4.0,6.0]]},"
            + "\"secondaryMetrics\":{\"gc.alloc.rate.norm\":{\"score\":80.0,\"scoreUnit\":\"B/op\",\"rawData\":[[80.0,80.0],[80.0,80.0],[79.0,81.0]]}}}]";
    Report.Run run = new Report.Run(new LinkedHashMap<>());
    Report.readJmh(run, new ObjectMapper().readTree(json), "test");
    Cell c = run.get("CancelTreeLeaf/Watched/depth=10", "grpc");
    assertEquals(3, c.n());
    assertEquals(2000, c.samples[0], 1e-9);
    assertEquals(2000, c.samples[1], 1e-9);
    assertEquals(5000, c.samples[2], 1e-9);
    assertEquals(80, c.bytes, 1e-9);
  }

  private static double[] logs(double[] xs) {
    return Arrays.stream(xs).map(Math::log).toArray();
  }
}
