package io.ctx4j.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Key;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The snippets of ctx4j-demo/README.md (the Go tutorial's examples), run in real time. */
@Timeout(120)
class DemoReadmeTest {
  /** The demo's clock: real time here. */
  static final class Time {
    Context root() {
      return Context.background();
    }

    Instant now() {
      return Instant.now();
    }

    CompletableFuture<Instant> after(Duration d) {
      return CompletableFuture.supplyAsync(Instant::now,
          CompletableFuture.delayedExecutor(d.toNanos(), TimeUnit.NANOSECONDS));
    }

    void sleep(Duration d) {
      try {
        Thread.sleep(d.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  final Time time = new Time();
  final ByteArrayOutputStream printed = new ByteArrayOutputStream();
  final PrintStream out = new PrintStream(printed, true, StandardCharsets.UTF_8);

  String printed() {
    return printed.toString(StandardCharsets.UTF_8).replace(System.lineSeparator(), "\n");
  }

  @Test
  void backgroundAndTodo() {
    // snippet:start background
    Context background = Context.background();   // prints context.Background
    Context todo = Context.todo();               // prints context.TODO
    // snippet:end background
    assertEquals("context.Background context.TODO", background + " " + todo);
  }

  @Test
  void withCancel() throws Exception {
    // snippet:start with-cancel
    try (CancelableContext ctx = Context.withCancel(time.root())) {
      out.println(ctx.err());                                 // null
      new Thread(() -> { time.sleep(Duration.ofSeconds(2)); ctx.cancel(); }).start();
      ctx.await();                                            // <-ctx.Done()
      out.println(ctx.err().getMessage());                    // context canceled
    }
    // snippet:end with-cancel
    assertEquals("null\ncontext canceled\n", printed());
  }

  void race(CancelableContext ctx, CompletableFuture<Instant> operation) throws Exception {
    try {
      ctx.await(operation);
      out.println("Операция завершена");
    } catch (ContextException e) {
      out.println("Контекст завершился: " + ctx.err().getMessage());
    } finally {
      operation.cancel(false);
    }
  }

  @Test
  void withTimeout() throws Exception {
    // snippet:start with-timeout
    try (CancelableContext ctx = Context.withTimeout(time.root(), Duration.ofSeconds(3))) { // defer cancel()
      CompletableFuture<Instant> operation = time.after(Duration.ofSeconds(5));
      try {
        ctx.await(operation);                      // the operation or the context, whichever first
        out.println("Операция завершена");
      } catch (ContextException e) {               // the context won
        out.println("Контекст завершился: " + ctx.err().getMessage());
      } finally {
        operation.cancel(false);                   // await() does not stop the loser
      }
    }
    // snippet:end with-timeout
    assertEquals("Контекст завершился: context deadline exceeded\n", printed());
  }

  @Test
  void withDeadline() throws Exception {
    // snippet:start with-deadline
    Instant deadline = time.now().plus(Duration.ofSeconds(2));
    try (CancelableContext ctx = Context.withDeadline(time.root(), deadline)) {
      race(ctx, time.after(Duration.ofSeconds(3)));  // the same race as in example 4, with a 3 s operation
    }
    // snippet:end with-deadline
    assertEquals("Контекст завершился: context deadline exceeded\n", printed());
  }

  // snippet:start with-value
  static final Key<Integer> USER_ID = Key.of("userID", Integer.class); // identity, not a string

  void withValue() {
    Context ctx = Context.withValue(Context.background(), USER_ID, 42);
    Integer v = ctx.value(USER_ID);
    if (v != null) out.println("UserID: " + v);
  }
  // snippet:end with-value

  @Test
  void withValuePrintsTheUser() {
    withValue();
    assertEquals("UserID: 42\n", printed());
  }
}
