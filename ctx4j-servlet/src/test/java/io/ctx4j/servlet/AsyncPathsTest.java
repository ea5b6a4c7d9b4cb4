package io.ctx4j.servlet;

import static io.ctx4j.servlet.Probe.awaitEnd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.FilterConfig;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.eclipse.jetty.ee11.servlet.ServletChannelState;
import org.eclipse.jetty.ee11.servlet.ServletContextRequest;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The async, dispatch and shutdown paths that no other test followed, on both containers: an
 * ASYNC dispatch to another path with the application's own wrappers given to {@code startAsync},
 * a forward and an include inside it; an async timeout whose application listener dispatches,
 * completes, throws, or is absent; {@code complete()} from another thread racing the timeout;
 * async requests that time out, lose their HTTP/1.1 client or are reset over h2c, many at once; a
 * reset of one h2c stream beside others; the server stopped while requests are in async. Guards:
 * each passed on the code it was written against (the attack on these paths found its defects in
 * HostileUseTest).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class AsyncPathsTest {
  private static final EnumSet<DispatcherType> ALL = EnumSet.allOf(DispatcherType.class);

  /** Nothing is registered on the root but the shared deadlines still current (exact count). */
  private static void assertNothingLeftOnTheRoot(ContextServletFilter filter) {
    assertEquals(
        filter.sharedDeadlinesKept(),
        CoreInternals.registrationCount(filter.root()),
        "registrations left on the server root");
  }

  private static Reason reason(Context ctx) {
    Reason r = Probe.reasonOf(ctx.cause());
    if (r == null) {
      throw new AssertionError("the request context's cause is not the filter's: " + ctx.cause());
    }
    return r;
  }

  /** What a dispatch saw: whether CurrentContext and contextOf are the request's, and if it ended. */
  private static String seen(String dispatch, Context expected, jakarta.servlet.ServletRequest req) {
    Context current = CurrentContext.get();
    Context attribute = ContextServletFilter.contextOf(req);
    return dispatch
        + ": current "
        + (current == expected ? "same" : String.valueOf(current))
        + ", contextOf "
        + (attribute == expected ? "same" : String.valueOf(attribute))
        + ", "
        + (expected.isDone() ? "done" : "live");
  }

  /**
   * {@code startAsync()} or {@code startAsync(wrapper, wrapper)} with the application's own
   * wrappers; {@code dispatch()} or {@code dispatch("/next")} from another thread, which finds the
   * context on {@code AsyncContext.getRequest()}; the ASYNC dispatch forwards, and the forward
   * includes: every dispatch runs with the request's context, live, and it ends when the ASYNC
   * dispatch returns.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void anAsyncDispatchElsewhereWithTheApplicationsWrappersForwardsAndIncludesWithTheContext(
      Containers c) throws Exception {
    for (int variant = 0; variant < 4; variant++) {
      boolean wrapped = (variant & 1) != 0;
      boolean withPath = (variant & 2) != 0;
      AtomicReference<Context> first = new AtomicReference<>();
      List<String> log = new CopyOnWriteArrayList<>();
      TestServlet servlet =
          new TestServlet(
              (req, res) -> {
                switch (req.getDispatcherType()) {
                  case REQUEST:
                    Context ctx = CurrentContext.get();
                    first.set(ctx);
                    AsyncContext async =
                        wrapped
                            ? req.startAsync(
                                new HttpServletRequestWrapper(req), new HttpServletResponseWrapper(res))
                            : req.startAsync();
                    new Thread(
                            () -> {
                              boolean found = ContextServletFilter.contextOf(async.getRequest()) == ctx;
                              log.add("other thread: contextOf " + (found ? "same" : "other"));
                              if (withPath) {
                                async.dispatch("/next");
                              } else {
                                async.dispatch();
                              }
                            })
                        .start();
                    break;
                  case ASYNC:
                    log.add(seen("async", first.get(), req));
                    req.getRequestDispatcher("/forwarded").forward(req, res);
                    break;
                  case FORWARD:
                    log.add(seen("forward", first.get(), req));
                    req.getRequestDispatcher("/included").include(req, res);
                    res.getWriter().print("done");
                    break;
                  case INCLUDE:
                    log.add(seen("include", first.get(), req));
                    break;
                  default:
                    log.add("unexpected " + req.getDispatcherType() + " dispatch");
                }
              });
      try (Containers.Running server = c.start(ContextServletFilter.create(), servlet, Map.of(), ALL)) {
        assertEquals("done", Http.get(server.port, "/x").body(), "variant " + variant);
        awaitEnd(first.get());
      }
      assertEquals(
          List.of(
              "other thread: contextOf same",
              "async: current same, contextOf same, live",
              "forward: current same, contextOf same, live",
              "include: current same, contextOf same, live"),
          log,
          "wrapped " + wrapped + ", dispatch to a path " + withPath);
      assertEquals(Reason.RESPONSE_COMPLETED, reason(first.get()), "variant " + variant);
    }
  }

  /**
   * An async timeout ends the context as {@code async timeout} before the application's listener
   * hears of it, whatever that listener then does: dispatch (the ASYNC dispatch runs with the ended
   * context), complete, throw; and without a listener (the container answers 500).
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void anAsyncTimeoutEndsTheContextWhateverTheApplicationsListenerDoes(Containers c)
      throws Exception {
    for (String kind : List.of("dispatch", "complete", "throw", "none")) {
      AtomicReference<Context> first = new AtomicReference<>();
      List<String> log = new CopyOnWriteArrayList<>();
      TestServlet servlet =
          new TestServlet(
              (req, res) -> {
                if (req.getDispatcherType() == DispatcherType.ASYNC) {
                  log.add(seen("async", first.get(), req));
                  res.getWriter().print("dispatched");
                  return;
                }
                first.set(CurrentContext.get());
                AsyncContext async = req.startAsync();
                async.setTimeout(200);
                if (!kind.equals("none")) {
                  async.addListener(new OnTimeout(kind, first, log));
                }
              });
      int status;
      try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
        HttpResponse<String> r = Http.get(server.port, "/x");
        status = r.statusCode();
        awaitEnd(first.get());
      }
      assertEquals(Reason.ASYNC_TIMEOUT, reason(first.get()), kind);
      switch (kind) {
        case "dispatch":
          assertEquals(200, status, kind);
          assertEquals(
              List.of("onTimeout: async timeout", "async: current same, contextOf same, done"), log);
          break;
        case "complete":
          assertEquals(200, status, kind);
          assertEquals(List.of("onTimeout: async timeout"), log);
          break;
        case "throw":
          assertEquals(500, status, kind);
          assertEquals(List.of("onTimeout: async timeout"), log);
          break;
        default:
          assertEquals(500, status, kind);
      }
    }
  }

  /** An application's timeout listener that records what it found and then does {@code kind}. */
  private static final class OnTimeout extends TimeoutListener {
    private final String kind;
    private final AtomicReference<Context> ctx;
    private final List<String> log;

    OnTimeout(String kind, AtomicReference<Context> ctx, List<String> log) {
      this.kind = kind;
      this.ctx = ctx;
      this.log = log;
    }

    @Override
    public void onTimeout(AsyncEvent e) throws IOException {
      Context c = ctx.get();
      log.add("onTimeout: " + (c.isDone() ? c.cause().getMessage() : "live"));
      if (kind.equals("dispatch")) {
        e.getAsyncContext().dispatch("/after");
      } else if (kind.equals("complete")) {
        e.getSuppliedResponse().getWriter().print("completed");
        e.getAsyncContext().complete();
      } else {
        throw new IllegalStateException("the application's listener failed");
      }
    }
  }

  /**
   * {@code complete()} from an application thread at about the moment the async timeout fires,
   * 200 times (half the requests with a deadline header): every context ends, as completed or
   * timed out, and nothing stays registered on the root but the shared deadlines still current.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void completeRacingTheTimeoutLeavesNothingRegistered(Containers c) throws Exception {
    int n = 200;
    CountDownLatch ended = new CountDownLatch(n);
    Map<Reason, Integer> reasons = new ConcurrentHashMap<>();
    ContextServletFilter filter = ContextServletFilter.create();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              Context ctx = CurrentContext.get();
              ctx.onDone(
                  () -> {
                    reasons.merge(reason(ctx), 1, Integer::sum);
                    ended.countDown();
                  });
              AsyncContext async = req.startAsync();
              long t = Long.parseLong(req.getParameter("t"));
              async.setTimeout(t);
              new Thread(
                      () -> {
                        try {
                          Thread.sleep(t);
                          async.complete();
                        } catch (InterruptedException | IllegalStateException timeoutWon) {
                          // The container completed the cycle after the timeout first.
                        }
                      })
                  .start();
            });
    try (Containers.Running server = c.start(filter, servlet)) {
      List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        all.add(
            Http.HTTP1.sendAsync(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port + "/x?t=" + (20 + i % 5)))
                    .header(i % 2 == 0 ? "Ctx4j-Timeout-Ms" : "X-Not-A-Deadline", "60000")
                    .build(),
                BodyHandlers.ofString()));
      }
      for (CompletableFuture<HttpResponse<String>> f : all) {
        f.get(60, TimeUnit.SECONDS);
      }
      assertTrue(ended.await(30, TimeUnit.SECONDS), ended.getCount() + " contexts never ended");
      assertTrue(
          reasons.keySet().stream()
              .allMatch(r -> r == Reason.RESPONSE_COMPLETED || r == Reason.ASYNC_TIMEOUT),
          String.valueOf(reasons));
      assertNothingLeftOnTheRoot(filter);
    }
  }

  /**
   * On a long-lived server, 40 async requests each that complete, time out, lose their HTTP/1.1
   * client (which neither container reports: their timeout ends them) or are reset over h2c
   * (half of each with a deadline header): every context ends, with the reason of its kind, and
   * nothing stays registered on the root but the shared deadlines still current.
   *
   * <p>The test resets the h2c streams with frames of its own ({@link H2cClient}), on a connection
   * it keeps open until every context ended. It used to cancel the JDK client's futures: the JDK
   * sent every RST_STREAM, but Tomcat now and then reported one of 40 resets to no {@code
   * AsyncListener} (see the module README, "HTTP/2, Tomcat"), and that context never ended.
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void asyncRequestsThatTimeOutOrLoseTheirClientLeaveNothingRegistered(Containers c)
      throws Exception {
    int each = 40;
    CountDownLatch ended = new CountDownLatch(4 * each);
    CountDownLatch waiting = new CountDownLatch(2 * each);
    Map<String, Integer> reasons = new ConcurrentHashMap<>();
    ContextServletFilter filter = ContextServletFilter.create();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              String path = req.getRequestURI();
              if (path.equals("/warm")) {
                res.getWriter().print("warm");
                return;
              }
              Context ctx = CurrentContext.get();
              ctx.onDone(
                  () -> {
                    reasons.merge(path + " " + reason(ctx), 1, Integer::sum);
                    ended.countDown();
                  });
              AsyncContext async = req.startAsync();
              switch (path) {
                case "/complete":
                  async.start(
                      () -> {
                        try {
                          async.getResponse().getWriter().print("ok");
                        } catch (IOException e) {
                          throw new UncheckedIOException(e);
                        }
                        async.complete();
                      });
                  break;
                case "/timeout":
                  async.setTimeout(100);
                  break;
                case "/drop":
                  async.setTimeout(300);
                  waiting.countDown();
                  break;
                default:
                  async.setTimeout(0);
                  ctx.onDone(async::complete);
                  waiting.countDown();
              }
            });
    try (Containers.Running server = c.start(filter, servlet);
        H2cClient h2 = new H2cClient(server.port)) {
      URI base = URI.create("http://127.0.0.1:" + server.port);
      List<CompletableFuture<?>> answered = new ArrayList<>();
      List<Integer> toReset = new ArrayList<>();
      List<Socket> toDrop = new ArrayList<>();
      try {
        for (int i = 0; i < each; i++) {
          String header = i % 2 == 0 ? "Ctx4j-Timeout-Ms" : "X-Not-A-Deadline";
          for (String p : List.of("/complete", "/timeout")) {
            answered.add(
                Http.HTTP1.sendAsync(
                    HttpRequest.newBuilder(base.resolve(p)).header(header, "60000").build(),
                    BodyHandlers.ofString()));
          }
          toReset.add(h2.get("/reset", Map.of(header.toLowerCase(java.util.Locale.ROOT), "60000")));
          Socket s = new Socket("127.0.0.1", server.port);
          toDrop.add(s);
          s.getOutputStream()
              .write(
                  ("GET /drop HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header + ": 60000\r\n\r\n")
                      .getBytes(StandardCharsets.US_ASCII));
        }
        assertTrue(waiting.await(30, TimeUnit.SECONDS), waiting.getCount() + " requests never arrived");
      } finally {
        for (Socket s : toDrop) {
          s.close();
        }
        for (int stream : toReset) {
          h2.reset(stream);
        }
      }
      for (CompletableFuture<?> f : answered) {
        f.get(60, TimeUnit.SECONDS);
      }
      assertTrue(ended.await(30, TimeUnit.SECONDS), ended.getCount() + " contexts never ended: " + reasons);
      assertEquals(
          Map.of(
              "/complete RESPONSE_COMPLETED", each,
              "/timeout ASYNC_TIMEOUT", each,
              "/drop ASYNC_TIMEOUT", each,
              "/reset CLIENT_DISCONNECTED", each),
          reasons);
      assertNothingLeftOnTheRoot(filter);
    }
  }

  /** A reset of one h2c stream ends its request's context and none of the others on the connection. */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void aResetOfOneH2cStreamEndsThatRequestOnly(Containers c) throws Exception {
    Map<String, Probe> probes = new ConcurrentHashMap<>();
    List<String> paths = List.of("/a", "/b", "/c", "/d");
    for (String p : paths) {
      probes.put(p, new Probe());
    }
    ContextServletFilter filter = ContextServletFilter.create();
    try (Containers.Running server = c.start(filter, TestServlet.asyncUntilTheContextEnds(probes::get));
        H2cClient h2 = new H2cClient(server.port)) {
      List<Integer> streams = new ArrayList<>();
      for (String p : paths) {
        streams.add(h2.get(p, Map.of()));
        assertTrue(probes.get(p).entered.await(10, TimeUnit.SECONDS), p + " never arrived");
      }
      h2.reset(streams.get(1));
      assertTrue(probes.get("/b").ended.await(10, TimeUnit.SECONDS), "the reset stream's context");
      assertEquals(Reason.CLIENT_DISCONNECTED, probes.get("/b").reason());
      // The others are live: a reset they had been told of would have ended them by now (the reset
      // one ended within milliseconds).
      CountDownLatch anyOther = new CountDownLatch(1);
      for (String p : List.of("/a", "/c", "/d")) {
        probes.get(p).ctx.onDone(anyOther::countDown);
      }
      assertFalse(anyOther.await(500, TimeUnit.MILLISECONDS), "another stream's context ended");
      filter.shutdown("end of test", null);
    }
  }

  /**
   * The server stops while eight requests are in async with no timeout and the filter was not
   * shut down first: every context ends, as {@code server shutdown} or {@code client
   * disconnected} (in the runs so far Tomcat waited for them and then destroyed the filter, {@code
   * server shutdown: filter destroyed}; Jetty failed their exchanges first, {@code client
   * disconnected: EofException}).
   */
  @ParameterizedTest
  @EnumSource(Containers.class)
  void everyRequestInAsyncEndsWhenTheServerStops(Containers c) throws Exception {
    int n = 8;
    CountDownLatch entered = new CountDownLatch(n);
    List<Context> contexts = new CopyOnWriteArrayList<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              req.startAsync().setTimeout(0);
              contexts.add(CurrentContext.get());
              entered.countDown();
            });
    Containers.Running server = c.start(ContextServletFilter.create(), servlet);
    try {
      for (int i = 0; i < n; i++) {
        Http.getAsync(server.port, "/x");
      }
      assertTrue(entered.await(20, TimeUnit.SECONDS), entered.getCount() + " requests never arrived");
    } finally {
      server.close();
    }
    for (Context ctx : contexts) {
      awaitEnd(ctx);
      Reason r = reason(ctx);
      assertTrue(
          r == Reason.SERVER_SHUTDOWN || r == Reason.CLIENT_DISCONNECTED, String.valueOf(ctx.cause()));
    }
  }

  /**
   * {@code sendError} from another thread once the dispatch that started async has returned, then
   * {@code dispatch()}, {@code dispatch(errorPage)}, or a 404 with no error page: the client gets
   * the error the application chose, and the context ends once, {@code response completed}, not as
   * a lost client. Tomcat 11 tells the cycle's listeners {@code onError} with no throwable when it
   * dispatches a response in error; before, the filter took that for a lost client.
   *
   * <p>The other thread starts once the first dispatch has returned through every filter, and, on
   * Jetty, once Jetty has left it (its channel no longer {@code HANDLING}): before, it started from
   * inside the servlet, and on Jetty its {@code sendError} and {@code dispatch()} could land while
   * Jetty was still handling the request ({@code IllegalStateException: s=HANDLING rs=ERRORING}).
   */
  @ParameterizedTest
  @MethodSource("sendErrorThenDispatch")
  void sendErrorFromAnotherThreadThenDispatchIsNoLostClient(Containers c, String how)
      throws Exception {
    int status = how.equals("404") ? 404 : Containers.ERROR_STATUS;
    ContextServletFilter filter = ContextServletFilter.create();
    AtomicReference<Context> first = new AtomicReference<>();
    List<String> log = new CopyOnWriteArrayList<>();
    AtomicInteger ends = new AtomicInteger();
    CountDownLatch endedOnce = new CountDownLatch(1);
    CountDownLatch returned = new CountDownLatch(1);
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() != DispatcherType.REQUEST) {
                log.add(seen(req.getDispatcherType().name(), first.get(), req));
                res.getWriter().print("error page");
                return;
              }
              Context ctx = CurrentContext.get();
              first.set(ctx);
              ctx.onDone(
                  () -> {
                    ends.incrementAndGet();
                    endedOnce.countDown();
                  });
              ServletChannelState jetty =
                  c == Containers.JETTY
                      ? ServletContextRequest.getServletContextRequest(req).getServletRequestState()
                      : null;
              AsyncContext async = req.startAsync();
              async.setTimeout(0); // only the cycle's end may end it
              new Thread(
                      () -> {
                        try {
                          returned.await();
                          awaitLeft(jetty);
                          res.sendError(status);
                          log.add("after sendError: " + (ctx.isDone() ? "done" : "live"));
                          if (how.equals("dispatch(errorPage)")) {
                            async.dispatch(Containers.ERROR_PAGE);
                          } else {
                            async.dispatch();
                          }
                        } catch (Throwable t) {
                          log.add("the thread threw " + t);
                          async.complete();
                        }
                      })
                  .start();
            });
    Filter signalling =
        new Filter() {
          @Override
          public void init(FilterConfig config) throws ServletException {
            filter.init(config);
          }

          @Override
          public void doFilter(ServletRequest req, ServletResponse res, FilterChain chain)
              throws IOException, ServletException {
            try {
              filter.doFilter(req, res, chain);
            } finally {
              if (req.getDispatcherType() == DispatcherType.REQUEST) {
                returned.countDown();
              }
            }
          }

          @Override
          public void destroy() {
            filter.destroy();
          }
        };
    try (Containers.Running server = c.start(signalling, servlet, Map.of(), ALL)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      awaitEnd(first.get());
      // Its own callback too, which may run after awaitEnd's (registered on a context done already).
      assertTrue(endedOnce.await(10, TimeUnit.SECONDS), "the servlet's onDone never ran");
      String what = c + " " + how + ": " + log + ", answered " + r.statusCode();
      assertEquals(status, r.statusCode(), what);
      assertEquals(Reason.RESPONSE_COMPLETED, reason(first.get()), what + ", " + first.get().cause());
      assertEquals("after sendError: live", log.get(0), what);
      for (String line : log.subList(1, log.size())) {
        assertTrue(line.contains("current same, contextOf same"), what);
      }
      assertEquals(1, ends.get(), what);
      assertNothingLeftOnTheRoot(filter);
    }
  }

  /**
   * Waits, within 10 s, until Jetty has left the dispatch whose channel state {@code jetty} is
   * (nothing for Tomcat, whose async state machine takes a dispatch during the return).
   */
  private static void awaitLeft(ServletChannelState jetty) {
    if (jetty == null) {
      return;
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (jetty.getState() == ServletChannelState.State.HANDLING) {
      if (System.nanoTime() - deadline > 0) {
        throw new IllegalStateException("Jetty still handling the first dispatch after 10 s");
      }
      Thread.onSpinWait();
    }
  }

  static Stream<Arguments> sendErrorThenDispatch() {
    return Containers.eachWith("dispatch()", "dispatch(errorPage)", "404");
  }
}

