package io.ctx4j.stress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Key;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.Registration;
import io.ctx4j.internal.CoreInternals;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Model-based random testing: random sequences of operations on a real context tree (derive children
 * of every kind, cancel with and without causes, move a {@link ManualTimeSource}, register and stop
 * {@code onDone} callbacks and {@code afterFunc} functions, look up values) are applied at the same
 * time to a plain reference model of Go's semantics, and after every step every node of the tree is
 * compared with the model: error, cause, deadline, values, callback runs, pending timers and the
 * number of live registrations each live context holds.
 *
 * <p>System properties: {@code ctx4j.model.seeds} (default 5000 from the pom, 3000 if unset) seeds run from {@code
 * ctx4j.model.firstSeed} (default 1), {@code ctx4j.model.steps} (default 80) operations per seed,
 * and {@code ctx4j.model.seed} to replay a single seed. A failure names its seed, the command to
 * replay it and the operations that led to it.
 */
class ModelBasedTest {
  private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");
  private static final Key<String> NAME = Key.named("name");
  private static final Key<Integer> NUMBER = Key.of("number", Integer.class);
  private static final Key<String> OTHER = Key.named("other");
  private static final int MAX_NODES = 48;

  @Test
  void randomOperationSequencesAgreeWithTheReferenceModel() {
    long single = Long.getLong("ctx4j.model.seed", Long.MIN_VALUE);
    int seeds = single != Long.MIN_VALUE ? 1 : Integer.getInteger("ctx4j.model.seeds", 3000);
    long first = single != Long.MIN_VALUE ? single : Long.getLong("ctx4j.model.firstSeed", 1);
    int steps = Integer.getInteger("ctx4j.model.steps", 80);
    long ops = 0;
    long checks = 0;
    int maxNodes = 0;
    long start = System.nanoTime();
    for (long seed = first; seed < first + seeds; seed++) {
      Run run = new Run(seed);
      try {
        run.execute(steps);
      } catch (Throwable t) {
        throw new AssertionError(
            "model check failed for seed "
                + seed
                + "; replay with: mvn -q -pl ctx4j-stress -am test -Dtest=ModelBasedTest -Dctx4j.model.seed="
                + seed
                + " -Dctx4j.model.steps="
                + steps
                + " -Dsurefire.failIfNoSpecifiedTests=false"
                + "\noperations:\n"
                + run.trace,
            t);
      }
      ops += run.ops;
      checks += run.checks;
      maxNodes = Math.max(maxNodes, run.nodes.size());
    }
    System.out.printf(
        java.util.Locale.ROOT,
        "ModelBasedTest: %d seeds (%d..%d) x %d steps, %d operations, %d node checks, up to %d"
            + " nodes per tree, %d ms%n",
        seeds, first, first + seeds - 1, steps, ops, checks, maxNodes,
        (System.nanoTime() - start) / 1_000_000);
  }

  private enum Kind {
    /** Not cancelable itself: a value layer, the time-source root or a WithoutCancel layer. */
    LAYER,
    /** withCancel, or a deadline child that kept its parent's earlier deadline. */
    CANCEL,
    /** A context with a timer of its own. */
    TIMER
  }

  /** What the model knows about one context. */
  private static final class Node {
    final int id;
    final Kind kind;
    final Context real;
    /** The nearest cancelable context at or above this one, stopping at WithoutCancel; or null. */
    final Node canceler;
    /** The canceler of the parent: where a cancelable node registers. */
    final Node parentCanceler;
    final Instant deadline;
    final Map<Key<?>, Object> values;
    ContextException err;
    Throwable cause;
    Instant fireAt;
    Throwable deadlineCause;
    long timerSeq;
    /**
     * Whether the node is in its canceler's registrations. Timers register at once; a plain cancel
     * node registers lazily: when a callback is registered on it or on a descendant that shares
     * its cancellation, when a live timer is made under it, or when a question about its state
     * walks past too many unregistered ancestors. Registration takes the unregistered ancestors
     * with it.
     */
    boolean registered;

    Node(int id, Kind kind, Context real, Node parentCanceler, Instant deadline, Map<Key<?>, Object> values) {
      this.id = id;
      this.kind = kind;
      this.real = real;
      this.parentCanceler = parentCanceler;
      this.canceler = kind == Kind.LAYER ? parentCanceler : this;
      this.deadline = deadline;
      this.values = values;
    }

    ContextException modelErr() {
      return canceler == null ? null : canceler.err;
    }

    Throwable modelCause() {
      return canceler == null ? null : canceler.cause;
    }
  }

  /** A registered callback or function, and how often the model says it has run. */
  private static final class Reg {
    final int id;
    final Node node;
    final boolean async;
    final Registration real;
    final AtomicInteger runs;
    final CountDownLatch ran;
    boolean fired;
    boolean stopped;

    Reg(int id, Node node, boolean async, Registration real, AtomicInteger runs, CountDownLatch ran) {
      this.id = id;
      this.node = node;
      this.async = async;
      this.real = real;
      this.runs = runs;
      this.ran = ran;
    }
  }

  /** One seed: a tree, its model and the operations applied to both. */
  private static final class Run {
    final SplittableRandom rnd;
    final ManualTimeSource time = ManualTimeSource.startingAt(T0);
    final List<Node> nodes = new ArrayList<>();
    final List<Reg> regs = new ArrayList<>();
    final StringBuilder trace = new StringBuilder();
    Instant now = T0;
    long timerSeq;
    long ops;
    long checks;

    Run(long seed) {
      rnd = new SplittableRandom(seed);
      nodes.add(
          new Node(0, Kind.LAYER, Context.withTimeSource(Context.background(), time), null, null, new HashMap<>()));
    }

    void execute(int steps) throws InterruptedException {
      for (int step = 0; step < steps; step++) {
        int op = rnd.nextInt(100);
        if (op < 40) {
          if (nodes.size() < MAX_NODES) {
            derive(pickNode());
          } else {
            cancel(pickNode());
          }
        } else if (op < 55) {
          cancel(pickNode());
        } else if (op < 65) {
          advance();
        } else if (op < 75) {
          register(pickNode(), false);
        } else if (op < 80) {
          register(pickNode(), true);
        } else if (op < 92) {
          stop();
        } else {
          Node n = pickNode();
          log("inspect %d", n.id);
          assertNotNull(n.real.toString());
          noteQuestion(n);
          checkThrowIfDone(n);
        }
        ops++;
        checkAll();
      }
      awaitAsyncRuns();
    }

    Node pickNode() {
      return nodes.get(rnd.nextInt(nodes.size()));
    }

    void log(String format, Object... args) {
      if (trace.length() < 20_000) {
        trace.append("  ").append(String.format(format, args)).append('\n');
      }
    }

    // ------------------------------------------------------------------ operations

    void derive(Node p) {
      int id = nodes.size();
      int what = rnd.nextInt(100);
      if (what < 25) {
        log("n%d = withCancel(n%d)", id, p.id);
        addCancel(id, p, Context.withCancel(p.real), p.deadline);
      } else if (what < 45) {
        Duration d = randomTimeout();
        Throwable cause = rnd.nextBoolean() ? null : new RuntimeException("timeout cause of n" + id);
        log("n%d = withTimeoutCause(n%d, %s, %s)", id, p.id, d, cause);
        CancelableContext real = Context.withTimeoutCause(p.real, d, cause);
        addTimer(id, p, real, CoreInternals.saturatedPlus(now, d), CoreInternals.saturatedNanos(d), cause);
      } else if (what < 65) {
        Instant at = randomDeadline();
        Throwable cause = rnd.nextBoolean() ? null : new RuntimeException("deadline cause of n" + id);
        log("n%d = withDeadlineCause(n%d, %s, %s)", id, p.id, at, cause);
        CancelableContext real = Context.withDeadlineCause(p.real, at, cause);
        addTimer(id, p, real, at, CoreInternals.saturatedNanos(now, at), cause);
      } else if (what < 90) {
        Key<?> key = pickKey();
        Object value = valueFor(key);
        log("n%d = withValue(n%d, %s, %s)", id, p.id, key, value);
        @SuppressWarnings("unchecked")
        Key<Object> k = (Key<Object>) key;
        Map<Key<?>, Object> values = new HashMap<>(p.values);
        values.put(key, value);
        nodes.add(new Node(id, Kind.LAYER, Context.withValue(p.real, k, value), p.canceler, p.deadline, values));
      } else {
        log("n%d = withoutCancel(n%d)", id, p.id);
        nodes.add(new Node(id, Kind.LAYER, Context.withoutCancel(p.real), null, null, new HashMap<>(p.values)));
      }
    }

    /** Registers a live node and, first, every live unregistered cancelable node above it. */
    void registerChain(Node x) {
      for (; x != null && x.err == null && !x.registered; x = x.parentCanceler) {
        x.registered = true;
      }
    }

    /**
     * A question about the state of {@code n} (err, isDone, cause, or the check inside cancel):
     * when n is live and unregistered, the core walks its unregistered ancestors, and registers n
     * if there are more of them than the walk limit.
     */
    void noteQuestion(Node n) {
      if (n == null) {
        return;
      }
      if (n.kind == Kind.LAYER) {
        n = n.canceler;
        if (n == null) {
          return;
        }
      }
      if (n.err != null || n.registered || n.parentCanceler == null) {
        return;
      }
      int steps = 0;
      for (Node c = n.parentCanceler; !c.registered && c.parentCanceler != null; c = c.parentCanceler) {
        if (++steps > CoreInternals.maxUnregisteredWalk()) {
          registerChain(n);
          return;
        }
      }
    }

    void addCancel(int id, Node p, Context real, Instant deadline) {
      Node n = new Node(id, Kind.CANCEL, real, p.canceler, deadline, new HashMap<>(p.values));
      inheritIfParentDone(n);
      nodes.add(n);
    }

    /** Go's rules for WithDeadline/WithTimeout, including the earlier-parent shortcut. */
    void addTimer(int id, Node p, Context real, Instant at, long nanos, Throwable cause) {
      if (p.deadline != null && p.deadline.isBefore(at)) {
        addCancel(id, p, real, p.deadline);
        return;
      }
      noteQuestion(p.canceler); // the factory asks whether the canceler is already done
      Node n = new Node(id, Kind.TIMER, real, p.canceler, at, new HashMap<>(p.values));
      n.deadlineCause = cause == null ? Context.DEADLINE_EXCEEDED : cause;
      if (!inheritIfParentDone(n)) {
        if (nanos <= 0) {
          n.err = Context.DEADLINE_EXCEEDED;
          n.cause = n.deadlineCause;
        } else {
          // Only a live timer registers (and makes its ancestors register); one born done does not.
          registerChain(p.canceler);
          n.registered = true;
          n.fireAt = at;
          n.timerSeq = timerSeq++;
        }
      }
      nodes.add(n);
    }

    boolean inheritIfParentDone(Node n) {
      Node pc = n.parentCanceler;
      if (pc != null && pc.err != null) {
        n.err = pc.err;
        n.cause = pc.cause;
        return true;
      }
      return false;
    }

    void cancel(Node n) {
      if (!(n.real instanceof CancelableContext)) {
        log("(n%d is not cancelable)", n.id);
        return;
      }
      Throwable cause = rnd.nextInt(3) == 0 ? null : new RuntimeException("cancel cause of n" + n.id);
      log("n%d.cancel(%s)", n.id, cause);
      boolean expected = n.err == null;
      noteQuestion(n);
      boolean actual = ((CancelableContext) n.real).cancel(cause);
      assertEquals(expected, actual, "cancel() of n" + n.id + " returned");
      if (expected) {
        n.err = Context.CANCELED;
        n.cause = cause == null ? Context.CANCELED : cause;
        propagate();
      }
    }

    void advance() {
      int r = rnd.nextInt(100);
      Duration by =
          r < 10 ? Duration.ZERO : r < 98 ? Duration.ofMillis(rnd.nextInt(1, 2_500)) : Duration.ofDays(365L * 10_000);
      log("advance(%s)", by);
      now = CoreInternals.saturatedPlus(now, by);
      time.advance(by);
      for (; ; ) {
        Node due = null;
        for (Node n : nodes) {
          if (n.kind == Kind.TIMER && n.err == null && n.fireAt != null && !n.fireAt.isAfter(now)) {
            if (due == null || n.fireAt.isBefore(due.fireAt)
                || (n.fireAt.equals(due.fireAt) && n.timerSeq < due.timerSeq)) {
              due = n;
            }
          }
        }
        if (due == null) {
          return;
        }
        due.err = Context.DEADLINE_EXCEEDED;
        due.cause = due.deadlineCause;
        propagate();
      }
    }

    void register(Node n, boolean async) {
      int id = regs.size();
      AtomicInteger runs = new AtomicInteger();
      CountDownLatch ran = new CountDownLatch(1);
      Runnable action =
          () -> {
            runs.incrementAndGet();
            ran.countDown();
          };
      log("r%d = %s(n%d)", id, async ? "afterFunc" : "onDone", n.id);
      Registration real = async ? Context.afterFunc(n.real, action) : n.real.onDone(action);
      registerChain(n.canceler);
      Reg reg = new Reg(id, n, async, real, runs, ran);
      reg.fired = n.modelErr() != null;
      regs.add(reg);
    }

    void stop() {
      if (regs.isEmpty()) {
        return;
      }
      Reg r = regs.get(rnd.nextInt(regs.size()));
      log("r%d.stop()", r.id);
      boolean expected = !r.fired && !r.stopped;
      assertEquals(expected, r.real.stop(), "stop() of r" + r.id + " returned");
      r.stopped = true;
    }

    /** Marks done every cancelable node whose canceler is done; creation order is topological. */
    void propagate() {
      for (Node n : nodes) {
        if (n.kind != Kind.LAYER && n.err == null && n.parentCanceler != null && n.parentCanceler.err != null) {
          n.err = n.parentCanceler.err;
          n.cause = n.parentCanceler.cause;
        }
      }
      for (Reg r : regs) {
        if (!r.fired && !r.stopped && r.node.modelErr() != null) {
          r.fired = true;
        }
      }
    }

    // ----------------------------------------------------------------------- checks

    void checkAll() {
      int liveTimers = 0;
      for (Node n : nodes) {
        checks++;
        String what = "n" + n.id;
        noteQuestion(n);
        assertSame(n.modelErr(), n.real.err(), what + ".err()");
        assertEquals(n.modelErr() != null, n.real.isDone(), what + ".isDone()");
        assertSame(n.modelCause(), n.real.cause(), what + ".cause()");
        assertEquals(Optional.ofNullable(n.deadline), n.real.deadline(), what + ".deadline()");
        assertSame(n.values.get(NAME), n.real.value(NAME), what + ".value(name)");
        assertSame(n.values.get(NUMBER), n.real.value(NUMBER), what + ".value(number)");
        assertSame(n.values.get(OTHER), n.real.value(OTHER), what + ".value(other)");
        if (n.kind != Kind.LAYER && n.err == null) {
          assertEquals(expectedRegistrations(n), CoreInternals.registrationCount(n.real), what + " live registrations");
        }
        if (n.kind == Kind.TIMER && n.err == null && n.fireAt != null) {
          liveTimers++;
        }
      }
      assertEquals(liveTimers, time.pendingCount(), "timers pending in the time source");
      for (Reg r : regs) {
        if (!r.async) {
          assertEquals(r.fired ? 1 : 0, r.runs.get(), "runs of onDone callback r" + r.id);
        } else if (!r.fired) {
          assertEquals(0, r.runs.get(), "runs of afterFunc r" + r.id + " before its context is done");
        }
      }
    }

    int expectedRegistrations(Node n) {
      int count = 0;
      for (Node c : nodes) {
        if (c.kind != Kind.LAYER && c.parentCanceler == n && c.err == null && c.registered) {
          count++;
        }
      }
      for (Reg r : regs) {
        if (r.node.canceler == n && !r.fired && !r.stopped) {
          count++;
        }
      }
      return count;
    }

    void checkThrowIfDone(Node n) {
      ContextException err = n.modelErr();
      if (err == null) {
        n.real.throwIfDone();
        return;
      }
      ContextException thrown = assertThrows(ContextException.class, n.real::throwIfDone);
      assertSame(err.getClass(), thrown.getClass());
      Throwable cause = n.modelCause();
      Throwable attached = cause == Context.CANCELED || cause == Context.DEADLINE_EXCEEDED ? null : cause;
      assertSame(attached, thrown.getCause(), "cause attached by throwIfDone");
    }

    void awaitAsyncRuns() throws InterruptedException {
      for (Reg r : regs) {
        if (r.async && r.fired) {
          assertTrue(r.ran.await(10, TimeUnit.SECONDS), "afterFunc r" + r.id + " never ran");
          assertEquals(1, r.runs.get(), "runs of afterFunc r" + r.id);
        }
      }
    }

    // ------------------------------------------------------------------ random input

    Duration randomTimeout() {
      int r = rnd.nextInt(100);
      if (r < 5) {
        return Duration.ZERO;
      }
      if (r < 7) {
        return Duration.ofSeconds(Long.MAX_VALUE);
      }
      return Duration.ofMillis(rnd.nextInt(1, 5_000));
    }

    Instant randomDeadline() {
      int r = rnd.nextInt(100);
      if (r < 2) {
        return Instant.MAX;
      }
      if (r < 4) {
        return Instant.MIN;
      }
      return now.plusMillis(rnd.nextInt(-2_000, 6_000));
    }

    Key<?> pickKey() {
      int r = rnd.nextInt(3);
      return r == 0 ? NAME : r == 1 ? NUMBER : OTHER;
    }

    Object valueFor(Key<?> key) {
      if (rnd.nextInt(6) == 0) {
        return null;
      }
      return key == NUMBER ? Integer.valueOf(rnd.nextInt(1000)) : "v" + rnd.nextInt(1000);
    }
  }
}
