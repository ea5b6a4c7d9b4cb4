package io.ctx4j.blackbox;

import static io.ctx4j.blackbox.Fixtures.BOUND;
import static io.ctx4j.blackbox.Fixtures.EPOCH;
import static io.ctx4j.blackbox.Fixtures.FOREVER;
import static io.ctx4j.blackbox.Fixtures.awaitDone;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Key;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.TimeSource;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A user's own {@link Context} as a parent: children follow it through its onDone hook (Go's
 * afterfunc_test), with no thread per child, and detach from it when they finish first.
 */
class CustomParentTest {
  private static final Key<String> KEY = Key.named("key");

  @Test
  void childrenAreCancelledWithTheParentsErrAndCause() {
    Fixtures.CustomContext parent = new Fixtures.CustomContext();
    CancelableContext child = Context.withCancel(parent);
    CancelableContext timer = Context.withTimeout(parent, FOREVER);
    CancelableContext grandchild = Context.withCancel(Context.withValue(child, KEY, "v"));
    assertFalse(child.isDone());
    Throwable why = new Exception("custom timed out");
    parent.finish(Context.DEADLINE_EXCEEDED, why);
    for (Context c : List.of(child, timer, grandchild)) {
      assertSame(Context.DEADLINE_EXCEEDED, c.err(), c::toString);
      assertSame(why, c.cause(), c::toString);
    }
    assertEquals(0, parent.callbackCount());
  }

  @Test
  void aChildOfAFinishedCustomParentIsBornDone() {
    Fixtures.CustomContext parent = new Fixtures.CustomContext();
    parent.finish(Context.CANCELED, null);
    CancelableContext child = Context.withCancel(parent);
    assertSame(Context.CANCELED, child.err());
    assertSame(Context.CANCELED, child.cause());
    assertEquals(0, parent.callbackCount());
  }

  @Test
  void deadlineAndValuesAreInherited() {
    ManualTimeSource time = Fixtures.manualTime();
    Fixtures.CustomContext parent =
        new Fixtures.CustomContext(EPOCH.plusSeconds(5), Fixtures.Misbehaviour.NONE).with(KEY, "custom");
    CancelableContext child = Context.withCancel(parent);
    assertEquals(Optional.of(EPOCH.plusSeconds(5)), child.deadline());
    assertEquals("custom", child.value(KEY));
    // The custom deadline is earlier, so a later one is the WithCancel shortcut.
    CancelableContext later = Context.withDeadline(Context.withTimeSource(parent, time), EPOCH.plusSeconds(9));
    assertEquals(Optional.of(EPOCH.plusSeconds(5)), later.deadline());
    assertTrue(later.toString().endsWith(".WithCancel"), later::toString);
    assertEquals(2, parent.callbackCount());
    child.cancel();
    later.cancel();
    assertEquals(0, parent.callbackCount());
  }

  /** TestCustomContextAfterFuncUnregister{Cancel,Timeout,AfterFunc}. */
  @Test
  void childrenThatFinishFirstUnregisterFromTheCustomParent() {
    Fixtures.CustomContext parent = new Fixtures.CustomContext();
    CancelableContext a = Context.withCancel(parent);
    CancelableContext b = Context.withCancel(parent);
    assertEquals(2, parent.callbackCount());
    a.cancel();
    b.cancel();
    assertEquals(0, parent.callbackCount());

    Fixtures.assertTimeoutAndAfterFuncGiveTheirRegistrationBack(parent, parent::callbackCount);
  }

  @Test
  void aChildWhoseTimerFiresUnregistersFromTheCustomParent() {
    ManualTimeSource time = Fixtures.manualTime();
    Fixtures.CustomContext parent = new Fixtures.CustomContext();
    CancelableContext t = Context.withTimeout(Context.withTimeSource(parent, time), Duration.ofSeconds(1));
    assertEquals(1, parent.callbackCount());
    time.advance(Duration.ofSeconds(1));
    assertSame(Context.DEADLINE_EXCEEDED, t.err());
    assertEquals(0, parent.callbackCount());
    assertNull(parent.err());
  }

  /** TestCustomContextAfterFunc{Cancel,Timeout,AfterFunc}. */
  @Test
  void cancellationAndAfterFuncFollowTheCustomHook() throws Exception {
    Fixtures.CustomContext parent = new Fixtures.CustomContext();
    CancelableContext c = Context.withCancel(parent);
    CancelableContext t = Context.withTimeout(parent, FOREVER);
    CountDownLatch ran = new CountDownLatch(1);
    Context.afterFunc(parent, ran::countDown);
    parent.finish(Context.CANCELED, null);
    assertTrue(c.isDone(), "the custom hook runs the callback synchronously");
    assertTrue(t.isDone());
    assertTrue(ran.await(BOUND.toMillis(), TimeUnit.MILLISECONDS));
  }

  @Test
  void noThreadIsCreatedPerChild() {
    Fixtures.CustomContext parent = new Fixtures.CustomContext();
    int before = Thread.activeCount();
    List<CancelableContext> children = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      children.add(i % 2 == 0 ? Context.withCancel(parent) : Context.withTimeout(parent, FOREVER));
    }
    int during = Thread.activeCount();
    assertTrue(during - before < 10, "threads grew from " + before + " to " + during);
    assertEquals(1000, parent.callbackCount());
    parent.finish(Context.CANCELED, null);
    for (CancelableContext c : children) {
      assertSame(Context.CANCELED, c.err());
    }
  }

  /** TestCustomContextCause (b) and (c). */
  @Test
  void goCustomContextCause() {
    Throwable cause = new Exception("cause");
    Fixtures.CustomContext ccc = new Fixtures.CustomContext();
    CancelableContext ctx = Context.withCancelCause(ccc);
    ctx.cancel(cause);
    assertSame(cause, ctx.cause());
    assertNull(ccc.cause());
    ccc.finish(Context.CANCELED, null);
    assertSame(Context.CANCELED, ctx.err());
    assertSame(cause, ctx.cause(), "the child's own cancellation came first");
    assertSame(Context.CANCELED, ccc.cause());

    Fixtures.CustomContext ccc2 = new Fixtures.CustomContext();
    CancelableContext ctx2 = Context.withCancel(ccc2);
    ccc2.onDone(ctx2::cancel);
    ccc2.finish(Context.CANCELED, null);
    assertSame(Context.CANCELED, ctx2.err());
    assertSame(Context.CANCELED, ctx2.cause());
  }

  /** TestCustomContextPropagation: a custom layer over a ctx4j context passes its cause down. */
  @Test
  void causePropagatesThroughACustomLayer() throws Exception {
    Throwable cause = new Exception("cause");
    CancelableContext ctx1 = Context.withCancelCause(Context.background());
    Context ctx2 = new Fixtures.Wrapper(ctx1);
    CancelableContext ctx3 = Context.withCancel(ctx2);
    ctx1.cancel(cause);
    awaitDone(ctx3);
    assertSame(Context.CANCELED, ctx3.err());
    assertSame(cause, ctx3.cause());
  }

  /**
   * A wrapper that implements only the four abstract methods (Go's {@code otherContext}, embedding
   * the context) leaves {@code cause()} to the default, which is {@code err()}: Go's {@code Cause}
   * would find the wrapped context's cause through {@code Value}, ctx4j cannot see through a class
   * it does not know. Its children copy what it reports. A wrapper that forwards {@code cause()} too
   * passes the cause on, as the Javadoc of {@link Context} tells implementers to.
   */
  @Test
  void aWrapperThatLeavesCauseToTheDefaultReportsErrAsTheCauseAndSoDoItsChildren() {
    Throwable why = new Exception("why");
    CancelableContext inner = Context.withCancelCause(Context.background());
    Context fourMethods = new FourMethods(inner);
    Context forwarding = new Fixtures.Wrapper(inner);
    CancelableContext underFour = Context.withCancel(fourMethods);
    CancelableContext underForwarding = Context.withCancel(forwarding);
    inner.cancel(why);
    assertSame(Context.CANCELED, Context.cause(fourMethods));
    assertSame(Context.CANCELED, underFour.cause());
    assertSame(Context.CANCELED, underFour.err());
    assertSame(why, Context.cause(forwarding));
    assertSame(why, underForwarding.cause());
  }

  /**
   * {@code timeSourceOf} and the deadlines below a custom context: ctx4j cannot read a time source
   * through a class it does not know, so below one the system clock rules until a {@code
   * withTimeSource} of its own, as the Javadoc of {@code withTimeSource} and {@code timeSourceOf}
   * say.
   */
  @Test
  void aCustomContextHidesTheTimeSourceAboveIt() {
    ManualTimeSource time = Fixtures.manualTime();
    Context wrapped = new Fixtures.Wrapper(Context.withTimeSource(Context.background(), time));
    assertSame(TimeSource.system(), Context.timeSourceOf(wrapped));
    assertSame(TimeSource.system(), Context.timeSourceOf(Context.withCancel(wrapped)));
    try (CancelableContext onSystem = Context.withTimeout(wrapped, Duration.ofHours(1));
        CancelableContext onManual =
            Context.withTimeout(Context.withTimeSource(wrapped, time), Duration.ofHours(1))) {
      time.advance(Duration.ofHours(2));
      assertFalse(onSystem.isDone(), "a timeout below the custom context is on the system clock");
      assertSame(Context.DEADLINE_EXCEEDED, onManual.err());
    }
  }

  /** Go's otherContext: the four abstract methods forwarded, nothing else. */
  private static final class FourMethods implements Context {
    private final Context inner;

    FourMethods(Context inner) {
      this.inner = inner;
    }

    @Override
    public io.ctx4j.ContextException err() {
      return inner.err();
    }

    @Override
    public Optional<java.time.Instant> deadline() {
      return inner.deadline();
    }

    @Override
    public <T> T value(Key<T> key) {
      return inner.value(key);
    }

    @Override
    public io.ctx4j.Registration onDone(Runnable callback) {
      return inner.onDone(callback);
    }
  }

  @Test
  void theInterfaceDefaultsWorkOnACustomContext() throws Exception {
    Fixtures.CustomContext c = new Fixtures.CustomContext();
    assertFalse(c.await(Duration.ofMillis(1)));
    assertEquals(0, c.callbackCount(), "a timed-out default await unregisters");
    Thread t = new Thread(() -> c.finish(Context.DEADLINE_EXCEEDED, null));
    t.start();
    c.await();
    t.join();
    assertTrue(c.isDone());
    assertTrue(c.toFuture().isCompletedExceptionally());
  }
}
