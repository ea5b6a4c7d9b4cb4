package io.ctx4j.demo;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.concurrent.Blocking;
import io.ctx4j.concurrent.Closer;
import io.ctx4j.concurrent.ContextExecutorService;
import io.ctx4j.signal.Signals;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * Cancellation that stops real Java work: a worker pool that shuts down gracefully on Ctrl-C or
 * SIGTERM ({@code shutdown}), and a socket read that no interrupt could stop, ended by the context
 * closing the socket ({@code socket}).
 *
 * <p>Not instantiable.
 */
public final class IntegrationExamples {
  /** How long each job takes; a job that has started always runs to its end. */
  static final Duration JOB = Duration.ofMillis(300);
  /** How often the producer adds a job. */
  static final Duration EVERY = Duration.ofMillis(100);
  /** The longest the drain may take before in-flight jobs are abandoned. */
  static final Duration DRAIN = Duration.ofSeconds(5);
  /** How long the socket scenario waits for a reply that never comes. */
  static final Duration READ_TIMEOUT = Duration.ofSeconds(1);

  private static final int WORKERS = 3;

  private IntegrationExamples() {}

  /**
   * Returns the scenarios, all on {@code time}.
   *
   * @param time the clock
   * @return {@code shutdown} (stopped by SIGINT or SIGTERM) and {@code socket}
   */
  public static List<Scenario> all(DemoTime time) {
    return List.of(
        shutdown(time, parent -> Signals.notifyContext(parent, "INT", "TERM")), socket(time));
  }

  /**
   * The graceful-shutdown scenario, stopped by the context that {@code stopSignal} derives from the
   * demo's root: signals in the demo, a plain cancelable context in tests.
   *
   * @param time the clock
   * @param stopSignal makes the context whose end starts the shutdown; closed at the end if it is
   *     {@link AutoCloseable}
   * @return the scenario
   */
  static Scenario shutdown(DemoTime time, Function<Context, ? extends Context> stopSignal) {
    Objects.requireNonNull(stopSignal, "stopSignal");
    return Scenario.of(
        "shutdown",
        "a worker pool that runs until Ctrl-C or SIGTERM, then drains and exits cleanly",
        out -> runShutdown(time, stopSignal, out));
  }

  private static void runShutdown(
      DemoTime time, Function<Context, ? extends Context> stopSignal, PrintStream out)
      throws Exception {
    out.println("== shutdown: worker pool with graceful shutdown ==");
    BlockingQueue<Integer> jobs = new LinkedBlockingQueue<>();
    AtomicInteger done = new AtomicInteger();
    List<CompletableFuture<?>> workers = new ArrayList<>();
    Context running = stopSignal.apply(time.root());
    try (ContextExecutorService pool =
            ContextExecutorService.wrap(Executors.newFixedThreadPool(WORKERS + 1))) {
      // In-flight jobs get their own context: not the signal one (they must finish), but one with
      // a deadline, so a stuck job cannot hold the shutdown forever.
      CancelableContext draining = Context.withCancel(Context.withoutCancel(time.root()));
      for (int w = 1; w <= WORKERS; w++) {
        String name = "worker-" + w;
        workers.add(
            pool.submit(
                draining,
                () -> {
                  while (true) {
                    int job;
                    try {
                      job = Blocking.take(running, jobs); // stop taking jobs once signalled
                    } catch (ContextException signalled) {
                      return null;
                    }
                    time.sleep(JOB); // a job that has started runs to its end
                    done.incrementAndGet();
                    out.println(name + " finished job " + job);
                  }
                }));
      }
      CompletableFuture<Void> producer =
          pool.submit(
              running,
              (Callable<Void>)
                  () -> {
                for (int n = 1; ; n++) {
                  jobs.add(n);
                  Blocking.sleep(running, EVERY);
                }
              });
      out.println("ready: " + WORKERS + " workers; press Ctrl-C (or send SIGTERM) to stop");
      running.await();
      Instant stop = time.now();
      out.println("shutting down: " + running.cause().getMessage());
      producer.handle((v, e) -> null).join();
      try (CancelableContext deadline = Context.withTimeout(time.root(), DRAIN)) {
        Context.afterFunc(deadline, draining::cancel);
        CompletableFuture.allOf(workers.toArray(new CompletableFuture<?>[0]))
            .handle((v, e) -> null)
            .join();
      }
      out.println(
          "drained: "
              + done.get()
              + " jobs done, "
              + jobs.size()
              + " never started; clean exit "
              + time.since(stop));
      draining.cancel();
    } finally {
      if (running instanceof AutoCloseable) {
        ((AutoCloseable) running).close(); // gives the signals back to the JVM
      }
    }
  }

  /** The socket scenario. */
  static Scenario socket(DemoTime time) {
    return Scenario.of(
        "socket",
        "a blocked socket read, deaf to interrupts, stopped by closing the socket when the context ends",
        out -> runSocket(time, out));
  }

  private static void runSocket(DemoTime time, PrintStream out) throws Exception {
    out.println("== socket: a blocked read ended by the context ==");
    InetAddress loopback = InetAddress.getLoopbackAddress();
    try (ServerSocket server = new ServerSocket(0, 1, loopback);
        Socket socket = new Socket(loopback, server.getLocalPort());
        Socket silentPeer = server.accept();
        CancelableContext ctx = Context.withTimeout(time.root(), READ_TIMEOUT)) {
      out.println(
          "reading from a peer that never writes, with a " + READ_TIMEOUT.toMillis() + " ms timeout");
      silentPeer.setSoLinger(false, 0); // the peer stays open and silent for the whole read
      // From when the timeout started (the context's creation), not from this line, which a loaded
      // machine may reach late: the read then seemed to stop before its timeout.
      Instant start = ctx.deadline().orElseThrow().minus(READ_TIMEOUT);
      try {
        int b = Closer.call(ctx, socket, () -> socket.getInputStream().read());
        out.println("read " + b + " (unexpected)");
      } catch (ContextException e) {
        out.println("read stopped " + time.since(start) + ": " + e.getMessage());
        for (Throwable s : e.getSuppressed()) {
          out.println("  the read itself failed with " + s.getClass().getSimpleName());
        }
        out.println("socket closed: " + socket.isClosed());
      }
    }
  }
}
