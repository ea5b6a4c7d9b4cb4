package io.ctx4j;

import static io.ctx4j.blackbox.Fixtures.BOUND;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.blackbox.Fixtures;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The ways to learn that a context is done: polling, blocking, callbacks and futures. Each runs on a
 * plain cancelable context, through a value layer and through a custom wrapper (which uses the
 * interface's default methods).
 */
class DoneSignalTest {

  /**
   * A fresh cancelable context for each test run, and how the test sees it: itself, through a value
   * layer, through a custom wrapper.
   */
  static Stream<Arguments> views() {
    return Stream.of(
        view("plain", c -> c),
        view("value layer", c -> Context.withValue(c, Key.named("k"), "v")),
        view("custom wrapper", Fixtures.Wrapper::new));
  }

  private static Arguments view(String name, Function<Context, Context> how) {
    CancelableContext ctx = Context.withCancel(Context.background());
    return Arguments.of(ctx, Named.of(name, how.apply(ctx)));
  }

  private static Thread start(Runnable r) {
    Thread t = new Thread(r);
    t.start();
    return t;
  }

  interface Blocking {
    void run() throws Exception;
  }

  /** Starts a thread that runs {@code body}, recording what it throws; returns once it has begun. */
  private static Thread startBlocking(Blocking body, AtomicReference<Throwable> thrown)
      throws InterruptedException {
    CountDownLatch started = new CountDownLatch(1);
    Thread t =
        start(
            () -> {
              started.countDown();
              try {
                body.run();
              } catch (Throwable x) {
                thrown.set(x);
              }
            });
    started.await();
    return t;
  }

  /**
   * Interrupts until the thread leaves: one interrupt is enough even before it parks, but the loop
   * keeps the test honest if it has not reached the wait yet.
   */
  private static void interruptUntilGone(Thread t) throws InterruptedException {
    long end = System.nanoTime() + BOUND.toNanos();
    while (t.isAlive() && System.nanoTime() < end) {
      t.interrupt();
      t.join(10);
    }
    assertFalse(t.isAlive());
  }

  @ParameterizedTest
  @MethodSource("views")
  void pollingSeesTheCancellation(CancelableContext ctx, Context seen) throws Exception {
    CountDownLatch polling = new CountDownLatch(1);
    AtomicReference<ContextException> err = new AtomicReference<>();
    Thread poller =
        start(
            () -> {
              polling.countDown();
              long end = System.nanoTime() + BOUND.toNanos();
              while (!seen.isDone() && System.nanoTime() < end) {
                Thread.onSpinWait();
              }
              err.set(seen.err());
            });
    polling.await();
    ctx.cancel();
    poller.join();
    assertSame(Context.CANCELED, err.get());
  }

  @ParameterizedTest
  @MethodSource("views")
  void awaitReturnsOnceDone(CancelableContext ctx, Context seen) throws Exception {
    CountDownLatch returned = new CountDownLatch(1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    startBlocking(
        () -> {
          seen.await();
          returned.countDown();
        },
        failure);
    assertFalse(returned.await(10, TimeUnit.MILLISECONDS), "returned before the cancellation");
    ctx.cancel();
    assertTrue(returned.await(BOUND.toMillis(), TimeUnit.MILLISECONDS), () -> "failure: " + failure.get());
    seen.await(); // already done: returns at once
  }

  @ParameterizedTest
  @MethodSource("views")
  void awaitIsInterruptibleAndLeavesNoRegistration(CancelableContext ctx, Context seen) throws Exception {
    AtomicReference<Throwable> outcome = new AtomicReference<>();
    interruptUntilGone(startBlocking(seen::await, outcome));
    assertInstanceOf(InterruptedException.class, outcome.get());
    assertEquals(0, ((CancelStateMachine) ctx).registrationCount(), "an interrupted waiter must not stay registered");
    assertFalse(ctx.isDone());
  }

  @Test
  void anInterruptedThreadDoesNotWaitForALiveContext() {
    CancelableContext ctx = Context.withCancel(Context.background());
    Thread.currentThread().interrupt();
    assertThrows(InterruptedException.class, ctx::await);
    Thread.currentThread().interrupt();
    assertThrows(InterruptedException.class, () -> ctx.await(BOUND));
    assertFalse(Thread.interrupted(), "the interrupt status is consumed by the exception");
  }

  @ParameterizedTest
  @MethodSource("views")
  void timedAwaitTellsWhetherTheContextIsDone(CancelableContext ctx, Context seen) throws Exception {
    assertFalse(seen.await(Duration.ofMillis(5)));
    assertFalse(seen.await(Duration.ZERO));
    assertEquals(0, ((CancelStateMachine) ctx).registrationCount(), "a timed-out waiter must not stay registered");
    Thread canceller = start(ctx::cancel);
    assertTrue(seen.await(BOUND));
    assertTrue(seen.await(Duration.ZERO));
    canceller.join();
  }

  @ParameterizedTest
  @MethodSource("views")
  void onDoneRunsOnceOnTheCancellingThread(CancelableContext ctx, Context seen) throws Exception {
    AtomicInteger runs = new AtomicInteger();
    AtomicReference<Thread> ranOn = new AtomicReference<>();
    Registration r =
        seen.onDone(
            () -> {
              runs.incrementAndGet();
              ranOn.set(Thread.currentThread());
            });
    Registration stopped = seen.onDone(runs::incrementAndGet);
    assertTrue(stopped.stop());
    assertFalse(stopped.stop());
    Thread canceller = start(ctx::cancel);
    canceller.join();
    ctx.cancel();
    assertEquals(1, runs.get());
    assertSame(canceller, ranOn.get());
    assertFalse(r.stop(), "it has run");
    // Already done: runs at once, on the calling thread.
    seen.onDone(() -> ranOn.set(Thread.currentThread()));
    assertSame(Thread.currentThread(), ranOn.get());
  }

  @Test
  void callbacksRunOnlyOnceTheWholeSubtreeIsMarkedDone() {
    CancelableContext parent = Context.withCancel(Context.background());
    CancelableContext child = Context.withCancel(parent);
    CancelableContext grandchild = Context.withCancel(Context.withValue(child, Key.named("k"), 1));
    AtomicInteger sawLiveDescendant = new AtomicInteger();
    AtomicInteger ran = new AtomicInteger();
    parent.onDone(
        () -> {
          ran.incrementAndGet();
          if (!child.isDone() || !grandchild.isDone()) {
            sawLiveDescendant.incrementAndGet();
          }
        });
    child.onDone(
        () -> {
          ran.incrementAndGet();
          if (!grandchild.isDone()) {
            sawLiveDescendant.incrementAndGet();
          }
        });
    parent.cancel();
    assertEquals(2, ran.get());
    assertEquals(0, sawLiveDescendant.get());
  }

  @ParameterizedTest
  @MethodSource("views")
  void toFutureCompletesExceptionallyWithTheError(CancelableContext ctx, Context seen) throws Exception {
    CompletableFuture<Void> f = seen.toFuture();
    CompletableFuture<Void> abandoned = seen.toFuture();
    assertFalse(f.isDone());
    assertEquals(2, ((CancelStateMachine) ctx).registrationCount());
    abandoned.cancel(false);
    assertEquals(1, ((CancelStateMachine) ctx).registrationCount(), "cancelling the future unregisters it");
    Exception why = new Exception("why");
    ctx.cancel(why);
    // A ContextException is a CancellationException, so get() throws a CancellationException: the
    // error itself on older JDKs, a wrapper whose cause is the error on newer ones (JDK 25 does).
    // handle() sees the error as is on every JDK.
    assertThrows(CancellationException.class, f::get);
    Throwable e = f.handle((v, x) -> x).join();
    assertInstanceOf(CanceledException.class, e);
    assertSame(why, e.getCause());
    assertTrue(f.isCompletedExceptionally());
    assertTrue(seen.toFuture().isCompletedExceptionally(), "a done context gives a completed future");
  }

  /**
   * Work that was itself cancelled ends with its own CancellationException, rethrown as is: not
   * mistaken for this context finishing first (this used to throw a NullPointerException).
   */
  @ParameterizedTest
  @MethodSource("views")
  void awaitWorkRethrowsTheCancellationOfTheWork(CancelableContext ctx, Context seen) throws Exception {
    CompletableFuture<String> cancelled = new CompletableFuture<>();
    cancelled.cancel(false);
    CancellationException e = assertThrows(CancellationException.class, () -> seen.await(cancelled));
    assertFalse(e instanceof ContextException);

    CancelableContext other = Context.withCancel(Context.background());
    CompletableFuture<Void> otherDone = other.toFuture();
    Exception why = new Exception("other's cause");
    Thread canceller = start(() -> other.cancel(why));
    CanceledException e2 = assertThrows(CanceledException.class, () -> seen.await(otherDone));
    assertSame(why, e2.getCause(), "the other context's error, not ours");
    canceller.join();
    assertFalse(ctx.isDone());
    assertEquals(0, ((CancelStateMachine) ctx).registrationCount());
  }

  @ParameterizedTest
  @MethodSource("views")
  void awaitWorkReturnsTheResultIfTheWorkFinishesFirst(CancelableContext ctx, Context seen) throws Exception {
    CompletableFuture<String> work = new CompletableFuture<>();
    Thread worker = start(() -> work.complete("result"));
    assertEquals("result", seen.await(work));
    worker.join();
    assertEquals(0, ((CancelStateMachine) ctx).registrationCount(), "the losing registration is withdrawn");
    ctx.cancel();
    assertEquals("result", seen.await(work), "both done: the work's result");
  }

  @ParameterizedTest
  @MethodSource("views")
  void awaitWorkThrowsTheContextsErrorIfTheContextFinishesFirst(CancelableContext ctx, Context seen) throws Exception {
    CompletableFuture<String> never = new CompletableFuture<>();
    Exception why = new Exception("why");
    Thread canceller = start(() -> ctx.cancel(why));
    CanceledException e = assertThrows(CanceledException.class, () -> seen.await(never));
    assertSame(why, e.getCause());
    canceller.join();
    assertFalse(never.isDone(), "await does not cancel the work");
  }

  @ParameterizedTest
  @MethodSource("views")
  void awaitWorkThrowsExecutionExceptionIfTheWorkFails(CancelableContext ctx, Context seen) throws Exception {
    IOException failure = new IOException("disk");
    CompletableFuture<String> work = new CompletableFuture<>();
    Thread worker = start(() -> work.completeExceptionally(failure));
    ExecutionException e = assertThrows(ExecutionException.class, () -> seen.await(work));
    assertSame(failure, e.getCause());
    worker.join();
    CompletableFuture<String> chained = CompletableFuture.<String>completedFuture("x").thenApply(x -> {
      throw new IllegalStateException("in a stage");
    });
    ExecutionException e2 = assertThrows(ExecutionException.class, () -> seen.await(chained));
    assertInstanceOf(IllegalStateException.class, e2.getCause(), "the stage's own exception, unwrapped");
    ctx.cancel();
  }

  @Test
  void awaitWorkIsInterruptible() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    AtomicReference<Throwable> outcome = new AtomicReference<>();
    interruptUntilGone(startBlocking(() -> ctx.await(new CompletableFuture<String>()), outcome));
    assertInstanceOf(InterruptedException.class, outcome.get());
    assertEquals(0, ((CancelStateMachine) ctx).registrationCount());
  }
}
