package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.Registration;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class FuturesTest {
  @Test
  void aCompletableFutureFailsWithTheContextErrorAndItsCause() {
    CompletableFuture<String> f = new CompletableFuture<>();
    IllegalStateException why = new IllegalStateException("user left");
    CancelableContext ctx = Context.withCancel(Context.background());
    Futures.cancelWhenDone(ctx, f);
    ctx.cancel(why);
    assertTrue(f.isCancelled(), "a context error is a CancellationException");
    Throwable stored = f.handle((v, e) -> e).join();
    assertTrue(stored instanceof CanceledException);
    assertSame(why, stored.getCause());
  }

  @Test
  void aDeadlineReachesTheFuture() throws Exception {
    CompletableFuture<String> f = new CompletableFuture<>();
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMillis(20))) {
      Futures.cancelWhenDone(ctx, f);
      Throwable e = f.handle((v, x) -> x).get(10, TimeUnit.SECONDS);
      assertTrue(e instanceof DeadlineExceededException);
    }
  }

  @Test
  void aPlainFutureIsCancelledWithInterruption() throws Exception {
    CompletableFuture<Boolean> interrupted = new CompletableFuture<>();
    CompletableFuture<Void> started = new CompletableFuture<>();
    FutureTask<Void> task =
        new FutureTask<>(
            () -> {
              started.complete(null);
              try {
                Thread.sleep(60_000);
              } catch (InterruptedException e) {
                interrupted.complete(true);
              }
              return null;
            });
    Thread t = new Thread(task);
    t.start();
    started.get(10, TimeUnit.SECONDS);
    CancelableContext ctx = Context.withCancel(Context.background());
    Futures.cancelWhenDone(ctx, task);
    ctx.cancel();
    assertTrue(task.isCancelled());
    assertTrue(interrupted.get(10, TimeUnit.SECONDS));
    t.join();
  }

  @Test
  void aCompletedFutureIsLeftAloneAndReleasesItsRegistration() {
    CancelableContext ctx = Context.withCancel(Context.background());
    CompletableFuture<String> f = new CompletableFuture<>();
    Registration r = Futures.cancelWhenDone(ctx, f);
    f.complete("done");
    assertFalse(r.stop(), "released when the future completed");
    ctx.cancel();
    assertEquals("done", f.join());
  }

  @Test
  void contextOfIsCancelledWhenTheStageCompletes() {
    CompletableFuture<String> stage = new CompletableFuture<>();
    CancelableContext ctx = Futures.contextOf(Context.background(), stage);
    assertFalse(ctx.isDone());
    stage.complete("ok");
    assertSame(Context.CANCELED, ctx.err());
    assertSame(Context.CANCELED, ctx.cause());
  }

  @Test
  void contextOfCarriesTheStageFailureAsCause() {
    CompletableFuture<String> stage = new CompletableFuture<>();
    IllegalArgumentException boom = new IllegalArgumentException("boom");
    CancelableContext ctx = Futures.contextOf(Context.background(), stage.thenApply(s -> s));
    stage.completeExceptionally(boom);
    assertSame(Context.CANCELED, ctx.err());
    assertSame(boom, ctx.cause(), "the CompletionException wrapper is removed");
    CompletableFuture<String> wrapped = CompletableFuture.failedFuture(new CompletionException(boom));
    assertSame(boom, Futures.contextOf(Context.background(), wrapped).cause());
  }

  @Test
  void contextOfFollowsItsParentAndCanBeClosed() {
    CancelableContext parent = Context.withCancel(Context.background());
    CompletableFuture<String> stage = new CompletableFuture<>();
    CancelableContext ctx = Futures.contextOf(parent, stage);
    parent.cancel();
    assertTrue(ctx.isDone());
    CancelableContext other = Futures.contextOf(Context.background(), stage);
    other.close();
    assertTrue(other.isDone());
    stage.complete("late"); // harmless on done contexts
    assertNull(Context.background().err());
  }

  @Test
  void badArgumentsAreNamed() {
    assertEquals(
        "future",
        assertThrows(NullPointerException.class, () -> Futures.cancelWhenDone(Context.background(), null))
            .getMessage());
    assertEquals(
        "stage",
        assertThrows(NullPointerException.class, () -> Futures.contextOf(Context.background(), null))
            .getMessage());
  }

  @Test
  void aFutureCompletingAsTheContextEndsHasExactlyOneOutcome() throws Exception {
    Races.run(
        Races.ITERATIONS,
        new Races.Round() {
          CancelableContext ctx;
          CompletableFuture<String> f;

          @Override
          public Races.Action setUp() {
            ctx = Context.withCancel(Context.background());
            f = new CompletableFuture<>();
            Futures.cancelWhenDone(ctx, f);
            return ctx::cancel;
          }

          @Override
          public void mine() {
            f.complete("value");
          }

          @Override
          public void check() {
            assertTrue(f.isDone());
            Object outcome = f.handle((v, e) -> v != null ? v : e).join();
            assertTrue(
                "value".equals(outcome) || outcome instanceof CanceledException,
                "unexpected outcome " + outcome);
          }
        });
  }

  @Test
  void aStageCompletingAsTheParentEndsGivesOneCauseOrTheOther() throws Exception {
    IllegalStateException failure = new IllegalStateException("stage failed");
    Races.run(
        Races.ITERATIONS,
        new Races.Round() {
          CancelableContext parent;
          CompletableFuture<String> stage;
          CancelableContext ctx;

          @Override
          public Races.Action setUp() {
            parent = Context.withCancel(Context.background());
            stage = new CompletableFuture<>();
            ctx = Futures.contextOf(parent, stage);
            return () -> parent.cancel();
          }

          @Override
          public void mine() {
            stage.completeExceptionally(failure);
          }

          @Override
          public void check() {
            assertSame(Context.CANCELED, ctx.err());
            Throwable cause = ctx.cause();
            assertTrue(cause == failure || cause == Context.CANCELED, "cause " + cause);
          }
        });
  }
}
