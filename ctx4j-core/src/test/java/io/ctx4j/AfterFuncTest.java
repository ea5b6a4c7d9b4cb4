package io.ctx4j;

import static io.ctx4j.blackbox.Fixtures.BOUND;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.blackbox.Fixtures;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** afterFunc: Go's TestAfterFunc* tests, the stop() arbiter and failure reporting. */
class AfterFuncTest {

  private static boolean await(CountDownLatch latch) throws InterruptedException {
    return latch.await(BOUND.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** TestAfterFuncCalledAfterCancel. */
  @Test
  void runsOnceOnAnotherThreadAfterCancel() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    CountDownLatch ran = new CountDownLatch(1);
    AtomicReference<Thread> ranOn = new AtomicReference<>();
    AtomicInteger runs = new AtomicInteger();
    Registration stop =
        Context.afterFunc(
            ctx,
            () -> {
              runs.incrementAndGet();
              ranOn.set(Thread.currentThread());
              ran.countDown();
            });
    assertEquals(1, ran.getCount(), "ran before the context was done");
    ctx.cancel();
    ctx.cancel();
    assertTrue(await(ran));
    assertNotSame(Thread.currentThread(), ranOn.get());
    assertFalse(stop.stop(), "too late: the function has started");
    CountDownLatch twice = new CountDownLatch(2);
    Context.afterFunc(ctx, twice::countDown);
    assertTrue(twice.getCount() >= 1);
    assertFalse(twice.await(50, TimeUnit.MILLISECONDS), "a function registered once ran twice");
    assertEquals(1, runs.get());
  }

  /** TestAfterFuncCalledAfterTimeout, on the manual clock and on the system clock. */
  @Test
  void runsAfterTheDeadline() throws Exception {
    ManualTimeSource time = Fixtures.manualTime();
    CancelableContext manual =
        Context.withTimeout(Context.withTimeSource(Context.background(), time), Duration.ofSeconds(1));
    CancelableContext system = Context.withTimeout(Context.background(), Duration.ofMillis(5));
    CountDownLatch ran = new CountDownLatch(2);
    Context.afterFunc(manual, ran::countDown);
    Context.afterFunc(system, ran::countDown);
    time.advance(Duration.ofSeconds(1));
    assertTrue(await(ran));
  }

  /** TestAfterFuncCalledImmediately. */
  @Test
  void runsAtOnceOnAnotherThreadIfAlreadyDone() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    ctx.cancel();
    CountDownLatch ran = new CountDownLatch(1);
    AtomicReference<Thread> ranOn = new AtomicReference<>();
    Registration r =
        Context.afterFunc(
            Context.withValue(ctx, Key.named("k"), 1),
            () -> {
              ranOn.set(Thread.currentThread());
              ran.countDown();
            });
    assertTrue(await(ran));
    assertNotSame(Thread.currentThread(), ranOn.get());
    assertFalse(r.stop());
  }

  /** TestAfterFuncNotCalledAfterStop. */
  @Test
  void stopBeforeCancelPreventsTheRun() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    CountDownLatch ran = new CountDownLatch(1);
    Registration r = Context.afterFunc(ctx, ran::countDown);
    assertTrue(r.stop());
    assertEquals(0, ((CancelStateMachine) ctx).registrationCount(), "stop() must unregister");
    ctx.cancel();
    assertFalse(ran.await(20, TimeUnit.MILLISECONDS), "stopped function ran");
    assertFalse(r.stop());
  }

  /** stop() is the exact arbiter: it returns true if and only if the function never runs. */
  @Test
  void stopRacingCancelReturnsTrueExactlyWhenTheFunctionDoesNotRun() throws Exception {
    Semaphore runs = new Semaphore(0);
    int rounds = 2000;
    int lateStops = 0;
    for (int i = 0; i < rounds; i++) {
      CancelableContext ctx = Context.withCancel(Context.background());
      Registration r = Context.afterFunc(ctx, runs::release);
      Thread canceller = new Thread(ctx::cancel);
      canceller.start();
      if (!r.stop()) {
        lateStops++;
      }
      canceller.join();
    }
    assertTrue(runs.tryAcquire(lateStops, BOUND.toMillis(), TimeUnit.MILLISECONDS), "a function whose stop() failed never ran");
    assertFalse(runs.tryAcquire(20, TimeUnit.MILLISECONDS), "a function ran although stop() succeeded");
  }

  /** TestAfterFuncCalledAsynchronously: cancel() does not wait for the function. */
  @Test
  void cancelDoesNotWaitForTheFunction() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch finished = new CountDownLatch(1);
    AtomicReference<Boolean> released = new AtomicReference<>();
    Registration r =
        Context.afterFunc(
            ctx,
            () -> {
              try {
                released.set(release.await(BOUND.toMillis(), TimeUnit.MILLISECONDS));
              } catch (InterruptedException e) {
                released.set(false);
              }
              finished.countDown();
            });
    ctx.cancel(); // would block until the function gives up if it ran inline
    release.countDown();
    assertTrue(await(finished));
    assertTrue(released.get(), "cancel() waited for the function");
    r.stop();
  }

  @Test
  void independentFunctionsOnOneContextAllRun() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    CountDownLatch ran = new CountDownLatch(10);
    for (int i = 0; i < 10; i++) {
      Context.afterFunc(ctx, ran::countDown);
    }
    assertEquals(10, ((CancelStateMachine) ctx).registrationCount());
    ctx.cancel();
    assertTrue(await(ran));
  }

  @Test
  void aThrowingFunctionGoesToTheUncaughtExceptionHandler() throws Exception {
    RuntimeException boom = new RuntimeException("boom");
    try (Fixtures.Uncaught uncaught = Fixtures.Uncaught.onDefaultHandler()) {
      CancelableContext ctx = Context.withCancel(Context.background());
      Context.afterFunc(
          ctx,
          () -> {
            throw boom;
          });
      ctx.cancel();
      assertSame(boom, uncaught.next());
      assertNotSame(Thread.currentThread(), uncaught.threads.poll());
    }
  }

  @Test
  void onANeverCancellableContextTheFunctionNeverRuns() throws Exception {
    for (Context never :
        new Context[] {
          Context.background(),
          Context.todo(),
          Context.withoutCancel(Context.withCancel(Context.background())),
          Context.withValue(Context.background(), Key.named("k"), "v")
        }) {
      CountDownLatch ran = new CountDownLatch(1);
      Registration r = Context.afterFunc(never, ran::countDown);
      assertTrue(r.stop(), never::toString);
      assertFalse(r.stop(), never::toString);
      assertEquals(1, ran.getCount());
    }
  }

  @Test
  void functionsFollowCancellationThroughCustomParents() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    CountDownLatch ran = new CountDownLatch(1);
    Context.afterFunc(new Fixtures.Wrapper(ctx), ran::countDown);
    ctx.cancel();
    assertTrue(await(ran));
  }

  /**
   * A custom context is asked only to hold the callback; whether the function ran, and whether
   * stop() prevented it, is afterFunc's own promise, as Go's AfterFunc keeps it with a once of its
   * own. This one never forgets a callback: it runs them again when ended again, and its stop()
   * still answers true after the callback ran.
   */
  @Test
  void onACustomContextTheFunctionRunsOnceAndStopTellsTheTruthWhateverItsRegistrationSays() {
    java.util.List<Runnable> held = new java.util.concurrent.CopyOnWriteArrayList<>();
    AtomicReference<ContextException> err = new AtomicReference<>();
    Context sloppy =
        new Context() {
          @Override
          public ContextException err() {
            return err.get();
          }

          @Override
          public java.util.Optional<java.time.Instant> deadline() {
            return java.util.Optional.empty();
          }

          @Override
          public <T> T value(Key<T> key) {
            return null;
          }

          @Override
          public Registration onDone(Runnable callback) {
            held.add(callback);
            return () -> held.remove(callback);
          }
        };
    AtomicInteger runs = new AtomicInteger();
    Registration ran = Context.afterFunc(sloppy, runs::incrementAndGet, Runnable::run);
    AtomicInteger prevented = new AtomicInteger();
    Registration stopped = Context.afterFunc(sloppy, prevented::incrementAndGet, Runnable::run);
    assertTrue(stopped.stop(), "stop() before the end prevents the run");
    err.set(Context.CANCELED);
    held.forEach(Runnable::run);
    held.forEach(Runnable::run); // ended again: the sloppy context runs what it holds once more
    assertEquals(1, runs.get(), "the function ran as often as the custom context ran the callback");
    assertFalse(ran.stop(), "stop() after the function ran");
    assertEquals(0, prevented.get(), "a stopped function ran");
    assertFalse(stopped.stop(), "a second stop()");
  }
}
