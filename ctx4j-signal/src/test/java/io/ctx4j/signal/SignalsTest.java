package io.ctx4j.signal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * In-process tests on SIGWINCH (harmless by default, not reserved by HotSpot, and not ignored the way
 * SIGHUP is under nohup), under a marker handler so that a mistake cannot end the test JVM. The real
 * SIGINT/SIGTERM path is proved on a child JVM by {@link SignalsProcessTest}.
 */
class SignalsTest {
  private static final Signal HUP = new Signal("WINCH");
  private SignalHandler original;
  private final CompletableFuture<Signal> markerSaw = new CompletableFuture<>();
  private final SignalHandler marker = markerSaw::complete;

  @BeforeEach
  void installMarker() {
    original = Signal.handle(HUP, marker);
  }

  @AfterEach
  void restoreOriginal() {
    Signal.handle(HUP, original);
  }

  private static SignalHandler current() {
    SignalHandler h = Signal.handle(HUP, SignalHandler.SIG_IGN);
    Signal.handle(HUP, h);
    return h;
  }

  @Test
  void aSignalCancelsWithGosCauseAndRestoresThePreviousHandler() throws Exception {
    SignalContext ctx = Signals.notifyContext(Context.background(), "WINCH");
    assertFalse(ctx.isDone());
    CountDownLatch done = new CountDownLatch(1);
    ctx.onDone(done::countDown);
    Signal.raise(HUP);
    assertTrue(done.await(10, TimeUnit.SECONDS));
    assertSame(Context.CANCELED, ctx.err());
    SignalReceivedException cause = (SignalReceivedException) ctx.cause();
    assertEquals("window changed signal received", cause.getMessage());
    assertEquals("WINCH", cause.signalName());
    assertEquals(28, cause.number());
    assertSame(marker, current(), "the previous handler is back");
    assertFalse(markerSaw.isDone(), "the signal was diverted from the previous handler");
  }

  @Test
  void stopRestoresThePreviousHandlerAndCancels() {
    SignalContext ctx = Signals.notifyContext(Context.background(), "WINCH");
    assertFalse(current() == marker, "diverted while live");
    assertTrue(ctx.stop());
    assertFalse(ctx.stop());
    assertSame(Context.CANCELED, ctx.err());
    assertSame(Context.CANCELED, ctx.cause());
    assertSame(marker, current());
  }

  @Test
  void cancellingTheParentRestoresTheHandlerToo() {
    CancelableContext parent = Context.withCancel(Context.background());
    SignalContext ctx = Signals.notifyContext(parent, "WINCH");
    Context child = Context.withCancel(ctx);
    parent.cancel();
    assertTrue(ctx.isDone());
    assertTrue(child.isDone(), "contexts derived from it follow it");
    assertSame(marker, current());
  }

  @Test
  void aParentAlreadyDoneRegistersNothing() {
    CancelableContext parent = Context.withCancel(Context.background());
    parent.cancel();
    SignalContext ctx = Signals.notifyContext(parent, "WINCH");
    assertTrue(ctx.isDone());
    assertSame(marker, current());
    assertEquals("signal.NotifyContext(context.Background.WithCancel, [window changed])", ctx.toString());
  }

  @Test
  void toStringFollowsGo() {
    try (SignalContext ctx = Signals.notifyContext(Context.background(), "WINCH")) {
      assertEquals("signal.NotifyContext(context.Background, [window changed])", ctx.toString());
      assertEquals(List.of("WINCH"), ctx.signals());
      assertEquals("interrupt", Signals.goName("INT"));
      assertEquals("terminated", Signals.goName("TERM"));
      assertEquals("hangup", Signals.goName("HUP"));
    }
  }

  @Test
  void simultaneousStopsAreSafe() throws Exception {
    SignalContext ctx = Signals.notifyContext(Context.background(), "WINCH");
    List<Thread> threads = new ArrayList<>();
    CountDownLatch go = new CountDownLatch(1);
    for (int i = 0; i < 10; i++) {
      Thread t =
          new Thread(
              () -> {
                try {
                  go.await();
                } catch (InterruptedException e) {
                  return;
                }
                ctx.stop();
              });
      t.start();
      threads.add(t);
    }
    go.countDown();
    for (Thread t : threads) {
      t.join(10_000);
    }
    assertSame(Context.CANCELED, ctx.err());
    assertSame(marker, current());
  }

  @Test
  void aSignalRacingStopLeavesTheContextDoneAndThePreviousHandlerInPlace() throws Exception {
    for (int i = 0; i < 200; i++) {
      SignalContext ctx = Signals.notifyContext(Context.background(), "WINCH");
      CountDownLatch done = new CountDownLatch(1);
      ctx.onDone(done::countDown);
      Signal.raise(HUP); // delivered asynchronously by the JVM's signal thread
      ctx.stop();
      assertTrue(done.await(10, TimeUnit.SECONDS));
      Throwable cause = ctx.cause();
      assertTrue(
          cause == Context.CANCELED || cause instanceof SignalReceivedException, "cause " + cause);
      assertSame(marker, current());
    }
    // A raise that lost the race lands on the marker, never on a stale handler.
  }

  @Test
  void badArgumentsAreRejectedAndLeaveNothingRegistered() {
    assertThrows(IllegalArgumentException.class, () -> Signals.notifyContext(Context.background()));
    IllegalArgumentException unknown =
        assertThrows(
            IllegalArgumentException.class,
            () -> Signals.notifyContext(Context.background(), "WINCH", "NOPE"));
    assertTrue(unknown.getMessage().contains("signals[1]"), unknown.getMessage());
    assertEquals(
        "signals[0]",
        assertThrows(
                NullPointerException.class,
                () -> Signals.notifyContext(Context.background(), (String) null))
            .getMessage());
    assertSame(marker, current());
  }
}
