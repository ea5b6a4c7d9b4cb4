package io.ctx4j;

import static io.ctx4j.blackbox.Fixtures.EPOCH;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.blackbox.Fixtures;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** withoutCancel: Go's TestWithoutCancel and the detached-subtree guarantees. */
class WithoutCancelTest {
  private static final Key<String> KEY = Key.named("key");

  @Test
  void keepsValuesButNoCancellationNoDeadlineNoCause() {
    ManualTimeSource time = Fixtures.manualTime();
    Context root = Context.withTimeSource(Context.background(), time);
    CancelableContext parent =
        Context.withDeadline(Context.withValue(root, KEY, "value"), EPOCH.plusSeconds(1));
    Context detached = Context.withoutCancel(parent);
    assertEquals("value", detached.value(KEY));
    assertEquals(Optional.empty(), detached.deadline());
    time.advance(Duration.ofSeconds(1));
    assertTrue(parent.isDone());
    assertFalse(detached.isDone());
    assertNull(detached.err());
    assertNull(detached.cause());
    assertNull(Context.cause(detached));
    assertTrue(detached.toString().endsWith("])" + ".WithoutCancel"), detached::toString);
  }

  @Test
  void childrenNeverHearOfTheOriginalParentsCancellation() {
    CancelableContext parent = Context.withCancel(Context.background());
    Context detached = Context.withoutCancel(parent);
    CancelableContext child = Context.withCancel(detached);
    CancelableContext timer = Context.withTimeout(Context.withValue(detached, KEY, "v"), Fixtures.FOREVER);
    AtomicInteger callbacks = new AtomicInteger();
    Registration onDone = detached.onDone(callbacks::incrementAndGet);
    Registration after = Context.afterFunc(detached, callbacks::incrementAndGet);
    assertEquals(0, ((CancelStateMachine) parent).registrationCount(), "nothing registers with the original parent");
    parent.cancel();
    for (Context c : List.of(detached, child, timer)) {
      assertFalse(c.isDone(), c::toString);
    }
    assertEquals(0, callbacks.get());
    assertTrue(onDone.stop(), "the callback never ran, so stop() prevents it");
    assertTrue(after.stop());
    assertFalse(after.stop());
    // The detached subtree can still be cancelled on its own.
    child.cancel();
    timer.cancel();
    assertSame(Context.CANCELED, child.err());
    assertFalse(detached.isDone());
  }

  @Test
  void keepsTheTimeSource() {
    ManualTimeSource time = Fixtures.manualTime();
    Context detached = Context.withoutCancel(Context.withTimeSource(Context.background(), time));
    CancelableContext c = Context.withTimeout(detached, Duration.ofSeconds(2));
    assertEquals(Optional.of(EPOCH.plusSeconds(2)), c.deadline());
    time.advance(Duration.ofSeconds(2));
    assertSame(Context.DEADLINE_EXCEEDED, c.err());
  }

  @Test
  void aDetachedCustomParentKeepsItsValues() {
    Fixtures.CustomContext custom = new Fixtures.CustomContext(EPOCH, Fixtures.Misbehaviour.NONE).with(KEY, "custom");
    Context detached = Context.withoutCancel(custom);
    CancelableContext child = Context.withCancel(detached);
    custom.finish(Context.CANCELED, null);
    assertEquals("custom", child.value(KEY));
    assertEquals(Optional.empty(), child.deadline());
    assertFalse(child.isDone());
    assertEquals(0, custom.callbackCount());
    child.cancel();
  }

  @Test
  void awaitingWorkOnADetachedContextWaitsForTheWork() throws Exception {
    CancelableContext parent = Context.withCancel(Context.background());
    parent.cancel();
    Context detached = Context.withoutCancel(parent);
    assertEquals("w", detached.await(java.util.concurrent.CompletableFuture.completedFuture("w")));
    assertFalse(detached.await(Duration.ofMillis(1)));
    assertFalse(detached.toFuture().isDone());
  }
}
