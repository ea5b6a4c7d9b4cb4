package io.ctx4j.bench.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.ee11.servlet.ServletContextHandler;
import org.eclipse.jetty.ee11.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The load harness's failure paths, against real Jetty: a request that gets no answer or a wrong
 * one fails the phase and names the worker and the configuration, and the diagnostics then show
 * where the server's threads are. These paths run only when a full run goes wrong, so they are
 * checked here rather than found broken on the day they are needed.
 */
@Timeout(60)
class FilterLoadTest {

  /** A servlet that holds every request until released, and says when the first one came. */
  static final class Stuck extends HttpServlet {
    private static final long serialVersionUID = 1L;
    final transient CountDownLatch entered = new CountDownLatch(1);
    final transient CountDownLatch release = new CountDownLatch(1);

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse res) throws IOException {
      entered.countDown();
      try {
        release.await(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      res.setContentLength(1);
      res.getOutputStream().write('1');
    }
  }

  /** Answers "0" (wrong for a filtered configuration) to the first request, "1" to the others. */
  static final class WrongOnce extends HttpServlet {
    private static final long serialVersionUID = 1L;
    private final AtomicBoolean answered = new AtomicBoolean();

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse res) throws IOException {
      res.setContentLength(1);
      res.getOutputStream().write(answered.getAndSet(true) ? '1' : '0');
    }
  }

  /** Starts Jetty on a loopback port with {@code servlet} at every path. */
  private static Server start(HttpServlet servlet) throws Exception {
    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    server.addConnector(connector);
    ServletContextHandler handler = new ServletContextHandler("/");
    handler.addServlet(new ServletHolder(servlet), "/*");
    server.setHandler(handler);
    server.start();
    return server;
  }

  /** The same request for every configuration, to {@code server}'s root, with {@code timeout}. */
  private static HttpRequest[] everyConfig(Server server, Duration timeout) {
    int port = ((ServerConnector) server.getConnectors()[0]).getLocalPort();
    URI root = URI.create("http://127.0.0.1:" + port + "/");
    HttpRequest request = HttpRequest.newBuilder(root).timeout(timeout).build();
    HttpRequest[] requests = new HttpRequest[FilterLoad.CONFIGS.length];
    Arrays.fill(requests, request);
    return requests;
  }

  private static HttpClient client() {
    return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  }

  @Test
  void aRequestWithNoAnswerFailsThePhaseAndTheDiagnosticsShowTheStuckServerThread()
      throws Exception {
    Stuck stuck = new Stuck();
    Server server = start(stuck);
    try {
      HttpRequest[] requests = everyConfig(server, Duration.ofMillis(300));
      FilterLoad.Driver driver = new FilterLoad.Driver(client(), requests, 1);
      try {
        IllegalStateException e =
            assertThrows(IllegalStateException.class, () -> driver.phase(1, 10_000));
        assertTrue(e.getMessage().startsWith("a load worker failed"), e.getMessage());
        assertEquals("worker 0 in a filter phase", e.getCause().getMessage());
        assertInstanceOf(HttpTimeoutException.class, e.getCause().getCause());
      } finally {
        driver.close();
      }
      assertTrue(stuck.entered.await(10, TimeUnit.SECONDS), "no request reached the servlet");

      String dump = FilterLoad.diagnostics(server);

      assertTrue(dump.startsWith("== diagnostics: Jetty server dump\n"), dump);
      assertTrue(dump.contains("ServerConnector@"), "no connector in Jetty's dump:\n" + dump);
      assertTrue(dump.contains("== diagnostics: threads\n"), dump);
      // The thread Jetty gave the request, parked in the servlet, with the latch it waits on.
      assertTrue(
          dump.contains(Stuck.class.getName() + ".doGet("),
          "the stuck servlet's frame is not in the thread dump:\n" + dump);
      assertTrue(dump.contains(" TIMED_WAITING on java.util.concurrent.CountDownLatch"), dump);
    } finally {
      stuck.release.countDown();
      server.stop();
    }
  }

  /**
   * One worker fails while the other is still in its phase: the phase must end when the other
   * finishes, report the failure, and leave no worker behind. (The first version reset the
   * barriers on a failure, and the other worker then waited at the next generation's finish line
   * for ever.)
   */
  @Test
  void aFailureWhileAnotherWorkerRunsEndsThePhaseAndLeavesNoWorkerBehind() throws Exception {
    Server server = start(new WrongOnce());
    try {
      FilterLoad.Driver driver =
          new FilterLoad.Driver(client(), everyConfig(server, Duration.ofSeconds(10)), 2);
      try {
        IllegalStateException e =
            assertThrows(IllegalStateException.class, () -> driver.phase(1, 500));
        assertTrue(
            e.getCause().getMessage().matches("worker [01] in a filter phase"),
            e.getCause().getMessage());
      } finally {
        driver.close();
      }
      assertEquals(0, driver.workersAlive(), "a load worker outlived close()");
    } finally {
      server.stop();
    }
  }

  @Test
  void aWrongAnswerFailsThePhaseAndSaysWhatCameBack() throws Exception {
    Server server = FilterLoad.startServer(-1);
    try {
      int port = ((ServerConnector) server.getConnectors()[0]).getLocalPort();
      HttpClient client = client();
      // Every configuration is sent to the unfiltered path, which answers "0": wrong for "filter".
      HttpRequest unfiltered =
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/none/")).build();
      HttpRequest[] requests = new HttpRequest[FilterLoad.CONFIGS.length];
      Arrays.fill(requests, unfiltered);
      FilterLoad.Driver driver = new FilterLoad.Driver(client, requests, 2);
      try {
        assertEquals(0, driver.phase(0, 100).config(), "the unfiltered phase itself must pass");
        IllegalStateException e =
            assertThrows(IllegalStateException.class, () -> driver.phase(1, 10_000));
        assertTrue(
            e.getCause().getMessage().matches("worker [01] in a filter phase"),
            e.getCause().getMessage());
        assertEquals(
            "wrong answer from http://127.0.0.1:" + port + "/none/: 200 0",
            e.getCause().getCause().getMessage());
      } finally {
        driver.close();
      }
    } finally {
      server.stop();
    }
  }

  private static int port(Server server) {
    return ((ServerConnector) server.getConnectors()[0]).getLocalPort();
  }

  @Test
  void theRawClientGetsEveryConfigurationsAnswerFromTheRealServer() throws Exception {
    Server server = FilterLoad.startServer(-1);
    try {
      phaseOfEachConfig(new FilterLoad.Driver(w -> new FilterLoad.RawRequester(port(server)), 2));
    } finally {
      server.stop();
    }
  }

  /**
   * With {@code --vary-budget 3}, the raw client's requests carry 30000, 29999 and 29998 ms in
   * turn, as the real server reads them, each configuration's on their own.
   */
  @Test
  void withVariedBudgetsTheRawClientSendsAnotherBudgetWithEachDeadlineRequest() throws Exception {
    Server server = FilterLoad.startServer(-1);
    java.util.List<String> deadlineBudgets = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.List<String> otherBudgets = new java.util.concurrent.CopyOnWriteArrayList<>();
    server.stop();
    server.setHandler(
        new org.eclipse.jetty.server.Handler.Wrapper(server.getHandler()) {
          @Override
          public boolean handle(
              org.eclipse.jetty.server.Request request,
              org.eclipse.jetty.server.Response response,
              org.eclipse.jetty.util.Callback callback)
              throws Exception {
            String budget = request.getHeaders().get(io.ctx4j.http.DeadlineHeader.NAME);
            (request.getHttpURI().getPath().startsWith("/deadline/") ? deadlineBudgets : otherBudgets)
                .add(budget);
            return super.handle(request, response, callback);
          }
        });
    server.start();
    try {
      FilterLoad.RawRequester client =
          new FilterLoad.RawRequester(port(server), new java.util.concurrent.atomic.AtomicLong(), 30_000, 3);
      try {
        for (int i = 0; i < 4; i++) {
          client.call(FilterLoad.DEADLINE_CONFIG);
          client.call(0);
        }
      } finally {
        client.close();
      }
    } finally {
      server.stop();
    }
    assertEquals(java.util.List.of("30000", "29999", "29998", "30000"), deadlineBudgets);
    assertEquals(java.util.List.of("30000", "29999", "29998", "30000"), otherBudgets);
    assertEquals(
        "budgets must be 1 to 30000, got 0",
        assertThrows(
                IllegalArgumentException.class,
                () -> new FilterLoad.RawRequester(1, new java.util.concurrent.atomic.AtomicLong(), 100, 0))
            .getMessage());
  }

  /** Runs a short phase of every configuration, each of which must get answers; then closes. */
  private static void phaseOfEachConfig(FilterLoad.Driver driver) throws Exception {
    try {
      for (int c = 0; c < FilterLoad.CONFIGS.length; c++) {
        FilterLoad.Phase p = driver.phase(c, 100);
        assertEquals(c, p.config());
        assertTrue(p.requests() > 0, "no request in a phase of " + FilterLoad.CONFIGS[c]);
      }
    } finally {
      driver.close();
    }
  }

  @Test
  void theJettyClientGetsEveryConfigurationsAnswerAndItsThreadsAreNotCountedAsTheServers()
      throws Exception {
    Server server = FilterLoad.startServer(-1);
    org.eclipse.jetty.client.HttpClient jetty = FilterLoad.JettyRequester.startClient(2);
    try {
      phaseOfEachConfig(
          new FilterLoad.Driver(w -> new FilterLoad.JettyRequester(jetty, port(server)), 2));
      // The client's own threads ran the exchanges above; the server's allocation, counted by
      // thread, must not include theirs.
      java.util.Set<Long> client = new java.util.HashSet<>();
      for (Thread t : Thread.getAllStackTraces().keySet()) {
        if (t.getName().startsWith("jetty-client")) {
          client.add(t.getId());
        }
      }
      assertFalse(client.isEmpty(), "no thread of Jetty's client is named jetty-client");
      java.util.Set<Long> counted = FilterLoad.serverAllocatedBytes().keySet();
      assertFalse(counted.isEmpty(), "no server thread counted");
      assertTrue(
          java.util.Collections.disjoint(client, counted),
          () -> "client threads counted as the server's: " + client + " in " + counted);
    } finally {
      jetty.stop();
      server.stop();
    }
  }

  @Test
  void aWrongAnswerThroughTheJettyClientFailsTheCallAndSaysWhatCameBack() throws Exception {
    Server server = start(new WrongOnce()); // answers "0" once, then "1"
    org.eclipse.jetty.client.HttpClient jetty = FilterLoad.JettyRequester.startClient(1);
    try {
      FilterLoad.JettyRequester r = new FilterLoad.JettyRequester(jetty, port(server));
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> r.call(1));
      assertEquals(
          "wrong answer from http://127.0.0.1:" + port(server) + "/filter/: 200 0", e.getMessage());
      r.call(1); // the next answer is the right one
    } finally {
      jetty.stop();
      server.stop();
    }
  }

  /**
   * Runs a phase of {@code config} with one raw-client worker against a server with {@code servlet}
   * at every path, which must fail; returns what the worker failed with.
   */
  private static Throwable rawFailure(HttpServlet servlet, int config) throws Exception {
    Server server = start(servlet);
    try {
      FilterLoad.Driver driver = new FilterLoad.Driver(w -> new FilterLoad.RawRequester(port(server)), 1);
      try {
        IllegalStateException e =
            assertThrows(IllegalStateException.class, () -> driver.phase(config, 10_000));
        assertEquals("worker 0 in a " + FilterLoad.CONFIGS[config] + " phase", e.getCause().getMessage());
        return e.getCause().getCause();
      } finally {
        driver.close();
      }
    } finally {
      server.stop();
    }
  }

  @Test
  void theRawClientSaysWhatCameBackWhenTheAnswerIsWrong() throws Exception {
    String what = rawFailure(new WrongOnce(), 1).getMessage();
    assertTrue(what.startsWith("wrong answer from /filter/: HTTP/1.1 200 "), what);
    assertTrue(what.endsWith("\r\n\r\n0"), what);
  }

  /**
   * The server closes every kept-alive connection between two phases (as its idle timeout does):
   * the raw client must send its next GET again on a new connection, not fail the phase. Without
   * the retry the first request of each worker fails, with an end of stream or a reset.
   */
  @Test
  void theRawClientSendsAgainOnANewConnectionWhenTheServerClosedAnIdleOne() throws Exception {
    Server server = FilterLoad.startServer(-1);
    try {
      ServerConnector connector = (ServerConnector) server.getConnectors()[0];
      java.util.concurrent.atomic.AtomicLong resent = new java.util.concurrent.atomic.AtomicLong();
      FilterLoad.Driver driver =
          new FilterLoad.Driver(w -> new FilterLoad.RawRequester(port(server), resent), 2);
      try {
        driver.phase(1, 100);
        assertEquals(2, connector.getConnectedEndPoints().size(), "one kept-alive connection per worker");
        for (EndPoint e : connector.getConnectedEndPoints()) {
          e.close();
        }
        long giveUp = System.nanoTime() + 10_000_000_000L;
        while (!connector.getConnectedEndPoints().isEmpty() && System.nanoTime() < giveUp) {
          // A poll on another process's progress, which nothing here can be told of; not a timing.
      java.util.concurrent.locks.LockSupport.parkNanos(10_000_000L);
        }
        assertTrue(connector.getConnectedEndPoints().isEmpty(), "Jetty did not close its end");
        assertEquals(0, resent.get(), "nothing was resent before the close");
        assertTrue(driver.phase(1, 100).requests() > 0);
        assertEquals(2, connector.getConnectedEndPoints().size(), "one new connection per worker");
        assertEquals(2, resent.get(), "one resend per worker, counted for the report");
      } finally {
        driver.close();
      }
    } finally {
      server.stop();
    }
  }

  @Test
  void aServerThreadThatEndsDuringAPhaseDoesNotMakeItsAllocationNegative() {
    // Thread 1 ended between the readings, thread 3 started: only 2's and 3's bytes of the phase.
    java.util.Map<Long, Long> before = java.util.Map.of(1L, 5_000L, 2L, 1_000L);
    java.util.Map<Long, Long> after = java.util.Map.of(2L, 1_600L, 3L, 50L);
    assertEquals(650, FilterLoad.perThreadBetween(before, after));
    assertEquals(-1, FilterLoad.perThreadBetween(null, after));
  }

  /** Answers 10,000 bytes: more than the raw client's buffer. */
  static final class LongAnswer extends HttpServlet {
    private static final long serialVersionUID = 1L;

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse res) throws IOException {
      res.setContentLength(10_000);
      res.getOutputStream().write(new byte[10_000]);
    }
  }

  /** The first version read such a body into a full buffer with reads of 0 bytes, for ever. */
  @Test
  void theRawClientFailsAtOnceOnAnAnswerLongerThanItsBuffer() throws Exception {
    String what = rawFailure(new LongAnswer(), 0).getMessage();
    assertTrue(what.startsWith("wrong answer from /none/: HTTP/1.1 200 "), what);
    assertTrue(what.contains("Content-Length: 10000"), what);
  }

  /**
   * A socket server that answers the first GET of its one connection with {@code first} and the
   * second with {@code second} (null: no answer), then closes the connection unless told to hold
   * it; it reports every further connection, which would be a resend.
   */
  private static final class ScriptedServer implements AutoCloseable {
    final java.net.ServerSocket listener = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
    final CountDownLatch secondRead = new CountDownLatch(1);
    private final Thread thread;
    private volatile java.net.Socket accepted;

    ScriptedServer(String first, String second) throws IOException {
      thread =
          new Thread(
              () -> {
                try (java.net.Socket s = listener.accept()) {
                  accepted = s;
                  java.io.InputStream in = s.getInputStream();
                  java.io.OutputStream out = s.getOutputStream();
                  readRequest(in);
                  out.write(first.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                  out.flush();
                  readRequest(in);
                  secondRead.countDown();
                  if (second == null) {
                    in.read(); // holds the connection, answering nothing, until the test closes it
                    return;
                  }
                  out.write(second.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                  out.flush();
                } catch (IOException e) {
                  // closed by the test
                }
              });
      thread.start();
    }

    int port() {
      return listener.getLocalPort();
    }

    /** Whether a second connection is waiting: a connect completes before accept is called. */
    boolean anotherConnectionCame() throws IOException {
      listener.setSoTimeout(1_000);
      java.net.Socket extra;
      try {
        extra = listener.accept();
      } catch (java.net.SocketTimeoutException none) {
        return false;
      }
      extra.close();
      return true;
    }

    private static void readRequest(java.io.InputStream in) throws IOException {
      int matched = 0;
      while (matched < 4) {
        int b = in.read();
        if (b < 0) {
          throw new java.io.EOFException();
        }
        matched = b == "\r\n\r\n".charAt(matched) ? matched + 1 : (b == '\r' ? 1 : 0);
      }
    }

    @Override
    public void close() throws IOException {
      java.net.Socket s = accepted;
      if (s != null) {
        s.close();
      }
      listener.close();
      try {
        thread.join(10_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static final String GOOD = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1";

  /**
   * Part of an answer came, then the connection ended: the GET may have run, so it must not be sent
   * again (a resend is only for a connection the server closed while idle).
   */
  @Test
  void theRawClientNeverSendsAgainAfterPartOfAnAnswerCame() throws Exception {
    try (ScriptedServer server = new ScriptedServer(GOOD, "HTTP/1.1 200 OK\r\nContent-Le")) {
      java.util.concurrent.atomic.AtomicLong resent = new java.util.concurrent.atomic.AtomicLong();
      FilterLoad.RawRequester client = new FilterLoad.RawRequester(server.port(), resent);
      try {
        client.call(1);
        java.io.EOFException e = assertThrows(java.io.EOFException.class, () -> client.call(1));
        assertEquals("connection closed in an answer's head", e.getMessage());
        assertEquals(0, resent.get(), "a resend was counted");
        assertFalse(server.anotherConnectionCame(), "the GET was sent again on a new connection");
      } finally {
        client.close();
      }
    }
  }

  /** A server that takes the GET and never answers fails the call after the read timeout. */
  @Test
  void theRawClientGivesUpOnAnAnswerThatNeverComes() throws Exception {
    try (ScriptedServer server = new ScriptedServer(GOOD, null)) {
      java.util.concurrent.atomic.AtomicLong resent = new java.util.concurrent.atomic.AtomicLong();
      FilterLoad.RawRequester client = new FilterLoad.RawRequester(server.port(), resent, 300);
      try {
        client.call(1);
        long start = System.nanoTime();
        assertThrows(java.net.SocketTimeoutException.class, () -> client.call(1));
        long waited = System.nanoTime() - start;
        assertTrue(server.secondRead.await(10, TimeUnit.SECONDS), "the server never got the GET");
        assertTrue(waited >= TimeUnit.MILLISECONDS.toNanos(300), "gave up early: " + waited + " ns");
        assertEquals(0, resent.get(), "a lost request was retried");
        assertFalse(server.anotherConnectionCame(), "the GET was sent again on a new connection");
      } finally {
        client.close();
      }
    }
  }

  @Test
  void theRawClientRejectsATimeoutThatIsNotPositive() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new FilterLoad.RawRequester(1, new java.util.concurrent.atomic.AtomicLong(), 0));
    assertEquals("timeoutMillis must be positive: 0", e.getMessage());
  }

  @Test
  void badArgumentsAreRejectedByName() {
    assertEquals(
        "unknown option --round",
        assertThrows(
                IllegalArgumentException.class,
                () -> FilterLoad.Options.parse(new String[] {"--round", "5"}))
            .getMessage());
    assertEquals(
        "--rounds must be a positive integer, got \"0\"",
        assertThrows(
                IllegalArgumentException.class,
                () -> FilterLoad.Options.parse(new String[] {"--rounds", "0"}))
            .getMessage());
    assertEquals(
        "--client must be raw, jdk or jetty, got \"okhttp\"",
        assertThrows(
                IllegalArgumentException.class,
                () -> FilterLoad.Options.parse(new String[] {"--client", "okhttp"}))
            .getMessage());
    assertEquals(
        "--vary-budget needs --client raw (the other clients send one budget), got --client jdk",
        assertThrows(
                IllegalArgumentException.class,
                () -> FilterLoad.Options.parse(new String[] {"--vary-budget", "1000", "--client", "jdk"}))
            .getMessage());
    assertEquals(
        "--vary-budget must be 1 to 30000, got 30001",
        assertThrows(
                IllegalArgumentException.class,
                () -> FilterLoad.Options.parse(new String[] {"--vary-budget", "30001"}))
            .getMessage());
    assertEquals(1000, FilterLoad.Options.parse(new String[] {"--vary-budget", "1000"}).varyBudget);
    assertEquals(
        "--rate must be a positive integer, got \"0\"",
        assertThrows(
                IllegalArgumentException.class,
                () -> FilterLoad.Options.parse(new String[] {"--rate", "0"}))
            .getMessage());
    assertEquals(
        "--rate must be 1 to 1000000, got 1000001",
        assertThrows(
                IllegalArgumentException.class,
                () -> FilterLoad.Options.parse(new String[] {"--rate", "1000001"}))
            .getMessage());
    assertEquals(15000, FilterLoad.Options.parse(new String[] {"--rate", "15000"}).rate);
    assertEquals(0, FilterLoad.Options.parse(new String[0]).rate, "closed loop by default");
    assertEquals(
        "--out needs a value",
        assertThrows(
                IllegalArgumentException.class,
                () -> FilterLoad.Options.parse(new String[] {"--out"}))
            .getMessage());
  }

  @Test
  void optionsAfterQuickOverrideItAndHelpIsAnOption() {
    FilterLoad.Options o =
        FilterLoad.Options.parse(new String[] {"--quick", "--rounds", "7", "--client", "jdk"});
    assertTrue(o.quick);
    assertEquals(7, o.rounds);
    assertEquals(300, o.phaseMillis);
    assertEquals("jdk", o.client);
    assertFalse(o.help);
    assertTrue(FilterLoad.Options.parse(new String[] {"--help"}).help);
    assertTrue(FilterLoad.Options.parse(new String[] {"-h"}).help);
    for (String option :
        new String[] {
          "--quick", "--out", "--rounds", "--phase-ms", "--warmup-ms", "--connections",
          "--server-idle-ms", "--client", "--vary-budget", "--forks", "--fork-jvm-option", "--as-fork",
          "--report-forks", "--rate", "--help"
        }) {
      assertTrue(FilterLoad.USAGE.contains(option), () -> "usage does not name " + option);
    }
  }

  @Test
  void forksTakeTheOtherOptionsAndTheirOwnOut() {
    assertEquals(3, FilterLoad.Options.parse(new String[] {"--forks", "3"}).forks);
    assertEquals(1, FilterLoad.Options.parse(new String[0]).forks);
    assertEquals(
        "--forks must be a positive integer, got \"0\"",
        assertThrows(
                IllegalArgumentException.class,
                () -> FilterLoad.Options.parse(new String[] {"--forks", "0"}))
            .getMessage());
    assertEquals(
        java.util.List.of("--quick", "--client", "jetty", "--rounds", "5"),
        FilterLoad.Forks.childArgs(
            new String[] {"--quick", "--forks", "4", "--client", "jetty", "--out", "x", "--rounds", "5"}));
    java.util.List<String> cmd =
        FilterLoad.Forks.command(
            new String[] {"--forks", "2", "--fork-jvm-option", "-Dk={fork}", "--quick"},
            java.util.List.of("-Xmx1g"),
            java.util.List.of("-Dk={fork}"),
            2);
    assertEquals(
        java.util.List.of("-Xmx1g", "-Dk=2", "-cp", System.getProperty("java.class.path"),
            FilterLoad.class.getName(), "--quick", "--as-fork"),
        cmd.subList(1, cmd.size()));
    assertEquals(
        "--fork-jvm-option takes a JVM option (starting with -), got \"Xmx1g\"",
        assertThrows(
                IllegalArgumentException.class,
                () -> FilterLoad.Options.parse(new String[] {"--fork-jvm-option", "Xmx1g"}))
            .getMessage());
  }

  /**
   * JVM options that load an agent or name a file or a port stay with the parent (each fork would
   * write over the same file, or fail to take a port the parent holds); the others go to every
   * fork once, and the environment variables that already gave options to the parent are not
   * given again.
   */
  @Test
  void optionsNamingAFileOrAPortStayWithTheParentAndNoneIsGivenTwice() {
    for (String perJvm : new String[] {
        "-agentlib:jdwp=transport=dt_socket,server=y,address=5005",
        "-agentpath:/opt/ap/libasyncProfiler.so=start,file=x.collapsed",
        "-javaagent:/opt/otel.jar",
        "-XX:StartFlightRecording=filename=fl.jfr",
        "-XX:FlightRecorderOptions=repository=/tmp/r",
        "-Xlog:gc*:file=gc.log",
        "-Xloggc:gc.log",
        "-XX:HeapDumpPath=/tmp/h.hprof",
        "-XX:ErrorFile=/tmp/err.log",
        "-Dcom.sun.management.jmxremote.port=9010"}) {
      assertTrue(FilterLoad.Forks.perJvm(perJvm), perJvm);
    }
    for (String shared : new String[] {
        "-Xms1g", "-Xmx1g", "-XX:+AlwaysPreTouch", "-Xlog:gc", "-Dfoo=file=bar", "-XX:+UseParallelGC"}) {
      assertFalse(FilterLoad.Forks.perJvm(shared), shared);
    }
    java.util.Map<String, String> env = new java.util.HashMap<>(java.util.Map.of(
        "JAVA_TOOL_OPTIONS", "-Dx=1", "JDK_JAVA_OPTIONS", "-Dy=2", "_JAVA_OPTIONS", "-Dz=3",
        "PATH", "/usr/bin"));
    FilterLoad.Forks.forkEnvironment(env);
    assertEquals(java.util.Map.of("PATH", "/usr/bin"), env);
  }

  /**
   * A parent killed with SIGKILL runs no shutdown hook; its fork still ends, on its own, because
   * its standard input (a pipe from the parent) closes. The parent here is a real JVM, started by
   * the test.
   */
  @Test
  @Timeout(120)
  void aForkEndsWhenItsParentIsKilledWithSigkill(@TempDir java.nio.file.Path dir) throws Exception {
    String launcher = java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process parent =
        new ProcessBuilder(
                launcher, "-cp", System.getProperty("java.class.path"), FilterLoad.class.getName(),
                "--quick", "--rounds", "100000", "--forks", "2", "--out", dir.toString())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("parent.txt").toFile())
            .start();
    ProcessHandle fork = null;
    try {
      java.nio.file.Path log = dir.resolve("fork-1").resolve("output.txt");
      while (fork == null || !java.nio.file.Files.exists(log) || java.nio.file.Files.size(log) == 0) {
        assertTrue(parent.isAlive(), () -> "the parent ended early: " + read(dir.resolve("parent.txt")));
        fork = parent.toHandle().children().findFirst().orElse(null);
        // A poll on another process's progress, which nothing here can be told of; not a timing.
        java.util.concurrent.locks.LockSupport.parkNanos(10_000_000L);
      }
      assertTrue(fork.isAlive());
      parent.destroyForcibly(); // SIGKILL
      assertEquals(137, parent.waitFor());
      fork.onExit().get(60, TimeUnit.SECONDS);
      assertFalse(fork.isAlive());
      assertTrue(read(log).contains("the parent of this fork has ended"), () -> read(log));
    } finally {
      parent.destroyForcibly();
      if (fork != null) {
        fork.destroyForcibly(); // a failed check leaves no load running behind the other tests
      }
    }
  }

  private static String read(java.nio.file.Path file) {
    try {
      return java.nio.file.Files.readString(file);
    } catch (IOException e) {
      return e.toString();
    }
  }

  /**
   * Three forks whose rounds agree within each fork but not with each other: the plain bootstrap
   * of all rounds sees many rounds and a narrow interval; the forks' bootstrap sees three JVMs, and
   * its interval reaches from one fork's level to another's.
   */
  @Test
  void theForksBootstrapResamplesTheForksAsWellAsTheirRounds() {
    double[][] forks = new double[3][40];
    double[] levels = {1.00, 1.02, 1.04};
    SplittableRandom random = new SplittableRandom(7);
    for (int f = 0; f < 3; f++) {
      for (int r = 0; r < 40; r++) {
        forks[f][r] = levels[f] + (random.nextDouble() - 0.5) * 0.002;
      }
    }
    double[] all = new double[120];
    for (int f = 0; f < 3; f++) {
      System.arraycopy(forks[f], 0, all, 40 * f, 40);
    }
    double[] plain = FilterLoad.Report.bootstrap(all, 3);
    double[] nested = FilterLoad.Report.bootstrap(forks, 3);
    assertEquals(plain[0], nested[0], "the same median");
    assertTrue(plain[2] - plain[1] < 0.021, () -> "plain " + Arrays.toString(plain));
    assertTrue(nested[1] < 1.005 && nested[2] > 1.035, () -> "forks " + Arrays.toString(nested));
    // One fork: the plain bootstrap, draw for draw.
    assertTrue(Arrays.equals(FilterLoad.Report.bootstrap(forks[1], 5),
        FilterLoad.Report.bootstrap(new double[][] {forks[1]}, 5)));
  }

  /**
   * Two real forks (child JVMs of this test's JVM), each a quick run, and one report over both.
   * Phases of 100 ms rather than the quick mode's 300: what is checked is the plumbing (two JVMs,
   * their files, one pooled report), which takes the same path whatever the phases last.
   */
  @Test
  @Timeout(120)
  void forksRunInTheirOwnJvmsAndTheReportPoolsTheirRounds(@TempDir java.nio.file.Path dir)
      throws Exception {
    FilterLoad.main(
        new String[] {
          "--quick", "--phase-ms", "100", "--warmup-ms", "100", "--forks", "2", "--out", dir.toString()
        });
    String report = java.nio.file.Files.readString(dir.resolve("results.md"));
    assertTrue(report.contains("2 forks (JVMs run one after the other"), report);
    assertTrue(report.contains("## Per fork"), report);
    assertTrue(report.contains("## Cost of the filter per fork, over all of each fork's requests"), report);
    assertFalse(report.contains("not judged (no fork p99)"), report);
    // The server CPU cost is given for both filter configurations, as a median and an interval.
    assertEquals(2, java.util.regex.Pattern.compile("\\| [+-]\\d+\\.\\d% \\[[+-]\\d+\\.\\d, [+-]\\d+\\.\\d\\] \\|\\n")
        .matcher(report).results().count(), report);
    for (int k = 1; k <= 2; k++) {
      java.nio.file.Path fork = dir.resolve("fork-" + k);
      long[] resent = new long[1];
      java.util.List<FilterLoad.Phase[]> rounds =
          FilterLoad.Forks.readRounds(fork.resolve(FilterLoad.Forks.ROUNDS), resent);
      assertEquals(2, rounds.size(), "the quick mode's rounds");
      for (FilterLoad.Phase[] round : rounds) {
        for (FilterLoad.Phase p : round) {
          assertTrue(p.requests() > 0, "requests in every phase");
          assertTrue(p.serverCpuNanos() > 0, "the server's CPU time in every phase");
        }
      }
      assertTrue(java.nio.file.Files.readString(fork.resolve("results.md")).contains("quick"));
      long[] p99 = FilterLoad.Forks.readPooledP99(fork.resolve(FilterLoad.Forks.POOLED));
      assertTrue(p99 != null && Arrays.stream(p99).allMatch(v -> v > 0), "the fork's p99s");
      // Rounds 1 and 2 of both forks, numbered within their fork, in the pooled table.
      assertTrue(report.contains("| 2 | " + k + " | "), report);
    }
  }

  /** Interrupting the parent ends the fork it waits for: no JVM is left running the load. */
  @Test
  @Timeout(120)
  void anInterruptedParentLeavesNoForkRunning(@TempDir java.nio.file.Path dir) throws Exception {
    String[] args = {"--quick", "--rounds", "100000", "--forks", "2", "--out", dir.toString()};
    FilterLoad.Options o = FilterLoad.Options.parse(args);
    java.util.concurrent.atomic.AtomicReference<Throwable> thrown =
        new java.util.concurrent.atomic.AtomicReference<>();
    Thread parent =
        new Thread(
            () -> {
              try {
                FilterLoad.Forks.run(o, args);
              } catch (Throwable t) {
                thrown.set(t);
              }
            });
    parent.start();
    ProcessHandle fork = null;
    // Wait for the first fork to have started and begun writing its output.
    java.nio.file.Path log = dir.resolve("fork-1").resolve("output.txt");
    while (fork == null || !java.nio.file.Files.exists(log) || java.nio.file.Files.size(log) == 0) {
      assertTrue(parent.isAlive(), () -> "the parent ended early: " + thrown.get());
      fork = ProcessHandle.current().children().findFirst().orElse(null);
      // A poll on another process's progress, which nothing here can be told of; not a timing.
      java.util.concurrent.locks.LockSupport.parkNanos(10_000_000L);
    }
    try {
      parent.interrupt();
      parent.join();
      assertInstanceOf(InterruptedException.class, thrown.get());
      fork.onExit().get(30, TimeUnit.SECONDS);
      assertFalse(fork.isAlive());
    } finally {
      fork.destroyForcibly(); // a failed check leaves no load running behind the other tests
    }
    assertFalse(java.nio.file.Files.exists(dir.resolve("fork-2")), "no second fork after the interrupt");
  }

  @Test
  void aRoundsFileThatIsNotOneIsRejectedByName(@TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path file = dir.resolve("rounds.tsv");
    java.util.List<FilterLoad.Phase[]> rounds =
        java.util.Collections.singletonList(
            new FilterLoad.Phase[] {
              new FilterLoad.Phase(0, 10, 1_000, 5, 9, -1, 50),
              new FilterLoad.Phase(1, 11, 1_000, 6, 10, 100, -1),
              new FilterLoad.Phase(2, 12, 1_000, 7, 11, 200, 70)
            });
    FilterLoad.Forks.writeRounds(file, rounds, 4, 0);
    long[] resent = new long[1];
    FilterLoad.Phase[] back = FilterLoad.Forks.readRounds(file, resent).get(0);
    assertEquals(4, resent[0]);
    assertEquals(Arrays.asList(rounds.get(0)), Arrays.asList(back));
    java.util.List<String> lines = java.nio.file.Files.readAllLines(file);
    java.util.List<String> twice = new java.util.ArrayList<>(lines);
    twice.add(lines.get(lines.size() - 1));
    java.nio.file.Files.write(file, twice);
    assertEquals(
        file + ": round 1 has configuration 2 twice",
        assertThrows(IOException.class, () -> FilterLoad.Forks.readRounds(file, resent))
            .getMessage());
    java.util.List<String> garbled = new java.util.ArrayList<>(lines);
    garbled.set(3, "1\t0\tten\t1000\t5\t9\t-1\t50");
    java.nio.file.Files.write(file, garbled);
    assertEquals(
        file + ": bad line \"1\t0\tten\t1000\t5\t9\t-1\t50\"",
        assertThrows(IOException.class, () -> FilterLoad.Forks.readRounds(file, resent))
            .getMessage());
    // A file from before the server's CPU time was measured: its phases read as not measured.
    java.util.List<String> older = new java.util.ArrayList<>();
    for (String line : lines) {
      older.add(line.startsWith("#") ? line : line.substring(0, line.lastIndexOf('\t')));
    }
    java.nio.file.Files.write(file, older);
    FilterLoad.Phase first = FilterLoad.Forks.readRounds(file, resent).get(0)[0];
    assertEquals(new FilterLoad.Phase(0, 10, 1_000, 5, 9, -1, -1), first);
    assertTrue(Double.isNaN(first.cpuPerRequest()));
    java.nio.file.Files.write(file, lines.subList(0, lines.size() - 1));
    assertEquals(
        file + ": a round lacks a configuration",
        assertThrows(IOException.class, () -> FilterLoad.Forks.readRounds(file, resent))
            .getMessage());
    java.nio.file.Files.writeString(file, "round\tconfig\n");
    assertTrue(
        assertThrows(IOException.class, () -> FilterLoad.Forks.readRounds(file, resent))
            .getMessage()
            .endsWith("is not a FilterLoad rounds file"));
  }

  /**
   * The per-fork costs: each fork's throughput from all of its requests and time, its own p99 over
   * all of its requests, and its server CPU per request, against `none` in the same fork.
   */
  @Test
  void theForkLevelCostsTakeEachForkAsOneSample() {
    java.util.List<java.util.List<FilterLoad.Phase[]>> forks = new java.util.ArrayList<>();
    java.util.List<long[]> p99 = new java.util.ArrayList<>();
    int[] filterRequests = {980, 990, 970};
    long[] filterP99 = {101, 103, 102};
    for (int f = 0; f < 3; f++) {
      java.util.List<FilterLoad.Phase[]> rounds = new java.util.ArrayList<>();
      for (int r = 0; r < 2; r++) { // two equal rounds: the fork's totals give the same ratios
        rounds.add(new FilterLoad.Phase[] {
          new FilterLoad.Phase(0, 500, 500_000_000L, 1, 1, 0, 25_000_000L),
          new FilterLoad.Phase(1, filterRequests[f] / 2, 500_000_000L, 1, 1, 0, 25_000_000L),
          new FilterLoad.Phase(2, 500, 500_000_000L, 1, 1, 0, 25_000_000L)
        });
      }
      forks.add(rounds);
      p99.add(new long[] {100, filterP99[f], 100});
    }
    FilterLoad.Options o = FilterLoad.Options.parse(new String[0]);
    String table = FilterLoad.Report.forkLevel(o, forks, p99, false);
    // Throughput costs 2.0, 1.0, 3.0 (median 2.0); p99 +1, +3, +2 (median 2); CPU per request
    // 25 ms over 490, 495 and 485 requests against 500: +2.0, +1.0, +3.1.
    assertTrue(table.contains("| `filter` | +2.0% [+1.0, +3.0] | +2.0% [+1.0, +3.0] | +2.0% [+1.0, +3.1] |"), table);
    assertTrue(table.contains("+2.0/+1.0, +1.0/+3.0, +3.0/+2.0 |"), table);
    assertTrue(table.contains("| `filter+deadline` | +0.0% [+0.0, +0.0] | +0.0% [+0.0, +0.0] | +0.0% [+0.0, +0.0] |"
        + " met (both intervals below 2%) |"), table);
    assertTrue(table.contains("not resolved (an interval straddles 2%)"), table);
    // A fork that wrote no p99 file (an older FilterLoad): no p99 cost and no verdict.
    p99.set(1, null);
    String without = FilterLoad.Report.forkLevel(o, forks, p99, false);
    assertTrue(without.contains("| +2.0% [+1.0, +3.0] | n/a | "), without);
    assertTrue(without.contains("not judged (no fork p99)"), without);
  }

  /** A report on runs already made, fork-1 and fork-2 of a folder, as --forks would give it. */
  @Test
  void aReportOnEarlierRunsPoolsTheirFolders(@TempDir java.nio.file.Path dir) throws Exception {
    assertEquals(dir.resolve("fork-1") + " is not a folder: no runs to report on",
        assertThrows(IOException.class,
            () -> FilterLoad.Forks.report(FilterLoad.Options.parse(new String[0]), dir)).getMessage());
    for (int k = 1; k <= 2; k++) {
      java.nio.file.Path fork = java.nio.file.Files.createDirectories(dir.resolve("fork-" + k));
      java.util.List<FilterLoad.Phase[]> rounds = new java.util.ArrayList<>();
      for (int r = 0; r < 3; r++) {
        rounds.add(new FilterLoad.Phase[] {
          new FilterLoad.Phase(0, 1000, 1_000_000_000L, 5, 9, 100, 50_000_000L),
          new FilterLoad.Phase(1, 990, 1_000_000_000L, 5, 9, 100, 50_000_000L),
          new FilterLoad.Phase(2, 980, 1_000_000_000L, 5, 9, 100, 50_000_000L)
        });
      }
      FilterLoad.Forks.writeRounds(fork.resolve(FilterLoad.Forks.ROUNDS), rounds, k, 0);
      FilterLoad.Forks.writePooledP99(fork.resolve(FilterLoad.Forks.POOLED), new long[] {100, 101, 103});
    }
    String report = FilterLoad.Forks.report(FilterLoad.Options.parse(new String[] {"--rounds", "3"}), dir);
    assertTrue(report.contains("2 forks (JVMs run one after the other"), report);
    assertTrue(report.contains("- **Resent**: 3 "), report);
    assertTrue(report.contains("| `filter` | +1.0% [+1.0, +1.0] | +1.0% [+1.0, +1.0] | +1.0% [+1.0, +1.0] |"), report);
    assertTrue(report.contains("| `filter+deadline` | +2.0% [+2.0, +2.0] | +3.0% [+3.0, +3.0] | +2.0% [+2.0, +2.0] |"), report);
  }

  @Test
  void aPooledP99FileIsWrittenReadBackAndCheckedByName(@TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path file = dir.resolve(FilterLoad.Forks.POOLED);
    assertEquals(null, FilterLoad.Forks.readPooledP99(file), "no file: a fork that did not say");
    FilterLoad.Forks.writePooledP99(file, new long[] {800, 810, 820});
    assertTrue(Arrays.equals(new long[] {800, 810, 820}, FilterLoad.Forks.readPooledP99(file)));
    java.nio.file.Files.writeString(file, "config\tp99_ns\n0\t800\n1\teight\n2\t820\n");
    assertEquals(file + ": bad line \"1\teight\"",
        assertThrows(IOException.class, () -> FilterLoad.Forks.readPooledP99(file)).getMessage());
    java.nio.file.Files.writeString(file, "config\tp99_ns\n0\t800\n2\t810\n1\t820\n");
    assertEquals(file + ": bad line \"2\t810\"",
        assertThrows(IOException.class, () -> FilterLoad.Forks.readPooledP99(file)).getMessage());
    java.nio.file.Files.writeString(file, "config\tp99_ns\n0\t800\n");
    assertEquals(file + " is not a FilterLoad pooled p99 file",
        assertThrows(IOException.class, () -> FilterLoad.Forks.readPooledP99(file)).getMessage());
  }

  /**
   * A requester whose calls take {@code nanos} (0: they return at once), except its {@code
   * slowCall}-th call, which takes {@code slowNanos}: a server that takes this long to answer (not a
   * synchronisation: nothing waits for it).
   */
  private static final class OneSlowCall implements FilterLoad.Requester {
    final long nanos;
    final int slowCall;
    final long slowNanos;
    int calls;

    OneSlowCall(long nanos, int slowCall, long slowNanos) {
      this.nanos = nanos;
      this.slowCall = slowCall;
      this.slowNanos = slowNanos;
    }

    @Override
    public void call(int config) {
      long take = ++calls == slowCall ? slowNanos : nanos;
      long until = System.nanoTime() + take;
      for (long left = take; left > 0; left = until - System.nanoTime()) {
        java.util.concurrent.locks.LockSupport.parkNanos(left);
      }
    }

    @Override
    public void close() {}
  }

  /**
   * The open loop sends on its schedule, not as fast as answers come: one worker at 200 requests/s
   * sends exactly the 80 requests due in a 400 ms phase (the closed loop sends as many as it can).
   * After one answer that takes 30 ms, the requests that fell due meanwhile count from when they
   * were due, so the stall shows in each of them (about 25, 20, 15, 10 and 5 ms), where the closed
   * loop shows it in the slow request (and whatever pauses the test's JVM itself); the others count from when they were sent, so this thread's
   * own wake-up is not in them.
   */
  @Test
  void theOpenLoopSendsOnItsScheduleAndCountsAHeldUpRequestFromWhenItWasDue() throws Exception {
    FilterLoad.Driver open = new FilterLoad.Driver(w -> new OneSlowCall(0, 10, 30_000_000L), 1);
    long[] latencies;
    try {
      open.openLoop(200);
      FilterLoad.Phase p = open.phase(1, 400);
      assertEquals(80, p.requests(), "the requests due in 400 ms at one per 5 ms");
      latencies = Arrays.copyOf(open.pooled()[1].values, open.pooled()[1].size);
    } finally {
      open.close();
    }
    Arrays.sort(latencies);
    assertTrue(latencies[latencies.length - 1] >= 30_000_000L, () -> Arrays.toString(latencies));
    long stalled = Arrays.stream(latencies).filter(v -> v >= 4_000_000L).count();
    assertTrue(stalled >= 5, () -> stalled + " requests of 4 ms or more: " + Arrays.toString(latencies));
    assertTrue(latencies[latencies.length / 2] < 2_000_000L, () -> Arrays.toString(latencies));

    // Calls of 1 ms here: a closed loop of instant calls records millions of latencies in 400 ms,
    // and growing their array pauses the worker itself.
    FilterLoad.Driver closed = new FilterLoad.Driver(w -> new OneSlowCall(1_000_000L, 10, 30_000_000L), 1);
    try {
      FilterLoad.Phase p = closed.phase(1, 400);
      assertTrue(p.requests() > 80, () -> "the closed loop sent only " + p.requests());
      long slow =
          Arrays.stream(closed.pooled()[1].values, 0, closed.pooled()[1].size)
              .filter(v -> v >= 20_000_000L)
              .count();
      // The slow request, and at most a pause of the test's own JVM on a loaded machine.
      assertTrue(slow >= 1 && slow < stalled, () -> "the closed loop saw the stall in " + slow);
    } finally {
      closed.close();
    }
    assertEquals(
        "rate must be 1 to 1000000, got 0",
        assertThrows(IllegalArgumentException.class, () -> FilterLoad.Driver.intervalNanos(1, 0))
            .getMessage());
    assertEquals(8_000_000_000L, FilterLoad.Driver.intervalNanos(8, 1));
  }

  /**
   * Where an open-loop request's latency starts, every 10 units: after waiting for its time, when it
   * is sent (the thread's late wake-up is the client's); held up by an answer, when it was due; held
   * up by an answer to a request the thread itself sent after this one was due, when that one's
   * latency started.
   */
  @Test
  void anOpenLoopRequestIsChargedOnlyForTheWaitTheServerCaused() {
    assertEquals(13, FilterLoad.Driver.countFrom(true, 13, 10, 0), "woke 3 late: not the server's");
    assertEquals(20, FilterLoad.Driver.countFrom(false, 45, 20, 10), "held up 25 by the answer to 10");
    assertEquals(40, FilterLoad.Driver.countFrom(false, 52, 40, 37), "the one before woke 7 late");
    assertEquals(
        45, FilterLoad.Driver.countFrom(false, 52, 40, 45), "the one before woke 15 late, after this was due");
  }

  /**
   * The raw client against the real server in the open loop: two connections keep to 400/s. A
   * phase is 250 ms, so a stall of a few tens of milliseconds (a JIT compile of the server's first
   * requests, a GC, the machine busy with other builds: 46 of 100 once, on the first config, on JDK
   * 25 under two other Maven runs) loses requests that a driver keeping its rate would send: each
   * config gets a warm-up phase and three tries, and a driver or server at half the rate fails all
   * three.
   */
  @Test
  void theOpenLoopKeepsItsRateAgainstTheRealServer() throws Exception {
    Server server = FilterLoad.startServer(-1);
    FilterLoad.Driver driver = new FilterLoad.Driver(w -> new FilterLoad.RawRequester(port(server)), 2);
    try {
      driver.openLoop(400);
      for (int c = 0; c < FilterLoad.CONFIGS.length; c++) {
        driver.phase(c, 250); // warm-up, not counted
        // Each connection every 5 ms, the second 2.5 ms after the first: 50 each in 250 ms.
        List<String> tries = new ArrayList<>();
        boolean kept = false;
        // Up to ten phases: on a machine loaded by other builds (a CI run beside two of them
        // saw 77 to 96 of the 100 in three phases) one phase that keeps the rate is the claim.
        for (int t = 0; t < 10 && !kept; t++) {
          FilterLoad.Phase p = driver.phase(c, 250);
          tries.add(p.requests() + " requests at " + p.rps() + "/s");
          // Loose on the rate: a loaded machine may stall the last answers.
          kept = p.requests() == 100 && p.rps() > 300;
        }
        assertTrue(kept, FilterLoad.CONFIGS[c] + ": " + tries);
      }
    } finally {
      driver.close();
      server.stop();
    }
  }

  /**
   * A server slower than the rate: the phase stops sending a tenth of its length after its end,
   * rather than running until every request due in it was answered, and its throughput shows that
   * it fell behind. Calls of 20 ms against one due every millisecond: about 11 in 220 ms.
   */
  @Test
  void anOpenLoopPhaseTheServerCannotKeepUpWithStopsAndShowsItFellBehind() throws Exception {
    FilterLoad.Driver driver = new FilterLoad.Driver(w -> new OneSlowCall(20_000_000L, 0, 0), 1);
    try {
      driver.openLoop(1000);
      FilterLoad.Phase p = driver.phase(1, 200);
      assertTrue(p.requests() < 50, () -> p.requests() + " requests");
      assertTrue(p.elapsedNanos() < 400_000_000L, () -> p.elapsedNanos() / 1_000_000 + " ms");
      assertTrue(p.rps() < FilterLoad.Report.KEEPING_UP * 1000, () -> p.rps() + " requests/s");
    } finally {
      driver.close();
    }
  }

  /**
   * close() ends an open-loop worker that is waiting for its time: at one request per second over
   * eight connections, the last one's first request is due 7 s into the phase, beyond close()'s
   * 5 s wait (before, close() returned with that worker still parked).
   */
  @Test
  void closeEndsAnOpenLoopWorkerWaitingForItsTime() throws Exception {
    CountDownLatch first = new CountDownLatch(1);
    FilterLoad.Driver driver =
        new FilterLoad.Driver(
            w ->
                new FilterLoad.Requester() {
                  @Override
                  public void call(int config) {
                    first.countDown();
                  }

                  @Override
                  public void close() {}
                },
            8);
    driver.openLoop(1);
    Thread runner =
        new Thread(
            () -> {
              try {
                driver.phase(1, 60_000);
              } catch (Exception e) {
                // interrupted below, as intended
              }
            });
    runner.start();
    assertTrue(first.await(10, TimeUnit.SECONDS), "no worker called");
    runner.interrupt();
    runner.join(10_000);
    long start = System.nanoTime();
    driver.close();
    long took = System.nanoTime() - start;
    assertEquals(0, driver.workersAlive(), "an open-loop worker outlived close()");
    assertTrue(took < TimeUnit.SECONDS.toNanos(4), "close() waited " + took / 1_000_000 + " ms");
  }

  /** A run's rate is in its rounds file, and a report for the other loop is refused by name. */
  @Test
  void aReportOnRunsOfTheOtherLoopIsRefused(@TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path fork = java.nio.file.Files.createDirectories(dir.resolve("fork-1"));
    java.util.List<FilterLoad.Phase[]> rounds = new java.util.ArrayList<>();
    rounds.add(new FilterLoad.Phase[] {
      new FilterLoad.Phase(0, 1000, 1_000_000_000L, 5, 9, 100, 50_000_000L),
      new FilterLoad.Phase(1, 1000, 1_000_000_000L, 5, 9, 100, 50_000_000L),
      new FilterLoad.Phase(2, 1000, 1_000_000_000L, 5, 9, 100, 50_000_000L)
    });
    FilterLoad.Forks.writeRounds(fork.resolve(FilterLoad.Forks.ROUNDS), rounds, 2, 1000);
    long[] back = {0, 0};
    FilterLoad.Forks.readRounds(fork.resolve(FilterLoad.Forks.ROUNDS), back);
    assertEquals(2, back[0]);
    assertEquals(1000, back[1]);
    assertEquals(fork + " ran --rate 1000, the report is for the closed loop: give the options the runs had",
        assertThrows(IOException.class,
            () -> FilterLoad.Forks.report(FilterLoad.Options.parse(new String[0]), dir)).getMessage());
    assertTrue(FilterLoad.Forks.report(FilterLoad.Options.parse(new String[] {"--rate", "1000"}), dir)
        .contains("open loop at 1000 requests/s"));
    java.nio.file.Files.writeString(fork.resolve(FilterLoad.Forks.ROUNDS),
        java.nio.file.Files.readString(fork.resolve(FilterLoad.Forks.ROUNDS)).replace("rate 1000", "rate x"));
    assertTrue(assertThrows(IOException.class,
            () -> FilterLoad.Forks.readRounds(fork.resolve(FilterLoad.Forks.ROUNDS), back)).getMessage()
        .endsWith(": bad first line \"# resent 2 rate x\""));
  }

  /**
   * The report in the open loop: the verdict is on the p99 alone (the schedule sets the
   * throughput), and a run in which a phase fell below 97% of the rate gets none.
   */
  @Test
  void theOpenLoopReportJudgesTheP99AloneAndNothingOnceTheServerFellBehind() {
    FilterLoad.Options o = FilterLoad.Options.parse(new String[] {"--rate", "1000", "--rounds", "3"});
    java.util.List<FilterLoad.Phase[]> rounds = new java.util.ArrayList<>();
    for (int r = 0; r < 3; r++) {
      rounds.add(new FilterLoad.Phase[] {
        new FilterLoad.Phase(0, 1000, 1_000_000_000L, 50_000, 100_000, 0, 25_000_000L),
        new FilterLoad.Phase(1, 1000, 1_000_000_000L, 50_000, 101_000, 0, 25_000_000L),
        new FilterLoad.Phase(2, 1000, 1_000_000_000L, 50_000, 103_000, 0, 25_000_000L)
      });
    }
    String report =
        FilterLoad.Report.markdown(o, java.util.List.of(rounds), null, null, "0", "0", System.nanoTime(), -1);
    assertTrue(report.contains("connections in an open loop at 1000 requests/s in all"), report);
    assertTrue(report.contains("0 of 9 phases fell behind"), report);
    assertTrue(report.contains("`none`'s p50 varied between rounds by 0.0%"), report);
    assertTrue(report.contains("| +1.0% [+1.0, +1.0] | p99 met (its interval below 2%"), report);
    assertTrue(report.contains("| +3.0% [+3.0, +3.0] | p99 **missed** (its interval above 2%)"), report);

    rounds.set(1, new FilterLoad.Phase[] {
      rounds.get(1)[0], new FilterLoad.Phase(1, 960, 1_000_000_000L, 50_000, 101_000, 0, 25_000_000L), rounds.get(1)[2]
    });
    String behind =
        FilterLoad.Report.markdown(o, java.util.List.of(rounds), null, null, "0", "0", System.nanoTime(), -1);
    assertTrue(behind.contains("1 of 9 phases fell behind"), behind);
    assertEquals(2, behind.split("not judged \\(the server fell behind --rate", -1).length - 1, behind);
    // The closed loop judges both figures, as before.
    assertEquals("**missed** (an interval above 2%)", FilterLoad.Report.verdict(
        FilterLoad.Options.parse(new String[0]), false, 0, new double[] {0.03, 0.025, 0.035}, new double[] {0, 0, 0}));
  }

  /** A requester whose call blocks, like a read with no answer, until the requester is closed. */
  private static final class BlockedUntilClosed implements FilterLoad.Requester {
    final CountDownLatch inCall = new CountDownLatch(1);
    final CountDownLatch closed = new CountDownLatch(1);

    @Override
    public void call(int config) throws IOException {
      inCall.countDown();
      try {
        if (!closed.await(60, TimeUnit.SECONDS)) {
          throw new AssertionError("never closed");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      throw new java.net.SocketException("Socket closed");
    }

    @Override
    public void close() {
      closed.countDown();
    }
  }

  /**
   * The thread running a phase is interrupted while a worker waits for an answer: close() must
   * still leave no worker behind. It closes the requesters first, which is what ends a blocked read;
   * before, it waited 5 s for workers it had not yet unblocked, then returned with the worker still
   * alive (and, once unblocked, waiting at a finish line nobody would reach).
   */
  @Test
  void closeEndsAWorkerStillWaitingForAnAnswerAfterAnInterruptedPhase() throws Exception {
    BlockedUntilClosed requester = new BlockedUntilClosed();
    FilterLoad.Driver driver = new FilterLoad.Driver(w -> requester, 1);
    java.util.concurrent.CompletableFuture<Throwable> phase = new java.util.concurrent.CompletableFuture<>();
    Thread runner =
        new Thread(
            () -> {
              try {
                driver.phase(1, 60_000);
                phase.complete(null);
              } catch (Throwable e) {
                phase.complete(e);
              }
            });
    runner.start();
    assertTrue(requester.inCall.await(10, TimeUnit.SECONDS), "the worker never called");
    runner.interrupt();
    assertInstanceOf(InterruptedException.class, phase.get(10, TimeUnit.SECONDS));
    long start = System.nanoTime();
    driver.close();
    long took = System.nanoTime() - start;
    assertEquals(0, driver.workersAlive(), "a load worker outlived close()");
    assertTrue(took < TimeUnit.SECONDS.toNanos(4), "close() waited " + took / 1_000_000 + " ms");
  }
}
