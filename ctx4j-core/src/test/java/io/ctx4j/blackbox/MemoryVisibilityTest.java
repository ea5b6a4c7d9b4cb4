package io.ctx4j.blackbox;

import static io.ctx4j.blackbox.Fixtures.BOUND;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Key;
import io.ctx4j.ManualTimeSource;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Happens-before: a plain field written before cancel() (or before the deadline fires) is seen by a
 * thread that observes the context done, however it observes it. Many short rounds, each a fresh
 * object, so a missing fence has a chance to show.
 */
class MemoryVisibilityTest {
  private static final int ROUNDS = 1000;

  /** Deliberately not volatile. */
  static final class Box {
    int value;
  }

  interface Observer {
    /** Blocks until {@code ctx} is observed done, then returns what {@code box} holds. */
    int observe(Context ctx, Box box) throws Exception;
  }

  /** Spins, within the bound, so that a broken implementation fails instead of hanging the run. */
  private static void spinUntil(java.util.function.BooleanSupplier done) {
    long end = System.nanoTime() + BOUND.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("not done within " + BOUND);
      }
      Thread.onSpinWait();
    }
  }

  private static void check(Observer observer) throws Exception {
    // Two long-lived threads: the executor's own hand-off orders each task after its submission,
    // never the writer's task before the reader's, so only the context can make the write visible.
    ExecutorService writers = Executors.newSingleThreadExecutor();
    ExecutorService readers = Executors.newSingleThreadExecutor();
    try {
      for (int i = 1; i <= ROUNDS; i++) {
        CancelableContext ctx = Context.withCancel(Context.background());
        Context child = Context.withValue(Context.withCancel(ctx), Key.named("k"), i);
        Box box = new Box();
        int expected = i;
        Future<Integer> seen = readers.submit(() -> observer.observe(child, box));
        writers.submit(
            () -> {
              box.value = expected;
              ctx.cancel();
            });
        assertEquals(expected, seen.get(BOUND.toMillis(), TimeUnit.MILLISECONDS), "round " + i);
      }
    } finally {
      writers.shutdownNow();
      readers.shutdownNow();
    }
  }

  @Test
  void afterIsDone() throws Exception {
    check(
        (ctx, box) -> {
          spinUntil(ctx::isDone);
          return box.value;
        });
  }

  @Test
  void afterErr() throws Exception {
    check(
        (ctx, box) -> {
          spinUntil(() -> ctx.err() != null);
          return box.value;
        });
  }

  @Test
  void afterAwait() throws Exception {
    check(
        (ctx, box) -> {
          ctx.await();
          return box.value;
        });
  }

  @Test
  void inOnDoneCallbacks() throws Exception {
    check(
        (ctx, box) -> {
          CompletableFuture<Integer> f = new CompletableFuture<>();
          ctx.onDone(() -> f.complete(box.value));
          return f.get();
        });
  }

  @Test
  void inAfterFunc() throws Exception {
    check(
        (ctx, box) -> {
          CompletableFuture<Integer> f = new CompletableFuture<>();
          Context.afterFunc(ctx, () -> f.complete(box.value));
          return f.get();
        });
  }

  @Test
  void afterToFuture() throws Exception {
    check(
        (ctx, box) -> {
          ctx.toFuture().handle((v, e) -> null).get();
          return box.value;
        });
  }

  @Test
  void afterADeadlineFiresOnAnotherThread() throws Exception {
    ExecutorService readers = Executors.newSingleThreadExecutor();
    try {
      for (int i = 1; i <= ROUNDS; i++) {
        ManualTimeSource time = Fixtures.manualTime();
        CancelableContext ctx =
            Context.withTimeout(Context.withTimeSource(Context.background(), time), Duration.ofSeconds(1));
        Box box = new Box();
        Future<Integer> seen =
            readers.submit(
                () -> {
                  spinUntil(ctx::isDone);
                  return box.value;
                });
        box.value = i;
        time.advance(Duration.ofSeconds(1));
        assertEquals(i, seen.get(BOUND.toMillis(), TimeUnit.MILLISECONDS), "round " + i);
      }
    } finally {
      readers.shutdownNow();
    }
  }
}
