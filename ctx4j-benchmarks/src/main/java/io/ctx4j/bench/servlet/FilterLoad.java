package io.ctx4j.bench.servlet;

import io.ctx4j.http.DeadlineHeader;
import io.ctx4j.servlet.ContextServletFilter;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.eclipse.jetty.ee11.servlet.FilterHolder;
import org.eclipse.jetty.ee11.servlet.ServletContextHandler;
import org.eclipse.jetty.ee11.servlet.ServletHolder;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.ContextHandlerCollection;
import org.eclipse.jetty.util.Jetty;

/**
 * The cost of {@link ContextServletFilter} under load (issue 18, item 5): a load client (by default
 * a minimal HTTP/1.1 client, see {@code --client}; closed loop unless {@code --rate}) with several
 * keep-alive connections
 * against embedded Jetty 12 on loopback, a trivial servlet, in three configurations served side by
 * side by one server:
 *
 * <ul>
 *   <li>{@code none}: no filter;
 *   <li>{@code filter}: the filter with {@code trustTimeoutHeaders(false)} (a cancellable request
 *       context, no deadline);
 *   <li>{@code filter+deadline}: the filter with its defaults, so the {@code Ctx4j-Timeout-Ms: 30000}
 *       header every request carries is parsed and gives the request a deadline (the requests
 *       whose deadlines fall in one window, 256 ms for this timeout, share one deadline context and
 *       its timer), ended when the response completes.
 * </ul>
 *
 * <p>Why not JMH: JMH runs one configuration after the other, each in its own fork, so a change in
 * the machine's load between them shows up as a difference between configurations. Here the
 * configurations alternate in short phases within one run, in a rotating order (round {@code r}
 * starts with configuration {@code r mod 3}), so noise hits all of them alike; the ratio of each
 * round is taken within the round, and the result is the median of the per-round ratios with a
 * percentile-bootstrap 95% interval (10,000 resamples of the rounds, fixed seed). The rounds of one
 * run share one JVM and what its JIT made of the code, so runs of the same code land about a point
 * apart; {@code --forks N} runs N JVMs one after the other and resamples them too ({@link Forks}).
 *
 * <pre>
 * java -Xms1g -Xmx1g -XX:+AlwaysPreTouch -cp ctx4j-benchmarks/target/benchmarks.jar \
 *     io.ctx4j.bench.servlet.FilterLoad [--quick] [--out DIR] [--rounds N] [--phase-ms MS]
 *     [--warmup-ms MS] [--connections N] [--server-idle-ms MS] [--client raw|jdk|jetty]
 *     [--vary-budget N] [--rate N] [--forks N] [--fork-jvm-option OPT]... [--help]
 * </pre>
 *
 * {@code --client} picks the load client: {@code raw} (the default), a minimal HTTP/1.1 client on
 * blocking sockets ({@link RawRequester}) that leaves most of the CPU to the server; {@code jdk},
 * the JDK {@link HttpClient}, which on this 2-core machine took about four times the raw client's
 * CPU per request and left the server's throughput varying by 10-27% between rounds (raw: 6-14%);
 * or {@code jetty}, Jetty's own {@link org.eclipse.jetty.client.HttpClient} ({@link
 * JettyRequester}), the other client issue 18 names.
 *
 * {@code --vary-budget N} (raw client only) sends another budget with each request, as callers that
 * propagate their deadlines do: each connection cycles through {@code 30000}, {@code 29999}, ...,
 * down to {@code 30000 - N + 1} ms, so the deadlines of the requests in flight spread over about
 * N ms (more than a propagated deadline's jitter: a harder case for the shared deadlines), in every
 * configuration alike (Jetty caches
 * a header field that repeats on a connection, and parses one that changes: that cost is the
 * server's, not the filter's, so {@code none} must pay it too).
 *
 * <p>{@code --rate N} measures the latency at a load the server keeps up with, rather than at
 * saturation. In the closed loop (the default) every connection sends its next request as soon as
 * the answer came, so the server is always saturated: its throughput is the figure, and a
 * request's latency is mostly the time it waits for a CPU behind the others, which any extra CPU
 * per request lengthens, most at the tail. In the open loop the connections send N requests per
 * second in all on a fixed schedule, whatever the answers' speed, as independent callers do; a
 * request that an earlier slow answer held up counts from when it was due, so a stall shows in
 * every request it delayed. The throughput is then the schedule's: the verdict is on the p99
 * alone, and a run in which the server fell behind the schedule (below 97% of the rate in any
 * phase) gets none.
 *
 * <p>{@code --server-idle-ms} sets the server connector's idle timeout (Jetty's default, 30 s, if
 * not given): a shorter one makes the server close keep-alive connections the client still
 * holds, to test whether a client-side race with that close loses requests.
 *
 * <p>Exits with status 1 if any request failed or got a wrong answer (each configuration answers
 * with whether the request carried a ctx4j context), 2 on bad arguments. The goal is reported,
 * never enforced: a loaded machine must not fail a build.
 */
public final class FilterLoad {
  static final String[] CONFIGS = {"none", "filter", "filter+deadline"};
  private static final String[] PATHS = {"/none/", "/filter/", "/deadline/"};
  /** The timeout every request carries, the same in every configuration, in milliseconds. */
  private static final int TIMEOUT_MILLIS = 30_000;
  /** {@link #TIMEOUT_MILLIS} as the header's value. */
  private static final String TIMEOUT_MS = Integer.toString(TIMEOUT_MILLIS);
  /** The index of {@code filter+deadline} in {@link #CONFIGS}, for tests. */
  static final int DEADLINE_CONFIG = 2;

  private FilterLoad() {}

  /**
   * The check of a number of budgets to send in turn ({@code --vary-budget}, {@link RawRequester}):
   * from 1 to {@link #TIMEOUT_MILLIS}, so that every budget is at least a millisecond.
   *
   * @return {@code budgets}
   * @throws IllegalArgumentException naming {@code what} if it is out of range
   */
  static int checkBudgets(String what, int budgets) {
    if (budgets < 1 || budgets > TIMEOUT_MILLIS) {
      throw new IllegalArgumentException(
          what + " must be 1 to " + TIMEOUT_MILLIS + ", got " + budgets);
    }
    return budgets;
  }

  /**
   * The highest {@code --rate}: a million requests per second, far above what one machine's
   * loopback serves, so that a connection's interval between requests is at least a microsecond.
   */
  static final int MAX_RATE = 1_000_000;

  /**
   * The check of an open loop's rate ({@code --rate}, {@link Driver#intervalNanos}): 1 to {@link
   * #MAX_RATE} requests per second.
   *
   * @return {@code rate}
   * @throws IllegalArgumentException naming {@code what} if it is out of range
   */
  static int checkRate(String what, int rate) {
    if (rate < 1 || rate > MAX_RATE) {
      throw new IllegalArgumentException(what + " must be 1 to " + MAX_RATE + ", got " + rate);
    }
    return rate;
  }

  /** What {@code --help} prints, and bad arguments after their message. */
  static final String USAGE = usage(new Options());

  /** The usage text, with the defaults read from {@code defaults}, so that the two cannot drift. */
  private static String usage(Options defaults) {
    return "usage: FilterLoad [--quick] [--out DIR] [--rounds N] [--phase-ms MS] [--warmup-ms MS]\n"
        + "                  [--connections N] [--server-idle-ms MS] [--client raw|jdk|jetty]\n"
        + "                  [--vary-budget N] [--rate N] [--forks N] [--fork-jvm-option OPT]...\n"
        + "                  [--help]\n"
        + "  --quick            2 rounds of 300 ms phases, 4 connections (a smoke test)\n"
        + "  --out DIR          also write DIR/results.md (and DIR/rounds.tsv, the rounds' raw figures)\n"
        + "  --rounds N         rounds of one phase per configuration (default "
        + defaults.rounds
        + ")\n"
        + "  --phase-ms MS      length of one phase (default "
        + defaults.phaseMillis
        + ")\n"
        + "  --warmup-ms MS     warm-up before the first round (default "
        + defaults.warmupMillis
        + ")\n"
        + "  --connections N    keep-alive connections, one thread each (default "
        + defaults.connections
        + ")\n"
        + "  --server-idle-ms MS  the server connector's idle timeout (default Jetty's, 30 s)\n"
        + "  --client raw|jdk|jetty  the load client (default "
        + defaults.client
        + ")\n"
        + "  --vary-budget N    raw client only: the budget changes with each request, in every\n"
        + "                     configuration,\n"
        + "                     from "
        + TIMEOUT_MS
        + " ms down to N - 1 ms less, cycling (default "
        + defaults.varyBudget
        + ":\n"
        + "                     the same budget every time)\n"
        + "  --rate N           open loop: N requests per second in all, each connection sending\n"
        + "                     on a fixed schedule, and a request's latency counted from when it\n"
        + "                     was due if an earlier answer held it up (default: closed loop, each\n"
        + "                     connection sending its next request when the answer came; the\n"
        + "                     server saturated); 1 to "
        + MAX_RATE
        + "\n"
        + "  --forks N          run N JVMs one after the other (this java, its JVM options and class\n"
        + "                     path, the other options), each writing DIR/fork-K (a temporary\n"
        + "                     folder without --out), and report on all their rounds (default "
        + defaults.forks
        + ":\n"
        + "                     this JVM only); JVM options that load an agent or name a file or\n"
        + "                     a port (JFR, -Xlog files, JMX, debuggers) stay with this JVM\n"
        + "  --fork-jvm-option OPT  a JVM option for every fork, in which {fork} stands for the\n"
        + "                     fork's number, e.g. -XX:StartFlightRecording=filename=f{fork}.jfr\n"
        + "                     (repeatable)\n"
        + "  --as-fork          set by --forks on its forks: exit when standard input closes, that\n"
        + "                     is, when the parent has ended, however it ended\n"
        + "  --report-forks DIR  run nothing: report on the runs already in DIR/fork-1, fork-2, ...\n"
        + "                     (each written by a run with --out), as --forks would; give the\n"
        + "                     options those runs had, for the report's header\n";
  }

  /** Options; the defaults are the full run's. */
  static final class Options {
    boolean help;
    boolean quick;
    int rounds = 40;
    long phaseMillis = 1_500;
    long warmupMillis = 30_000;
    int connections = 8;
    long serverIdleMillis = -1;
    String client = "raw";
    int varyBudget = 1;
    /** Requests per second in all for the open loop, or 0 for the closed loop. */
    int rate;
    int forks = 1;
    final List<String> forkJvmOptions = new ArrayList<>();
    boolean asFork;
    Path reportForks;
    Path out;

    static Options parse(String[] args) {
      Options o = new Options();
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        switch (a) {
          case "--help":
          case "-h":
            o.help = true;
            break;
          case "--quick":
            o.quick = true;
            o.rounds = 2;
            o.phaseMillis = 300;
            o.warmupMillis = 600;
            o.connections = 4;
            break;
          case "--rounds":
            o.rounds = positive(a, value(args, ++i, a));
            break;
          case "--phase-ms":
            o.phaseMillis = positive(a, value(args, ++i, a));
            break;
          case "--warmup-ms":
            o.warmupMillis = Math.max(0, positive(a, value(args, ++i, a)));
            break;
          case "--connections":
            o.connections = positive(a, value(args, ++i, a));
            break;
          case "--server-idle-ms":
            o.serverIdleMillis = positive(a, value(args, ++i, a));
            break;
          case "--client":
            o.client = value(args, ++i, a);
            if (!o.client.equals("raw") && !o.client.equals("jdk") && !o.client.equals("jetty")) {
              throw new IllegalArgumentException(
                  "--client must be raw, jdk or jetty, got \"" + o.client + "\"");
            }
            break;
          case "--vary-budget":
            o.varyBudget = checkBudgets(a, positive(a, value(args, ++i, a)));
            break;
          case "--rate":
            o.rate = checkRate(a, positive(a, value(args, ++i, a)));
            break;
          case "--out":
            o.out = Path.of(value(args, ++i, a));
            break;
          case "--forks":
            o.forks = positive(a, value(args, ++i, a));
            break;
          case "--fork-jvm-option":
            String option = value(args, ++i, a);
            if (!option.startsWith("-")) {
              throw new IllegalArgumentException(
                  "--fork-jvm-option takes a JVM option (starting with -), got \"" + option + "\"");
            }
            o.forkJvmOptions.add(option);
            break;
          case "--as-fork":
            o.asFork = true;
            break;
          case "--report-forks":
            o.reportForks = Path.of(value(args, ++i, a));
            break;
          default:
            throw new IllegalArgumentException("unknown option " + a);
        }
      }
      if (o.varyBudget > 1 && !o.client.equals("raw")) {
        throw new IllegalArgumentException(
            "--vary-budget needs --client raw (the other clients send one budget), got --client "
                + o.client);
      }
      return o;
    }

    private static String value(String[] args, int i, String option) {
      if (i >= args.length) {
        throw new IllegalArgumentException(option + " needs a value");
      }
      return args[i];
    }

    private static int positive(String option, String v) {
      try {
        int n = Integer.parseInt(v);
        if (n > 0) {
          return n;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new IllegalArgumentException(option + " must be a positive integer, got \"" + v + "\"");
    }
  }

  /** The trivial servlet: answers "1" if a ctx4j context came with the request, else "0". */
  static final class Trivial extends HttpServlet {
    private static final long serialVersionUID = 1L;
    private static final byte[] WITH = {'1'};
    private static final byte[] WITHOUT = {'0'};

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse res) throws IOException {
      byte[] body = req.getAttribute(ContextServletFilter.ATTRIBUTE) != null ? WITH : WITHOUT;
      res.setContentType("text/plain");
      res.setContentLength(1);
      res.getOutputStream().write(body);
    }
  }

  /** A growable array of latencies in nanoseconds, owned by one worker thread. */
  static final class Samples {
    long[] values = new long[1 << 12];
    int size;

    void add(long v) {
      if (size == values.length) {
        values = Arrays.copyOf(values, size * 2);
      }
      values[size++] = v;
    }
  }

  /**
   * One phase's measurements; {@code serverBytes} is what Jetty's threads allocated during it, and
   * {@code serverCpuNanos} the CPU time they took (each -1 if the JVM cannot tell).
   */
  record Phase(
      int config, long requests, long elapsedNanos, long p50, long p99, long serverBytes, long serverCpuNanos) {
    double rps() {
      return requests * 1e9 / elapsedNanos;
    }

    /** The server's CPU time per request in nanoseconds, or NaN if not measured. */
    double cpuPerRequest() {
      return serverCpuNanos < 0 ? Double.NaN : (double) serverCpuNanos / requests;
    }
  }

  /**
   * Runs the benchmark; see the class documentation.
   *
   * @param args the options
   * @throws Exception if the server cannot start or a worker fails
   */
  public static void main(String[] args) throws Exception {
    Options o;
    try {
      o = Options.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      System.err.print(USAGE);
      System.exit(2);
      return;
    }
    if (o.help) {
      System.out.print(USAGE);
      return;
    }
    if (o.asFork) {
      Forks.exitWhenClosed(System.in);
    }
    String report =
        o.reportForks != null
            ? Forks.report(o, o.reportForks)
            : o.forks > 1 ? Forks.run(o, args) : runInThisJvm(o);
    System.out.print(report);
    if (o.out != null) {
      Files.writeString(o.out.resolve("results.md"), report, StandardCharsets.UTF_8);
      System.out.println("written: " + o.out.resolve("results.md"));
    }
  }

  /** One run in this JVM; with {@code --out}, also writes its rounds for a parent of forks. */
  private static String runInThisJvm(Options o) throws Exception {
    String load0 = loadAverage();
    long start = System.nanoTime();
    Server server = startServer(o.serverIdleMillis);
    int port = ((ServerConnector) server.getConnectors()[0]).getLocalPort();
    Run result;
    try {
      result = run(o, port, load0, start);
    } catch (Exception | Error e) {
      // A request that never got an answer is a finding, not noise: say where every thread of the
      // server and of the client was when the run gave up, while the server still runs.
      System.err.print(diagnostics(server));
      throw e;
    } finally {
      server.stop();
    }
    if (o.out != null) {
      Files.createDirectories(o.out);
      Forks.writeRounds(o.out.resolve(Forks.ROUNDS), result.rounds, result.resent, o.rate);
      Forks.writePooledP99(o.out.resolve(Forks.POOLED), result.pooledP99);
    }
    return result.report;
  }

  /**
   * A run's report, its rounds, the raw client's resends (-1 if not counted), and each
   * configuration's p99 over all of the run's requests.
   */
  record Run(String report, List<Phase[]> rounds, long resent, long[] pooledP99) {}

  /**
   * Jetty's dump of the server (connectors, endpoints and their connections' states) and a dump of
   * every thread of this JVM with the locks it holds: the server and the load client run in it.
   */
  static String diagnostics(Server server) {
    StringBuilder sb = new StringBuilder("== diagnostics: Jetty server dump\n");
    try {
      sb.append(server.dump());
    } catch (RuntimeException e) {
      sb.append("(server dump failed: ").append(e).append(")\n");
    }
    sb.append("\n== diagnostics: threads\n");
    for (java.lang.management.ThreadInfo t :
        java.lang.management.ManagementFactory.getThreadMXBean().dumpAllThreads(true, true)) {
      sb.append('"').append(t.getThreadName()).append("\" ").append(t.getThreadState());
      if (t.getLockName() != null) {
        sb.append(" on ").append(t.getLockName());
      }
      sb.append('\n');
      for (StackTraceElement e : t.getStackTrace()) {
        sb.append("    at ").append(e).append('\n');
      }
    }
    return sb.toString();
  }

  static Server startServer(long idleMillis) throws Exception {
    Server server = new Server();
    ServerConnector connector = new ServerConnector(server, 1, 1, new HttpConnectionFactory());
    connector.setHost("127.0.0.1");
    if (idleMillis > 0) {
      connector.setIdleTimeout(idleMillis);
    }
    connector.setPort(0);
    server.addConnector(connector);
    ContextHandlerCollection contexts = new ContextHandlerCollection();
    contexts.addHandler(context("/none", null));
    contexts.addHandler(
        context("/filter", ContextServletFilter.builder().trustTimeoutHeaders(false).build()));
    contexts.addHandler(context("/deadline", ContextServletFilter.create()));
    server.setHandler(contexts);
    server.start();
    return server;
  }

  private static ServletContextHandler context(String path, ContextServletFilter filter) {
    ServletContextHandler handler = new ServletContextHandler(path);
    ServletHolder servlet = new ServletHolder(new Trivial());
    servlet.setAsyncSupported(true);
    handler.addServlet(servlet, "/*");
    if (filter != null) {
      FilterHolder holder = new FilterHolder(filter);
      holder.setAsyncSupported(true);
      handler.addFilter(holder, "/*", EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC));
    }
    return handler;
  }

  private static Run run(Options o, int port, String load0, long start) throws Exception {
    java.util.concurrent.atomic.AtomicLong resent = new java.util.concurrent.atomic.AtomicLong();
    org.eclipse.jetty.client.HttpClient jetty = null;
    Driver driver;
    switch (o.client) {
      case "raw":
        driver = new Driver(w -> new RawRequester(port, resent, 30_000, o.varyBudget), o.connections);
        break;
      case "jetty":
        jetty = JettyRequester.startClient(o.connections);
        org.eclipse.jetty.client.HttpClient shared = jetty;
        driver = new Driver(w -> new JettyRequester(shared, port), o.connections);
        break;
      default:
        driver = new Driver(jdkClient(), jdkRequests(port), o.connections);
    }
    try {
      if (o.rate > 0) {
        driver.openLoop(o.rate);
      }
      // Warm-up: every configuration in turn, short phases, nothing recorded.
      long warmEnd = System.nanoTime() + o.warmupMillis * 1_000_000L;
      for (int i = 0; System.nanoTime() < warmEnd || i < CONFIGS.length; i++) {
        driver.phase(i % CONFIGS.length, Math.min(o.phaseMillis, 500));
      }
      driver.resetPooled();
      List<Phase[]> rounds = new ArrayList<>();
      for (int r = 0; r < o.rounds; r++) {
        Phase[] round = new Phase[CONFIGS.length];
        for (int k = 0; k < CONFIGS.length; k++) {
          int c = (r + k) % CONFIGS.length;
          round[c] = driver.phase(c, o.phaseMillis);
        }
        rounds.add(round);
      }
      long resends = o.client.equals("raw") ? resent.get() : -1;
      long[] pooledP99 = new long[CONFIGS.length];
      for (int c = 0; c < CONFIGS.length; c++) {
        Samples s = driver.pooled()[c];
        long[] all = Arrays.copyOf(s.values, s.size);
        Arrays.sort(all);
        pooledP99[c] = percentile(all, 0.99);
      }
      return new Run(
          Report.markdown(o, List.of(rounds), driver.pooled(), null, load0, loadAverage(), start, resends),
          rounds,
          resends,
          pooledP99);
    } finally {
      driver.close();
      if (jetty != null) {
        jetty.stop();
      }
    }
  }

  private static HttpClient jdkClient() {
    return HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(10))
        .build();
  }

  private static HttpRequest[] jdkRequests(int port) {
    HttpRequest[] requests = new HttpRequest[CONFIGS.length];
    for (int c = 0; c < CONFIGS.length; c++) {
      requests[c] =
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + PATHS[c]))
              .header(DeadlineHeader.NAME, TIMEOUT_MS)
              .timeout(Duration.ofSeconds(30))
              .GET()
              .build();
    }
    return requests;
  }

  /** The answer a configuration's servlet gives: whether a ctx4j context came with the request. */
  static byte expected(int config) {
    return (byte) (config == 0 ? '0' : '1');
  }

  /**
   * One worker's client: sends one request of a configuration, waits for the answer and checks it.
   * Used by one thread only.
   */
  interface Requester extends AutoCloseable {
    /**
     * Sends one request of configuration {@code config} and checks the answer.
     *
     * @throws Exception if the request fails, times out (30 s) or gets a wrong answer
     */
    void call(int config) throws Exception;

    @Override
    void close();
  }

  /** Through a JDK {@link HttpClient} shared by all workers. */
  static final class JdkRequester implements Requester {
    private final HttpClient client;
    private final HttpRequest[] requests;

    JdkRequester(HttpClient client, HttpRequest[] requests) {
      this.client = client;
      this.requests = requests;
    }

    @Override
    public void call(int config) throws Exception {
      HttpRequest request = requests[config];
      HttpResponse<byte[]> res = client.send(request, HttpResponse.BodyHandlers.ofByteArray());
      byte[] body = res.body();
      if (res.statusCode() != 200 || body.length != 1 || body[0] != expected(config)) {
        throw new IllegalStateException(
            "wrong answer from " + request.uri() + ": " + res.statusCode() + " "
                + new String(body, StandardCharsets.UTF_8));
      }
    }

    @Override
    public void close() {
      // the client is shared; its connections go with it
    }
  }

  /**
   * Through Jetty's {@link org.eclipse.jetty.client.HttpClient}, shared by all workers; each worker
   * blocks in {@code send()}, so each holds one of the client's pooled keep-alive connections.
   */
  static final class JettyRequester implements Requester {
    private static final org.eclipse.jetty.http.HttpField TIMEOUT =
        new org.eclipse.jetty.http.HttpField(DeadlineHeader.NAME, TIMEOUT_MS);

    private final org.eclipse.jetty.client.HttpClient client;
    private final String[] uris = new String[CONFIGS.length];

    JettyRequester(org.eclipse.jetty.client.HttpClient client, int port) {
      this.client = client;
      for (int c = 0; c < CONFIGS.length; c++) {
        uris[c] = "http://127.0.0.1:" + port + PATHS[c];
      }
    }

    /**
     * Starts a client for {@code connections} workers, its threads named {@code jetty-client-*}
     * (FilterLoad counts the server's allocation by the {@code qtp} prefix of Jetty's server
     * threads; these must not match it).
     */
    static org.eclipse.jetty.client.HttpClient startClient(int connections) throws Exception {
      org.eclipse.jetty.client.HttpClient c = new org.eclipse.jetty.client.HttpClient();
      org.eclipse.jetty.util.thread.QueuedThreadPool pool =
          new org.eclipse.jetty.util.thread.QueuedThreadPool();
      pool.setName("jetty-client");
      c.setExecutor(pool);
      c.setMaxConnectionsPerDestination(Math.max(connections, 1));
      c.setConnectTimeout(10_000);
      c.start();
      return c;
    }

    @Override
    public void call(int config) throws Exception {
      String uri = uris[config];
      org.eclipse.jetty.client.ContentResponse res =
          client
              .newRequest(uri)
              .headers(h -> h.put(TIMEOUT))
              .timeout(30, java.util.concurrent.TimeUnit.SECONDS)
              .send();
      byte[] body = res.getContent();
      if (res.getStatus() != 200 || body.length != 1 || body[0] != expected(config)) {
        throw new IllegalStateException(
            "wrong answer from " + uri + ": " + res.getStatus() + " "
                + new String(body, StandardCharsets.UTF_8));
      }
    }

    @Override
    public void close() {
      // the client is shared; whoever started it stops it, and its connections with it
    }
  }

  /**
   * A minimal HTTP/1.1 client on one blocking keep-alive socket, in the manner of {@code wrk}: the
   * request's bytes are encoded once, the answer is read into one reused buffer, and only its status,
   * {@code Content-Length} and 1-byte body are looked at. It spends a small fraction of the CPU the
   * JDK client spends per request, so that on a small machine the server, not the client, sets the
   * pace, and the filter's cost is a larger and steadier part of what is measured.
   *
   * <p>A kept-alive connection the server closed while idle (its idle timeout) ends, or is reset,
   * before the answer's first byte: then the GET is sent once more on a new connection, as HTTP
   * clients do for idempotent requests. Anything else fails the request, a 30 s wait for an answer
   * included.
   */
  static final class RawRequester implements Requester {
    private final int port;
    /** Per configuration, its requests, one per budget (one unless budgets vary). */
    private final byte[][][] requests = new byte[CONFIGS.length][][];
    private final byte[] buf = new byte[4096];
    private final int timeoutMillis;
    private volatile java.net.Socket socket; // closed by Driver.close() from another thread
    private java.io.InputStream in;
    private java.io.OutputStream out;

    RawRequester(int port) {
      this(port, new java.util.concurrent.atomic.AtomicLong());
    }

    /** A requester that counts its resends in {@code resent}, which several may share. */
    RawRequester(int port, java.util.concurrent.atomic.AtomicLong resent) {
      this(port, resent, 30_000);
    }

    /**
     * A requester that gives up on an answer after {@code timeoutMillis} without a byte (the read
     * fails with a {@link java.net.SocketTimeoutException}, which is never retried).
     */
    RawRequester(int port, java.util.concurrent.atomic.AtomicLong resent, int timeoutMillis) {
      this(port, resent, timeoutMillis, 1);
    }

    /**
     * A requester whose requests carry {@code budgets} budgets in turn: {@link #TIMEOUT_MS}, one
     * millisecond less, and so on; each configuration's requests cycle on their own.
     */
    RawRequester(
        int port, java.util.concurrent.atomic.AtomicLong resent, int timeoutMillis, int budgets) {
      if (timeoutMillis <= 0) {
        throw new IllegalArgumentException("timeoutMillis must be positive: " + timeoutMillis);
      }
      checkBudgets("budgets", budgets);
      this.port = port;
      this.resent = resent;
      this.timeoutMillis = timeoutMillis;
      for (int c = 0; c < CONFIGS.length; c++) {
        requests[c] = new byte[budgets][];
        for (int k = 0; k < budgets; k++) {
          requests[c][k] = encode(c, port, TIMEOUT_MILLIS - k);
        }
      }
    }

    private static byte[] encode(int config, int port, int budgetMillis) {
      return ("GET " + PATHS[config] + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\n"
              + DeadlineHeader.NAME + ": " + budgetMillis + "\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII);
    }

    /** Per configuration, the next request's index in {@link #requests}. */
    private final int[] next = new int[CONFIGS.length];

    private static final java.util.regex.Pattern CONNECTION_CLOSE =
        java.util.regex.Pattern.compile(
            "\r\nconnection:[ \t]*close", java.util.regex.Pattern.CASE_INSENSITIVE);

    /** How many GETs were sent again on a new connection (reported with the results). */
    final java.util.concurrent.atomic.AtomicLong resent;

    @Override
    public void call(int config) throws IOException {
      try {
        exchange(config);
      } catch (IOException | RuntimeException e) {
        close(); // unread bytes of this answer must not be taken for the next one's
        throw e;
      }
    }

    private void exchange(int config) throws IOException {
      int n = -1;
      if (socket != null) {
        try {
          n = send(config);
        } catch (java.net.SocketTimeoutException noAnswer) {
          throw noAnswer; // a lost request is a finding: never hidden by a retry
        } catch (IOException closedWhileIdle) {
          if (filled > 0) {
            throw closedWhileIdle; // part of an answer came: not an idle close
          }
          // reset by the server, which had closed the connection: as -1 below
        }
        if (n < 0) {
          resent.incrementAndGet();
        }
      }
      if (n < 0) { // new, or closed by the server while idle: the GET (idempotent) on a new one
        close();
        open();
        n = send(config);
        if (n < 0) {
          throw new java.io.EOFException("connection closed before an answer from " + PATHS[config]);
        }
      }
      String head = new String(buf, 0, n, StandardCharsets.US_ASCII);
      int length = contentLength(head);
      if (!head.startsWith("HTTP/1.1 200 ") || length != 1) {
        throw wrongAnswer(config); // before the body is read: a longer one would not fit buf
      }
      boolean close = CONNECTION_CLOSE.matcher(head).find();
      int have = filled - n;
      while (have < length) { // the body, if it did not come with the head
        int r = in.read(buf, filled, length - have);
        if (r < 0) {
          throw new java.io.EOFException("connection closed in the body from " + PATHS[config]);
        }
        filled += r;
        have += r;
      }
      if (have != 1 || buf[n] != expected(config)) {
        throw wrongAnswer(config);
      }
      filled = 0;
      if (close) {
        close();
      }
    }

    /** What came back, as far as it was read, for the phase's failure. */
    private IllegalStateException wrongAnswer(int config) {
      return new IllegalStateException(
          "wrong answer from " + PATHS[config] + ": "
              + new String(buf, 0, filled, StandardCharsets.US_ASCII));
    }

    /** Sends a request; returns the answer's head length, or -1 if the connection ended first. */
    private int send(int config) throws IOException {
      byte[][] mine = requests[config];
      int k = next[config];
      out.write(mine[k]);
      next[config] = k + 1 == mine.length ? 0 : k + 1;
      out.flush();
      return readHead();
    }

    /** Bytes of {@link #buf} read so far for the current answer. */
    private int filled;

    /**
     * Reads until the end of the answer's head; returns the head's length (body bytes may follow
     * it in {@link #buf}), or -1 if the connection ended before any byte came.
     */
    private int readHead() throws IOException {
      filled = 0;
      while (true) {
        int r = in.read(buf, filled, buf.length - filled);
        if (r < 0) {
          if (filled == 0) {
            return -1;
          }
          throw new java.io.EOFException("connection closed in an answer's head");
        }
        int from = Math.max(0, filled - 3);
        filled += r;
        for (int i = from; i + 3 < filled; i++) {
          if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            return i + 4;
          }
        }
        if (filled == buf.length) {
          throw new IOException("an answer's head longer than " + buf.length + " bytes");
        }
      }
    }

    private static int contentLength(String head) {
      String lower = head.toLowerCase(Locale.ROOT);
      int at = lower.indexOf("\r\ncontent-length:");
      if (at < 0) {
        throw new IllegalStateException("an answer without Content-Length: " + head);
      }
      int from = at + "\r\ncontent-length:".length();
      int end = lower.indexOf('\r', from);
      return Integer.parseInt(lower.substring(from, end).trim());
    }

    private void open() throws IOException {
      java.net.Socket s = new java.net.Socket();
      s.setTcpNoDelay(true);
      s.setSoTimeout(timeoutMillis);
      s.connect(new java.net.InetSocketAddress("127.0.0.1", port), 10_000);
      socket = s;
      in = s.getInputStream();
      out = s.getOutputStream();
    }

    @Override
    public void close() {
      // Also called by Driver.close() while the worker may be in call(): read the field once.
      java.net.Socket s = socket;
      if (s != null) {
        try {
          s.close(); // ends a read blocked on it
        } catch (IOException ignored) {
          // closing a socket we no longer use: nothing to do
        }
        socket = null;
      }
    }
  }

  /**
   * The load workers: one thread per connection, started and stopped per phase. In the closed loop
   * (the default) each sends its next request as soon as an answer came, which keeps the server
   * saturated; then a request's latency is its own round trip, and a slow answer delays the
   * requests behind it without showing in their latencies. In the open loop ({@link #openLoop})
   * each sends on a fixed schedule, so the offered load does not depend on how fast the server
   * answers, and a request that an earlier slow answer held up counts from when it was due.
   */
  static final class Driver implements AutoCloseable {
    private final Requester[] requesters;
    private final int workers;
    private final CyclicBarrier startLine;
    private final CyclicBarrier finishLine;
    private final Samples[] perWorker;
    private final long[] finishedAt;
    private final Samples[] pooled;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final Thread[] threads;
    private volatile int config;
    private volatile long phaseBegin;
    private volatile long phaseEnd;
    /** Nanoseconds between two requests of one worker in the open loop; 0 for the closed loop. */
    private volatile long interval;
    private volatile boolean closing;

    /** Workers that share {@code client}, sending {@code requests[c]} in configuration {@code c}. */
    Driver(HttpClient client, HttpRequest[] requests, int workers) {
      this(w -> new JdkRequester(client, requests), workers);
    }

    /** Workers with a requester each, from {@code requester} (called with the worker's index). */
    Driver(java.util.function.IntFunction<Requester> requester, int workers) {
      this.workers = workers;
      this.requesters = new Requester[workers];
      for (int w = 0; w < workers; w++) {
        requesters[w] = requester.apply(w);
      }
      this.startLine = new CyclicBarrier(workers + 1);
      this.finishLine = new CyclicBarrier(workers + 1);
      this.perWorker = new Samples[workers];
      this.finishedAt = new long[workers];
      this.pooled = new Samples[CONFIGS.length];
      for (int c = 0; c < CONFIGS.length; c++) {
        pooled[c] = new Samples();
      }
      this.threads = new Thread[workers];
      for (int w = 0; w < workers; w++) {
        perWorker[w] = new Samples();
        int id = w;
        threads[w] = new Thread(() -> work(id), "load-" + w);
        threads[w].setDaemon(true);
        threads[w].start();
      }
    }

    private void work(int id) {
      Samples samples = perWorker[id];
      while (true) {
        try {
          startLine.await();
        } catch (InterruptedException | BrokenBarrierException e) {
          return; // closed
        }
        if (closing) {
          return;
        }
        int c = config;
        Requester requester = requesters[id];
        long end = phaseEnd;
        long every = interval;
        long t = System.nanoTime();
        try {
          if (every == 0) {
            while (t < end) {
              requester.call(c);
              long done = System.nanoTime();
              samples.add(done - t);
              t = done;
            }
          } else {
            t = openLoop(id, c, requester, samples, every, end);
          }
        } catch (Throwable e) {
          // Still meet at the finish line, where phase() reports the failure (an Error too: a
          // worker that dies without arriving would hang phase()). Breaking the barriers instead
          // lost the failure, and hung phase(), when it came before phase() reached the finish
          // line: a reset with nobody waiting breaks nothing.
          String where = "worker " + id + " in a " + CONFIGS[c] + " phase";
          failure.compareAndSet(null, new IllegalStateException(where, e));
        }
        finishedAt[id] = t;
        try {
          finishLine.await();
        } catch (InterruptedException | BrokenBarrierException e) {
          return; // closed
        }
      }
    }

    /**
     * One worker's phase in the open loop: its k-th request is due at the phase's start plus {@code
     * (k + id / workers) * every}, so the workers' requests are spread evenly over the interval.
     * A request sent after waiting for its time counts from when it was sent: how late this
     * thread woke up is the client's delay, not the server's. A request that was already due when
     * the previous answer came counts from when it was due, or from when the previous request counts
     * if that is later (a late wake-up of this thread for that one, again not the server's): the
     * time it waited behind that answer is the server's, and is what a closed loop leaves out
     * (coordinated omission).
     *
     * @return when the last answer came
     */
    private long openLoop(int id, int c, Requester requester, Samples samples, long every, long end)
        throws Exception {
      long begin = phaseBegin;
      long due = begin + every * id / workers;
      // A server that cannot keep up would otherwise stretch the phase until every request due in
      // it was answered, and the samples with it. A phase stopped here has sent fewer requests
      // than were due, over a longer time: its throughput shows it fell behind.
      long giveUp = end + (end - begin) / OVERRUN;
      long t = System.nanoTime();
      boolean waited = true; // the first request: any lateness is this thread's start
      long from = 0;
      while (due < end && !closing) {
        long now = System.nanoTime();
        if (now >= giveUp) {
          break;
        }
        if (now < due) {
          waited = true;
          java.util.concurrent.locks.LockSupport.parkNanos(due - now); // may return early
          continue;
        }
        from = countFrom(waited, now, due, from);
        requester.call(c);
        t = System.nanoTime();
        samples.add(t - from);
        due += every;
        waited = false;
      }
      return t;
    }

    /**
     * An open-loop phase stops sending once it has run over its length by a tenth of it (the
     * requests due in it not all sent: the server fell behind).
     */
    static final int OVERRUN = 10;

    /**
     * When an open-loop request's latency starts (see {@link #openLoop(int, int, Requester, Samples,
     * long, long)}).
     *
     * @param waited whether the worker waited for this request's time (then it starts now)
     * @param now when the worker is about to send it
     * @param due when it was due
     * @param previous when the worker's previous request's latency started
     */
    static long countFrom(boolean waited, long now, long due, long previous) {
      return waited ? now : Math.max(due, previous);
    }

    /**
     * Switches to the open loop from the next phase on: {@code rate} requests per second in all,
     * spread evenly over the workers.
     *
     * @throws IllegalArgumentException if {@code rate} is not 1 to {@link #MAX_RATE}
     */
    void openLoop(int rate) {
      interval = intervalNanos(workers, rate);
    }

    /**
     * The time between two requests of one of {@code workers} workers that send {@code rate}
     * requests per second in all.
     *
     * @throws IllegalArgumentException if {@code rate} is not 1 to {@link #MAX_RATE}
     */
    static long intervalNanos(int workers, int rate) {
      return Math.round(workers * 1e9 / checkRate("rate", rate));
    }

    /** Runs one phase of {@code c} for about {@code millis} and returns what it measured. */
    Phase phase(int c, long millis) throws Exception {
      for (Samples s : perWorker) {
        s.size = 0;
      }
      config = c;
      // The workers wait at the start line, so the server is idle while its threads are read.
      java.util.Map<Long, Long> bytes0 = serverAllocatedBytes();
      java.util.Map<Long, Long> cpu0 = serverCpuNanos();
      long begin = System.nanoTime();
      phaseBegin = begin;
      phaseEnd = begin + millis * 1_000_000L;
      startLine.await();
      finishLine.await();
      Throwable f = failure.get();
      if (f != null) {
        throw new IllegalStateException("a load worker failed: " + f, f);
      }
      java.util.Map<Long, Long> cpu1 = serverCpuNanos();
      java.util.Map<Long, Long> bytes1 = serverAllocatedBytes();
      long last = begin;
      int n = 0;
      for (int w = 0; w < workers; w++) {
        last = Math.max(last, finishedAt[w]);
        n += perWorker[w].size;
      }
      long[] all = new long[n];
      int i = 0;
      for (Samples s : perWorker) {
        System.arraycopy(s.values, 0, all, i, s.size);
        i += s.size;
      }
      Arrays.sort(all);
      for (long v : all) {
        pooled[c].add(v);
      }
      if (n == 0) {
        throw new IllegalStateException("no request completed in a phase of " + CONFIGS[c]);
      }
      return new Phase(c, n, last - begin, percentile(all, 0.50), percentile(all, 0.99),
          perThreadBetween(bytes0, bytes1), perThreadBetween(cpu0, cpu1));
    }

    /** Every latency recorded per configuration since the warm-up, for the pooled percentiles. */
    Samples[] pooled() {
      return pooled;
    }

    void resetPooled() {
      for (Samples s : pooled) {
        s.size = 0;
      }
    }

    /** How many worker threads are still running (none once {@link #close} has returned). */
    int workersAlive() {
      int n = 0;
      for (Thread t : threads) {
        n += t.isAlive() ? 1 : 0;
      }
      return n;
    }

    /**
     * Ends every worker, waiting up to 5 s in all. Throws nothing, as an {@code AutoCloseable} in a
     * try-with-resources should: an interrupt stops the wait and is kept in the thread's status.
     */
    @Override
    public void close() {
      closing = true;
      // First, so that a worker still waiting for an answer (a phase that was interrupted) gets an
      // exception now rather than at its read timeout; it then meets a broken finish line.
      for (Requester r : requesters) {
        r.close();
      }
      // A worker between the finish line and the start line would miss a single reset and wait on
      // the barrier's next generation, so break both again until every worker has gone (or 5 s).
      long giveUp = System.nanoTime() + 5_000_000_000L;
      for (Thread t : threads) {
        while (t.isAlive() && System.nanoTime() < giveUp) {
          startLine.reset();
          finishLine.reset();
          java.util.concurrent.locks.LockSupport.unpark(t); // an open-loop worker waiting its time
          try {
            t.join(10);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
          }
        }
      }
    }
  }

  /**
   * Returns the bytes allocated so far by each of the server's threads (Jetty's pool, named {@code
   * qtp...}: acceptor, selector and request threads), by thread id, or null if the JVM does not
   * measure it.
   */
  static java.util.Map<Long, Long> serverAllocatedBytes() {
    return serverThreads(true);
  }

  /**
   * Returns the CPU time so far, in nanoseconds, of each of the server's threads (as {@link
   * #serverAllocatedBytes}), or null if the JVM does not measure it. Over a phase it is the server's
   * own work, without the client's, which shares this machine's CPUs: on a server whose clients run
   * elsewhere, the filter's share of it is what the filter takes from a CPU-bound throughput.
   */
  static java.util.Map<Long, Long> serverCpuNanos() {
    return serverThreads(false);
  }

  private static java.util.Map<Long, Long> serverThreads(boolean allocation) {
    java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
    if (!(mx instanceof com.sun.management.ThreadMXBean)) {
      return null;
    }
    com.sun.management.ThreadMXBean sun = (com.sun.management.ThreadMXBean) mx;
    if (allocation
        ? !sun.isThreadAllocatedMemorySupported() || !sun.isThreadAllocatedMemoryEnabled()
        : !sun.isThreadCpuTimeSupported() || !sun.isThreadCpuTimeEnabled()) {
      return null;
    }
    java.util.Map<Long, Long> values = new java.util.HashMap<>();
    for (java.lang.management.ThreadInfo info : sun.getThreadInfo(sun.getAllThreadIds())) {
      if (info != null && info.getThreadName().startsWith("qtp")) {
        long id = info.getThreadId();
        long v = allocation ? sun.getThreadAllocatedBytes(id) : sun.getThreadCpuTime(id);
        if (v > 0) {
          values.put(id, v);
        }
      }
    }
    return values;
  }

  /**
   * What the server's threads allocated (bytes) or took (CPU nanoseconds) between two readings, or
   * -1 if either is missing. Counted per thread: a pool thread that ends between the readings drops
   * out of the second one, and a plain difference of sums then came out negative (seen as "n/a" in
   * a 40-round run); its share of the phase is lost instead, an undercount of one idle thread's
   * share. A thread started in between counts from zero.
   */
  static long perThreadBetween(java.util.Map<Long, Long> before, java.util.Map<Long, Long> after) {
    if (before == null || after == null) {
      return -1;
    }
    long total = 0;
    for (java.util.Map.Entry<Long, Long> e : after.entrySet()) {
      total += e.getValue() - before.getOrDefault(e.getKey(), 0L);
    }
    return total;
  }

  /** The nearest-rank percentile of sorted values. */
  static long percentile(long[] sorted, double q) {
    int rank = (int) Math.ceil(q * sorted.length);
    return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
  }

  static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split(" ");
      return f.length >= 3 ? f[0] + " " + f[1] + " " + f[2] : "unknown";
    } catch (IOException | UncheckedIOException e) {
      return "unknown";
    }
  }

  /**
   * {@code --forks N}: the run repeated in N JVMs, one after the other, and one report over them.
   *
   * <p>Why: the rounds of one JVM share what its JIT compiled, so the spread between the rounds of
   * one run understates how far another run of the same code lands (about a point of throughput on
   * this machine, against bootstrap intervals of half that). Several JVMs sample that spread too,
   * as JMH's forks do, and the report's intervals resample the JVMs as well as their rounds.
   */
  static final class Forks {
    /** The file, next to {@code results.md}, that holds a run's rounds for the parent to read. */
    static final String ROUNDS = "rounds.tsv";

    /** The file, next to {@code rounds.tsv}, with each configuration's p99 over all requests. */
    static final String POOLED = "pooled-p99.tsv";

    private static final String POOLED_HEADER = "config\tp99_ns";

    private static final String HEADER =
        "round\tconfig\trequests\telapsed_ns\tp50_ns\tp99_ns\tserver_bytes\tserver_cpu_ns";
    /** The header before the server's CPU time was measured; such a file reads as -1 for it. */
    private static final String HEADER_WITHOUT_CPU =
        "round\tconfig\trequests\telapsed_ns\tp50_ns\tp99_ns\tserver_bytes";

    private Forks() {}

    static String run(Options o, String[] args) throws IOException, InterruptedException {
      String load0 = loadAverage();
      long start = System.nanoTime();
      Path base = o.out != null ? o.out : Files.createTempDirectory("filterload-forks");
      Files.createDirectories(base);
      List<String> jvmOptions = java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments();
      List<String> kept = jvmOptions.stream().filter(j -> !perJvm(j)).collect(Collectors.toList());
      if (kept.size() < jvmOptions.size()) {
        List<String> left = new ArrayList<>(jvmOptions);
        left.removeAll(kept);
        System.out.println("JVM options kept by this JVM, not given to the forks (use --fork-jvm-option): " + left);
      }
      for (int k = 1; k <= o.forks; k++) {
        Path dir = base.resolve("fork-" + k);
        Files.createDirectories(dir);
        List<String> cmd = command(args, kept, o.forkJvmOptions, k);
        cmd.add("--out");
        cmd.add(dir.toString());
        Path log = dir.resolve("output.txt");
        System.out.println("fork " + k + " of " + o.forks + ", output in " + log);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        forkEnvironment(pb.environment());
        // Standard input stays a pipe from this JVM that nothing writes to: the fork (--as-fork)
        // exits when it closes, which the kernel does when this JVM ends, even by SIGKILL.
        Process p = pb.start();
        // A fork outlives neither this JVM (killed, or ended by a signal) nor an interrupted wait.
        Thread reaper = new Thread(p::destroyForcibly, "filterload-fork-reaper");
        Runtime.getRuntime().addShutdownHook(reaper);
        int status;
        try {
          status = p.waitFor();
        } finally {
          p.destroyForcibly();
          try {
            Runtime.getRuntime().removeShutdownHook(reaper);
          } catch (IllegalStateException shuttingDown) {
            // The hook is running or about to: it does the same.
          }
        }
        if (status != 0) {
          System.err.print(Files.readString(log, StandardCharsets.UTF_8));
          throw new IllegalStateException(
              "fork " + k + " exited with status " + status + " (its output is above and in " + log + ")");
        }
      }
      return reportOn(o, base, o.forks, load0, loadAverage(), start);
    }

    /**
     * {@code --report-forks DIR}: the report of {@link #run} on runs already made, each in {@code
     * DIR/fork-K} from K = 1 on (a script that alternates two builds' runs, one JVM at a time, then
     * reports on each build's).
     */
    static String report(Options o, Path base) throws IOException {
      int count = 0;
      while (Files.isDirectory(base.resolve("fork-" + (count + 1)))) {
        count++;
      }
      if (count == 0) {
        throw new IOException(base.resolve("fork-1") + " is not a folder: no runs to report on");
      }
      String load = "not measured (a report on earlier runs)";
      return reportOn(o, base, count, load, load, System.nanoTime());
    }

    /** The report on the runs in {@code base/fork-1} to {@code base/fork-<count>}. */
    private static String reportOn(Options o, Path base, int count, String load0, String load1, long start)
        throws IOException {
      List<List<Phase[]>> forks = new ArrayList<>();
      List<long[]> pooledP99 = new ArrayList<>();
      long resent = o.client.equals("raw") ? 0 : -1;
      for (int k = 1; k <= count; k++) {
        Path dir = base.resolve("fork-" + k);
        long[] forkResent = {0, 0};
        forks.add(readRounds(dir.resolve(ROUNDS), forkResent));
        if (forkResent[1] != o.rate) {
          // The verdict differs between the loops: judging a run as the other would mislead.
          throw new IOException(dir + " ran " + loop(forkResent[1]) + ", the report is for "
              + loop(o.rate) + ": give the options the runs had");
        }
        pooledP99.add(readPooledP99(dir.resolve(POOLED)));
        resent = resent < 0 ? -1 : resent + forkResent[0];
      }
      return Report.markdown(o, forks, null, pooledP99, load0, load1, start, resent);
    }

    private static String loop(long rate) {
      return rate == 0 ? "the closed loop" : "--rate " + rate;
    }

    /**
     * The command of fork number {@code fork}: this JVM's launcher, the JVM options {@code
     * jvmOptions} (this JVM's, less the {@link #perJvm} ones), {@code forkJvmOptions} with {@code
     * {fork}} replaced, this JVM's class path, then the options given without {@code --forks},
     * {@code --fork-jvm-option} and {@code --out} (each fork gets its own {@code --out}), and
     * {@code --as-fork}.
     */
    static List<String> command(String[] args, List<String> jvmOptions, List<String> forkJvmOptions, int fork) {
      List<String> cmd = new ArrayList<>();
      cmd.add(
          ProcessHandle.current()
              .info()
              .command()
              .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
      cmd.addAll(jvmOptions);
      for (String option : forkJvmOptions) {
        cmd.add(option.replace("{fork}", Integer.toString(fork)));
      }
      cmd.add("-cp");
      cmd.add(System.getProperty("java.class.path"));
      cmd.add(FilterLoad.class.getName());
      cmd.addAll(childArgs(args));
      cmd.add("--as-fork");
      return cmd;
    }

    /** {@code args} without {@code --forks N}, {@code --fork-jvm-option OPT} and {@code --out DIR}. */
    static List<String> childArgs(String[] args) {
      List<String> out = new ArrayList<>();
      for (int i = 0; i < args.length; i++) {
        if (args[i].equals("--forks") || args[i].equals("--out") || args[i].equals("--fork-jvm-option")) {
          i++;
        } else {
          out.add(args[i]);
        }
      }
      return out;
    }

    /**
     * Whether a JVM option belongs to this JVM alone: an agent (a profiler, a debugger's port), a
     * flight recording, a log, heap dump or error file, or JMX's port. Given to every fork, each
     * would write over the same file or fail to take the port this JVM already holds.
     */
    static boolean perJvm(String option) {
      return option.startsWith("-agentlib:")
          || option.startsWith("-agentpath:")
          || option.startsWith("-javaagent:")
          || option.startsWith("-Xrunjdwp")
          || option.startsWith("-Xdebug")
          || option.startsWith("-XX:StartFlightRecording")
          || option.startsWith("-XX:FlightRecorderOptions")
          || option.startsWith("-Xloggc:")
          || (option.startsWith("-Xlog") && option.contains("file="))
          || option.startsWith("-XX:HeapDumpPath")
          || option.startsWith("-XX:ErrorFile")
          || option.startsWith("-XX:LogFile")
          || option.startsWith("-Dcom.sun.management.jmxremote");
    }

    /**
     * Removes from a fork's environment the variables whose JVM options this JVM's own options
     * already hold (the JVM lists them among its input arguments), so that a fork gets each once.
     */
    static void forkEnvironment(Map<String, String> env) {
      env.remove("JAVA_TOOL_OPTIONS");
      env.remove("JDK_JAVA_OPTIONS");
      env.remove("_JAVA_OPTIONS");
    }

    /**
     * In a fork: exits (status 3) once {@code in} reaches its end or fails. The parent holds the
     * other end of the fork's standard input and never writes to it, and the kernel closes it when
     * the parent ends, even killed by SIGKILL, which runs no shutdown hook to stop the fork.
     */
    static void exitWhenClosed(InputStream in) {
      Thread watch =
          new Thread(
              () -> {
                try {
                  while (in.read() != -1) {
                    // Nothing is sent; whatever is, is not a reason to stop.
                  }
                } catch (IOException e) {
                  // The pipe broke: the parent is gone all the same.
                }
                System.err.println("FilterLoad: the parent of this fork has ended; exiting");
                System.exit(3);
              },
              "filterload-parent-watch");
      watch.setDaemon(true);
      watch.start();
    }

    /**
     * Writes a run's rounds; {@code rate} is its {@code --rate} (0 for the closed loop), which the
     * first line records after the resends, so that a report on the file judges it as it ran.
     */
    static void writeRounds(Path file, List<Phase[]> rounds, long resent, int rate) throws IOException {
      StringBuilder b = new StringBuilder("# resent ").append(resent);
      if (rate > 0) {
        b.append(" rate ").append(rate);
      }
      b.append('\n');
      b.append(HEADER).append('\n');
      for (int r = 0; r < rounds.size(); r++) {
        for (Phase p : rounds.get(r)) {
          b.append(r + 1).append('\t').append(p.config()).append('\t').append(p.requests())
              .append('\t').append(p.elapsedNanos()).append('\t').append(p.p50())
              .append('\t').append(p.p99()).append('\t').append(p.serverBytes())
              .append('\t').append(p.serverCpuNanos()).append('\n');
        }
      }
      Files.writeString(file, b, StandardCharsets.UTF_8);
    }

    static void writePooledP99(Path file, long[] p99) throws IOException {
      StringBuilder b = new StringBuilder(POOLED_HEADER).append('\n');
      for (int c = 0; c < p99.length; c++) {
        b.append(c).append('\t').append(p99[c]).append('\n');
      }
      Files.writeString(file, b, StandardCharsets.UTF_8);
    }

    /**
     * Reads what {@link #writePooledP99} wrote: each configuration's p99 in nanoseconds, or null if
     * the file is missing (a fork of a FilterLoad from before it was written).
     */
    static long[] readPooledP99(Path file) throws IOException {
      if (!Files.exists(file)) {
        return null;
      }
      List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      if (lines.size() != CONFIGS.length + 1 || !lines.get(0).equals(POOLED_HEADER)) {
        throw new IOException(file + " is not a FilterLoad pooled p99 file");
      }
      long[] p99 = new long[CONFIGS.length];
      for (int c = 0; c < CONFIGS.length; c++) {
        String line = lines.get(c + 1);
        String[] f = line.split("\t");
        try {
          if (f.length != 2 || Integer.parseInt(f[0]) != c || (p99[c] = Long.parseLong(f[1])) <= 0) {
            throw new IOException(file + ": bad line \"" + line + "\"");
          }
        } catch (NumberFormatException e) {
          throw new IOException(file + ": bad line \"" + line + "\"", e);
        }
      }
      return p99;
    }

    /**
     * Reads what {@link #writeRounds} wrote; {@code resent[0]} gets the resend count and, if {@code
     * resent} has a second element, {@code resent[1]} the run's {@code --rate} (0 for the closed
     * loop).
     */
    static List<Phase[]> readRounds(Path file, long[] resent) throws IOException {
      List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      if (lines.size() < 2
          || !lines.get(0).startsWith("# resent ")
          || !(lines.get(1).equals(HEADER) || lines.get(1).equals(HEADER_WITHOUT_CPU))) {
        throw new IOException(file + " is not a FilterLoad rounds file");
      }
      int columns = lines.get(1).split("\t").length;
      String[] first = lines.get(0).substring("# resent ".length()).split(" ");
      try {
        if (first.length != 1 && !(first.length == 3 && first[1].equals("rate"))) {
          throw new NumberFormatException();
        }
        resent[0] = Long.parseLong(first[0]);
        if (resent.length > 1) {
          resent[1] = first.length == 3 ? Integer.parseInt(first[2]) : 0;
        }
      } catch (NumberFormatException e) {
        throw new IOException(file + ": bad first line \"" + lines.get(0) + "\"", e);
      }
      List<Phase[]> rounds = new ArrayList<>();
      for (String line : lines.subList(2, lines.size())) {
        String[] f = line.split("\t");
        if (f.length != columns) {
          throw new IOException(file + ": bad line \"" + line + "\"");
        }
        int round;
        int config;
        Phase phase;
        try {
          round = Integer.parseInt(f[0]);
          config = Integer.parseInt(f[1]);
          phase =
              new Phase(config, Long.parseLong(f[2]), Long.parseLong(f[3]), Long.parseLong(f[4]),
                  Long.parseLong(f[5]), Long.parseLong(f[6]), columns > 7 ? Long.parseLong(f[7]) : -1);
        } catch (NumberFormatException e) {
          throw new IOException(file + ": bad line \"" + line + "\"", e);
        }
        if (round < 1 || round > rounds.size() + 1 || config < 0 || config >= CONFIGS.length
            || phase.requests() < 0 || phase.elapsedNanos() <= 0) {
          throw new IOException(file + ": bad line \"" + line + "\"");
        }
        if (round > rounds.size()) {
          rounds.add(new Phase[CONFIGS.length]);
        }
        if (rounds.get(round - 1)[config] != null) {
          throw new IOException(file + ": round " + round + " has configuration " + config + " twice");
        }
        rounds.get(round - 1)[config] = phase;
      }
      for (Phase[] r : rounds) {
        for (Phase p : r) {
          if (p == null) {
            throw new IOException(file + ": a round lacks a configuration");
          }
        }
      }
      return rounds;
    }
  }

  /** Formats the result. */
  static final class Report {
    private Report() {}

    /**
     * {@code forks}: the rounds of each JVM (one list for a single run); {@code pooled}: every
     * latency of each configuration, or null when the rounds come from forks; {@code forkP99}:
     * per fork, each configuration's p99 over all of the fork's requests (an element is null for a
     * fork that did not say), or null for a single run; {@code resent}: the raw client's resends
     * (see {@link RawRequester}), or -1 if not counted.
     */
    static String markdown(
        Options o,
        List<List<Phase[]>> forks,
        Samples[] pooled,
        List<long[]> forkP99,
        String load0,
        String load1,
        long start,
        long resent) {
      List<Phase[]> rounds = new ArrayList<>();
      forks.forEach(rounds::addAll);
      boolean forked = forks.size() > 1;
      StringBuilder b = new StringBuilder();
      b.append("# ContextServletFilter under load (io.ctx4j.bench.servlet.FilterLoad)\n\n");
      b.append("- **Date**: ").append(Instant.now()).append('\n');
      b.append("- **Mode**: ")
          .append(o.quick ? "quick (a smoke test; numbers are not meaningful)" : "full")
          .append(forked
              ? String.format(Locale.ROOT, ": %d forks (JVMs run one after the other, each in its"
                  + " `fork-K` folder) x", forks.size())
              : ":")
          .append(String.format(Locale.ROOT,
              " %d rounds x %d configurations x %d ms phases, rotating order; %d ms warm-up; %d"
                  + " %s%n",
              o.rounds, CONFIGS.length, o.phaseMillis, o.warmupMillis, o.connections,
              o.rate > 0
                  ? String.format(Locale.ROOT, "connections in an open loop at %d requests/s in all"
                      + " (each on a fixed schedule; a request held up by an earlier answer counts"
                      + " from when it was due)", o.rate)
                  : "closed-loop connections"));
      b.append("- **Server**: embedded Jetty ").append(Jetty.VERSION)
          .append(" (ee11 servlet), HTTP/1.1 on 127.0.0.1, 1 acceptor, 1 selector, default thread"
              + " pool; one server, one context per configuration\n");
      b.append("- **Client**: ")
          .append(o.client.equals("raw")
              ? "`raw` (a minimal HTTP/1.1 client on a blocking socket, requests encoded once)"
              : o.client.equals("jetty")
                  ? "`jetty` (Jetty HttpClient " + Jetty.VERSION + ", blocking send)"
                  : "`jdk` (JDK HttpClient)")
          .append(", keep-alive, one thread per connection,"
          + " every request `GET` with `Ctx4j-Timeout-Ms: ").append(TIMEOUT_MS)
          .append(o.varyBudget > 1
              ? "` to `" + (TIMEOUT_MILLIS - o.varyBudget + 1)
                  + "` (another budget with each request, cycling, in every configuration)"
              : "`")
          .append("; the 1-byte answer is checked\n");
      if (resent >= 0) {
        // A resend could hide a request the server took and then lost with its connection.
        b.append("- **Resent**: ").append(resent)
            .append(" GETs sent again on a new connection after the server had closed an idle one"
                + " (warm-up included)\n");
      }
      b.append("- **JDK**: ").append(System.getProperty("java.runtime.version")).append(" (")
          .append(System.getProperty("java.vendor")).append("), JVM options: ")
          .append(String.join(" ",
              java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()))
          .append('\n');
      b.append("- **CPUs**: ").append(Runtime.getRuntime().availableProcessors())
          .append("; **load average** (1, 5, 15 min) at start: ").append(load0)
          .append(", at end: ").append(load1).append('\n');
      // The noise within a JVM: with forks, the median over them (a fork's start is not noise). In
      // the open loop the throughput is the schedule's, so the noise shows in the latency.
      double[] cvs = new double[forks.size()];
      for (int f = 0; f < cvs.length; f++) {
        cvs[f] = coefficientOfVariation(forks.get(f).stream()
            .mapToDouble(r -> o.rate > 0 ? r[0].p50() : r[0].rps()).toArray());
      }
      double cv = median(cvs);
      boolean noisy = cv > NOISY_CV;
      int behind = phasesBehind(o, forks);
      if (o.rate > 0) {
        double[] achieved = rounds.stream().flatMap(Arrays::stream).mapToDouble(Phase::rps).toArray();
        b.append(String.format(Locale.ROOT, "- **Load**: %d requests/s offered; a phase's throughput"
                + " from %.0f to %.0f (median %.0f); %d of %d phases fell behind (below %.0f%% of the"
                + " rate: the server could not keep up, so their latencies are a queue's, and no"
                + " verdict is given)%n",
            o.rate, Arrays.stream(achieved).min().orElse(0), Arrays.stream(achieved).max().orElse(0),
            median(achieved), behind, achieved.length, 100 * KEEPING_UP));
      }
      b.append(String.format(Locale.ROOT, "- **Duration**: %.0f s%n", (System.nanoTime() - start) / 1e9));
      b.append(String.format(Locale.ROOT,
          "- **Noise**: `none`'s %s varied between rounds by %.1f%% (coefficient of variation%s)%s%n%n",
          o.rate > 0 ? "p50" : "throughput",
          100 * cv,
          forked ? " within a fork, median of the forks" : "",
          noisy
              ? String.format(Locale.ROOT, ", above %.0f%%: the machine was too noisy to judge a 2%% goal"
                  + " (the intervals below assume the noise hits the configurations of a round alike,"
                  + " which heavy outside load breaks)", 100 * NOISY_CV)
              : ""));

      b.append("## Per configuration (all rounds)\n\n");
      b.append("| configuration | requests | req/s (median of rounds) | p50 µs | p99 µs |"
          + " server alloc. B/request | server CPU µs/request |\n");
      b.append("|---|---:|---:|---:|---:|---:|---:|\n");
      for (int c = 0; c < CONFIGS.length; c++) {
        int cc = c;
        double[] rps = rounds.stream().mapToDouble(r -> r[cc].rps()).toArray();
        long bytes = 0;
        long cpu = 0;
        long requests = 0;
        for (Phase[] r : rounds) {
          bytes = r[c].serverBytes() < 0 || bytes < 0 ? -1 : bytes + r[c].serverBytes();
          cpu = r[c].serverCpuNanos() < 0 || cpu < 0 ? -1 : cpu + r[c].serverCpuNanos();
          requests += r[c].requests();
        }
        double p50;
        double p99;
        if (pooled != null) {
          long[] all = Arrays.copyOf(pooled[c].values, pooled[c].size);
          Arrays.sort(all);
          p50 = percentile(all, 0.50);
          p99 = percentile(all, 0.99);
        } else {
          p50 = median(rounds.stream().mapToDouble(r -> r[cc].p50()).toArray());
          p99 = median(rounds.stream().mapToDouble(r -> r[cc].p99()).toArray());
        }
        b.append(String.format(Locale.ROOT, "| `%s` | %d | %.0f | %.1f | %.1f | %s | %s |%n",
            CONFIGS[c], requests, median(rps), p50 / 1e3, p99 / 1e3,
            bytes < 0 ? "n/a" : String.format(Locale.ROOT, "%.0f", (double) bytes / requests),
            cpu < 0 ? "n/a" : String.format(Locale.ROOT, "%.2f", cpu / 1e3 / requests)));
      }
      b.append(pooled != null
          ? "\np50 and p99 here are over every request of the configuration in all rounds."
          : "\np50 and p99 here are the medians of the rounds' own p50 and p99 (the forks keep"
              + " their latencies).");
      b.append(" Server"
          + " allocation: bytes allocated by Jetty's threads (ThreadMXBean) during the phases of the"
          + " configuration, over its requests; the difference to `none` is the filter's. Server"
          + " CPU: the CPU time of Jetty's threads during those phases, over their requests.\n\n");

      // [configuration][fork][round]: the round's figure over `none`'s; [0] unused.
      double[][][] thr = new double[CONFIGS.length][][];
      double[][][] p50 = new double[CONFIGS.length][][];
      double[][][] p99 = new double[CONFIGS.length][][];
      double[][][] cpu = new double[CONFIGS.length][][];
      boolean cpuMeasured =
          rounds.stream().allMatch(r -> Arrays.stream(r).allMatch(p -> p.serverCpuNanos() > 0));
      for (int c = 1; c < CONFIGS.length; c++) {
        thr[c] = ratios(forks, c, Phase::rps);
        p50[c] = ratios(forks, c, Phase::p50);
        p99[c] = ratios(forks, c, Phase::p99);
        cpu[c] = cpuMeasured ? ratios(forks, c, Phase::cpuPerRequest) : null;
      }

      if (forked) {
        b.append("## Per fork (medians of the fork's per-round costs, throughput / p99)\n\n");
        b.append("| fork | rounds | CV of `none` |");
        for (int c = 1; c < CONFIGS.length; c++) {
          b.append(" `").append(CONFIGS[c]).append("` |");
        }
        b.append("\n|---:|---:|---:|").append("---|".repeat(CONFIGS.length - 1)).append('\n');
        for (int f = 0; f < forks.size(); f++) {
          List<Phase[]> fr = forks.get(f);
          b.append(String.format(Locale.ROOT, "| %d | %d | %.1f%% |", f + 1, fr.size(), 100 * cvs[f]));
          for (int c = 1; c < CONFIGS.length; c++) {
            b.append(String.format(Locale.ROOT, " %+.1f%% / %+.1f%% |",
                100 * (1 - median(thr[c][f])), 100 * (median(p99[c][f]) - 1)));
          }
          b.append('\n');
        }
        b.append('\n');
      }

      if (forked && forkP99 != null) {
        b.append(forkLevel(o, forks, forkP99, noisy));
      }

      b.append("## Cost of the filter: median of per-round ratios, bootstrap 95% interval\n\n");
      b.append("| configuration vs `none` | throughput ratio | p50 ratio | p99 ratio |"
          + " throughput cost | p99 cost | goal (< 2% each) | server CPU/request cost |\n");
      b.append("|---|---|---|---|---:|---:|---|---:|\n");
      for (int c = 1; c < CONFIGS.length; c++) {
        double[] t = bootstrap(thr[c], 1 + c);
        double[] q = bootstrap(p99[c], 21 + c);
        // Costs as intervals: throughput cost = 1 - ratio, p99 cost = ratio - 1.
        double thrCostHigh = 1 - t[1];
        double thrCostLow = 1 - t[2];
        double p99CostLow = q[1] - 1;
        double p99CostHigh = q[2] - 1;
        String verdict =
            verdict(o, noisy, behind,
                new double[] {1 - t[0], thrCostLow, thrCostHigh},
                new double[] {q[0] - 1, p99CostLow, p99CostHigh});
        String cpuCost = "n/a";
        if (cpu[c] != null) {
          double[] u = bootstrap(cpu[c], 31 + c);
          cpuCost = String.format(Locale.ROOT, "%+.1f%% [%+.1f, %+.1f]",
              100 * (u[0] - 1), 100 * (u[1] - 1), 100 * (u[2] - 1));
        }
        b.append(String.format(Locale.ROOT,
            "| `%s` | %s | %s | %s | %+.1f%% [%+.1f, %+.1f] | %+.1f%% [%+.1f, %+.1f] | %s | %s |%n",
            CONFIGS[c], format(t), format(bootstrap(p50[c], 11 + c)), format(q),
            100 * (1 - t[0]), 100 * thrCostLow, 100 * thrCostHigh,
            100 * (q[0] - 1), 100 * p99CostLow, 100 * p99CostHigh, verdict, cpuCost));
      }
      b.append("\nA ratio is the filter configuration's value over `none`'s in the same round;"
          + " the table gives the median over the rounds and, in brackets, a 95% percentile"
          + " bootstrap interval of that median (10,000 resamples of the rounds with replacement,"
          + (forked ? " each resample first drawing the forks with replacement, then each drawn"
              + " fork's rounds," : "")
          + " fixed seed). Throughput cost = 1 - throughput ratio; p99 cost = p99 ratio - 1, each with the"
          + " interval in percent. The goal is met when both intervals lie below 2%, missed when"
          + " either lies above; no verdict when the machine was noisy (see Noise)"
          + (o.rate > 0 ? "; in the open loop the schedule sets the throughput, so the verdict is on"
              + " the p99 alone, and none is given if the server fell behind the schedule" : "")
          + ". Server"
          + " CPU/request cost = the ratio of the server threads' CPU time per request, minus 1:"
          + " the filter's share of the server's own work, which is what it would take from the"
          + " throughput of a CPU-bound server whose clients run on other machines (here the client"
          + " shares the CPUs, which dilutes the throughput cost); GC and JIT threads are not in it,"
          + " the allocation column stands for the GC's part.\n\n");

      b.append("## Rounds\n\n| round | ");
      if (forked) {
        b.append("fork | ");
      }
      for (String c : CONFIGS) {
        b.append(c).append(" req/s | ").append(c).append(" p50/p99 µs | ");
      }
      b.append('\n').append(forked ? "|---:|---:|" : "|---:|");
      b.append("---:|---:|".repeat(CONFIGS.length)).append('\n');
      for (int f = 0; f < forks.size(); f++) {
        List<Phase[]> fr = forks.get(f);
        for (int r = 0; r < fr.size(); r++) {
          b.append("| ").append(r + 1).append(" | ");
          if (forked) {
            b.append(f + 1).append(" | ");
          }
          for (Phase p : fr.get(r)) {
            b.append(String.format(Locale.ROOT, "%.0f | %.1f / %.1f | ",
                p.rps(), p.p50() / 1e3, p.p99() / 1e3));
          }
          b.append('\n');
        }
      }
      return b.toString();
    }

    /**
     * The costs with each fork as one sample, each from all of the fork's requests: throughput (its
     * requests over its time), p99 (over its requests, as the fork measured it) and server CPU per
     * request, each against {@code none} in the same fork; the median over the forks and a
     * bootstrap interval over them. A p99 over a fork's hundreds of thousands of requests is far
     * steadier than a phase's, where one pause moves it; the forks are the independent samples.
     */
    static String forkLevel(Options o, List<List<Phase[]>> forks, List<long[]> forkP99, boolean noisy) {
      int n = forks.size();
      boolean haveP99 = forkP99.stream().allMatch(java.util.Objects::nonNull);
      int behind = phasesBehind(o, forks);
      StringBuilder b = new StringBuilder();
      b.append("## Cost of the filter per fork, over all of each fork's requests: median of the ")
          .append(n).append(" forks, bootstrap 95% interval over the forks\n\n");
      b.append("| configuration vs `none` | throughput cost | p99 cost | server CPU/request cost |"
          + " goal (< 2% each) | per fork: throughput / p99 |\n");
      b.append("|---|---:|---:|---:|---|---|\n");
      for (int c = 1; c < CONFIGS.length; c++) {
        double[] thr = new double[n];
        double[] p99 = new double[n];
        double[] cpu = new double[n];
        boolean haveCpu = true;
        StringBuilder perFork = new StringBuilder();
        for (int f = 0; f < n; f++) {
          double[] rps = new double[CONFIGS.length];
          double[] cpuPer = new double[CONFIGS.length];
          for (int k : new int[] {0, c}) {
            long requests = 0;
            long elapsed = 0;
            long cpuNanos = 0;
            for (Phase[] r : forks.get(f)) {
              requests += r[k].requests();
              elapsed += r[k].elapsedNanos();
              cpuNanos = r[k].serverCpuNanos() < 0 || cpuNanos < 0 ? -1 : cpuNanos + r[k].serverCpuNanos();
            }
            rps[k] = requests * 1e9 / elapsed;
            cpuPer[k] = cpuNanos < 0 ? Double.NaN : (double) cpuNanos / requests;
          }
          thr[f] = 1 - rps[c] / rps[0];
          p99[f] = haveP99 ? (double) forkP99.get(f)[c] / forkP99.get(f)[0] - 1 : Double.NaN;
          cpu[f] = cpuPer[c] / cpuPer[0] - 1;
          haveCpu &= !Double.isNaN(cpu[f]);
          perFork.append(f == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%+.1f/%s",
              100 * thr[f], haveP99 ? String.format(Locale.ROOT, "%+.1f", 100 * p99[f]) : "n/a"));
        }
        double[] t = bootstrap(thr, 41 + c);
        double[] q = haveP99 ? bootstrap(p99, 51 + c) : null;
        String verdict = verdict(o, noisy, behind, t, q);
        b.append(String.format(Locale.ROOT, "| `%s` | %s | %s | %s | %s | %s |%n",
            CONFIGS[c], percent(t), q == null ? "n/a" : percent(q),
            haveCpu ? percent(bootstrap(cpu, 61 + c)) : "n/a", verdict, perFork));
      }
      b.append("\nEach fork gives one cost per figure: throughput = its requests over its phases'"
          + " time, p99 = over all of its requests, server CPU = its server threads' CPU time over"
          + " its requests, each against `none` in the same fork (positive = the filter costs). The"
          + " interval resamples the forks (10,000 resamples, fixed seed); with few forks it is"
          + " coarse.\n\n");
      return b.toString();
    }

    /**
     * The verdict on the 2% goal from the throughput and p99 costs, each {median, low, high} ({@code
     * p99} null if not measured). In the open loop the schedule sets the throughput, so the verdict
     * is on the p99 alone; a run in which the server fell behind the schedule gets none.
     */
    static String verdict(Options o, boolean noisy, int behind, double[] thr, double[] p99) {
      if (o.quick) {
        return "not judged (quick mode)";
      }
      if (noisy) {
        return "not judged (noisy machine, see Noise)";
      }
      if (behind > 0) {
        return "not judged (the server fell behind --rate, see Load)";
      }
      if (p99 == null) {
        return "not judged (no fork p99)";
      }
      if (o.rate > 0) {
        return p99[2] < 0.02
            ? "p99 met (its interval below 2%; the open loop sets the throughput)"
            : p99[1] > 0.02
                ? "p99 **missed** (its interval above 2%)"
                : "p99 not resolved (its interval straddles 2%)";
      }
      return thr[2] < 0.02 && p99[2] < 0.02
          ? "met (both intervals below 2%)"
          : thr[1] > 0.02 || p99[1] > 0.02
              ? "**missed** (an interval above 2%)"
              : "not resolved (an interval straddles 2%)";
    }

    /** In the open loop, a phase below this share of the rate fell behind it. */
    static final double KEEPING_UP = 0.97;

    /** The phases, of every configuration and fork, that fell behind the open loop's rate. */
    static int phasesBehind(Options o, List<List<Phase[]>> forks) {
      if (o.rate == 0) {
        return 0;
      }
      return (int) forks.stream().flatMap(List::stream).flatMap(Arrays::stream)
          .filter(p -> p.rps() < KEEPING_UP * o.rate).count();
    }

    /** A cost's {median, low, high} as "+1.2% [+0.3, +2.1]". */
    private static String percent(double[] m) {
      return String.format(Locale.ROOT, "%+.1f%% [%+.1f, %+.1f]", 100 * m[0], 100 * m[1], 100 * m[2]);
    }

    /** Per fork, the per-round ratio of configuration {@code c}'s figure over {@code none}'s. */
    static double[][] ratios(
        List<List<Phase[]>> forks, int c, java.util.function.ToDoubleFunction<Phase> figure) {
      double[][] out = new double[forks.size()][];
      for (int f = 0; f < out.length; f++) {
        out[f] =
            forks.get(f).stream()
                .mapToDouble(r -> figure.applyAsDouble(r[c]) / figure.applyAsDouble(r[0]))
                .toArray();
      }
      return out;
    }

    /** Above this coefficient of variation of the baseline's throughput, no verdict is given. */
    static final double NOISY_CV = 0.10;

    static double coefficientOfVariation(double[] values) {
      double mean = Arrays.stream(values).average().orElse(0);
      double var = Arrays.stream(values).map(v -> (v - mean) * (v - mean)).sum() / Math.max(1, values.length - 1);
      return mean == 0 ? 0 : Math.sqrt(var) / mean;
    }

    static double median(double[] values) {
      double[] v = values.clone();
      Arrays.sort(v);
      int n = v.length;
      return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

    static String format(double[] m) {
      return String.format(Locale.ROOT, "%.4f [%.4f, %.4f]", m[0], m[1], m[2]);
    }

    /** {median, low, high}: the median and a 95% percentile-bootstrap interval of it. */
    static double[] bootstrap(double[] values, long seed) {
      return bootstrap(new double[][] {values}, seed);
    }

    /**
     * {median, low, high} of the values of all groups (the forks): the median and a 95%
     * percentile-bootstrap interval of it, each resample drawing as many groups as there are with
     * replacement, then as many values from each drawn group as it has, with replacement. With one
     * group this is the plain bootstrap of its values, with the same draws.
     */
    static double[] bootstrap(double[][] groups, long seed) {
      SplittableRandom random = new SplittableRandom(seed);
      int resamples = 10_000;
      int longest = Arrays.stream(groups).mapToInt(g -> g.length).max().orElse(0);
      double[] all = Arrays.stream(groups).flatMapToDouble(Arrays::stream).toArray();
      double[] medians = new double[resamples];
      double[] sample = new double[longest * groups.length];
      for (int i = 0; i < resamples; i++) {
        int n = 0;
        for (int k = 0; k < groups.length; k++) {
          double[] g = groups.length == 1 ? groups[0] : groups[random.nextInt(groups.length)];
          for (int j = 0; j < g.length; j++) {
            sample[n++] = g[random.nextInt(g.length)];
          }
        }
        medians[i] = median(n == sample.length ? sample : Arrays.copyOf(sample, n));
      }
      Arrays.sort(medians);
      return new double[] {
        median(all), medians[(int) (0.025 * resamples)], medians[(int) (0.975 * resamples) - 1]
      };
    }
  }
}
