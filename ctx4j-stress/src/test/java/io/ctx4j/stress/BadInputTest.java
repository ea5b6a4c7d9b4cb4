package io.ctx4j.stress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Key;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.Registration;
import io.ctx4j.TimeSource;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.testing.ForeignContext;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every bad argument in the table of {@code ctx4j-stress/README.md}, one row per test: what is
 * passed, and what it gets. Each row's name is the table's first column.
 */
class BadInputTest {
  private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");
  private static final Key<String> KEY = Key.named("k");
  private static final Runnable NOTHING = () -> {};

  @ParameterizedTest(name = "{0}")
  @MethodSource("rows")
  void badInput(String input, Executable check) throws Throwable {
    check.execute();
  }

  private static Arguments row(String input, Executable check) {
    return Arguments.of(input, check);
  }

  private static void npe(String argument, Executable call) {
    NullPointerException e = assertThrows(NullPointerException.class, call);
    assertEquals(argument, e.getMessage(), "the message names the argument");
  }

  private static Context bg() {
    return Context.background();
  }

  private static CancelableContext live() {
    return Context.withCancel(bg());
  }

  private static void bornDone(Context c, ContextException err, Throwable cause) {
    assertSame(err, c.err());
    assertSame(cause, c.cause());
  }

  static Stream<Arguments> rows() {
    List<Arguments> rows = new ArrayList<>();
    // ---------------------------------------------------------------- nulls
    rows.add(row("withCancel(null)", () -> npe("parent", () -> Context.withCancel(null))));
    rows.add(row("withCancelCause(null)", () -> npe("parent", () -> Context.withCancelCause(null))));
    rows.add(row("withDeadline(null, t)", () -> npe("parent", () -> Context.withDeadline(null, T0))));
    rows.add(row("withDeadline(ctx, null)", () -> npe("deadline", () -> Context.withDeadline(bg(), null))));
    rows.add(row("withDeadlineCause(ctx, null, cause)",
        () -> npe("deadline", () -> Context.withDeadlineCause(bg(), null, new Exception()))));
    rows.add(row("withTimeout(null, d)", () -> npe("parent", () -> Context.withTimeout(null, Duration.ZERO))));
    rows.add(row("withTimeout(ctx, null)", () -> npe("timeout", () -> Context.withTimeout(bg(), null))));
    rows.add(row("withValue(null, k, v)", () -> npe("parent", () -> Context.withValue(null, KEY, "v"))));
    rows.add(row("withValue(ctx, null, v)", () -> npe("key", () -> Context.withValue(bg(), null, "v"))));
    rows.add(row("withoutCancel(null)", () -> npe("parent", () -> Context.withoutCancel(null))));
    rows.add(row("withTimeSource(null, s)",
        () -> npe("parent", () -> Context.withTimeSource(null, TimeSource.system()))));
    rows.add(row("withTimeSource(ctx, null)", () -> npe("source", () -> Context.withTimeSource(bg(), null))));
    rows.add(row("afterFunc(null, fn)", () -> npe("ctx", () -> Context.afterFunc(null, NOTHING))));
    rows.add(row("afterFunc(ctx, null)", () -> npe("fn", () -> Context.afterFunc(live(), null))));
    rows.add(row("afterFunc(ctx, fn, null)", () -> npe("executor", () -> Context.afterFunc(live(), NOTHING, null))));
    rows.add(row("cause(null)", () -> npe("ctx", () -> Context.cause(null))));
    rows.add(row("ctx.value(null)", () -> {
      npe("key", () -> live().value(null));
      npe("key", () -> bg().value(null));
      npe("key", () -> Context.withValue(bg(), KEY, "v").value(null));
    }));
    rows.add(row("ctx.onDone(null)", () -> {
      npe("callback", () -> live().onDone(null));
      npe("callback", () -> bg().onDone(null));
      CancelableContext done = live();
      done.cancel();
      npe("callback", () -> done.onDone(null));
    }));
    rows.add(row("ctx.await((Duration) null)", () -> npe("timeout", () -> live().await((Duration) null))));
    rows.add(row("ctx.await((CompletionStage) null)",
        () -> npe("work", () -> live().await((java.util.concurrent.CompletionStage<?>) null))));
    rows.add(row("Key.named(null)", () -> npe("name", () -> Key.named(null))));
    rows.add(row("Key.of(null, type)", () -> npe("name", () -> Key.of(null, String.class))));
    rows.add(row("Key.of(name, null)", () -> npe("type", () -> Key.of("k", null))));
    rows.add(row("ManualTimeSource.startingAt(null)", () -> npe("start", () -> ManualTimeSource.startingAt(null))));
    rows.add(row("cancel(null) (no cause)", () -> {
      CancelableContext c = live();
      assertTrue(c.cancel(null));
      bornDone(c, Context.CANCELED, Context.CANCELED);
    }));
    rows.add(row("withDeadlineCause / withTimeoutCause with a null cause", () -> {
      bornDone(Context.withDeadlineCause(bg(), Instant.MIN, null), Context.DEADLINE_EXCEEDED, Context.DEADLINE_EXCEEDED);
      bornDone(Context.withTimeoutCause(bg(), Duration.ZERO, null), Context.DEADLINE_EXCEEDED, Context.DEADLINE_EXCEEDED);
    }));
    rows.add(row("withValue(ctx, k, null) (hides an outer binding)", () -> {
      Context outer = Context.withValue(bg(), KEY, "outer");
      assertNull(Context.withValue(outer, KEY, null).value(KEY));
    }));
    // ------------------------------------------------------------- durations
    rows.add(row("withTimeout(ctx, -1 ns)", () -> {
      int pending = CoreInternals.pendingTimers();
      bornDone(Context.withTimeout(bg(), Duration.ofNanos(-1)), Context.DEADLINE_EXCEEDED, Context.DEADLINE_EXCEEDED);
      assertTrue(CoreInternals.pendingTimers() <= pending, "an expired timeout schedules no timer");
    }));
    rows.add(row("withTimeoutCause(ctx, -1 s, cause)", () -> {
      Exception why = new Exception("too slow");
      bornDone(Context.withTimeoutCause(bg(), Duration.ofSeconds(-1), why), Context.DEADLINE_EXCEEDED, why);
    }));
    rows.add(row("withTimeout(ctx, Duration.ofSeconds(Long.MIN_VALUE))", () -> {
      CancelableContext c = Context.withTimeout(bg(), Duration.ofSeconds(Long.MIN_VALUE));
      bornDone(c, Context.DEADLINE_EXCEEDED, Context.DEADLINE_EXCEEDED);
      assertEquals(Optional.of(Instant.MIN), c.deadline(), "the deadline saturates");
    }));
    rows.add(row("withTimeout(ctx, Duration.ZERO)",
        () -> bornDone(Context.withTimeout(bg(), Duration.ZERO), Context.DEADLINE_EXCEEDED, Context.DEADLINE_EXCEEDED)));
    rows.add(row("withTimeout(ctx, Duration.ofSeconds(Long.MAX_VALUE)) (huge)", () -> {
      int pending = CoreInternals.pendingTimers();
      CancelableContext c = Context.withTimeout(bg(), Duration.ofSeconds(Long.MAX_VALUE));
      assertFalse(c.isDone());
      assertEquals(Optional.of(Instant.MAX), c.deadline(), "the deadline saturates");
      c.cancel();
      assertEquals(pending, CoreInternals.pendingTimers(), "its timer went with the cancel");
    }));
    rows.add(row("withTimeout near the end of time (ManualTimeSource at Instant.MAX - 1 s, +1 h)", () -> {
      ManualTimeSource time = ManualTimeSource.startingAt(Instant.MAX.minusSeconds(1));
      CancelableContext c = Context.withTimeout(Context.withTimeSource(bg(), time), Duration.ofHours(1));
      assertEquals(Optional.of(Instant.MAX), c.deadline());
      assertFalse(c.isDone());
      time.advance(Duration.ofHours(2)); // saturates at Instant.MAX, which is the deadline
      assertSame(Context.DEADLINE_EXCEEDED, c.err());
    }));
    rows.add(row("ctx.await(negative duration)", () -> {
      assertFalse(live().await(Duration.ofSeconds(-5)), "returns false at once");
      CancelableContext done = live();
      done.cancel();
      assertTrue(done.await(Duration.ofSeconds(-5)));
    }));
    rows.add(row("ctx.await(huge duration) on a done context", () -> {
      CancelableContext done = live();
      done.cancel();
      assertTrue(done.await(Duration.ofSeconds(Long.MAX_VALUE)));
    }));
    rows.add(row("ManualTimeSource.advance(negative)", () -> assertThrows(IllegalArgumentException.class,
        () -> ManualTimeSource.startingAt(T0).advance(Duration.ofNanos(-1)))));
    rows.add(row("ManualTimeSource.set(earlier)", () -> assertThrows(IllegalArgumentException.class,
        () -> ManualTimeSource.startingAt(T0).set(T0.minusNanos(1)))));
    // -------------------------------------------------------------- instants
    rows.add(row("withDeadline(ctx, Instant.MIN)",
        () -> bornDone(Context.withDeadline(bg(), Instant.MIN), Context.DEADLINE_EXCEEDED, Context.DEADLINE_EXCEEDED)));
    rows.add(row("withDeadline(ctx, Instant.MAX)", () -> {
      int pending = CoreInternals.pendingTimers();
      CancelableContext c = Context.withDeadline(bg(), Instant.MAX);
      assertFalse(c.isDone());
      assertEquals(Optional.of(Instant.MAX), c.deadline());
      c.cancel();
      assertEquals(pending, CoreInternals.pendingTimers());
    }));
    rows.add(row("withDeadline(ctx, a past instant)", () -> {
      int pending = CoreInternals.pendingTimers();
      bornDone(Context.withDeadline(bg(), Instant.now().minusSeconds(1)),
          Context.DEADLINE_EXCEEDED, Context.DEADLINE_EXCEEDED);
      assertEquals(pending, CoreInternals.pendingTimers(), "no timer for a past deadline");
    }));
    rows.add(row("withDeadlineCause(ctx, a past instant, cause)", () -> {
      Exception cause = new Exception("late");
      bornDone(Context.withDeadlineCause(bg(), Instant.now().minusSeconds(1), cause), Context.DEADLINE_EXCEEDED, cause);
    }));
    rows.add(row("withDeadline(cancelled parent, a past instant)", () -> {
      CancelableContext parent = live();
      Exception cause = new Exception("parent");
      parent.cancel(cause);
      bornDone(Context.withDeadline(parent, Instant.MIN), Context.CANCELED, cause);
    }));
    rows.add(row("withDeadline(ctx, a later instant than the parent's)", () -> {
      ManualTimeSource time = ManualTimeSource.startingAt(T0);
      CancelableContext parent = Context.withDeadline(Context.withTimeSource(bg(), time), T0.plusSeconds(1));
      CancelableContext child = Context.withDeadline(parent, T0.plusSeconds(60));
      assertEquals(Optional.of(T0.plusSeconds(1)), child.deadline(), "the parent's earlier deadline");
      assertEquals(1, time.pendingCount(), "no timer of its own");
    }));
    // ----------------------------------------------------------------- keys
    rows.add(row("withValue with a key of the wrong type (raw)", () -> {
      @SuppressWarnings({"unchecked", "rawtypes"})
      Key<Object> raw = (Key) Key.of("port", Integer.class);
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> Context.withValue(bg(), raw, "8080"));
      assertTrue(e.getMessage().contains("does not fit key port"), e.getMessage());
    }));
    rows.add(row("two keys with the same name", () -> {
      Key<String> a = Key.named("same");
      Key<String> b = Key.named("same");
      Context c = Context.withValue(bg(), a, "a");
      assertEquals("a", c.value(a));
      assertNull(c.value(b), "keys compare by identity");
    }));
    // -------------------------------------------------------- repeated calls
    rows.add(row("cancel() twice, close() after cancel", () -> {
      CancelableContext c = live();
      assertTrue(c.cancel(new Exception("first")));
      assertFalse(c.cancel(new Exception("second")));
      c.close();
      assertEquals("first", c.cause().getMessage());
    }));
    rows.add(row("Registration.stop() twice", () -> {
      Registration r = live().onDone(NOTHING);
      assertTrue(r.stop());
      assertFalse(r.stop());
      Registration never = bg().onDone(NOTHING);
      assertTrue(never.stop());
      assertFalse(never.stop());
    }));
    rows.add(row("cancel(Context.DEADLINE_EXCEEDED) (a sentinel as the cause)", () -> {
      CancelableContext c = live();
      c.cancel(Context.DEADLINE_EXCEEDED);
      bornDone(c, Context.CANCELED, Context.DEADLINE_EXCEEDED);
      ContextException thrown = assertThrows(CanceledException.class, c::throwIfDone);
      assertNull(thrown.getCause(), "sentinels are not attached as causes");
    }));
    rows.add(row("a throwing callback passed to onDone of a done context", () -> {
      CancelableContext c = live();
      c.cancel();
      List<Throwable> reported = captureUncaught(() -> c.onDone(() -> {
        throw new IllegalStateException("cb");
      }));
      assertEquals(1, reported.size(), "reported to the thread's handler, not thrown");
    }));
    // ------------------------------------------------- misbehaving foreign contexts
    rows.add(row("foreign parent whose deadline() returns null", () -> {
      Context bad = new ForeignContext() {
        @Override
        public Optional<Instant> deadline() {
          return null;
        }
      };
      NullPointerException e = assertThrows(NullPointerException.class, () -> Context.withCancel(bad));
      assertTrue(e.getMessage().contains("returned null instead of an Optional"), e.getMessage());
    }));
    rows.add(row("foreign parent whose onDone returns null", () -> {
      Context bad = new ForeignContext() {
        @Override
        public Registration onDone(Runnable callback) {
          return null;
        }
      };
      NullPointerException e = assertThrows(NullPointerException.class, () -> Context.withCancel(bad));
      assertTrue(e.getMessage().contains("returned null instead of a Registration"), e.getMessage());
      NullPointerException e2 = assertThrows(NullPointerException.class, () -> Context.afterFunc(bad, NOTHING));
      assertTrue(e2.getMessage().contains("returned null instead of a Registration"), e2.getMessage());
    }));
    rows.add(row("foreign parent whose onDone throws", () -> {
      IllegalStateException boom = new IllegalStateException("no registrations today");
      Context bad = new ForeignContext() {
        @Override
        public Registration onDone(Runnable callback) {
          throw boom;
        }
      };
      assertSame(boom, assertThrows(IllegalStateException.class, () -> Context.withCancel(bad)),
          "the parent's exception reaches the caller");
    }));
    rows.add(row("foreign parent that is done but whose err() is null", () -> {
      Context bad = new ForeignContext() {
        @Override
        public boolean isDone() {
          return true;
        }
      };
      bornDone(Context.withCancel(bad), Context.CANCELED, Context.CANCELED);
    }));
    rows.add(row("foreign parent whose cause() throws", () -> {
      Context bad = new ForeignContext() {
        @Override
        public ContextException err() {
          return Context.DEADLINE_EXCEEDED;
        }

        @Override
        public Throwable cause() {
          throw new IllegalStateException("no cause for you");
        }
      };
      bornDone(Context.withCancel(bad), Context.DEADLINE_EXCEEDED, Context.DEADLINE_EXCEEDED);
    }));
    rows.add(row("foreign parent that runs its callbacks but whose err() then throws", () -> {
      java.util.concurrent.atomic.AtomicReference<Runnable> registered = new java.util.concurrent.atomic.AtomicReference<>();
      java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
      Context bad = new ForeignContext() {
        @Override
        public ContextException err() {
          if (done.get()) {
            throw new IllegalStateException("err() is broken");
          }
          return null;
        }

        @Override
        public Registration onDone(Runnable callback) {
          registered.set(callback);
          return () -> registered.getAndSet(null) != null;
        }
      };
      CancelableContext child = Context.withCancel(bad);
      done.set(true);
      registered.get().run();
      bornDone(child, Context.CANCELED, Context.CANCELED);
    }));
    rows.add(row("ManualTimeSource action that throws", () -> {
      ManualTimeSource time = ManualTimeSource.startingAt(T0);
      IllegalStateException boom = new IllegalStateException("boom");
      time.schedule(T0.plusSeconds(1), () -> {
        throw boom;
      });
      CancelableContext ctx = Context.withTimeout(Context.withTimeSource(bg(), time), Duration.ofSeconds(1));
      assertSame(boom, assertThrows(IllegalStateException.class, () -> time.advance(Duration.ofSeconds(1))));
      bornDone(ctx, Context.DEADLINE_EXCEEDED, Context.DEADLINE_EXCEEDED);
      assertEquals(0, time.pendingCount());
    }));
    rows.add(row("time source whose Registration.stop() throws", () -> {
      ManualTimeSource time = ManualTimeSource.startingAt(T0);
      TimeSource broken = timeSource(time::now, (deadline, action) -> {
        time.schedule(deadline, action);
        return () -> {
          throw new IllegalStateException("stop is broken");
        };
      });
      List<Throwable> reported = captureUncaught(() -> {
        CancelableContext ctx = Context.withTimeout(Context.withTimeSource(bg(), broken), Duration.ofHours(1));
        CancelableContext child = Context.withCancel(ctx);
        AtomicInteger ran = new AtomicInteger();
        child.onDone(ran::incrementAndGet);
        assertTrue(ctx.cancel());
        bornDone(child, Context.CANCELED, Context.CANCELED);
        assertEquals(1, ran.get());
      });
      assertEquals(1, reported.size(), "the stop failure is reported");
    }));
    rows.add(row("time source whose now() returns null", () -> {
      TimeSource broken = timeSource(() -> null, (deadline, action) -> () -> false);
      NullPointerException e = assertThrows(NullPointerException.class,
          () -> Context.withTimeout(Context.withTimeSource(bg(), broken), Duration.ofHours(1)));
      assertTrue(e.getMessage().startsWith("now() of "), e.getMessage());
    }));
    rows.add(row("time source whose schedule() throws", () -> {
      TimeSource broken = timeSource(() -> T0, (deadline, action) -> {
        throw new IllegalStateException("schedule is broken");
      });
      CancelableContext parent = live();
      Context clocked = Context.withTimeSource(parent, broken);
      assertThrows(IllegalStateException.class, () -> Context.withTimeout(clocked, Duration.ofHours(1)));
      assertEquals(0, CoreInternals.registrationCount(parent), "the failed timeout stays registered");
    }));
    rows.add(row("foreign parent whose err() is a fresh (non-sentinel) exception", () -> {
      Exception cause = new Exception("foreign cause");
      Context bad = new ForeignContext() {
        @Override
        public ContextException err() {
          return new CanceledException(cause);
        }

        @Override
        public Throwable cause() {
          return cause;
        }
      };
      bornDone(Context.withCancel(bad), Context.CANCELED, cause);
    }));
    rows.add(row("foreign parent that runs a callback twice", () -> {
      List<Runnable> callbacks = new CopyOnWriteArrayList<>();
      ControllableForeign parent = new ControllableForeign(callbacks);
      CancelableContext child = Context.withCancel(parent);
      AtomicInteger runs = new AtomicInteger();
      child.onDone(runs::incrementAndGet);
      parent.done = true;
      callbacks.forEach(Runnable::run);
      callbacks.forEach(Runnable::run);
      assertSame(Context.CANCELED, child.err());
      assertEquals(1, runs.get(), "the child completes once");
    }));
    rows.add(row("foreign parent that never runs its callbacks", () -> {
      ControllableForeign parent = new ControllableForeign(new CopyOnWriteArrayList<>());
      CancelableContext child = Context.withCancel(parent);
      parent.done = true; // done, but it never tells anyone
      assertFalse(child.isDone(), "nothing can be seen without a callback");
      assertTrue(child.cancel(), "the child can still be cancelled by hand");
    }));
    rows.add(row("foreign parent whose value() throws", () -> {
      IllegalStateException boom = new IllegalStateException("values are broken");
      Context bad = new ForeignContext() {
        @Override
        public <T> T value(Key<T> key) {
          throw boom;
        }
      };
      Context child = Context.withValue(Context.withCancel(bad), KEY, "mine");
      assertEquals("mine", child.value(KEY), "own bindings do not ask the parent");
      assertSame(boom, assertThrows(IllegalStateException.class, () -> child.value(Key.named("other"))));
    }));
    return rows.stream();
  }

  /** A foreign context whose done-ness and callbacks the test drives by hand. */
  static final class ControllableForeign extends ForeignContext {
    final List<Runnable> callbacks;
    volatile boolean done;

    ControllableForeign(List<Runnable> callbacks) {
      this.callbacks = callbacks;
    }

    @Override
    public ContextException err() {
      return done ? Context.CANCELED : null;
    }

    @Override
    public Registration onDone(Runnable callback) {
      callbacks.add(callback);
      return () -> callbacks.remove(callback);
    }
  }

  /** A time source made of two functions, for rows that break one of its methods. */
  private static TimeSource timeSource(Supplier<Instant> now, BiFunction<Instant, Runnable, Registration> schedule) {
    return new TimeSource() {
      @Override
      public Instant now() {
        return now.get();
      }

      @Override
      public Registration schedule(Instant deadline, Runnable action) {
        return schedule.apply(deadline, action);
      }
    };
  }

  private static List<Throwable> captureUncaught(Runnable r) {
    List<Throwable> reported = new CopyOnWriteArrayList<>();
    Thread me = Thread.currentThread();
    Thread.UncaughtExceptionHandler old = me.getUncaughtExceptionHandler();
    me.setUncaughtExceptionHandler((t, e) -> reported.add(e));
    try {
      r.run();
    } finally {
      me.setUncaughtExceptionHandler(old);
    }
    return reported;
  }
}
