package io.ctx4j;

import static io.ctx4j.blackbox.Fixtures.BOUND;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.ctx4j.blackbox.Fixtures;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The project's rule for a wait that is both interrupted and ended by its context (issue 14, item
 * 5): <b>done wins</b>. A done context gives the wait its outcome (a return, or a fresh copy of the
 * error) and the interrupt status stays set; only a wait whose context is not done ends with {@code
 * InterruptedException}, and that one clears the status, as the JDK's waits do.
 */
@Timeout(120)
class DoneWinsTest {

  /** A blocking wait of ctx4j, run on {@code seen}. */
  enum Wait {
    AWAIT {
      @Override
      Object run(Context seen) throws Exception {
        seen.await();
        return "returned";
      }
    },
    AWAIT_TIMED {
      @Override
      Object run(Context seen) throws Exception {
        return seen.await(BOUND);
      }
    },
    AWAIT_WORK {
      @Override
      Object run(Context seen) throws Exception {
        return seen.await(new CompletableFuture<String>());
      }
    };

    abstract Object run(Context seen) throws Exception;

    /** Checks the outcome of a wait whose context was cancelled with {@code why}. */
    void assertDoneOutcome(Outcome o, Throwable why) {
      assertTrue(o.interruptedAfter, this + ": done wins, and the interrupt status must stay set");
      switch (this) {
        case AWAIT:
          assertEquals("returned", o.value, () -> this + " threw " + o.thrown);
          break;
        case AWAIT_TIMED:
          assertEquals(Boolean.TRUE, o.value, () -> this + " threw " + o.thrown);
          break;
        default:
          assertInstanceOf(CanceledException.class, o.thrown, () -> this + " gave " + o.value);
          assertNotSame(Context.CANCELED, o.thrown, "a fresh copy, never the sentinel");
          assertSame(why, o.thrown.getCause());
      }
    }
  }

  /** What a wait did, and the thread's interrupt status right after it. */
  static final class Outcome {
    Object value;
    Throwable thrown;
    boolean interruptedAfter;
  }

  static final List<Function<Context, Context>> VIEWS =
      List.of(c -> c, c -> Context.withValue(c, Key.named("k"), "v"), Fixtures.Wrapper::new);

  static Stream<Arguments> waitsAndViews() {
    List<Arguments> all = new ArrayList<>();
    String[] names = {"plain", "value layer", "custom wrapper"};
    for (Wait w : Wait.values()) {
      for (int i = 0; i < VIEWS.size(); i++) {
        all.add(Arguments.of(w, names[i], VIEWS.get(i)));
      }
    }
    return all.stream();
  }

  private static Outcome runHere(Wait wait, Context seen) {
    return runHere(wait, seen, null);
  }

  /**
   * Runs the wait here; reads the interrupt status once {@code interruptSent} is set, so that an
   * interrupt that lands only after the wait has returned is not taken for one the wait consumed.
   */
  private static Outcome runHere(Wait wait, Context seen, AtomicBoolean interruptSent) {
    Outcome o = new Outcome();
    try {
      o.value = wait.run(seen);
    } catch (Throwable t) {
      o.thrown = t;
    }
    while (interruptSent != null && !interruptSent.get()) {
      Thread.onSpinWait(); // not a blocking wait: that would consume the status we want to read
    }
    o.interruptedAfter = Thread.interrupted(); // reads and clears: the next round starts clean
    return o;
  }

  @ParameterizedTest(name = "{0} on {1}")
  @MethodSource("waitsAndViews")
  void doneAndInterruptedBeforeTheCallGivesTheOutcomeAndKeepsTheInterrupt(
      Wait wait, String name, Function<Context, Context> view) {
    CancelableContext ctx = Context.withCancel(Context.background());
    Exception why = new Exception("why");
    ctx.cancel(why);
    Thread.currentThread().interrupt();
    wait.assertDoneOutcome(runHere(wait, view.apply(ctx)), why);
  }

  @ParameterizedTest(name = "{0} on {1}")
  @MethodSource("waitsAndViews")
  void interruptedOnALiveContextThrowsInterruptedExceptionAndClearsTheStatus(
      Wait wait, String name, Function<Context, Context> view) {
    CancelableContext ctx = Context.withCancel(Context.background());
    Thread.currentThread().interrupt();
    Outcome o = runHere(wait, view.apply(ctx));
    assertInstanceOf(InterruptedException.class, o.thrown);
    assertFalse(o.interruptedAfter, "InterruptedException consumes the interrupt status");
    assertEquals(0, ((CancelStateMachine) ctx).registrationCount(), "nothing left registered");
  }

  /**
   * The task-group close: the context is cancelled, then the waiting thread interrupted. By the
   * time the waiter sees the interrupt the context is done (the cancel happens-before the interrupt),
   * so every round must end with the context's outcome. The old code checked the interrupt first
   * and threw InterruptedException in most rounds.
   */
  @ParameterizedTest(name = "{0} on {1}")
  @MethodSource("waitsAndViews")
  void cancelThenInterruptWhileWaitingGivesTheOutcome(
      Wait wait, String name, Function<Context, Context> view) throws Exception {
    for (int round = 0; round < 50; round++) {
      ParkedWaiter waiter = new ParkedWaiter(wait, view);
      Exception why = new Exception("why " + round);
      waiter.ctx.cancel(why);
      waiter.interrupt();
      waiter.join();
      wait.assertDoneOutcome(waiter.outcome, why);
    }
  }

  /**
   * Interrupt and cancel race from two threads: either may win, but the outcome always matches the
   * status: the context's outcome with the status set, or InterruptedException with it cleared.
   */
  @ParameterizedTest(name = "{0} on {1}")
  @MethodSource("waitsAndViews")
  void racingInterruptAndCancelAlwaysGiveAConsistentOutcome(
      Wait wait, String name, Function<Context, Context> view) throws Exception {
    int interrupted = 0;
    for (int round = 0; round < 100; round++) {
      ParkedWaiter waiter = new ParkedWaiter(wait, view);
      CancelableContext ctx = waiter.ctx;
      Outcome o = waiter.outcome;
      Exception why = new Exception("why " + round);
      CyclicBarrier start = new CyclicBarrier(2);
      Thread canceller =
          new Thread(
              () -> {
                awaitQuietly(start);
                ctx.cancel(why);
              });
      canceller.start();
      awaitQuietly(start);
      waiter.interrupt();
      canceller.join(BOUND.toMillis());
      waiter.join();
      if (o.thrown instanceof InterruptedException) {
        interrupted++;
        assertFalse(o.interruptedAfter, "InterruptedException must clear the status");
      } else {
        wait.assertDoneOutcome(o, why);
      }
    }
    assertTrue(interrupted <= 100); // either order may win; only consistency is required
  }

  /** A timed wait that times out while interrupted and live still reports the interrupt. */
  @Test
  void aTimedWaitOnALiveContextThatIsInterruptedThrows() {
    CancelableContext ctx = Context.withCancel(Context.background());
    Thread.currentThread().interrupt();
    Outcome o = runHere(Wait.AWAIT_TIMED, ctx);
    assertInstanceOf(InterruptedException.class, o.thrown);
    Thread.currentThread().interrupt();
    try {
      ctx.await(Duration.ZERO);
      fail("a zero wait on a live context by an interrupted thread must throw, as the JDK's do");
    } catch (InterruptedException expected) {
      assertFalse(Thread.currentThread().isInterrupted());
    }
  }

  /**
   * A thread parked in {@code wait} on a view of a fresh live context {@link #ctx}; {@link #outcome}
   * holds what the wait did once {@link #join()} has returned.
   */
  private static final class ParkedWaiter {
    final CancelableContext ctx = Context.withCancel(Context.background());
    final Outcome outcome = new Outcome();
    private final AtomicBoolean interruptSent = new AtomicBoolean();
    private final Thread thread;

    /** Starts the waiter; returns once it is parked. */
    ParkedWaiter(Wait wait, Function<Context, Context> view) {
      Context seen = view.apply(ctx);
      thread = new Thread(() -> copy(runHere(wait, seen, interruptSent), outcome));
      thread.start();
      awaitParked(thread, ctx);
    }

    /** Interrupts the waiter, then lets it read its interrupt status. */
    void interrupt() {
      thread.interrupt();
      interruptSent.set(true);
    }

    /** Waits for the waiter to return; fails if it does not within {@code BOUND}. */
    void join() throws InterruptedException {
      thread.join(BOUND.toMillis());
      assertFalse(thread.isAlive(), "the waiter did not wake up");
    }
  }

  private static void copy(Outcome from, Outcome to) {
    to.value = from.value;
    to.thrown = from.thrown;
    to.interruptedAfter = from.interruptedAfter;
  }

  /** Waits until {@code waiter} has registered on {@code ctx} and parked. */
  private static void awaitParked(Thread waiter, CancelableContext ctx) {
    long end = System.nanoTime() + BOUND.toNanos();
    while (((CancelStateMachine) ctx).registrationCount() == 0
        || (waiter.getState() != Thread.State.WAITING && waiter.getState() != Thread.State.TIMED_WAITING)) {
      if (System.nanoTime() > end || !waiter.isAlive()) {
        fail("the waiter never parked: " + waiter.getState());
      }
      Thread.onSpinWait();
    }
    assertNotNull(waiter);
  }

  private static void awaitQuietly(CyclicBarrier b) {
    try {
      b.await();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }
}
