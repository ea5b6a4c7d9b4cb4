package io.ctx4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The state table and the transitions at the top of {@link CancelStateMachine}, one by one, as a
 * newcomer would check them against the code; and that the tests run its {@code assert}s.
 */
class CancelStateMachineTest {
  private static CancelStateMachine machine(Context c) {
    return (CancelStateMachine) c;
  }

  @Test
  void theTestsRunWithTheInvariantChecksOn() {
    assertTrue(
        CancelStateMachine.class.desiredAssertionStatus(),
        "surefire must run with -ea, or the invariants' asserts check nothing");
  }

  @Test
  void aRootLevelContextStartsEmptyAndALazyChildUnregistered() {
    CancelableContext root = Context.withCancel(Context.background());
    CancelableContext child = Context.withCancel(root);
    assertEquals("EMPTY", machine(root).stateName());
    assertEquals("UNREGISTERED", machine(child).stateName());
    assertFalse(child.isDone(), "a question answers from the ancestors and changes nothing");
    assertEquals("UNREGISTERED", machine(child).stateName());
    assertEquals(0, machine(root).nodeCount(), "creating and asking wrote nothing to the parent");
  }

  @Test
  void registeringThenPushingMovesUnregisteredToEmptyToNode() {
    CancelableContext root = Context.withCancel(Context.background());
    CancelableContext child = Context.withCancel(root);
    machine(child).ensureRegistered(); // transition 1
    assertEquals("EMPTY", machine(child).stateName());
    assertEquals("Node", machine(root).stateName(), "the child's link is on the root's stack");
    assertEquals(1, machine(root).registrationCount());
    child.onDone(() -> {}); // transition 2
    assertEquals("Node", machine(child).stateName());
    assertEquals(1, machine(child).registrationCount());
  }

  @Test
  void aPushOnALazyContextRegistersTheRunAboveTopDownFirst() {
    CancelableContext root = Context.withCancel(Context.background());
    CancelableContext a = Context.withCancel(root);
    CancelableContext b = Context.withCancel(a);
    CancelableContext c = Context.withCancel(b);
    AtomicInteger runs = new AtomicInteger();
    c.onDone(runs::incrementAndGet);
    assertEquals("Node", machine(a).stateName());
    assertEquals("Node", machine(b).stateName());
    assertEquals("Node", machine(c).stateName());
    root.cancel();
    assertEquals(1, runs.get(), "the root reached the callback through the registered run");
    assertEquals("DoneState", machine(c).stateName());
  }

  @Test
  void aLookThatFindsADoneAncestorMakesItsStateOursAndTheRunsBetween() {
    CancelableContext root = Context.withCancel(Context.background());
    CancelableContext a = Context.withCancel(root);
    CancelableContext b = Context.withCancel(a);
    Throwable why = new Exception("root");
    root.cancel(why);
    assertEquals("UNREGISTERED", machine(b).stateName(), "nobody told b: it never registered");
    assertSame(why, b.cause()); // transition 3, by a look
    assertEquals("DoneState", machine(b).stateName());
    assertEquals("DoneState", machine(a).stateName(), "fixed top-down into the run between");
    assertFalse(b.cancel(new Exception("too late")), "the ancestor's cancellation came first");
    assertSame(why, b.cause());
  }

  @Test
  void anOwnCancelOfALazyContextAfterItsAncestorsKeepsTheAncestorsCause() {
    CancelableContext root = Context.withCancel(Context.background());
    CancelableContext child = Context.withCancel(root);
    Throwable why = new Exception("root");
    root.cancel(why);
    assertFalse(child.cancel(new Exception("mine")), "refused: already done by inheritance");
    assertSame(why, child.cause());
  }

  @Test
  void aWalkLongerThanTheBoundRegistersTheContextAsked() {
    CancelableContext root = Context.withCancel(Context.background());
    CancelableContext leaf = root;
    for (int i = 0; i < BaseContext.MAX_WALK + 2; i++) {
      leaf = Context.withCancel(leaf);
    }
    assertEquals("UNREGISTERED", machine(leaf).stateName());
    assertFalse(leaf.isDone());
    assertEquals("EMPTY", machine(leaf).stateName(), "the next question is one read");
    root.cancel();
    assertEquals("DoneState", machine(leaf).stateName(), "told by the root, not by a look");
  }

  @Test
  void aDoneStateIsFinal() {
    CancelableContext ctx = Context.withCancel(Context.background());
    Throwable first = new Exception("first");
    assertTrue(ctx.cancel(first));
    assertFalse(ctx.cancel(new Exception("second")));
    assertFalse(machine(ctx).cancel(DoneState.DEADLINE, false));
    assertSame(first, ctx.cause());
    assertSame(Context.CANCELED, ctx.err());
  }
}
