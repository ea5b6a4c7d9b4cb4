package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import io.ctx4j.Key;
import io.ctx4j.CancelableContext;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The filter's rules beyond the matrix: header lists, the server maximum, untrusted callers, init parameters. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class FilterBehaviourTest {
  /** Runs one request through {@code filter} on Jetty; returns the probe after the context ended. */
  private static Probe deadlineOf(ContextServletFilter filter, Map<String, String> init, String... headers)
      throws Exception {
    Probe probe = new Probe();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = CurrentContext.get();
              probe.enter(ctx, true);
              ctx.await(Duration.ofSeconds(1));
              res.getWriter().print(ctx.deadline().isPresent() ? "deadline" : "none");
            });
    try (Containers.Running server = Containers.JETTY.start(filter, servlet, init)) {
      HttpResponse<String> r = Http.get(server.port, "/x", headers);
      assertEquals(200, r.statusCode(), r.body());
      if (r.body().equals("deadline")) {
        assertTrue(probe.ended.await(10, TimeUnit.SECONDS));
      }
    }
    return probe;
  }

  private static String source(Probe p) {
    return p.reason() == Reason.DEADLINE_EXCEEDED ? p.cause.getMessage() : "none";
  }

  @Test
  void smallestValueWinsAcrossLinesCommaListsAndHeaders() throws Exception {
    Probe p = deadlineOf(ContextServletFilter.create(), Map.of(),
        "Ctx4j-Timeout-Ms", "60000, 5000", "Connect-Timeout-Ms", "40000", "grpc-timeout", "1M",
        "grpc-timeout", "200m");
    assertEquals("deadline exceeded: set by the caller's grpc-timeout", source(p));
    assertTrue(p.remainingAtEntry.toMillis() <= 200, p.remainingAtEntry.toString());
    Probe q = deadlineOf(ContextServletFilter.create(), Map.of(), "Ctx4j-Timeout-Ms", "60000,\t150 ");
    assertEquals("deadline exceeded: set by the caller's Ctx4j-Timeout-Ms", source(q));
    assertTrue(q.remainingAtEntry.toMillis() <= 150, q.remainingAtEntry.toString());
  }

  /**
   * Callers that propagate their deadlines send another budget with nearly every request; those
   * whose deadlines fall in one window share one deadline all the same, one per header. The clock
   * is manual and stands still. Before, the shared deadlines were per budget value and per cause
   * (one cause per value, four kept): every new value made a cause, a deadline and a timer of its
   * own (40 deadlines for 40 requests), and four stayed current.
   */
  @Test
  void budgetsThatDifferWithEveryRequestShareDeadlines() throws Exception {
    java.time.Instant start = java.time.Instant.parse("2030-01-01T00:00:00Z");
    io.ctx4j.ManualTimeSource clock = io.ctx4j.ManualTimeSource.startingAt(start);
    ContextServletFilter filter =
        ContextServletFilter.builder().parent(Context.withTimeSource(Context.background(), clock)).build();
    long nowNanos = start.getEpochSecond() * 1_000_000_000L;
    java.util.Set<Long> ctx4jWindows = new java.util.HashSet<>();
    java.util.Set<Long> grpcWindows = new java.util.HashSet<>();
    java.util.Set<java.time.Instant> deadlines = java.util.concurrent.ConcurrentHashMap.newKeySet();
    TestServlet servlet = new TestServlet((req, res) -> deadlines.add(CurrentContext.get().deadline().get()));
    try (Containers.Running server = Containers.JETTY.start(filter, servlet)) {
      for (int i = 0; i < 20; i++) {
        int millis = 30_000 - i; // window 256 ms
        assertEquals(200, Http.get(server.port, "/x", "Ctx4j-Timeout-Ms", Integer.toString(millis)).statusCode());
        ctx4jWindows.add(Math.floorDiv(nowNanos + millis * 1_000_000L, 256_000_000L));
        int grpcMillis = 5_000 - i; // window 32 ms
        assertEquals(200, Http.get(server.port, "/x", "grpc-timeout", grpcMillis + "m").statusCode());
        grpcWindows.add(Math.floorDiv(nowNanos + grpcMillis * 1_000_000L, 32_000_000L));
      }
      // 20 ms of deadlines straddle at most one edge of each header's windows.
      int expected = ctx4jWindows.size() + grpcWindows.size();
      assertTrue(expected <= 4, "windows " + ctx4jWindows + " " + grpcWindows);
      assertEquals(expected, deadlines.size(), "deadlines given to 40 requests: " + deadlines);
      assertEquals(expected, filter.sharedDeadlinesKept(), "shared deadlines current");
      assertEquals(expected, clock.pendingCount(), "timers scheduled");
      assertEquals(expected, CoreInternals.registrationCount(filter.root()), "registered on the root");
    }
  }

  /**
   * A deadline's cause names the header that set it, not its value (requests with other values
   * share it); requests whose deadlines come from one header share one cause.
   */
  @Test
  void aDeadlinesCauseNamesTheHeaderThatSetIt() throws Exception {
    java.util.List<Context> contexts = new java.util.concurrent.CopyOnWriteArrayList<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = CurrentContext.get();
              ctx.await(Duration.ofSeconds(10)); // every budget here is far smaller
              contexts.add(ctx);
            });
    String[][] sent = {
      {"Ctx4j-Timeout-Ms", "20"}, {"Ctx4j-Timeout-Ms", "30"}, {"grpc-timeout", "20m"},
      {"Ctx4j-Timeout-Ms", " 20"}, {"Connect-Timeout-Ms", "20"}, {"Ctx4j-Timeout-Ms", "150"}
    };
    ContextServletFilter filter = ContextServletFilter.builder().maxTimeout(Duration.ofSeconds(60)).build();
    try (Containers.Running server = Containers.JETTY.start(filter, servlet)) {
      for (String[] h : sent) {
        assertEquals(200, Http.get(server.port, "/x", h[0], h[1]).statusCode());
      }
    }
    assertEquals(sent.length, contexts.size());
    for (int i = 0; i < sent.length; i++) {
      RequestCanceledException cause = (RequestCanceledException) contexts.get(i).cause();
      assertEquals(Reason.DEADLINE_EXCEEDED, cause.reason());
      assertEquals("deadline exceeded: set by the caller's " + sent[i][0], cause.getMessage());
      if (sent[i][0].equals("Ctx4j-Timeout-Ms")) {
        assertSame(contexts.get(0).cause(), cause, "one header, one cause");
      }
    }
  }

  @Test
  void oneMalformedElementRejectsTheRequestEvenBesideAValidOne() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    try (Containers.Running server =
        Containers.JETTY.start(ContextServletFilter.create(), new TestServlet((req, res) -> calls.incrementAndGet()))) {
      for (String[] h : new String[][] {
          {"Ctx4j-Timeout-Ms", "300, x"}, {"Ctx4j-Timeout-Ms", ","}, {"Connect-Timeout-Ms", "12345678901"},
          {"grpc-timeout", "100"}, {"grpc-timeout", "1S, 2"}, {"Connect-Timeout-Ms", "1e3"}}) {
        HttpResponse<String> r = Http.get(server.port, "/x", h[0], h[1]);
        assertEquals(400, r.statusCode(), h[0] + ": " + h[1]);
        assertTrue(r.body().contains(h[0]), r.body());
      }
      assertEquals(0, calls.get());
    }
  }

  @Test
  void hugeBudgetsSaturateInsteadOfOverflowingIntoThePast() throws Exception {
    Probe p = deadlineOf(ContextServletFilter.create(), Map.of(),
        "grpc-timeout", "99999999H", "Connect-Timeout-Ms", "9999999999");
    // 9,999,999,999 ms (115 days) is the smaller; both are far beyond any clock trouble.
    assertTrue(p.remainingAtEntry.toDays() >= 115, String.valueOf(p.remainingAtEntry));
    assertEquals(Reason.RESPONSE_COMPLETED, p.reason(), "ended by the handler's return, not by time");
  }

  @Test
  void zeroMeansAlreadyOutOfTime() throws Exception {
    Probe p = deadlineOf(ContextServletFilter.create(), Map.of(), "Connect-Timeout-Ms", "0");
    assertSame(Context.DEADLINE_EXCEEDED, p.err);
    assertTrue(p.remainingAtEntry.isZero() || p.remainingAtEntry.isNegative());
  }

  @Test
  void serverMaximumCapsHeadersAndAppliesWithoutOne() throws Exception {
    ContextServletFilter capped = ContextServletFilter.builder().maxTimeout(Duration.ofMillis(200)).build();
    Probe withHeader = deadlineOf(capped, Map.of(), "Ctx4j-Timeout-Ms", "60000");
    assertEquals("deadline exceeded: server maximum 200 ms", source(withHeader));
    assertTrue(withHeader.remainingAtEntry.toMillis() <= 200);
    Probe without = deadlineOf(ContextServletFilter.builder().maxTimeout(Duration.ofMillis(200)).build(), Map.of());
    assertEquals("deadline exceeded: server maximum 200 ms", source(without));
    Probe smaller = deadlineOf(ContextServletFilter.builder().maxTimeout(Duration.ofMillis(5000)).build(), Map.of(),
        "grpc-timeout", "150m");
    assertEquals("deadline exceeded: set by the caller's grpc-timeout", source(smaller));
  }

  /**
   * The server maximum is named as it was given, in milliseconds with as many decimals as it has:
   * in the cause of a deadline it set, and in the filter's description, which its warnings quote.
   * Before, both cut it to whole milliseconds: 150.5 ms was "150 ms", half a millisecond "0 ms".
   * The builder's refusals quote the duration as {@code Duration} prints it, which is exact too.
   */
  @Test
  void theServerMaximumIsNamedExactly() throws Exception {
    Probe fractional = deadlineOf(
        ContextServletFilter.builder().maxTimeout(Duration.ofNanos(150_500_000)).build(), Map.of(),
        "Ctx4j-Timeout-Ms", "60000");
    assertEquals("deadline exceeded: server maximum 150.5 ms", source(fractional));
    Probe subMillisecond = deadlineOf(
        ContextServletFilter.builder().maxTimeout(Duration.ofNanos(500_000)).build(), Map.of());
    assertEquals("deadline exceeded: server maximum 0.5 ms", source(subMillisecond));
    Object[][] described = {
      {Duration.ofNanos(150_500_000), "150.5ms"},
      {Duration.ofNanos(500_000), "0.5ms"},
      {Duration.ofNanos(1), "0.000001ms"},
      {Duration.ofSeconds(1, 1), "1000.000001ms"},
      {Duration.ofMillis(200), "200ms"},
      {Duration.ofSeconds(30), "30000ms"},
      {Duration.ofMillis(Long.MAX_VALUE), "9223372036854775807ms"},
      {Duration.ofMillis(Long.MAX_VALUE).minusNanos(1), "9223372036854775806.999999ms"},
    };
    for (Object[] c : described) {
      ContextServletFilter filter = ContextServletFilter.builder().maxTimeout((Duration) c[0]).build();
      try {
        assertTrue(filter.toString().contains("maxTimeout=" + c[1] + ","), c[0] + ": " + filter);
      } finally {
        filter.destroy();
      }
    }
    IllegalArgumentException negative = assertThrows(IllegalArgumentException.class,
        () -> ContextServletFilter.builder().maxTimeout(Duration.ofNanos(-500_000)));
    assertEquals("maxTimeout must be positive, got PT-0.0005S", negative.getMessage());
  }

  @Test
  void untrustedCallersHeadersAreIgnoredEvenMalformedOnes() throws Exception {
    ContextServletFilter untrusted = ContextServletFilter.builder().trustTimeoutHeaders(false).build();
    Probe p = deadlineOf(untrusted, Map.of(), "Ctx4j-Timeout-Ms", "100", "grpc-timeout", "bogus");
    assertNull(p.remainingAtEntry, "no deadline from an untrusted caller");
    Probe capped = deadlineOf(
        ContextServletFilter.builder().trustTimeoutHeaders(false).maxTimeout(Duration.ofMillis(150)).build(),
        Map.of(), "Ctx4j-Timeout-Ms", "100");
    assertEquals("deadline exceeded: server maximum 150 ms", source(capped));
  }

  @Test
  void initParametersConfigureAContainerMadeFilter() throws Exception {
    Probe p = deadlineOf(new ContextServletFilter(),
        Map.of(ContextServletFilter.INIT_MAX_TIMEOUT_MILLIS, "180", ContextServletFilter.INIT_TRUST_HEADERS, "false"),
        "Ctx4j-Timeout-Ms", "100");
    assertEquals("deadline exceeded: server maximum 180 ms", source(p));
    // A builder-made filter keeps its settings.
    Probe q = deadlineOf(ContextServletFilter.create(),
        Map.of(ContextServletFilter.INIT_MAX_TIMEOUT_MILLIS, "180"), "Ctx4j-Timeout-Ms", "120");
    assertEquals("deadline exceeded: set by the caller's Ctx4j-Timeout-Ms", source(q));
    assertTrue(q.remainingAtEntry.toMillis() <= 120, q.remainingAtEntry.toString());
  }

  @Test
  void malformedInitParametersFailTheFilterByName() {
    for (Map<String, String> bad : new Map[] {
        Map.of(ContextServletFilter.INIT_MAX_TIMEOUT_MILLIS, "0"),
        Map.of(ContextServletFilter.INIT_MAX_TIMEOUT_MILLIS, "5s"),
        // Long.parseLong would take these: a sign, and the digits of other scripts.
        Map.of(ContextServletFilter.INIT_MAX_TIMEOUT_MILLIS, "+1000"),
        Map.of(ContextServletFilter.INIT_MAX_TIMEOUT_MILLIS, "\u0661\u0660\u0660\u0660"),
        Map.of(ContextServletFilter.INIT_MAX_TIMEOUT_MILLIS, "\uFF11\uFF10\uFF10\uFF10"),
        Map.of(ContextServletFilter.INIT_TRUST_HEADERS, "yes")}) {
      String name = bad.keySet().iterator().next();
      jakarta.servlet.FilterConfig config = new jakarta.servlet.FilterConfig() {
        @Override public String getFilterName() { return "f"; }
        @Override public jakarta.servlet.ServletContext getServletContext() { return null; }
        @Override public String getInitParameter(String n) { return bad.get(n); }
        @Override public java.util.Enumeration<String> getInitParameterNames() {
          return java.util.Collections.enumeration(bad.keySet());
        }
      };
      jakarta.servlet.ServletException e =
          assertThrows(jakarta.servlet.ServletException.class, () -> new ContextServletFilter().init(config));
      assertTrue(e.getMessage().contains(name), e.getMessage());
    }
  }

  @Test
  void builderRejectsBadArguments() {
    assertThrows(IllegalArgumentException.class, () -> ContextServletFilter.builder().maxTimeout(Duration.ZERO));
    assertThrows(IllegalArgumentException.class, () -> ContextServletFilter.builder().maxTimeout(Duration.ofMillis(-1)));
    assertThrows(NullPointerException.class, () -> ContextServletFilter.builder().parent(null));
    assertThrows(NullPointerException.class, () -> ContextServletFilter.contextOf(null));
  }

  @Test
  void builderRejectsAMaximumTooLongForMillisecondsNamingIt() {
    // The filter keeps its maximum in milliseconds: one more than a long holds must be refused by
    // the setter, naming it, not fail later in build() with a bare "long overflow".
    Duration tooLong = Duration.ofMillis(Long.MAX_VALUE).plusMillis(1);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> ContextServletFilter.builder().maxTimeout(tooLong));
    assertTrue(e.getMessage().startsWith("maxTimeout is too large, got " + tooLong), e.getMessage());
    ContextServletFilter.builder().maxTimeout(Duration.ofMillis(Long.MAX_VALUE)).build().destroy();
  }

  @Test
  void parentValuesAndCancellationReachRequests() throws Exception {
    Key<String> region = Key.named("region");
    CancelableContext parent = Context.withCancel(Context.withValue(Context.background(), region, "eu"));
    ContextServletFilter filter = ContextServletFilter.builder().parent(parent).build();
    Probe probe = new Probe();
    AtomicReference<String> seen = new AtomicReference<>();
    TestServlet servlet = new TestServlet((req, res) -> {
      Context ctx = CurrentContext.get();
      seen.set(ctx.value(region));
      probe.enter(ctx, true);
      ctx.await(Duration.ofSeconds(30));
    });
    try (Containers.Running server = Containers.JETTY.start(filter, servlet)) {
      var r = Http.getAsync(server.port, "/");
      assertTrue(probe.entered.await(10, TimeUnit.SECONDS));
      parent.cancel(new IllegalStateException("signal"));
      assertTrue(probe.ended.await(10, TimeUnit.SECONDS));
      assertEquals("eu", seen.get());
      assertEquals("signal", probe.cause.getMessage());
      assertEquals(200, r.get(10, TimeUnit.SECONDS).statusCode());
    }
  }

  @Test
  void destroyShutsTheRootDown() throws Exception {
    ContextServletFilter filter = ContextServletFilter.create();
    Containers.Running server = Containers.TOMCAT.start(filter, new TestServlet((req, res) -> {}));
    assertFalse(filter.root().isDone());
    server.close();
    assertTrue(filter.root().isDone());
    RequestCanceledException cause = (RequestCanceledException) filter.root().cause();
    assertEquals(Reason.SERVER_SHUTDOWN, cause.reason());
    assertEquals("server shutdown: filter destroyed", cause.getMessage());
    assertFalse(filter.shutdown(), "idempotent: the first cause stays");
  }

  @ParameterizedTest
  @EnumSource(Containers.class)
  void handlerThatThrowsEndsItsContextWithThatFailure(Containers c) throws Exception {
    Probe probe = new Probe();
    try (Containers.Running server = c.start(ContextServletFilter.create(), new TestServlet((req, res) -> {
      probe.enter(CurrentContext.get(), true);
      throw new IllegalStateException("boom");
    }))) {
      assertEquals(500, Http.get(server.port, "/x").statusCode());
      assertTrue(probe.ended.await(10, TimeUnit.SECONDS));
      assertEquals(Reason.HANDLER_FAILED, probe.reason());
      assertEquals("boom", probe.cause.getCause().getMessage());
    }
  }

  /** A PrintWriter swallows I/O errors: the disconnect is seen at flush(), through checkError(). */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void writerDisconnectIsSeenAtFlush(Containers c) throws Exception {
    Probe probe = new Probe();
    AtomicInteger flushes = new AtomicInteger();
    TestServlet servlet = new TestServlet((req, res) -> {
      probe.enter(CurrentContext.get(), true);
      probe.awaitGo();
      PrintWriter w = res.getWriter();
      String line = "x".repeat(8191);
      for (int i = 0; i < 10_000 && !CurrentContext.get().isDone(); i++) {
        w.println(line);
        w.flush();
        flushes.incrementAndGet();
      }
    });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      try (Socket socket = new Socket("127.0.0.1", server.port)) {
        socket.getOutputStream().write("GET /x HTTP/1.1\r\nHost: h\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        assertTrue(probe.entered.await(10, TimeUnit.SECONDS));
      }
      probe.go.countDown();
      assertTrue(probe.ended.await(20, TimeUnit.SECONDS));
      assertEquals(Reason.CLIENT_DISCONNECTED, probe.reason(), String.valueOf(probe.cause));
      assertNotNull(probe.cause);
      assertTrue(flushes.get() < 10_000, "the loop stopped on the context, after " + flushes.get() + " flushes");
    }
  }

  /**
   * Mapped for REQUEST only, the filter follows the request through a second async cycle by
   * re-registering its listener in onStartAsync: the context ends when the last cycle completes.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void secondAsyncCycleIsFollowedWithoutAnAsyncMapping(Containers c) throws Exception {
    Probe probe = new Probe();
    AtomicReference<Boolean> liveInSecondCycle = new AtomicReference<>();
    TestServlet servlet = new TestServlet((req, res) -> {
      if (req.getDispatcherType() == jakarta.servlet.DispatcherType.REQUEST) {
        probe.enter(CurrentContext.get(), true);
        jakarta.servlet.AsyncContext first = req.startAsync();
        first.start(first::dispatch);
        return;
      }
      // The async dispatch, not filtered: start a second cycle, completed by the test.
      jakarta.servlet.AsyncContext second = req.startAsync();
      second.start(() -> {
        try {
          probe.awaitGo();
          liveInSecondCycle.set(!probe.ctx.isDone());
          second.getResponse().getWriter().print("second");
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
        second.complete();
      });
    });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet, Map.of(),
        java.util.EnumSet.of(jakarta.servlet.DispatcherType.REQUEST))) {
      var r = Http.getAsync(server.port, "/");
      assertTrue(probe.entered.await(10, TimeUnit.SECONDS));
      probe.go.countDown();
      assertEquals("second", r.get(10, TimeUnit.SECONDS).body());
      assertTrue(probe.ended.await(10, TimeUnit.SECONDS));
      assertEquals(Boolean.TRUE, liveInSecondCycle.get(), "the first cycle's end did not end the context");
      assertEquals(Reason.RESPONSE_COMPLETED, probe.reason());
    }
  }

  /**
   * A handler that sends an error status is followed by an ERROR dispatch, which carries the
   * container's request, not the one the chain got: the filter put the context there, so the error
   * page runs with the request's context (ended, since the handler returned), through {@link
   * CurrentContext} and {@link ContextServletFilter#contextOf}. The handler sees the attribute among
   * the request's attribute names. An error status below 400 (302, as Spring's
   * {@code @ResponseStatus(FOUND)} sends it) is followed by an ERROR dispatch too.
   */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.MethodSource("errorStatusCases")
  void anErrorDispatchRunsWithTheRequestsContext(Containers c, int status) throws Exception {
    AtomicReference<Context> inHandler = new AtomicReference<>();
    AtomicReference<Boolean> named = new AtomicReference<>();
    AtomicReference<Context> current = new AtomicReference<>();
    AtomicReference<Context> attribute = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() == jakarta.servlet.DispatcherType.ERROR) {
                current.set(CurrentContext.get());
                attribute.set(ContextServletFilter.contextOf(req));
                res.getWriter().print("error page");
                return;
              }
              inHandler.set(CurrentContext.get());
              named.set(
                  java.util.Collections.list(req.getAttributeNames())
                      .contains(ContextServletFilter.ATTRIBUTE));
              res.sendError(status);
            });
    java.util.EnumSet<jakarta.servlet.DispatcherType> types =
        java.util.EnumSet.of(
            jakarta.servlet.DispatcherType.REQUEST,
            jakarta.servlet.DispatcherType.ASYNC,
            jakarta.servlet.DispatcherType.ERROR);
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet, Map.of(), types)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      assertEquals(status, r.statusCode());
      assertEquals("error page", r.body());
    }
    assertNotNull(inHandler.get());
    assertEquals(Boolean.TRUE, named.get(), "the attribute is among the names");
    assertSame(inHandler.get(), current.get(), "CurrentContext on the ERROR dispatch");
    assertSame(inHandler.get(), attribute.get(), "contextOf on the ERROR dispatch");
    assertEquals(Reason.RESPONSE_COMPLETED, ((RequestCanceledException) current.get().cause()).reason());
  }

  /**
   * After {@code startAsync()}, {@code AsyncContext.getRequest()} is the container's request, not
   * the one the chain got; another thread finds the context on it while the dispatch that started
   * async has not returned yet.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void theContainersRequestCarriesTheContextOnceAsyncHasStarted(Containers c) throws Exception {
    AtomicReference<Context> inHandler = new AtomicReference<>();
    AtomicReference<Object> fromAsyncThread = new AtomicReference<>();
    AtomicReference<Boolean> wasWrapped = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() != jakarta.servlet.DispatcherType.REQUEST) {
                return;
              }
              inHandler.set(CurrentContext.get());
              jakarta.servlet.AsyncContext async = req.startAsync();
              wasWrapped.set(async.getRequest() instanceof jakarta.servlet.ServletRequestWrapper);
              java.util.concurrent.CountDownLatch looked = new java.util.concurrent.CountDownLatch(1);
              async.start(
                  () -> {
                    try {
                      fromAsyncThread.set(ContextServletFilter.contextOf(async.getRequest()));
                    } catch (RuntimeException e) {
                      fromAsyncThread.set(e);
                    }
                    looked.countDown();
                  });
              // The dispatch does not return before the other thread has looked.
              if (!looked.await(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the async thread never looked");
              }
              res.getWriter().print("async");
              async.complete();
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      assertEquals(200, r.statusCode());
      assertEquals("async", r.body());
    }
    assertEquals(Boolean.FALSE, wasWrapped.get(), "AsyncContext.getRequest() is the container's request");
    assertSame(inHandler.get(), fromAsyncThread.get());
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> errorStatusCases() {
    return java.util.Arrays.stream(Containers.values())
        .flatMap(c -> java.util.stream.Stream.of(Containers.ERROR_STATUS, Containers.LOW_ERROR_STATUS)
            .map(s -> org.junit.jupiter.params.provider.Arguments.of(c, s)));
  }

  /**
   * Setting or removing the context attribute through the request the chain got, before and after
   * async processing starts, changes nothing: {@code contextOf} still answers the request's context,
   * and so does the ASYNC dispatch, which carries the container's request.
   */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.MethodSource("attributeChangeCases")
  void theContextAttributeCannotBeReplacedOrRemovedThroughTheChainsRequest(Containers c, boolean remove)
      throws Exception {
    AtomicReference<Context> inHandler = new AtomicReference<>();
    AtomicReference<Object> beforeAsync = new AtomicReference<>();
    AtomicReference<Object> afterAsync = new AtomicReference<>();
    AtomicReference<Context> inAsyncDispatch = new AtomicReference<>();
    AtomicReference<Object> attributeInAsyncDispatch = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() == jakarta.servlet.DispatcherType.ASYNC) {
                inAsyncDispatch.set(CurrentContext.get());
                attributeInAsyncDispatch.set(req.getAttribute(ContextServletFilter.ATTRIBUTE));
                res.getWriter().print("async");
                return;
              }
              inHandler.set(CurrentContext.get());
              change(req, remove);
              beforeAsync.set(req.getAttribute(ContextServletFilter.ATTRIBUTE));
              jakarta.servlet.AsyncContext async = req.startAsync();
              change(req, remove);
              afterAsync.set(req.getAttribute(ContextServletFilter.ATTRIBUTE));
              async.dispatch();
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      assertEquals(200, r.statusCode());
      assertEquals("async", r.body());
    }
    assertNotNull(inHandler.get());
    assertSame(inHandler.get(), beforeAsync.get(), "the attribute before startAsync");
    assertSame(inHandler.get(), afterAsync.get(), "the attribute after startAsync");
    assertSame(inHandler.get(), inAsyncDispatch.get(), "CurrentContext on the ASYNC dispatch");
    assertSame(inHandler.get(), attributeInAsyncDispatch.get(), "the attribute on the ASYNC dispatch");
  }

  private static void change(jakarta.servlet.http.HttpServletRequest req, boolean remove) {
    if (remove) {
      req.removeAttribute(ContextServletFilter.ATTRIBUTE);
    } else {
      req.setAttribute(ContextServletFilter.ATTRIBUTE, Context.background());
    }
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> attributeChangeCases() {
    return java.util.Arrays.stream(Containers.values())
        .flatMap(c -> java.util.stream.Stream.of(true, false)
            .map(r -> org.junit.jupiter.params.provider.Arguments.of(c, r)));
  }

  /**
   * A filter in front whose request wrapper refuses the context attribute (with an
   * {@link IllegalStateException}, as a recycled request would).
   */
  private static jakarta.servlet.Filter refusingInFront(ContextServletFilter filter) {
    return new InFront(filter) {
      @Override
      jakarta.servlet.http.HttpServletRequest wrap(jakarta.servlet.http.HttpServletRequest request) {
        return new jakarta.servlet.http.HttpServletRequestWrapper(request) {
          @Override
          public void setAttribute(String name, Object value) {
            if (ContextServletFilter.ATTRIBUTE.equals(name)) {
              throw new IllegalStateException("refused");
            }
            super.setAttribute(name, value);
          }
        };
      }
    };
  }

  /**
   * When putting the context in the container fails as async processing starts, the request
   * still lists the attribute it answers: a failed attempt does not count as done.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void aRefusedAttributeStaysAmongTheNames(Containers c) throws Exception {
    AtomicReference<Object> refused = new AtomicReference<>();
    AtomicReference<Boolean> named = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              try {
                req.startAsync();
                refused.set("startAsync did not throw");
              } catch (IllegalStateException e) {
                refused.set(e);
              }
              named.set(
                  java.util.Collections.list(req.getAttributeNames())
                      .contains(ContextServletFilter.ATTRIBUTE));
              res.getWriter().print("sync");
            });
    try (Containers.Running server = c.start(refusingInFront(ContextServletFilter.create()), servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      assertEquals(200, r.statusCode());
      assertEquals("sync", r.body());
    }
    assertTrue(refused.get() instanceof IllegalStateException, String.valueOf(refused.get()));
    assertEquals("refused", ((IllegalStateException) refused.get()).getMessage());
    assertEquals(Boolean.TRUE, named.get(), "the attribute is among the names after a refused put");
  }

  /**
   * A handler that starts async on the container's request (unwrapping the one the chain got)
   * leaves the filter to put the context in the container when the dispatch returns; when that
   * fails, the failure reaches the container (which ends the request with an error), and the
   * context does not end as if the response had completed while the async cycle goes on.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void aFailureToHandTheContextToTheAsyncCycleIsNotMistakenForItsEnd(Containers c) throws Exception {
    AtomicReference<Context> inHandler = new AtomicReference<>();
    Probe probe = new Probe();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() != jakarta.servlet.DispatcherType.REQUEST) {
                return;
              }
              Context ctx = CurrentContext.get();
              inHandler.set(ctx);
              probe.enter(ctx);
              jakarta.servlet.ServletRequest inner = req;
              while (inner instanceof jakarta.servlet.ServletRequestWrapper) {
                inner = ((jakarta.servlet.ServletRequestWrapper) inner).getRequest();
              }
              inner.startAsync().setTimeout(60_000);
            });
    try (Containers.Running server = c.start(refusingInFront(ContextServletFilter.create()), servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      assertEquals(500, r.statusCode());
      assertTrue(probe.ended.await(10, TimeUnit.SECONDS), "the context ended");
    }
    assertNotNull(inHandler.get());
    assertNotEquals(Reason.RESPONSE_COMPLETED, probe.reason(), "ended as if completed");
  }

  /** Where a wrapper from a filter in front breaks while this filter handles the request. */
  enum SetupFailure {
    /** {@code getRequest()} throws: the container hooks unwrap the request before the chain runs. */
    UNWRAP_FAILS,
    /**
     * {@code setAttribute} of the context throws: the handler sent an error, so the filter puts the
     * context in the container for the ERROR dispatch, after the chain.
     */
    ATTRIBUTE_REFUSED
  }

  /**
   * A failure while the filter sets a request up, before the chain runs, or while it hands the
   * context on for an ERROR dispatch, after it, ends the request's context like a failure in the
   * chain: nothing stays registered on the root, no timer stays scheduled, and a shared deadline is
   * given back (so it closes once replaced). One server per case, with a request of each kind: no
   * deadline, a deadline of its own (50 ms, too short to share), a shared one (5 s). The clock is
   * manual, so nothing expires on its own.
   */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.MethodSource("setupFailureCases")
  void failureWhileSettingUpARequestEndsItsContextAndLeaksNothing(Containers c, SetupFailure failure)
      throws Exception {
    io.ctx4j.ManualTimeSource clock =
        io.ctx4j.ManualTimeSource.startingAt(java.time.Instant.parse("2030-01-01T00:00:00Z"));
    ContextServletFilter filter =
        ContextServletFilter.builder()
            .parent(Context.withTimeSource(Context.background(), clock))
            .build();
    Context root = filter.root();
    AtomicReference<Context> stored = new AtomicReference<>();
    jakarta.servlet.Filter inFront = new BreakingFilter(filter, failure, stored);
    AtomicInteger handled = new AtomicInteger();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              handled.incrementAndGet();
              if (req.getHeader("X-Break") != null) {
                res.sendError(503);
              }
            });
    try (Containers.Running server = c.start(inFront, servlet)) {
      String[][] requests = {{}, {"Ctx4j-Timeout-Ms", "50"}, {"Ctx4j-Timeout-Ms", "5000"}};
      for (String[] headers : requests) {
        String[] all = java.util.Arrays.copyOf(headers, headers.length + 2);
        all[headers.length] = "X-Break";
        all[headers.length + 1] = "yes";
        stored.set(null);
        int status = Http.get(server.port, "/x", all).statusCode();
        assertTrue(status >= 500, failure + " " + String.join(" ", headers) + ": " + status);
        Context ctx = stored.get();
        assertNotNull(ctx, "the filter stored a context");
        assertTrue(ctx.isDone(), "the context of a request whose setup failed ended");
        RequestCanceledException cause = (RequestCanceledException) ctx.cause();
        assertEquals(Reason.HANDLER_FAILED, cause.reason());
        assertEquals(BreakingFilter.MESSAGE, cause.getCause().getMessage());
      }
      int chainRuns = failure == SetupFailure.UNWRAP_FAILS ? 0 : 3;
      assertEquals(chainRuns, handled.get(), "the chain ran only when the setup succeeded");
      // Left: the shared deadline still current, which no request holds; the 50 ms timer is gone.
      assertEquals(1, filter.sharedDeadlinesKept());
      assertEquals(1, CoreInternals.registrationCount(root), "registered on the root");
      assertEquals(1, clock.pendingCount(), "timers scheduled");
      // Requests in four later windows fill the header's slots, and the last replaces the shared
      // deadline, the earliest: given back, it closes.
      for (int i = 0; i < 4; i++) {
        clock.advance(Duration.ofSeconds(1));
        assertEquals(200, Http.get(server.port, "/x", "Ctx4j-Timeout-Ms", "5000").statusCode());
      }
      assertEquals(chainRuns + 4, handled.get());
      assertEquals(4, CoreInternals.registrationCount(root), "registered on the root after the replacement");
      assertEquals(4, clock.pendingCount(), "timers scheduled after the replacement");
    }
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> setupFailureCases() {
    return java.util.Arrays.stream(Containers.values())
        .flatMap(c -> java.util.Arrays.stream(SetupFailure.values())
            .map(f -> org.junit.jupiter.params.provider.Arguments.of(c, f)));
  }

  /**
   * Stands for a filter in front of ours that passes it the request as {@link #wrap} makes it, and
   * has the container set it up and tear it down.
   */
  private abstract static class InFront implements jakarta.servlet.Filter {
    private final ContextServletFilter filter;

    InFront(ContextServletFilter filter) {
      this.filter = filter;
    }

    abstract jakarta.servlet.http.HttpServletRequest wrap(jakarta.servlet.http.HttpServletRequest request);

    @Override
    public void init(jakarta.servlet.FilterConfig config) throws jakarta.servlet.ServletException {
      filter.init(config);
    }

    @Override
    public void doFilter(
        jakarta.servlet.ServletRequest request,
        jakarta.servlet.ServletResponse response,
        jakarta.servlet.FilterChain chain)
        throws java.io.IOException, jakarta.servlet.ServletException {
      filter.doFilter(wrap((jakarta.servlet.http.HttpServletRequest) request), response, chain);
    }

    @Override
    public void destroy() {
      filter.destroy();
    }
  }

  /**
   * Stands for a filter in front of ours that wraps requests marked {@code X-Break}; the wrapper
   * breaks as {@link SetupFailure} says, and lets the test see the context the filter stored.
   */
  private static final class BreakingFilter extends InFront {
    static final String MESSAGE = "broken wrapper";
    private final SetupFailure failure;
    private final AtomicReference<Context> stored;

    BreakingFilter(ContextServletFilter filter, SetupFailure failure, AtomicReference<Context> stored) {
      super(filter);
      this.failure = failure;
      this.stored = stored;
    }

    @Override
    jakarta.servlet.http.HttpServletRequest wrap(jakarta.servlet.http.HttpServletRequest http) {
      if (http.getHeader("X-Break") == null) {
        return http;
      }
      return new jakarta.servlet.http.HttpServletRequestWrapper(http) {
        private boolean armed = failure == SetupFailure.UNWRAP_FAILS;

        @Override
        public void setAttribute(String name, Object value) {
          if (ContextServletFilter.ATTRIBUTE.equals(name)) {
            // After a failure too, the filter stores the context for the ERROR dispatch.
            stored.set((Context) value);
            if (failure == SetupFailure.ATTRIBUTE_REFUSED) {
              throw new IllegalStateException(MESSAGE);
            }
          }
          super.setAttribute(name, value);
        }

        @Override
        public jakarta.servlet.ServletRequest getRequest() {
          if (armed) {
            armed = false;
            throw new IllegalStateException(MESSAGE);
          }
          return super.getRequest();
        }
      };
    }
  }

  /**
   * A read of the body after the handler closed the stream or the reader fails on Tomcat (an
   * {@code IOException}: the stream is closed): the application's mistake, not news of the client,
   * so the context ends as it would have, {@code response completed}, when the handler returns. A
   * guard of the watched body: without its check of the close, both Tomcat cases ended as {@code
   * client disconnected: java.io.IOException: Stream closed}.
   */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.MethodSource("containersAndReaders")
  void aReadAfterTheHandlerClosedTheBodyIsNotADisconnect(Containers c, boolean reader)
      throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> afterClose = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = CurrentContext.get();
              seen.set(ctx);
              try {
                if (reader) {
                  java.io.BufferedReader r = req.getReader();
                  r.close();
                  r.read();
                } else {
                  jakarta.servlet.ServletInputStream in = req.getInputStream();
                  in.close();
                  in.read();
                }
                afterClose.set("no exception");
              } catch (IOException e) {
                afterClose.set(e.toString());
              }
              if (ctx.isDone()) {
                afterClose.set("ended by it: " + ctx.cause());
              }
              res.getWriter().print("ok");
            });
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpResponse<String> r =
          Http.HTTP1.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port + "/x"))
                  .POST(HttpRequest.BodyPublishers.ofString("body"))
                  .build(),
              BodyHandlers.ofString());
      assertEquals("ok", r.body());
    }
    assertNotNull(seen.get(), "the handler ran");
    CountDownLatch ended = new CountDownLatch(1);
    seen.get().onDone(ended::countDown);
    assertTrue(ended.await(10, TimeUnit.SECONDS), "the request context never ended");
    assertEquals(
        Reason.RESPONSE_COMPLETED,
        ((RequestCanceledException) seen.get().cause()).reason(),
        afterClose.get());
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments>
      containersAndReaders() {
    return Containers.eachWith(false, true);
  }
}
