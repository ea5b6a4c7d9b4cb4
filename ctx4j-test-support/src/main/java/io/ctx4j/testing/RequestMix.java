package io.ctx4j.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * Many requests of a client, ending in turn each of several ways (read, closed early, cancelled,
 * refused...), timed per way: for the leak tests of the HTTP client integrations, which then check
 * that nothing is left on the long-lived context they all ran under.
 *
 * <p>Thread safety: stateless; {@link #run} runs the requests in the calling thread, one at a time.
 */
public final class RequestMix {
  private RequestMix() {}

  /** One request, ending one particular way. */
  @FunctionalInterface
  public interface Request {
    /**
     * Makes the request and checks how it ended.
     *
     * @throws Exception to fail the run
     */
    void run() throws Exception;
  }

  /** A way for a request to end: its name in the report and the request that ends so. */
  public static final class Way {
    final String name;
    final Request request;

    private Way(String name, Request request) {
      this.name = name;
      this.request = request;
    }
  }

  /**
   * A way for a request to end.
   *
   * @param name what the report calls it, e.g. {@code "closed early"}
   * @param request makes one request that ends this way
   * @return the way
   * @throws NullPointerException if an argument is null
   */
  public static Way way(String name, Request request) {
    return new Way(Objects.requireNonNull(name, "name"), Objects.requireNonNull(request, "request"));
  }

  /**
   * Makes {@code total} requests, the i-th one the way {@code ways[i % ways.length]}.
   *
   * @param total how many requests
   * @param unit what the report calls a request, plural, e.g. {@code "calls"}
   * @param ways the ways, in turn
   * @return a report: how many requests ended each way, the total time, and the mean time of each
   *     way, on several lines
   * @throws Exception the first failure of a request, which ends the run
   * @throws IllegalArgumentException if {@code ways} is empty or {@code total} is negative
   */
  public static String run(int total, String unit, Way... ways) throws Exception {
    if (ways.length == 0 || total < 0) {
      throw new IllegalArgumentException("ways: " + ways.length + ", total: " + total);
    }
    int[] counts = new int[ways.length];
    long[] nanos = new long[ways.length];
    long t0 = System.nanoTime();
    for (int i = 0; i < total; i++) {
      int way = i % ways.length;
      counts[way]++;
      long start = System.nanoTime();
      ways[way].request.run();
      nanos[way] += System.nanoTime() - start;
    }
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    StringBuilder report = new StringBuilder().append(total).append(' ').append(unit).append(" (");
    for (int w = 0; w < ways.length; w++) {
      report.append(w == 0 ? "" : ", ").append(counts[w]).append(' ').append(ways[w].name);
    }
    report.append(") in ").append(ms).append(" ms");
    for (int w = 0; w < ways.length; w++) {
      report.append(String.format("%n  way %d (%s): %.2f ms per request", w, ways[w].name,
          nanos[w] / 1e6 / Math.max(1, counts[w])));
    }
    return report.toString();
  }

  /**
   * A loopback port that was free a moment ago and is closed again: connections to it are refused
   * (unless another process takes it meanwhile, which the tests accept as unlikely).
   *
   * @return the port
   * @throws IOException if no port could be opened
   */
  public static int refusedPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
