package io.ctx4j.signal;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * A child JVM of {@link SignalsProcessTest}: sets up the contexts of one scenario, prints {@code
 * ready}, reports what a signal did to them, then ends every context and prints {@code armed}. From
 * then on the JVM's own handlers must be back, so the test's next SIGTERM ends it with status 143;
 * if the signal is swallowed the child gives up after two minutes with status 3.
 */
public final class SignalScenarioChild {
  private SignalScenarioChild() {}

  public static void main(String[] args) throws Exception {
    switch (args[0]) {
      case "nested-stop-outer-first":
        nested(true);
        break;
      case "nested-stop-inner-first":
        nested(false);
        break;
      case "parent-cancelled":
        parentCancelled();
        break;
      case "handler-put-back-by-a-library":
        handlerPutBackByALibrary(false);
        break;
      case "handler-put-back-then-a-new-context":
        handlerPutBackByALibrary(true);
        break;
      case "stopped-with-a-hook":
        stoppedWithAHook();
        break;
      case "fan-out":
        fanOut();
        break;
      case "refused-registration-loop":
        refusedRegistrationLoop();
        break;
      case "stop-notify-loop":
        stopNotifyLoop();
        break;
      case "second-signal-while-ending":
        secondSignal(true);
        return;
      case "second-signal-during-drain":
        secondSignal(false);
        return;
      default:
        throw new IllegalArgumentException("unknown scenario " + args[0]);
    }
    System.out.println("armed");
    System.out.flush();
    Thread.sleep(120_000);
    System.exit(3);
  }

  /** Issue 15 item 1: a context over a context, both on TERM, stopped in either order. */
  private static void nested(boolean outerFirst) {
    SignalContext outer = Signals.notifyContext(Context.background(), "TERM");
    SignalContext inner = Signals.notifyContext(outer, "TERM");
    System.out.println("ready");
    if (outerFirst) {
      outer.stop();
      inner.stop();
    } else {
      inner.close();
      outer.close();
    }
    System.out.println("inner " + state(inner) + ", outer " + state(outer));
  }

  /**
   * A library that installs its own TERM handler while a context lives and, once done, puts back
   * the handler it found (JLine's terminals do so with INT and WINCH): that is ctx4j's, put back
   * after the context stopped and ctx4j restored the JVM's. A SIGTERM must still end the JVM,
   * also after another context came and went over that handler ({@code thenANewContext}).
   */
  private static void handlerPutBackByALibrary(boolean thenANewContext) {
    SignalContext ctx = Signals.notifyContext(Context.background(), "TERM");
    Signal term = new Signal("TERM");
    SignalHandler found = Signal.handle(term, s -> System.out.println("the library's handler"));
    System.out.println("ready");
    ctx.stop();
    Signal.handle(term, found);
    if (thenANewContext) {
      SignalContext next = Signals.notifyContext(Context.background(), "TERM");
      next.stop();
      System.out.println("ctx " + state(ctx) + ", next " + state(next));
    } else {
      System.out.println("ctx " + state(ctx));
    }
  }

  /**
   * The usual shape: one context on INT and TERM, stopped; a shutdown hook prints {@code hook ran}.
   * The JVM's own handling must be back whole: the hook runs and the status is 130 or 143.
   */
  private static void stoppedWithAHook() {
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  System.out.println("hook ran");
                  System.out.flush();
                }));
    SignalContext ctx = Signals.notifyContext(Context.background(), "INT", "TERM");
    System.out.println("ready");
    ctx.stop();
    System.out.println("ctx " + state(ctx));
  }

  /** Contexts ended by their parent only: ending them must unregister them just as stop() does. */
  private static void parentCancelled() {
    CancelableContext parent = Context.withCancel(Context.background());
    SignalContext a = Signals.notifyContext(parent, "INT", "TERM");
    SignalContext b = Signals.notifyContext(a, "TERM");
    System.out.println("ready");
    parent.cancel();
    System.out.println("a " + state(a) + ", b " + state(b));
  }

  /** Issue 15 item 2: one TERM must end every context registered for it, not only the newest. */
  private static void fanOut() throws InterruptedException {
    SignalContext app = Signals.notifyContext(Context.background(), "INT", "TERM");
    SignalContext lib = Signals.notifyContext(Context.background(), "TERM");
    SignalContext other = Signals.notifyContext(Context.background(), "HUP");
    System.out.println("ready");
    System.out.flush();
    // Bounded so that a context the signal missed is reported instead of hanging the child.
    for (SignalContext c : List.of(app, lib)) {
      c.await(Duration.ofSeconds(30));
    }
    System.out.println("app " + state(app) + ", lib " + state(lib) + ", hup " + state(other));
    other.stop();
  }

  /**
   * Registrations that fail on their second signal (QUIT is HotSpot's), from four threads, while the
   * test sends one SIGTERM: each briefly diverts TERM before QUIT is refused. The signal must end the
   * JVM (status 143), not a context that a failed call never returned.
   */
  private static void refusedRegistrationLoop() throws InterruptedException {
    long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    CountDownLatch looping = new CountDownLatch(4);
    Runnable register =
        () -> {
          while (System.nanoTime() < end) {
            try {
              Signals.notifyContext(Context.background(), "TERM", "QUIT");
              System.out.println("QUIT was accepted");
            } catch (IllegalArgumentException expected) {
              // refused, as it must be; TERM must be the JVM's again
              looping.countDown();
            }
          }
        };
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      Thread t = new Thread(register);
      t.start();
      threads.add(t);
    }
    looping.await(); // every thread past its first, slow, refusal: the SIGTERM then meets the loop
    System.out.println("ready");
    System.out.flush();
    for (Thread t : threads) {
      t.join();
    }
    System.out.println("swallowed: SIGTERM did not end the JVM");
    System.out.flush();
    System.exit(3);
  }

  /**
   * The last context stopped and a new one registered at once, over and over, while the test sends
   * one SIGTERM: it must end a context ({@code stop()} returns false; the child prints {@code taken:
   * <cause>} and exits 0) or the JVM (status 143), never neither.
   */
  private static void stopNotifyLoop() {
    long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    for (int warm = 0; warm < 1000; warm++) { // compiled when the signal comes
      Signals.notifyContext(Context.background(), "INT", "TERM").stop();
    }
    System.out.println("ready");
    System.out.flush();
    while (System.nanoTime() < end) {
      SignalContext ctx = Signals.notifyContext(Context.background(), "INT", "TERM");
      // Live for about as long as the JVM takes to dispatch a signal, so that the signal meets a
      // live context, a stop or a registration about as often as none.
      for (long live = System.nanoTime() + 100_000; System.nanoTime() < live; ) {
        Thread.onSpinWait();
      }
      if (!ctx.stop()) {
        System.out.println("taken: " + ctx.cause().getMessage());
        System.out.flush();
        System.exit(0);
      }
    }
    System.out.println("swallowed: SIGTERM ended neither a context nor the JVM");
    System.out.flush();
    System.exit(3);
  }

  /**
   * The README's second Ctrl-C: a context on INT and TERM ended by the test's first signal, then
   * either still being ended (its callback, on the JVM's signal thread, never returns) or done and
   * draining (a slow drain on the main thread). It prints {@code ending: <cause>} or {@code
   * draining: <cause>}; the test's second signal must then end the JVM the JVM's way (130 or 143).
   * If that signal is swallowed the child gives up after two minutes with status 3.
   */
  private static void secondSignal(boolean whileEnding) throws InterruptedException {
    SignalContext ctx = Signals.notifyContext(Context.background(), "INT", "TERM");
    if (whileEnding) {
      ctx.onDone(
          () -> {
            System.out.println("ending: " + ctx.cause().getMessage());
            System.out.flush();
            try {
              new CountDownLatch(1).await(); // the first signal's dispatch never returns
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          });
    }
    System.out.println("ready");
    System.out.flush();
    ctx.await();
    if (!whileEnding) {
      System.out.println("draining: " + ctx.cause().getMessage());
      System.out.flush();
    }
    Thread.sleep(120_000); // the drain, or the wait while the callback holds the signal's thread
    System.exit(3);
  }

  private static String state(Context c) {
    return c.isDone() ? "done: " + c.cause().getMessage() : "live";
  }
}
