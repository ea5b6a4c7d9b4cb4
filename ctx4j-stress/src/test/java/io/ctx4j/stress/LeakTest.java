package io.ctx4j.stress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Key;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.Registration;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.testing.ForeignContext;
import io.ctx4j.testing.Gc;
import java.lang.ref.Reference;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Nothing is retained that should not be: checked with the core's structure counters, with weak
 * references and a bounded heap (Surefire runs this module with {@code -Xmx256m}), with the timer's
 * pending count and with thread counts.
 */
class LeakTest {
  private static final int MILLION = 1_000_000;
  private static final Key<String> KEY = Key.named("k");

  @Test
  void longLivedParentRetainsNoneOfAMillionCancelledChildren() {
    CancelableContext parent = Context.withCancel(Context.background());
    List<WeakReference<Context>> sample = new ArrayList<>();
    long before = Gc.usedAfterGc();
    int maxNodes = 0;
    for (int i = 0; i < MILLION; i++) {
      CancelableContext child;
      switch (i % 4) {
        case 0:
          child = Context.withCancel(parent);
          break;
        case 1:
          child = Context.withTimeout(parent, Duration.ofHours(1));
          break;
        case 2:
          child = Context.withCancel(Context.withValue(parent, KEY, "v"));
          break;
        default:
          child = Context.withCancel(parent);
          child.onDone(() -> {}); // a registration on the child, released with it
          break;
      }
      if (i % 10_000 == 0) {
        sample.add(new WeakReference<>(child));
        maxNodes = Math.max(maxNodes, CoreInternals.nodeCount(parent));
      }
      child.cancel();
    }
    assertEquals(0, CoreInternals.registrationCount(parent), "live registrations left in the parent");
    int nodes = CoreInternals.nodeCount(parent);
    assertTrue(nodes <= 32, "dead nodes left in the parent's stack: " + nodes);
    assertTrue(maxNodes <= 32, "the parent's stack grew to " + maxNodes + " nodes");
    assertEquals(0, Gc.survivors(sample), "sampled children still reachable");
    long retained = Gc.usedAfterGc() - before;
    assertTrue(retained < 8 << 20, "heap grew by " + retained + " bytes");
    System.out.printf(
        java.util.Locale.ROOT,
        "LeakTest: 1,000,000 children cancelled; parent holds %d nodes (max %d seen), 0 of %d sampled"
            + " children reachable, heap %+d KiB%n",
        nodes, maxNodes, sample.size(), retained >> 10);
    Reference.reachabilityFence(parent);
  }

  @Test
  void timeoutsCancelledEarlyLeaveNoTimerTask() {
    int baseline = CoreInternals.pendingTimers();
    ManualTimeSource manual = ManualTimeSource.startingAt(Instant.EPOCH);
    Context manualRoot = Context.withTimeSource(Context.background(), manual);
    CancelableContext parent = Context.withCancel(Context.background());
    for (int i = 0; i < 100_000; i++) {
      Context.withTimeout(Context.background(), Duration.ofHours(1)).cancel();
      Context.withDeadline(parent, Instant.now().plusSeconds(3600)).close();
      Context.withTimeout(manualRoot, Duration.ofHours(1)).cancel();
    }
    assertEquals(baseline, CoreInternals.pendingTimers(), "timer wheel entries left");
    assertEquals(0, manual.pendingCount(), "manual time source tasks left");
    // A parent cancelled first takes its children's timers with it.
    for (int i = 0; i < 1_000; i++) {
      Context.withTimeout(parent, Duration.ofHours(1 + i));
    }
    assertEquals(baseline + 1_000, CoreInternals.pendingTimers());
    parent.cancel();
    assertEquals(baseline, CoreInternals.pendingTimers(), "timers left after the parent's cancel");
  }

  @Test
  void noThreadIsStartedPerContext() {
    Context.withTimeout(Context.background(), Duration.ofMillis(1)); // the timer thread may start once
    int before = ctx4jThreads();
    CancelableContext root = Context.withCancel(Context.background());
    Context foreign = new ForeignContext();
    List<Context> live = new ArrayList<>();
    for (int i = 0; i < 100_000; i++) {
      Context c = Context.withValue(Context.withTimeout(root, Duration.ofHours(1)), KEY, "v");
      c.onDone(() -> {});
      if (i % 100 == 0) {
        live.add(Context.withCancel(foreign));
        live.add(c);
      }
    }
    int during = ctx4jThreads();
    root.cancel();
    int after = ctx4jThreads();
    assertTrue(during <= before, "ctx4j threads went from " + before + " to " + during + " while deriving");
    assertTrue(after <= before, "ctx4j threads went from " + before + " to " + after + " on cancel");
    Reference.reachabilityFence(live);
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith("ctx4j-")) {
        assertTrue(t.isDaemon(), t.getName() + " is not a daemon thread");
      }
    }
  }

  @Test
  void afterFuncReleasesItsFunctionAfterStop() {
    CancelableContext ctx = Context.withCancel(Context.background());
    Object[] holder = new Object[1];
    WeakReference<Runnable> fn = registerAndStop(ctx, holder);
    Registration reg = (Registration) holder[0];
    assertTrue(Gc.until(() -> fn.get() == null), "the stopped function is still reachable");
    Reference.reachabilityFence(reg);
    Reference.reachabilityFence(ctx);
  }

  private static WeakReference<Runnable> registerAndStop(Context ctx, Object[] regOut) {
    byte[] payload = new byte[1 << 20];
    Runnable fn = () -> payload[0]++;
    Registration reg = Context.afterFunc(ctx, fn);
    assertTrue(reg.stop());
    regOut[0] = reg;
    return new WeakReference<>(fn);
  }

  @Test
  void afterFuncReleasesItsFunctionAfterItRan() throws InterruptedException {
    CancelableContext ctx = Context.withCancel(Context.background());
    CountDownLatch ran = new CountDownLatch(1);
    Object[] holder = new Object[1];
    WeakReference<Runnable> fn = register(ctx, ran, holder);
    ctx.cancel();
    assertTrue(ran.await(10, TimeUnit.SECONDS), "the function did not run");
    assertTrue(Gc.until(() -> fn.get() == null), "the function is still reachable after its run");
    assertTrue(!((Registration) holder[0]).stop(), "stop() after the run must report false");
    Reference.reachabilityFence(ctx);
  }

  private static WeakReference<Runnable> register(Context ctx, CountDownLatch ran, Object[] regOut) {
    Runnable fn = ran::countDown;
    regOut[0] = Context.afterFunc(ctx, fn);
    return new WeakReference<>(fn);
  }

  @Test
  void onDoneCallbackReleasedAfterStopWhileContextLives() {
    CancelableContext ctx = Context.withCancel(Context.background());
    List<Registration> regs = new ArrayList<>();
    List<WeakReference<Runnable>> refs = new ArrayList<>();
    for (int i = 0; i < 1_000; i++) {
      Runnable cb = new byte[1024]::clone;
      Registration r = ctx.onDone(cb);
      refs.add(new WeakReference<>(cb));
      regs.add(r);
      assertTrue(r.stop());
    }
    assertEquals(0, CoreInternals.registrationCount(ctx));
    assertEquals(0, Gc.survivors(refs), "stopped callbacks still reachable");
    Reference.reachabilityFence(regs);
  }

  @Test
  void abandonedChildOfANeverCancelledParentIsCollectable() {
    // Parents that can never be cancelled keep no reference to their children.
    Context background = Context.background();
    Context detached = Context.withoutCancel(Context.withCancel(background));
    Context values = Context.withValue(background, KEY, "v");
    List<WeakReference<Context>> refs = new ArrayList<>();
    for (Context parent : List.of(background, detached, values, Context.todo())) {
      refs.add(abandon(parent));
    }
    assertEquals(0, Gc.survivors(refs), "abandoned children still reachable");
    Reference.reachabilityFence(detached);
    Reference.reachabilityFence(values);
  }

  private static WeakReference<Context> abandon(Context parent) {
    CancelableContext child = Context.withCancel(Context.withCancel(parent));
    Context grandchild = Context.withCancel(Context.withValue(child, KEY, "w"));
    grandchild.onDone(() -> {});
    return new WeakReference<>(child);
  }

  @Test
  void abandonedTimeoutIsHeldByItsTimerOnlyUntilTheDeadline() {
    // As in Go, a pending timer references its context; once the deadline fires, nothing does.
    ManualTimeSource time = ManualTimeSource.startingAt(Instant.EPOCH);
    Context root = Context.withTimeSource(Context.background(), time);
    WeakReference<Context> ref = abandonTimeout(root);
    assertEquals(1, time.pendingCount());
    time.advance(Duration.ofHours(1));
    assertEquals(0, time.pendingCount());
    assertTrue(Gc.until(() -> ref.get() == null), "expired, abandoned timeout still reachable");
    Reference.reachabilityFence(root);
  }

  private static WeakReference<Context> abandonTimeout(Context root) {
    CancelableContext c = Context.withTimeout(root, Duration.ofHours(1));
    Context.withCancel(c).onDone(() -> {});
    return new WeakReference<>(c);
  }

  @Test
  void abandonedChildOfALiveCancelableParentIsReleasedByTheParentsCancel() {
    // As in Go, a child that is never cancelled stays registered with a live cancelable parent
    // (its cancel function is what releases it); the parent's cancel must release it.
    CancelableContext parent = Context.withCancel(Context.background());
    WeakReference<Context> child = abandon(parent);
    assertEquals(1, CoreInternals.registrationCount(parent));
    parent.cancel();
    assertTrue(Gc.until(() -> child.get() == null), "child reachable after its parent's cancel");
  }

  @Test
  void waitersThatGiveUpLeaveNoRegistration() throws InterruptedException {
    CancelableContext ctx = Context.withCancel(Context.background());
    for (int i = 0; i < 10_000; i++) {
      ctx.await(Duration.ofNanos(1));
    }
    Thread.currentThread().interrupt();
    try {
      ctx.await();
    } catch (InterruptedException expected) {
      // the interrupt left no waiter behind either
    }
    assertTrue(CoreInternals.nodeCount(ctx) <= 32, "waiter nodes left: " + CoreInternals.nodeCount(ctx));
    assertEquals(0, CoreInternals.registrationCount(ctx));
  }

  /** Threads of ctx4j (the timer and idle callback threads, which may retire meanwhile). */
  private static int ctx4jThreads() {
    int n = 0;
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith("ctx4j-")) {
        n++;
      }
    }
    return n;
  }

  @Test
  void childrenOfACancelledParentAreBornDoneWithoutTimersOrRegistrations() {
    CancelableContext parent = Context.withCancel(Context.background());
    parent.cancel();
    int pending = CoreInternals.pendingTimers();
    for (int i = 0; i < 1_000; i++) {
      assertTrue(Context.withTimeout(parent, Duration.ofHours(1)).isDone());
      assertTrue(Context.withCancel(parent).isDone());
    }
    assertEquals(0, CoreInternals.nodeCount(parent));
    assertEquals(pending, CoreInternals.pendingTimers(), "timers started for born-done children");
  }
}
