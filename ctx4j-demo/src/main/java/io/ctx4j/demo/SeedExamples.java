package io.ctx4j.demo;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Key;
import java.io.PrintStream;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * The six examples of the Go {@code context} tutorial ({@code context-seed.md}), each printing what
 * the Go program prints, in the same order and at the same moments, plus a header and, where the
 * point is timing, the time elapsed since the example started.
 *
 * <p>Two differences from Go's output are deliberate: {@code fmt.Println(ctx.Err())} prints {@code
 * <nil>} in Go and {@code null} here, the Java spelling of "no error"; and an error prints as its
 * message (Go's {@code Error()}), not as Java's {@code ClassName: message}.
 *
 * <p>Not instantiable; the scenarios it makes are independent of one another and of any shared
 * state except the clock.
 */
public final class SeedExamples {
  /**
   * The tutorial's {@code "userID"} key. Go compares string keys by value, which is why its
   * documentation warns against them; a ctx4j key is an object compared by identity, typed here so
   * that binding anything but an {@code Integer} fails at once.
   */
  private static final Key<Integer> USER_ID = Key.of("userID", Integer.class);

  private SeedExamples() {}

  /**
   * Returns the six examples in the tutorial's order, named {@code background}, {@code todo},
   * {@code withCancel}, {@code withTimeout}, {@code withDeadline} and {@code withValue}.
   *
   * @param time the clock every sleep, operation and deadline uses
   * @return an immutable list of six scenarios
   * @throws NullPointerException if {@code time} is null
   */
  public static List<Scenario> all(DemoTime time) {
    Objects.requireNonNull(time, "time");
    return List.of(
        Scenario.of(
            "background", "1. context.Background(): the root context", SeedExamples::background),
        Scenario.of("todo", "2. context.TODO(): a root for code not yet given one", SeedExamples::todo),
        Scenario.of(
            "withCancel",
            "3. context.WithCancel: another thread cancels after 2 s",
            out -> withCancel(time, out)),
        Scenario.of(
            "withTimeout",
            "4. context.WithTimeout: a 3 s timeout beats a 5 s operation",
            out -> withTimeout(time, out)),
        Scenario.of(
            "withDeadline",
            "5. context.WithDeadline: a deadline 2 s away beats a 3 s operation",
            out -> withDeadline(time, out)),
        Scenario.of("withValue", "6. context.WithValue: a request-scoped user id", SeedExamples::withValue));
  }

  /**
   * Returns one scenario, {@code seed}, that runs {@link #all} one after another.
   *
   * @param time the clock
   * @return the composite scenario
   * @throws NullPointerException if {@code time} is null
   */
  public static Scenario seed(DemoTime time) {
    List<Scenario> examples = all(time);
    return Scenario.of(
        "seed",
        "all six examples of the Go context tutorial, in order (the default)",
        out -> {
          for (Scenario s : examples) {
            s.run(out);
          }
        });
  }

  // ctx := context.Background()
  private static void background(PrintStream out) {
    out.println("== 1. background ==");
    Context ctx = Context.background();
    out.println(ctx);
  }

  // ctx := context.TODO()
  private static void todo(PrintStream out) {
    out.println("== 2. todo ==");
    Context ctx = Context.todo();
    out.println(ctx);
  }

  // ctx, cancel := context.WithCancel(context.Background())
  // fmt.Println(ctx.Err())
  // go func() { time.Sleep(2 * time.Second); cancel() }()
  // <-ctx.Done()
  // fmt.Println(ctx.Err())
  private static void withCancel(DemoTime time, PrintStream out) throws InterruptedException {
    out.println("== 3. withCancel ==");
    Instant start = time.now();
    try (CancelableContext ctx = Context.withCancel(time.root())) {
      out.println(text(ctx.err())); // Go: <nil>

      Thread canceller =
          new Thread(
              () -> {
                try {
                  time.sleep(Duration.ofSeconds(2));
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                } finally {
                  // Also on interruption: the main thread must not wait forever.
                  ctx.cancel();
                }
              },
              "withCancel-canceller");
      canceller.setDaemon(true);
      canceller.start();

      ctx.await();
      out.println(text(ctx.err()) + " " + time.since(start));
    }
  }

  // ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
  // defer cancel()
  // select {
  // case <-time.After(5 * time.Second): fmt.Println("Операция завершена")
  // case <-ctx.Done():                  fmt.Println("Контекст завершился:", ctx.Err())
  // }
  private static void withTimeout(DemoTime time, PrintStream out) throws Exception {
    out.println("== 4. withTimeout ==");
    Instant start = time.now();
    try (CancelableContext ctx = Context.withTimeout(time.root(), Duration.ofSeconds(3))) {
      String line =
          race(ctx, time.after(Duration.ofSeconds(5)), "Операция завершена", "Контекст завершился: ");
      out.println(line + " " + time.since(start));
    }
  }

  // deadline := time.Now().Add(2 * time.Second)
  // ctx, cancel := context.WithDeadline(context.Background(), deadline)
  // defer cancel()
  // select {
  // case <-time.After(3 * time.Second): fmt.Println("Операция выполнена")
  // case <-ctx.Done():                  fmt.Println("Контекст завершён:", ctx.Err())
  // }
  private static void withDeadline(DemoTime time, PrintStream out) throws Exception {
    out.println("== 5. withDeadline ==");
    Instant start = time.now();
    Instant deadline = start.plus(Duration.ofSeconds(2));
    try (CancelableContext ctx = Context.withDeadline(time.root(), deadline)) {
      String line =
          race(ctx, time.after(Duration.ofSeconds(3)), "Операция выполнена", "Контекст завершён: ");
      out.println(line + " " + time.since(start));
    }
  }

  // ctx := context.WithValue(context.Background(), "userID", 42)
  // process(ctx)
  private static void withValue(PrintStream out) {
    out.println("== 6. withValue ==");
    Context ctx = Context.withValue(Context.background(), USER_ID, 42);
    process(ctx, out);
  }

  // func process(ctx context.Context) {
  //     if v := ctx.Value("userID"); v != nil { fmt.Println("UserID:", v) }
  // }
  private static void process(Context ctx, PrintStream out) {
    Integer v = ctx.value(USER_ID);
    if (v != null) {
      out.println("UserID: " + v);
    }
  }

  /**
   * Go's two-way {@code select} between an operation and {@code ctx.Done()}: {@link
   * Context#await(java.util.concurrent.CompletionStage)} returns if the operation finishes first and
   * throws the context's error if the context does.
   */
  private static String race(
      Context ctx, CompletableFuture<?> operation, String finished, String ctxDonePrefix)
      throws Exception {
    try {
      ctx.await(operation);
      return finished;
    } catch (ContextException e) {
      return ctxDonePrefix + text(ctx.err());
    } finally {
      // await() leaves the loser running; in Go the time.After timer lingers until it fires.
      operation.cancel(false);
    }
  }

  /** What Go's fmt prints for an error: its message; {@code null} where Go prints {@code <nil>}. */
  private static String text(ContextException err) {
    return err == null ? "null" : err.getMessage();
  }
}
