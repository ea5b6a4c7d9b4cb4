package io.ctx4j.servlet;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;

/** A servlet that runs whatever handler the test gives it. */
class TestServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;

  @FunctionalInterface
  interface Handler {
    void handle(HttpServletRequest req, HttpServletResponse res) throws Exception;
  }

  private final transient Handler handler;

  TestServlet(Handler handler) {
    this.handler = handler;
  }

  @Override
  protected void service(HttpServletRequest req, HttpServletResponse res) {
    try {
      handler.handle(req, res);
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Answers "warm" if {@code req} is for /warm: the first request of a test that loads the classes
   * of the request path (or upgrades to h2c) before the one it measures.
   *
   * @return whether it answered
   */
  static boolean answeredWarm(HttpServletRequest req, HttpServletResponse res)
      throws java.io.IOException {
    if (!req.getRequestURI().equals("/warm")) {
      return false;
    }
    res.getWriter().print("warm");
    return true;
  }

  /**
   * A handler that enters the probe and writes 8 KiB chunks to the response's stream, each flushed,
   * until its context ends (or 800 MB went out); it keeps the write's failure in {@code failure}
   * and its own thread in {@code writer}, and counts {@code probe.finished} down when it stops. Over
   * h2c, to a client that never opens its window, its write blocks. It answers "warm" on /warm.
   */
  static TestServlet writesUntilTheContextEnds(
      Probe probe,
      java.util.concurrent.atomic.AtomicReference<java.io.IOException> failure,
      java.util.concurrent.atomic.AtomicReference<Thread> writer) {
    return new TestServlet(
        (req, res) -> {
          if (answeredWarm(req, res)) {
            return;
          }
          writer.set(Thread.currentThread());
          io.ctx4j.Context ctx = probe.enterCurrent(req);
          jakarta.servlet.ServletOutputStream out = res.getOutputStream();
          byte[] chunk = new byte[8192];
          try {
            for (int i = 0; i < 100_000 && !ctx.isDone(); i++) {
              out.write(chunk);
              out.flush();
            }
          } catch (java.io.IOException e) {
            failure.set(e);
          }
          probe.finished.countDown();
        });
  }

  /**
   * A handler that enters the probe, waits for its go if {@code awaitGo}, and reads the whole
   * request body with {@code readAllBytes()}: what the read returned goes to {@code read} ("read N
   * bytes, isFinished B"), what it threw to {@code failure}; it counts {@code probe.finished} down
   * when it stops. It answers "warm" on /warm.
   */
  static TestServlet readsTheBody(
      Probe probe,
      boolean awaitGo,
      java.util.concurrent.atomic.AtomicReference<java.io.IOException> failure,
      java.util.concurrent.atomic.AtomicReference<String> read) {
    return new TestServlet(
        (req, res) -> {
          if (answeredWarm(req, res)) {
            return;
          }
          probe.enterCurrent(req);
          try {
            if (awaitGo) {
              probe.awaitGo();
            }
            jakarta.servlet.ServletInputStream in = req.getInputStream();
            byte[] body = in.readAllBytes();
            read.set("read " + body.length + " bytes, isFinished " + in.isFinished());
          } catch (java.io.IOException e) {
            failure.set(e);
          } finally {
            probe.finished.countDown();
          }
        });
  }

  /**
   * An async handler that enters the probe and completes when its context ends, with no async
   * timeout: only the client (a disconnect, a reset) or the test's shutdown can end it. It answers
   * "warm" on /warm (the h2c upgrade).
   */
  static TestServlet asyncUntilTheContextEnds(Probe probe) {
    return asyncUntilTheContextEnds(path -> probe);
  }

  /** As {@link #asyncUntilTheContextEnds(Probe)}, with a probe for each request path. */
  static TestServlet asyncUntilTheContextEnds(java.util.function.Function<String, Probe> probeOfPath) {
    return new TestServlet(
        (req, res) -> {
          if (answeredWarm(req, res)) {
            return;
          }
          Probe probe = probeOfPath.apply(req.getRequestURI());
          AsyncContext async = req.startAsync();
          async.setTimeout(0);
          Context ctx = ContextServletFilter.contextOf(req);
          probe.enter(ctx, ctx == CurrentContext.get());
          ctx.onDone(async::complete);
        });
  }

  /** The writes of {@link #declareThenDispatch}'s ASYNC dispatch. */
  @FunctionalInterface
  interface AsyncWrite {
    /** Writes through {@code res}; returns a note for the test's message, or null. */
    String write(HttpServletResponse res) throws IOException;
  }

  /**
   * A handler that declares {@code length}, starts async with {@code given} of its response as the
   * response (an application's wrapper), with no async timeout, enters the probe and dispatches;
   * the ASYNC dispatch waits for the probe's go (the test's), then runs {@code write}. {@code
   * outcome} gets what {@code write} returned, or what it threw.
   */
  static TestServlet declareThenDispatch(
      int length,
      UnaryOperator<ServletResponse> given,
      Probe probe,
      AsyncWrite write,
      AtomicReference<String> outcome) {
    return new TestServlet(
        (req, res) -> {
          if (req.getDispatcherType() == DispatcherType.ASYNC) {
            probe.awaitGo();
            try {
              String note = write.write(res);
              if (note != null) {
                outcome.set(note);
              }
            } catch (IOException | RuntimeException e) {
              outcome.set(e.toString());
            }
            return;
          }
          res.setContentLength(length);
          AsyncContext async = req.startAsync(req, given.apply(res));
          async.setTimeout(0);
          probe.enter(CurrentContext.get(), true);
          async.dispatch();
        });
  }
}
