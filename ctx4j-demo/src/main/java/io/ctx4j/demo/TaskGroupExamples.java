package io.ctx4j.demo;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.taskgroup.TaskGroup;
import io.ctx4j.taskgroup.TaskGroupException;
import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Go's {@code errgroup} fan-out with a {@link TaskGroup}: call several slow services in parallel
 * under one timeout, and stop them all at the first failure or when the time is up.
 *
 * <p>Each service prints one line when it ends, from its own thread, with the time since the
 * scenario started; the scenario then prints what {@link TaskGroup#await()} reported. The
 * services sleep on the demo's clock, so tests drive them with a manual time source.
 *
 * <p>Not instantiable.
 */
public final class TaskGroupExamples {
  private static final Duration TIMEOUT = Duration.ofSeconds(3);
  private static final Service USERS = Service.ok("users", 500, "alice");
  private static final Service ORDERS = Service.ok("orders", 1000, "3 orders");
  private static final Service SEARCH = Service.ok("search", 4000, "12 hits");
  private static final Service RECOMMENDATIONS = Service.ok("recommendations", 5000, "4 items");

  /** A fake remote service: answers {@code reply} after {@code latency}, or fails if told to. */
  private record Service(String name, Duration latency, String reply, String failure) {
    static Service ok(String name, long millis, String reply) {
      return new Service(name, Duration.ofMillis(millis), reply, null);
    }

    static Service failing(String name, long millis, String failure) {
      return new Service(name, Duration.ofMillis(millis), null, failure);
    }

    /** Like a well-behaved client: gives up as soon as the context is done. */
    String call(DemoTime time, Context ctx) throws Exception {
      try {
        time.sleep(latency);
      } catch (InterruptedException e) {
        // The group interrupts only after its context is done: report why, not the interrupt.
        ctx.throwIfDone();
        throw e;
      }
      if (failure != null) {
        throw new IOException(name + ": " + failure);
      }
      return reply;
    }
  }

  private TaskGroupExamples() {}

  /**
   * Returns the task-group scenarios: {@code taskGroup} (the first failure cancels the rest) and
   * {@code taskGroupTimeout} (the timeout cancels the slow ones).
   *
   * @param time the clock every sleep and deadline uses
   * @return an immutable list of two scenarios
   * @throws NullPointerException if {@code time} is null
   */
  public static List<Scenario> all(DemoTime time) {
    Objects.requireNonNull(time, "time");
    return List.of(
        Scenario.of(
            "taskGroup",
            "errgroup: five services in parallel, the first failure cancels the rest",
            out ->
                fanOut(
                    time,
                    out,
                    "== taskGroup: five services, 3 s timeout, payments fails at 1.5 s ==",
                    List.of(
                        USERS,
                        ORDERS,
                        Service.failing("payments", 1500, "503 Service Unavailable"),
                        SEARCH,
                        RECOMMENDATIONS))),
        Scenario.of(
            "taskGroupTimeout",
            "errgroup: four services under one 3 s timeout, the slow ones are stopped",
            out ->
                fanOut(
                    time,
                    out,
                    "== taskGroupTimeout: four services, 3 s timeout, two need longer ==",
                    List.of(USERS, ORDERS, SEARCH, RECOMMENDATIONS))));
  }

  // ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
  // defer cancel()
  // g, ctx := errgroup.WithContext(ctx)
  // for _, s := range services { g.Go(func() error { return s.Call(ctx) }) }
  // err := g.Wait()
  private static void fanOut(DemoTime time, PrintStream out, String header, List<Service> services)
      throws InterruptedException {
    out.println(header);
    try (CancelableContext deadline = Context.withTimeout(time.root(), TIMEOUT);
        TaskGroup group = TaskGroup.open(deadline)) {
      Instant start = time.now();
      for (Service s : services) {
        group.go(
            ctx -> {
              String outcome = "crashed";
              try {
                outcome = "answered \"" + s.call(time, ctx) + "\"";
              } catch (ContextException e) {
                outcome = "stopped: " + e.getMessage() + causeOf(e);
                throw e;
              } catch (Exception e) {
                outcome = "failed: " + e.getMessage();
                throw e;
              } finally {
                // Printed on every path, so each service says how it ended.
                out.println(line(s.name(), outcome, time.since(start)));
              }
              return null;
            });
      }
      String verdict;
      try {
        group.await();
        verdict = "all services answered";
      } catch (TaskGroupException e) {
        Throwable first = e.getCause();
        verdict = "await: first failure: " + first.getMessage() + causeOf(first);
      }
      out.println(verdict + " " + time.since(start));
    }
  }

  private static String causeOf(Throwable e) {
    Throwable c = e.getCause();
    return (e instanceof ContextException && c != null) ? " (cause: " + c.getMessage() + ")" : "";
  }

  private static String line(String name, String outcome, String when) {
    return String.format(Locale.ROOT, "  %-16s%s %s", name, outcome, when);
  }
}
