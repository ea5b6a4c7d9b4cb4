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

  /**
   * Scopes nest on one thread (a Blocking call or a caller-run task inside a task group's task):
   * when the contexts of both end, the inner one's close clears the interrupt, which is one bit, but
   * the outer one's is still owed to the code around it, which may block next. Rows: the same
   * context, an inner context derived from the outer one's, a scope in between that never fired.
   */
  @Test
  void anInnerScopesCloseLeavesTheInterruptOfAnOuterScopeThatFired() {
    for (int row = 0; row < 3; row++) {
      String what = new String[] {"same context", "child context", "a live scope between"}[row];
      CancelableContext outerCtx = Context.withCancel(Context.background());
      CancelableContext innerCtx = row == 1 ? Context.withCancel(outerCtx) : outerCtx;
      try (CancelableContext live = Context.withCancel(Context.background());
          InterruptScope outer = InterruptScope.open(outerCtx)) {
        try (InterruptScope between = row == 2 ? InterruptScope.open(live) : null) {
          try (InterruptScope inner = InterruptScope.open(innerCtx)) {
            outerCtx.cancel(); // both fire, on this thread
            assertTrue(inner.interrupted() && outer.interrupted(), what);
          }
          assertTrue(
              Thread.currentThread().isInterrupted(),
              what + ": the outer scope fired and is open, its interrupt is gone");
        }
        assertTrue(Thread.currentThread().isInterrupted(), what + ": after the live scope");
      }
      assertFalse(Thread.currentThread().isInterrupted(), what + ": left by the outer scope");
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

  /**
   * What the README says of a socket read under a scope: on a virtual thread (the threads of {@link
   * Tasks#start} on JDK 21+) the interrupt closes the socket and the read fails at once, as the
   * JDK makes {@code java.net.Socket} interruptible there; on a platform thread the read ignores it
   * and returns only when the peer writes (then {@link Closer} is what stops it). Runs on the
   * threads {@link Tasks#threadFactory} makes, so the same test checks each JDK's row.
   */
  @Test
  void aSocketReadIsStoppedByTheInterruptOnAVirtualThreadOnly() throws Exception {
    try (java.net.ServerSocket listener =
            new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        java.net.Socket client =
            new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), listener.getLocalPort());
        java.net.Socket peer = listener.accept()) {
      CancelableContext ctx = Context.withCancel(Context.background());
      java.util.concurrent.CountDownLatch opened = new java.util.concurrent.CountDownLatch(1);
      CompletableFuture<Object> outcome = new CompletableFuture<>();
      Thread reader =
          Tasks.threadFactory("socket-reader")
              .newThread(
                  () -> {
                    try (InterruptScope scope = InterruptScope.open(ctx)) {
                      opened.countDown();
                      outcome.complete(client.getInputStream().read());
                    } catch (Throwable t) {
                      outcome.complete(t);
                    }
                  });
      reader.start();
      assertTrue(opened.await(30, TimeUnit.SECONDS));
      awaitBlockedInRead(reader);
      ctx.cancel();
      if (Tasks.virtualThreads()) {
        Object failure = outcome.get(30, TimeUnit.SECONDS);
        assertTrue(
            failure instanceof java.net.SocketException,
            () -> "a virtual thread's read was not stopped by the interrupt: " + failure);
        assertTrue(client.isClosed(), "the interrupt did not close the socket");
      } else {
        // Still reading: the peer's byte is what it returns (a read that had failed or ended
        // would have completed the outcome before this write).
        peer.getOutputStream().write(42);
        assertEquals(42, outcome.get(30, TimeUnit.SECONDS), "a platform thread's read");
        assertFalse(client.isClosed(), "the interrupt closed the socket");
      }
      reader.join(TimeUnit.SECONDS.toMillis(30));
    }
  }

  /** Waits (30 s at most) until {@code thread} is blocked in a socket read. */
  private static void awaitBlockedInRead(Thread thread) {
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < until) {
      if (thread.getState() == Thread.State.WAITING || thread.getState() == Thread.State.RUNNABLE) {
        for (StackTraceElement e : thread.getStackTrace()) {
          String frame = e.getClassName() + "." + e.getMethodName();
          if (frame.contains("Socket") && frame.contains("read")) {
            return;
          }
        }
      }
      java.util.concurrent.locks.LockSupport.parkNanos(1_000_000L); // polls the stack; nothing to wait on
    }
    throw new AssertionError(
        thread + " never blocked in a socket read: " + java.util.Arrays.toString(thread.getStackTrace()));
  }
}
