package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.concurrent.internal.Loom;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class InterruptScopeTest {
  @AfterEach
  void noInterruptLeftOnTheTestThread() {
    assertFalse(Thread.interrupted(), "stray interrupt on the test thread");
  }

  @Test
  void cancellationInterruptsABlockedOwnerAndCloseClearsNothingExtra() throws Exception {
    try (CancelableContext ctx =
        Context.withTimeout(Context.background(), Duration.ofMillis(50))) {
      try (InterruptScope scope = InterruptScope.open(ctx)) {
        assertThrows(InterruptedException.class, () -> Thread.sleep(60_000));
        assertTrue(scope.interrupted());
      }
      assertFalse(Thread.currentThread().isInterrupted());
    }
  }

  @Test
  void anAlreadyDoneContextInterruptsAtOnceAndCloseClearsIt() {
    CancelableContext ctx = Context.withCancel(Context.background());
    ctx.cancel();
    try (InterruptScope scope = InterruptScope.open(ctx)) {
      assertTrue(Thread.currentThread().isInterrupted());
      assertTrue(scope.interrupted());
    }
    assertFalse(Thread.currentThread().isInterrupted());
  }

  @Test
  void aScopeThatNeverFiredLeavesAForeignInterruptAlone() {
    try (CancelableContext ctx = Context.withCancel(Context.background())) {
      Thread.currentThread().interrupt();
      try (InterruptScope scope = InterruptScope.open(ctx)) {
        assertFalse(scope.interrupted());
      }
      assertTrue(Thread.interrupted(), "the foreign interrupt must survive");
    }
  }

  @Test
  void cancellingAfterCloseDoesNotInterrupt() {
    CancelableContext ctx = Context.withCancel(Context.background());
    InterruptScope scope = InterruptScope.open(ctx);
    scope.close();
    scope.close(); // idempotent
    ctx.cancel();
    assertFalse(scope.interrupted());
    assertFalse(Thread.currentThread().isInterrupted());
  }

  @Test
  void closeFromAnotherThreadIsRejected() throws Exception {
    try (CancelableContext ctx = Context.withCancel(Context.background());
        InterruptScope scope = InterruptScope.open(ctx)) {
      CompletableFuture<Throwable> f = new CompletableFuture<>();
      Thread t =
          new Thread(
              () -> {
                try {
                  scope.close();
                  f.complete(null);
                } catch (Throwable e) {
                  f.complete(e);
                }
              });
      t.start();
      assertTrue(f.get(10, TimeUnit.SECONDS) instanceof IllegalStateException);
    }
  }

  @Test
  void nullContextIsRejectedByName() {
    NullPointerException e = assertThrows(NullPointerException.class, () -> InterruptScope.open(null));
    assertEquals("ctx", e.getMessage());
  }

  @Test
  void cancelRacingCloseNeverLeavesAStrayInterruptOnAPlatformThread() throws Exception {
    raceCancelAgainstClose();
  }

  @Test
  void cancelRacingCloseNeverLeavesAStrayInterruptOnTheLoomThread() throws Exception {
    // A virtual thread on JDK 21+, a platform thread on 17.
    CompletableFuture<Void> f = new CompletableFuture<>();
    Loom.factory("race")
        .newThread(
            () -> {
              try {
                raceCancelAgainstClose();
                f.complete(null);
              } catch (Throwable e) {
                f.completeExceptionally(e);
              }
            })
        .start();
    f.get(60, TimeUnit.SECONDS);
  }

  private static void raceCancelAgainstClose() throws Exception {
    Races.run(
        Races.ITERATIONS,
        new Races.Round() {
          CancelableContext ctx;
          InterruptScope scope;
          boolean sawInterrupt;

          @Override
          public Races.Action setUp() {
            ctx = Context.withCancel(Context.background());
            scope = InterruptScope.open(ctx);
            return ctx::cancel;
          }

          @Override
          public void mine() {
            scope.close();
            sawInterrupt = Thread.currentThread().isInterrupted();
          }

          @Override
          public void check() {
            // The canceller has finished too: nothing may arrive late either.
            assertFalse(sawInterrupt, "interrupt survived close");
            assertFalse(Thread.interrupted(), "interrupt arrived after close");
          }
        });
  }
}
