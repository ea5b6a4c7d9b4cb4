package io.ctx4j;

import static io.ctx4j.blackbox.Fixtures.EPOCH;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.params.provider.Arguments.arguments;

import io.ctx4j.blackbox.Fixtures;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.internal.TimerThread;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Nulls, negative and extreme times, throwing callbacks and misbehaving custom contexts. */
class BadInputTest {
  private static final Context BG = Context.background();
  private static final Key<String> KEY = Key.named("k");
  private static final Instant LATER = Instant.now().plusSeconds(3600);
  private static final Duration HOUR = Duration.ofHours(1);

  static Stream<Arguments> nullArguments() {
    CancelableContext live = Context.withCancel(BG);
    Context value = Context.withValue(live, KEY, "v");
    ManualTimeSource time = Fixtures.manualTime();
    return Stream.of(
        arguments("parent", (Executable) () -> Context.withCancel(null)),
        arguments("parent", (Executable) () -> Context.withCancelCause(null)),
        arguments("parent", (Executable) () -> Context.withDeadline(null, LATER)),
        arguments("deadline", (Executable) () -> Context.withDeadline(BG, null)),
        arguments("parent", (Executable) () -> Context.withDeadlineCause(null, LATER, null)),
        arguments("deadline", (Executable) () -> Context.withDeadlineCause(BG, null, null)),
        arguments("parent", (Executable) () -> Context.withTimeout(null, HOUR)),
        arguments("timeout", (Executable) () -> Context.withTimeout(BG, null)),
        arguments("parent", (Executable) () -> Context.withTimeoutCause(null, HOUR, null)),
        arguments("timeout", (Executable) () -> Context.withTimeoutCause(BG, null, null)),
        arguments("parent", (Executable) () -> Context.withValue(null, KEY, "v")),
        arguments("key", (Executable) () -> Context.withValue(BG, null, "v")),
        arguments("parent", (Executable) () -> Context.withoutCancel(null)),
        arguments("parent", (Executable) () -> Context.withTimeSource(null, time)),
        arguments("source", (Executable) () -> Context.withTimeSource(BG, null)),
        arguments("ctx", (Executable) () -> Context.afterFunc(null, () -> {})),
        arguments("fn", (Executable) () -> Context.afterFunc(live, null)),
        arguments("ctx", (Executable) () -> Context.afterFunc(null, () -> {}, Runnable::run)),
        arguments("fn", (Executable) () -> Context.afterFunc(live, null, Runnable::run)),
        arguments("executor", (Executable) () -> Context.afterFunc(live, () -> {}, null)),
        arguments("ctx", (Executable) () -> Context.cause(null)),
        arguments("callback", (Executable) () -> BG.onDone(null)),
        arguments("callback", (Executable) () -> live.onDone(null)),
        arguments("callback", (Executable) () -> value.onDone(null)),
        arguments("callback", (Executable) () -> Context.withoutCancel(live).onDone(null)),
        arguments("key", (Executable) () -> live.value(null)),
        arguments("key", (Executable) () -> value.value(null)),
        arguments("key", (Executable) () -> BG.value(null)),
        arguments("timeout", (Executable) () -> live.await((Duration) null)),
        arguments("timeout", (Executable) () -> value.await((Duration) null)),
        arguments("work", (Executable) () -> live.await((java.util.concurrent.CompletionStage<?>) null)),
        arguments("work", (Executable) () -> BG.await((java.util.concurrent.CompletionStage<?>) null)),
        arguments("name", (Executable) () -> Key.named(null)),
        arguments("name", (Executable) () -> Key.of(null, String.class)),
        arguments("type", (Executable) () -> Key.of("k", null)),
        arguments("start", (Executable) () -> ManualTimeSource.startingAt(null)),
        arguments("by", (Executable) () -> time.advance(null)),
        arguments("instant", (Executable) () -> time.set(null)),
        arguments("deadline", (Executable) () -> time.schedule(null, () -> {})),
        arguments("action", (Executable) () -> time.schedule(EPOCH, null)),
        arguments("deadline", (Executable) () -> TimeSource.system().schedule(null, () -> {})),
        arguments("action", (Executable) () -> TimeSource.system().schedule(LATER, null)));
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("nullArguments")
  void aNullArgumentIsNamed(String argument, Executable call) {
    NullPointerException e = assertThrows(NullPointerException.class, call);
    assertEquals(argument, e.getMessage());
  }

  /**
   * Go's {@code WithTimeout(ctx, -1)}, grpc-java and Kotlin treat a negative timeout as one that has
   * already expired: the context is born done with {@code DEADLINE_EXCEEDED}, like a deadline in the
   * past, and no timer is scheduled.
   */
  @Test
  void aNegativeTimeoutIsAlreadyExpired() {
    ManualTimeSource time = Fixtures.manualTime();
    Context manual = Context.withTimeSource(BG, time);
    Exception why = new Exception("too slow");
    int pending = TimerThread.get().pendingCount();
    for (Duration negative :
        new Duration[] {Duration.ofNanos(-1), Duration.ofSeconds(-5), Duration.ofSeconds(Long.MIN_VALUE)}) {
      for (Context parent : new Context[] {BG, manual}) {
        CancelableContext plain = Context.withTimeout(parent, negative);
        assertSame(Context.DEADLINE_EXCEEDED, plain.err(), negative::toString);
        assertSame(Context.DEADLINE_EXCEEDED, plain.cause());
        assertTrue(plain.deadline().isPresent());
        assertTrue(plain.remaining().get().isNegative(), "the deadline is in the past");
        CancelableContext withCause = Context.withTimeoutCause(parent, negative, why);
        assertSame(Context.DEADLINE_EXCEEDED, withCause.err());
        assertSame(why, withCause.cause());
        assertFalse(withCause.cancel(), "already done");
      }
    }
    assertEquals(Optional.of(EPOCH.minusSeconds(5)), Context.withTimeout(manual, Duration.ofSeconds(-5)).deadline());
    assertEquals(0, time.pendingCount(), "an expired timeout schedules nothing");
    assertTrue(TimerThread.get().pendingCount() <= pending, "an expired timeout schedules nothing");
    // A parent that is already cancelled still wins, as for a deadline in the past.
    CancelableContext cancelled = Context.withCancel(BG);
    cancelled.cancel(why);
    CancelableContext child = Context.withTimeout(cancelled, Duration.ofSeconds(-1));
    assertSame(Context.CANCELED, child.err());
    assertSame(why, child.cause());
    ManualTimeSource clock = Fixtures.manualTime();
    assertThrows(IllegalArgumentException.class, () -> clock.advance(Duration.ofNanos(-1)));
    assertThrows(IllegalArgumentException.class, () -> clock.set(EPOCH.minusNanos(1)));
  }

  @Test
  void aNegativeWaitReturnsAtOnce() throws Exception {
    CancelableContext c = Context.withCancel(BG);
    assertFalse(c.await(Duration.ofSeconds(-1)));
    c.cancel();
    assertTrue(c.await(Duration.ofSeconds(-1)));
  }

  @Test
  void hugeTimeoutsSaturate() {
    TimerThread wheel = TimerThread.get();
    int before = wheel.pendingCount();
    for (Duration huge : new Duration[] {Duration.ofSeconds(Long.MAX_VALUE), Duration.ofDays(1_000_000_000L)}) {
      CancelableContext c = Context.withTimeout(BG, huge);
      assertFalse(c.isDone(), "a huge timeout is not an expired one");
      assertTrue(c.deadline().isPresent());
      assertTrue(c.deadline().get().isAfter(Instant.now().plusSeconds(3600)));
      assertTrue(c.toString().startsWith("context.Background.WithDeadline("), c::toString);
      c.cancel();
    }
    assertTrue(wheel.pendingCount() <= before);
  }

  @Test
  void instantMaxIsAFarDeadline() {
    ManualTimeSource time = Fixtures.manualTime();
    CancelableContext system = Context.withDeadline(BG, Instant.MAX);
    CancelableContext manual = Context.withDeadline(Context.withTimeSource(BG, time), Instant.MAX);
    for (CancelableContext c : new CancelableContext[] {system, manual}) {
      assertFalse(c.isDone());
      assertEquals(Optional.of(Instant.MAX), c.deadline());
      assertTrue(c.toString().contains("WithDeadline(+1000000000-12-31T23:59:59.999999999Z ["), c::toString);
    }
    time.advance(Duration.ofDays(365L * 1000));
    assertFalse(manual.isDone());
    system.cancel();
    manual.cancel();
    assertEquals(0, time.pendingCount());
  }

  @Test
  void instantMinIsBornDone() {
    CancelableContext c = Context.withDeadline(BG, Instant.MIN);
    assertSame(Context.DEADLINE_EXCEEDED, c.err());
    assertEquals(Optional.of(Instant.MIN), c.deadline());
    assertTrue(c.toString().endsWith(" [-2562047h47m16.854775808s])"), c::toString);
  }

  @Test
  void aThrowingCallbackIsReportedAndDoesNotStopTheOthers() throws Exception {
    RuntimeException boom = new RuntimeException("boom");
    try (Fixtures.Uncaught uncaught = Fixtures.Uncaught.onCurrentThread()) {
      CancelableContext parent = Context.withCancel(BG);
      CancelableContext child = Context.withCancel(parent);
      AtomicInteger ran = new AtomicInteger();
      parent.onDone(ran::incrementAndGet);
      parent.onDone(
          () -> {
            throw boom;
          });
      child.onDone(
          () -> {
            throw new AssertionError("even an Error");
          });
      parent.onDone(ran::incrementAndGet);
      child.onDone(ran::incrementAndGet);
      assertTrue(parent.cancel(), "cancel() itself must not throw");
      assertEquals(3, ran.get());
      assertEquals(2, uncaught.errors.size());
      assertTrue(uncaught.errors.contains(boom));
      // On an already-done context the callback runs in the caller; its failure is reported too.
      parent.onDone(
          () -> {
            throw boom;
          });
      assertEquals(3, uncaught.errors.size());
    }
  }

  @Test
  void aCustomParentWhoseOnDoneReturnsNullIsRejectedClearly() {
    Fixtures.CustomContext bad = new Fixtures.CustomContext(null, Fixtures.Misbehaviour.ON_DONE_RETURNS_NULL);
    NullPointerException e = assertThrows(NullPointerException.class, () -> Context.withCancel(bad));
    assertTrue(e.getMessage().contains("onDone"), e::getMessage);
    NullPointerException e2 = assertThrows(NullPointerException.class, () -> Context.afterFunc(bad, () -> {}));
    assertTrue(e2.getMessage().contains("onDone"), e2::getMessage);
    assertTreeStillWorks();
  }

  @Test
  void aLayerOverACustomContextWhoseOnDoneReturnsNullAndItsWaitsSaySo() throws Exception {
    Fixtures.CustomContext bad =
        new Fixtures.CustomContext(null, Fixtures.Misbehaviour.ON_DONE_RETURNS_NULL);
    String expected =
        "onDone of " + Fixtures.CustomContext.class.getName()
            + " returned null instead of a Registration";
    Key<String> k = Key.named("k");
    // Each layer that forwards done-ness, and the waits the interface gives a custom context, name
    // the culprit instead of failing later on the null (a bare NullPointerException in a finally).
    List<Context> all =
        List.of(
            bad,
            Context.withValue(bad, k, "v"),
            Context.withValue(Context.withValue(bad, k, "v"), k, "w"),
            Context.withTimeSource(bad, TimeSource.system()));
    for (Context c : all) {
      if (c != bad) {
        assertRefused(expected, c, () -> c.onDone(() -> {}));
      }
      assertRefused(expected, c, c::await);
      assertRefused(expected, c, () -> c.await(HOUR));
      assertRefused(expected, c, () -> c.await(new CompletableFuture<String>()));
      assertRefused(expected, c, c::toFuture);
    }
    assertTreeStillWorks();
  }

  private static void assertRefused(String expected, Context c, Executable call) {
    // On a wait the old code hung for ever (the null came to light only in its finally): bounded.
    NullPointerException e =
        assertTimeoutPreemptively(
            Duration.ofSeconds(30),
            () -> assertThrows(NullPointerException.class, call),
            () -> "still waiting on " + c);
    assertEquals(expected, e.getMessage(), c::toString);
  }

  @Test
  void aCustomParentWhoseOnDoneThrowsPassesTheFailureOn() {
    Fixtures.CustomContext bad = new Fixtures.CustomContext(null, Fixtures.Misbehaviour.ON_DONE_THROWS);
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> Context.withCancel(bad));
    assertEquals("onDone is broken", e.getMessage());
    assertThrows(IllegalStateException.class, () -> Context.withTimeout(bad, HOUR));
    assertTreeStillWorks();
  }

  @Test
  void aCustomParentWhoseDeadlineReturnsNullIsRejectedClearly() {
    Fixtures.CustomContext bad = new Fixtures.CustomContext(null, Fixtures.Misbehaviour.DEADLINE_RETURNS_NULL);
    NullPointerException e = assertThrows(NullPointerException.class, () -> Context.withCancel(bad));
    assertTrue(e.getMessage().contains("deadline()"), e::getMessage);
    assertTreeStillWorks();
  }

  @Test
  void aCustomParentWhoseStopThrowsStillLetsTheChildCancel() throws Exception {
    Fixtures.CustomContext bad = new Fixtures.CustomContext(null, Fixtures.Misbehaviour.STOP_THROWS);
    try (Fixtures.Uncaught uncaught = Fixtures.Uncaught.onCurrentThread()) {
      CancelableContext child = Context.withCancel(bad);
      CancelableContext grandchild = Context.withCancel(child);
      assertTrue(child.cancel());
      assertSame(Context.CANCELED, grandchild.err());
      assertEquals("stop is broken", uncaught.next().getMessage());
    }
  }

  @Test
  void aCustomParentWhoseCauseThrowsStillCancelsItsChildren() {
    Fixtures.CustomContext bad = new Fixtures.CustomContext(null, Fixtures.Misbehaviour.CAUSE_THROWS);
    CancelableContext child = Context.withCancel(bad);
    bad.finish(Context.DEADLINE_EXCEEDED, null);
    assertSame(Context.DEADLINE_EXCEEDED, child.err());
    assertSame(Context.DEADLINE_EXCEEDED, child.cause());
  }

  /**
   * A custom parent that runs a child's callback (so it is done) but whose err() then throws: the
   * child used to stay live forever, the exception escaping into the parent's callback loop.
   */
  @Test
  void aCustomParentWhoseErrThrowsOnceDoneStillCancelsItsChildren() {
    Fixtures.CustomContext bad = new Fixtures.CustomContext(null, Fixtures.Misbehaviour.ERR_THROWS_ONCE_DONE);
    CancelableContext child = Context.withCancel(bad);
    CancelableContext timer = Context.withTimeout(bad, HOUR);
    assertFalse(child.isDone());
    bad.finish(Context.DEADLINE_EXCEEDED, null);
    assertSame(Context.CANCELED, child.err(), "done, with the error of a parent that cannot say which");
    assertSame(Context.CANCELED, timer.err());
  }

  /** The same when err() and cause() throw a checked exception they do not declare. */
  @Test
  void aCustomParentWhoseErrAndCauseThrowSneakilyStillCancelsItsChildren() {
    Fixtures.CustomContext bad =
        new Fixtures.CustomContext(null, Fixtures.Misbehaviour.ERR_AND_CAUSE_THROW_SNEAKILY_ONCE_DONE);
    CancelableContext child = Context.withCancel(bad);
    CancelableContext timer = Context.withTimeout(bad, HOUR);
    assertTrue(bad.finish(Context.DEADLINE_EXCEEDED, null), "the failure must stay in ctx4j");
    assertSame(Context.CANCELED, child.err(), "done, with the error of a parent that cannot say which");
    assertSame(Context.CANCELED, timer.err());
  }

  /** The misbehaviours in which err() or cause() of a custom context throws an Error once done. */
  static Stream<Fixtures.Misbehaviour> errorsOnceDone() {
    return Stream.of(
        Fixtures.Misbehaviour.ERR_THROWS_ERROR_ONCE_DONE,
        Fixtures.Misbehaviour.CAUSE_THROWS_ERROR_ONCE_DONE);
  }

  /**
   * A custom parent that runs its children's callbacks but whose err() or cause() then throws an
   * Error (an AssertionError of a broken implementation, a StackOverflowError): the Error escaped
   * each child's callback before the child was cancelled, so the children and everything below
   * them stayed live forever. They end canceled, with no cause of their own, and the Error reaches
   * the code that ran the callbacks.
   */
  @ParameterizedTest
  @MethodSource("errorsOnceDone")
  void aCustomParentWhoseErrOrCauseThrowsAnErrorStillEndsItsChildren(Fixtures.Misbehaviour m)
      throws Exception {
    Fixtures.CustomContext bad = new Fixtures.CustomContext(null, m);
    CancelableContext child = Context.withCancel(bad);
    CancelableContext timer = Context.withTimeout(bad, HOUR);
    CancelableContext underValue = Context.withDeadline(Context.withValue(bad, KEY, "v"), LATER);
    CancelableContext grandchild = Context.withCancel(Context.withValue(child, KEY, "v"));
    CancelableContext timerChild = Context.withTimeout(timer, HOUR);
    CountDownLatch afterFuncRan = new CountDownLatch(1);
    Registration afterFunc = Context.afterFunc(grandchild, afterFuncRan::countDown);
    CompletableFuture<Void> future = timerChild.toFuture();
    Thread waiter = new Thread(() -> awaitQuietly(underValue));
    waiter.setDaemon(true); // on a broken build it would wait forever
    waiter.start();

    AssertionError e =
        assertThrows(AssertionError.class, () -> bad.finish(Context.DEADLINE_EXCEEDED, null));
    assertEquals(brokenMethod(m) + " is broken", e.getMessage(), "the Error reaches the runner");
    for (Context c : List.of(child, timer, underValue, grandchild, timerChild)) {
      assertSame(Context.CANCELED, c.err(), c::toString);
      assertSame(Context.CANCELED, c.cause(), c::toString);
      Fixtures.awaitDone(c);
    }
    assertTrue(afterFuncRan.await(Fixtures.BOUND.toMillis(), TimeUnit.MILLISECONDS));
    assertFalse(afterFunc.stop(), "the afterFunc ran");
    assertTrue(future.isCancelled());
    waiter.join(Fixtures.BOUND.toMillis());
    assertFalse(waiter.isAlive(), "a thread waiting on a child was never woken");
    assertEquals(0, bad.callbackCount());
  }

  /**
   * Such a parent ending while a child registers, its onDone running the child's callback at once
   * and reporting what it throws (as ctx4j's own onDone does): the factory returned a child that
   * stayed live forever. It returns the child ended.
   */
  @ParameterizedTest
  @MethodSource("errorsOnceDone")
  void aCustomParentThatEndsWhileAChildRegistersEndsTheChildEvenIfErrOrCauseThrowsAnError(
      Fixtures.Misbehaviour m) throws Exception {
    CancelableContext ended = Context.withCancel(BG);
    ended.cancel();
    try (Fixtures.Uncaught uncaught = Fixtures.Uncaught.onCurrentThread()) {
      for (Function<Context, CancelableContext> factory : childFactories()) {
        Context bad = endsWhileAChildRegisters(ended, m);
        CancelableContext child = factory.apply(bad);
        CancelableContext grandchild = Context.withCancel(child);
        assertSame(Context.CANCELED, child.err(), child::toString);
        assertSame(Context.CANCELED, child.cause(), child::toString);
        assertSame(Context.CANCELED, grandchild.err(), grandchild::toString);
        assertEquals(brokenMethod(m) + " is broken", uncaught.next().getMessage());
      }
    }
  }

  /**
   * A parent whose err() or cause() throws an Error and that is already done when a child is made:
   * the factory passes the Error on to its caller (as it does an exception from onDone) and returns
   * no child; nothing stays registered with the parent, whether it is done at the factory's first
   * look at it, ends between its two looks, or ends while the child registers.
   */
  @ParameterizedTest
  @MethodSource("errorsOnceDone")
  void aFinishedCustomParentWhoseErrOrCauseThrowsAnErrorPassesItToTheFactorysCaller(
      Fixtures.Misbehaviour m) throws Exception {
    Fixtures.CustomContext bad = new Fixtures.CustomContext(null, m);
    assertTrue(bad.finish(Context.DEADLINE_EXCEEDED, null));
    List<Supplier<Context>> parents =
        List.of(
            () -> bad,
            () -> Context.withValue(bad, KEY, "v"),
            () -> endsBetweenTheFactorysTwoLooks(bad),
            () -> endsWhileAChildRegisters(bad, Fixtures.Misbehaviour.NONE));
    for (Supplier<Context> parent : parents) {
      for (Function<Context, CancelableContext> factory : childFactories()) {
        Context p = parent.get();
        AssertionError e = assertThrows(AssertionError.class, () -> factory.apply(p), p::toString);
        assertEquals(brokenMethod(m) + " is broken", e.getMessage());
      }
    }
    assertEquals(0, bad.callbackCount(), "a child that was not returned stayed registered");
    CountDownLatch ran = new CountDownLatch(1);
    Context.afterFunc(bad, ran::countDown); // asks nothing of err() or cause()
    assertTrue(ran.await(Fixtures.BOUND.toMillis(), TimeUnit.MILLISECONDS));
    assertTreeStillWorks();
  }

  private static List<Function<Context, CancelableContext>> childFactories() {
    return List.of(
        Context::withCancel,
        p -> Context.withTimeout(p, HOUR),
        p -> Context.withDeadline(p, LATER),
        p -> Context.withCancel(Context.withValue(p, KEY, "v")));
  }

  private static String brokenMethod(Fixtures.Misbehaviour m) {
    return m == Fixtures.Misbehaviour.ERR_THROWS_ERROR_ONCE_DONE ? "err()" : "cause()";
  }

  /** {@code done}, seen by a factory's first look (isDone) as live and by its second as done. */
  private static Context endsBetweenTheFactorysTwoLooks(Context done) {
    return new Fixtures.Wrapper(done) {
      private int looks;

      @Override
      public boolean isDone() {
        return looks++ > 0 && super.isDone();
      }
    };
  }

  /**
   * {@code done}, seen by both of a factory's looks as live: its onDone then runs the child's
   * callback at once. With {@code m} other than NONE, its err() or cause() throws an Error as {@link
   * Fixtures.CustomContext} does for {@code m}.
   */
  private static Context endsWhileAChildRegisters(Context done, Fixtures.Misbehaviour m) {
    return new Fixtures.Wrapper(done) {
      @Override
      public boolean isDone() {
        return false;
      }

      @Override
      public ContextException err() {
        if (m == Fixtures.Misbehaviour.ERR_THROWS_ERROR_ONCE_DONE) {
          throw new AssertionError("err() is broken");
        }
        return super.err();
      }

      @Override
      public Throwable cause() {
        if (m == Fixtures.Misbehaviour.CAUSE_THROWS_ERROR_ONCE_DONE) {
          throw new AssertionError("cause() is broken");
        }
        return super.cause();
      }
    };
  }

  private static void awaitQuietly(Context ctx) {
    try {
      ctx.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static Stream<Throwable> scheduleFailures() {
    return Stream.of(
        new IllegalStateException("schedule is broken"),
        new TimeoutException("undeclared: thrown sneakily, as Kotlin or Groovy code may"));
  }

  /**
   * A time source whose schedule() throws, even a checked exception: the exception reaches the
   * caller, and the timeout that was never returned must not stay registered with its parent.
   */
  @ParameterizedTest
  @MethodSource("scheduleFailures")
  void aTimeSourceWhoseScheduleThrowsLeavesNothingRegistered(Throwable failure) {
    TimeSource broken =
        Fixtures.timeSource(
            () -> EPOCH,
            (deadline, action) -> {
              throw Fixtures.<RuntimeException>sneaky(failure);
            });
    CancelableContext parent = Context.withCancel(BG);
    Context clocked = Context.withTimeSource(parent, broken);
    assertSame(failure, assertThrows(failure.getClass(), () -> Context.withTimeout(clocked, HOUR)));
    assertEquals(0, CoreInternals.registrationCount(parent), "the failed timeout stayed registered");
  }

  /**
   * A time source whose Registration.stop() throws. Cancelling a timeout stops its timer in the
   * middle of the cancellation; the exception used to escape there, after the context was marked
   * done but before its children, waiters and callbacks were told: they never were.
   */
  @Test
  void aTimerWhoseStopThrowsDoesNotCutTheCancellationShort() throws Exception {
    RuntimeException stopFailed = new IllegalStateException("stop is broken");
    ManualTimeSource time = Fixtures.manualTime();
    TimeSource broken =
        Fixtures.timeSource(
            time::now,
            (deadline, action) -> {
              time.schedule(deadline, action);
              return () -> {
                throw stopFailed;
              };
            });
    try (Fixtures.Uncaught uncaught = Fixtures.Uncaught.onCurrentThread()) {
      CancelableContext ctx = Context.withTimeout(Context.withTimeSource(BG, broken), HOUR);
      CancelableContext child = Context.withCancel(ctx);
      AtomicInteger ran = new AtomicInteger();
      child.onDone(ran::incrementAndGet);
      assertTrue(ctx.cancel(), "cancel() must not throw");
      ctx.close();
      assertSame(Context.CANCELED, child.err());
      assertEquals(1, ran.get(), "the child's callback never ran");
      assertSame(stopFailed, uncaught.next(), "the failure is reported, not lost");
    }
  }

  @Test
  void aTimeSourceWhoseNowReturnsNullIsRejectedClearly() {
    TimeSource broken = Fixtures.timeSource(() -> null, (deadline, action) -> () -> false);
    Context clocked = Context.withTimeSource(BG, broken);
    NullPointerException e = assertThrows(NullPointerException.class, () -> Context.withTimeout(clocked, HOUR));
    assertTrue(e.getMessage() != null && e.getMessage().contains("now()"), e::getMessage);
    NullPointerException e2 =
        assertThrows(NullPointerException.class, () -> Context.withDeadline(clocked, LATER));
    assertTrue(e2.getMessage() != null && e2.getMessage().contains("now()"), e2::getMessage);
  }

  /**
   * A time source whose schedule() returns null instead of a Registration: the timeout could never
   * withdraw its timer, so a cancel would leave the source holding it (and the context) until the
   * deadline. Refused at once, naming the class, as a null from now() is; nothing stays registered.
   */
  @Test
  void aTimeSourceWhoseScheduleReturnsNullIsRejectedClearly() {
    TimeSource broken = Fixtures.timeSource(() -> EPOCH, (deadline, action) -> null);
    CancelableContext parent = Context.withCancel(BG);
    Context clocked = Context.withTimeSource(parent, broken);
    String expected =
        "schedule() of " + broken.getClass().getName() + " returned null instead of a Registration";
    NullPointerException e =
        assertThrows(NullPointerException.class, () -> Context.withTimeout(clocked, HOUR));
    assertEquals(expected, e.getMessage());
    NullPointerException e2 =
        assertThrows(
            NullPointerException.class,
            () -> Context.withDeadline(clocked, EPOCH.plus(HOUR)));
    assertEquals(expected, e2.getMessage());
    assertEquals(0, CoreInternals.registrationCount(parent), "the refused timeout stayed registered");
  }

  /**
   * onDone(null) on a layer over a custom context is refused by the layer itself, as on every other
   * context (onDone's Javadoc), not handed to the custom context, which may take it.
   */
  @Test
  void aLayerOverACustomContextRefusesANullCallbackItself() {
    List<Runnable> taken = new ArrayList<>();
    Context lenient =
        new Context() {
          @Override
          public ContextException err() {
            return null;
          }

          @Override
          public Optional<Instant> deadline() {
            return Optional.empty();
          }

          @Override
          public <T> T value(Key<T> key) {
            return null;
          }

          @Override
          public Registration onDone(Runnable callback) {
            taken.add(callback); // no null check: a later run of its callbacks would fail
            return () -> taken.remove(callback);
          }
        };
    for (Context c :
        List.of(
            Context.withValue(lenient, KEY, "v"),
            Context.withTimeSource(lenient, TimeSource.system()))) {
      NullPointerException e =
          assertThrows(NullPointerException.class, () -> c.onDone(null), c::toString);
      assertEquals("callback", e.getMessage(), c::toString);
    }
    assertEquals(List.of(), taken, "a null callback reached the custom context");
  }

  /**
   * Go's rule for every deadline: one that is not after now has passed, and the context is born
   * done (WithTimeout is WithDeadline of now plus the timeout). On a clock standing at Instant.MAX,
   * withDeadline(Instant.MAX) keeps it, but withTimeout of one second, whose deadline saturates to
   * that same instant, scheduled a timer for the timeout instead and stayed live, remaining() zero,
   * until the clock was moved again.
   */
  @Test
  void aTimeoutWhoseDeadlineSaturatesToTheClocksNowIsBornDone() {
    ManualTimeSource time = ManualTimeSource.startingAt(Instant.MAX);
    Context clocked = Context.withTimeSource(BG, time);
    CancelableContext byDeadline = Context.withDeadline(clocked, Instant.MAX);
    CancelableContext byTimeout = Context.withTimeout(clocked, Duration.ofSeconds(1));
    assertEquals(byDeadline.deadline(), byTimeout.deadline());
    assertSame(Context.DEADLINE_EXCEEDED, byDeadline.err());
    assertSame(Context.DEADLINE_EXCEEDED, byTimeout.err(), "its deadline() is the clock's now");
    assertEquals(0, time.pendingCount(), "a timer for a deadline already reached");
  }

  private static void assertTreeStillWorks() {
    CancelableContext p = Context.withCancel(BG);
    CancelableContext c = Context.withCancel(p);
    p.cancel();
    assertSame(Context.CANCELED, c.err());
  }
}
