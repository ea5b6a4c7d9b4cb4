package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Key;
import io.ctx4j.Registration;
import io.ctx4j.concurrent.internal.Binding;
import io.ctx4j.internal.CoreInternals;
import java.io.IOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.ref.WeakReference;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.jar.JarFile;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Hostile use of the current-context binding: (a) the previous binding is restored exactly after
 * any exit, at any depth; (b) a pooled thread keeps neither a context nor an application's class
 * loader once the calls are over; (c) get() never answers with another thread's context or with
 * the context of a call that is over. Runs on both bindings (ThreadLocal on 17, ScopedValue on 25).
 */
@Timeout(120)
class BindingAdversarialTest {
  private static final Key<Integer> LEVEL = Key.of("level", Integer.class);
  private static final Key<Object> PAYLOAD = Key.named("payload");

  private static Context level(int i) {
    return Context.withValue(Context.background(), LEVEL, i);
  }

  @AfterEach
  void theTestThreadEndsUnbound() {
    assertFalse(CurrentContext.isBound(), "a test left a binding on the test thread");
    assertSame(Context.background(), CurrentContext.get());
  }

  // ---------------------------------------------------------------- (a) exact restoration

  /** What a body at the throwing level throws, and whether it goes out through run or call. */
  private enum Kind {
    RUNTIME(() -> new IllegalStateException("runtime")),
    CHECKED(() -> new IOException("checked (sneaky through run)")),
    ERROR(() -> new LinkageError("error")),
    BARE_THROWABLE(() -> new Throwable("neither Exception nor Error")),
    STACK_OVERFLOW(StackOverflowError::new);

    final Supplier<Throwable> make;

    Kind(Supplier<Throwable> make) {
      this.make = make;
    }
  }

  private static final class Plan {
    final Context[] ctx;
    final int throwAt;
    final int catchAt; // -1: outside every binding
    final Throwable thrown;
    final boolean callAtThrower;
    int caughtAt = Integer.MIN_VALUE;

    Plan(Context[] ctx, int throwAt, int catchAt, Throwable thrown, boolean callAtThrower) {
      this.ctx = ctx;
      this.throwAt = throwAt;
      this.catchAt = catchAt;
      this.thrown = thrown;
      this.callAtThrower = callAtThrower;
    }
  }

  /** Binds ctx[level] (by run on even levels, call on odd ones, or as the plan says) and goes on. */
  private static void nest(int level, Plan p) throws Exception {
    Context mine = p.ctx[level];
    Callable<Void> body =
        () -> {
          assertSame(mine, CurrentContext.get(), "level " + level + " on entry");
          if (level == p.throwAt) {
            Sneaky.<RuntimeException>rethrow(p.thrown);
          }
          if (level == p.catchAt) {
            try {
              nest(level + 1, p);
              fail("level " + (level + 1) + " should have thrown");
            } catch (Throwable t) {
              if (t != p.thrown) {
                Sneaky.<RuntimeException>rethrow(t); // an assertion failure from deeper down
              }
              p.caughtAt = level;
              assertSame(mine, CurrentContext.get(), "level " + level + " after catching");
            }
          } else if (level < p.throwAt) {
            nest(level + 1, p);
          }
          assertSame(mine, CurrentContext.get(), "level " + level + " before leaving");
          return null;
        };
    boolean useCall = level == p.throwAt ? p.callAtThrower : level % 2 == 1;
    if (useCall) {
      CurrentContext.call(mine, body);
    } else {
      CurrentContext.run(
          mine,
          () -> {
            try {
              body.call();
            } catch (Exception e) {
              Sneaky.<RuntimeException>rethrow(e);
            }
          });
    }
  }

  @Test
  void everyKindOfThrowableAtEveryDepthRestoresEveryEnclosingBinding() throws Exception {
    int depth = 7;
    Context[] ctx = new Context[depth];
    for (int i = 0; i < depth; i++) {
      ctx[i] = level(i);
    }
    int cases = 0;
    for (Kind kind : Kind.values()) {
      for (int throwAt = 0; throwAt < depth; throwAt++) {
        for (int catchAt = -1; catchAt < throwAt; catchAt++) {
          for (boolean callAtThrower : new boolean[] {false, true}) {
            Throwable thrown = kind.make.get();
            Plan p = new Plan(ctx, throwAt, catchAt, thrown, callAtThrower);
            String what = kind + " thrown at " + throwAt + " caught at " + catchAt;
            try {
              nest(0, p);
              if (catchAt == -1) {
                fail(what + ": nothing came out");
              }
            } catch (Throwable t) {
              if (t != thrown) {
                throw t instanceof AssertionError ? (AssertionError) t : new AssertionError(what, t);
              }
              assertEquals(-1, catchAt, what + ": went past its catcher");
              p.caughtAt = -1;
            }
            assertEquals(catchAt, p.caughtAt, what);
            assertFalse(CurrentContext.isBound(), what + ": a binding outlived every call");
            cases++;
          }
        }
      }
    }
    assertEquals(Kind.values().length * 2 * (depth * (depth + 1) / 2), cases);
  }

  @Test
  void reentrantBindingsOfTheSameContextRestoreInOrder() throws Exception {
    Context a = level(1);
    Context b = level(2);
    IllegalStateException boom = new IllegalStateException("innermost");
    // a, a, b, a, a (then throw): each exit must give back exactly the binding its entry found.
    CurrentContext.call(
        a,
        () -> {
          CurrentContext.run(
              a,
              () -> {
                try {
                  CurrentContext.call(
                      b,
                      () -> {
                        assertThrows(
                            IllegalStateException.class,
                            () ->
                                CurrentContext.run(
                                    a,
                                    () ->
                                        CurrentContext.run(
                                            a,
                                            () -> {
                                              assertSame(a, CurrentContext.get());
                                              throw boom;
                                            })));
                        assertSame(b, CurrentContext.get(), "b, not a, after the two inner a's");
                        return null;
                      });
                } catch (Exception e) {
                  throw new AssertionError(e);
                }
                assertSame(a, CurrentContext.get(), "a after b");
                assertTrue(CurrentContext.isBound());
              });
          // Leaving the inner a must not unbind the outer a (one "remove" too many would).
          assertTrue(CurrentContext.isBound(), "the outer a is still bound");
          assertSame(a, CurrentContext.get());
          return null;
        });
    // Binding the background explicitly is a binding too, and is undone as any other.
    CurrentContext.run(
        Context.background(),
        () -> {
          assertTrue(CurrentContext.isBound());
          CurrentContext.run(a, () -> assertSame(a, CurrentContext.get()));
          assertTrue(CurrentContext.isBound(), "back to the explicit background binding");
          assertSame(Context.background(), CurrentContext.get());
        });
  }

  /**
   * Recurses, binding a fresh context per level, until the stack overflows; each level catches the
   * overflow on its way out and records what get() says there (if it can without overflowing
   * again). Started at many stack offsets so that the overflow lands at many points of the binding
   * code, entry and exit alike.
   */
  @Test
  void aStackOverflowDeepInsideNestedBindingsLeavesEveryLevelRestored() throws Exception {
    int maxLevels = 50_000;
    Context[] ctx = new Context[maxLevels];
    for (int i = 0; i < maxLevels; i++) {
      ctx[i] = level(i);
    }
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicInteger trials = new AtomicInteger();
    AtomicInteger deepest = new AtomicInteger();
    AtomicInteger checkedLevels = new AtomicInteger();
    Thread t =
        new Thread(
            null,
            () -> {
              try {
                for (int offset = 0; offset < 48; offset++) {
                  for (int mode = 0; mode < 3; mode++) {
                    Overflow o = new Overflow(ctx, mode);
                    padThenDive(offset, o);
                    assertTrue(o.overflowed, "the stack overflowed");
                    assertFalse(
                        CurrentContext.isBound(), "offset " + offset + " mode " + mode + ": bound");
                    assertSame(Context.background(), CurrentContext.get());
                    int checked = 0;
                    for (int i = 0; i < o.reached; i++) {
                      if (o.seen[i] != null) {
                        checked++;
                        assertSame(
                            ctx[i],
                            o.seen[i],
                            "offset " + offset + " mode " + mode + ": level " + i + " of "
                                + o.reached + " saw another level's context after the overflow");
                      }
                    }
                    assertTrue(checked > 0);
                    checkedLevels.addAndGet(checked);
                    deepest.accumulateAndGet(o.reached, Math::max);
                    // The thread binds normally afterwards.
                    assertEquals(
                        7, CurrentContext.call(ctx[7], () -> CurrentContext.get().value(LEVEL)));
                    trials.incrementAndGet();
                  }
                }
              } catch (Throwable e) {
                failure.set(e);
              }
            },
            "overflow",
            256 * 1024);
    t.start();
    t.join(TimeUnit.SECONDS.toMillis(100));
    assertFalse(t.isAlive(), "the overflow thread did not finish");
    if (failure.get() != null) {
      throw new AssertionError(failure.get());
    }
    assertEquals(48 * 3, trials.get());
    assertTrue(deepest.get() > 50, "levels reached: " + deepest.get());
    assertTrue(checkedLevels.get() > 48 * 3 * 50, "levels checked: " + checkedLevels.get());
  }

  private static final class Overflow {
    final Context[] ctx;
    final Context[] seen;
    final int mode; // 0: run only, 1: call only, 2: alternate
    int reached;
    boolean overflowed;

    Overflow(Context[] ctx, int mode) {
      this.ctx = ctx;
      this.seen = new Context[ctx.length];
      this.mode = mode;
    }
  }

  private static void padThenDive(int pad, Overflow o) {
    if (pad > 0) {
      padThenDive(pad - 1, o);
      return;
    }
    try {
      dive(0, o);
    } catch (StackOverflowError e) {
      o.overflowed = true;
    }
  }

  /**
   * Frames between a level's catch and the next level's binding: they give a catching level room
   * to call get() where the binding code below it had none left, so that a restore that itself
   * overflowed is seen from the level above.
   */
  private static void dive(int level, Overflow o) {
    room(8, level, o);
  }

  private static void room(int frames, int level, Overflow o) {
    if (frames > 0) {
      room(frames - 1, level, o);
      return;
    }
    bindAndDive(level, o);
  }

  private static void bindAndDive(int level, Overflow o) {
    if (level >= o.ctx.length) {
      fail("no overflow after " + level + " levels");
    }
    Context mine = o.ctx[level];
    Runnable body =
        () -> {
          o.reached = Math.max(o.reached, level + 1);
          try {
            dive(level + 1, o);
          } catch (StackOverflowError e) {
            try {
              o.seen[level] = CurrentContext.get();
            } catch (StackOverflowError again) {
              // too close to the limit to look: this level stays unchecked
            }
            throw e;
          }
        };
    boolean useCall = o.mode == 1 || (o.mode == 2 && level % 2 == 1);
    if (useCall) {
      try {
        CurrentContext.call(
            mine,
            () -> {
              body.run();
              return null;
            });
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    } else {
      CurrentContext.run(mine, body);
    }
  }

  @Test
  void twentyThousandNestedBindingsUnwindInOrder() throws Exception {
    int depth = 20_000;
    Context[] ctx = new Context[depth];
    for (int i = 0; i < depth; i++) {
      ctx[i] = level(i);
    }
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicInteger checks = new AtomicInteger();
    Thread t =
        new Thread(
            null,
            () -> {
              try {
                deep(0, ctx, checks);
                assertFalse(CurrentContext.isBound());
              } catch (Throwable e) {
                failure.set(e);
              }
            },
            "deep",
            512L * 1024 * 1024);
    t.start();
    t.join(TimeUnit.SECONDS.toMillis(100));
    assertFalse(t.isAlive());
    if (failure.get() != null) {
      throw new AssertionError(failure.get());
    }
    assertEquals(2 * depth, checks.get());
  }

  private static void deep(int level, Context[] ctx, AtomicInteger checks) {
    if (level == ctx.length) {
      return;
    }
    CurrentContext.run(
        ctx[level],
        () -> {
          assertSame(ctx[level], CurrentContext.get());
          checks.incrementAndGet();
          deep(level + 1, ctx, checks);
          assertEquals(level, CurrentContext.get().value(LEVEL));
          checks.incrementAndGet();
        });
  }

  @Test
  void interruptStatusIsNeitherSetNorClearedByABinding() {
    Context a = level(1);
    Thread.currentThread().interrupt();
    CurrentContext.run(a, () -> assertTrue(Thread.currentThread().isInterrupted(), "seen inside"));
    assertTrue(Thread.interrupted(), "kept after a normal return (and cleared here)");
    CurrentContext.run(a, () -> Thread.currentThread().interrupt());
    assertTrue(Thread.interrupted(), "set inside, kept after");
    Thread.currentThread().interrupt();
    assertThrows(
        IllegalStateException.class,
        () ->
            CurrentContext.run(
                a,
                () -> {
                  assertTrue(Thread.interrupted(), "cleared inside");
                  throw new IllegalStateException();
                }));
    assertFalse(Thread.currentThread().isInterrupted(), "a clear inside is not undone");
  }

  /** A custom Context (the API allows them) every method of which throws, equals and hashCode too. */
  private static final class HostileContext implements Context {
    final AtomicInteger asked = new AtomicInteger();

    private RuntimeException no() {
      asked.incrementAndGet();
      return new UnsupportedOperationException("hostile");
    }

    @Override
    public ContextException err() {
      throw no();
    }

    @Override
    public Optional<Instant> deadline() {
      throw no();
    }

    @Override
    public <T> T value(Key<T> key) {
      throw no();
    }

    @Override
    public Registration onDone(Runnable callback) {
      throw no();
    }

    @Override
    public boolean equals(Object o) {
      throw no();
    }

    @Override
    public int hashCode() {
      throw no();
    }

    @Override
    public String toString() {
      throw no();
    }
  }

  @Test
  void aContextWhoseEveryMethodThrowsIsBoundAndUnboundAsAnyOther() throws Exception {
    HostileContext hostile = new HostileContext();
    Context a = level(1);
    CurrentContext.run(
        a,
        () -> {
          try {
            CurrentContext.call(
                hostile,
                () -> {
                  assertTrue(CurrentContext.get() == hostile);
                  CurrentContext.run(a, () -> assertTrue(CurrentContext.get() == a));
                  assertTrue(CurrentContext.get() == hostile, "restored to the hostile context");
                  throw new IOException("out");
                });
            fail("the body threw");
          } catch (IOException expected) {
            assertTrue(CurrentContext.get() == a, "restored past the hostile context");
          } catch (Exception e) {
            throw new AssertionError(e);
          }
        });
    // Handed to another thread by wrap: it is the very object there, and nothing else.
    Runnable[] wrapped = new Runnable[1];
    AtomicReference<Context> seen = new AtomicReference<>();
    CurrentContext.run(hostile, () -> wrapped[0] = CurrentContext.wrap(() -> seen.set(CurrentContext.get())));
    Thread t = new Thread(wrapped[0]);
    t.start();
    t.join(10_000);
    assertTrue(seen.get() == hostile);
    assertEquals(0, hostile.asked.get(), "the binding never needs to ask a context anything");
  }

  // ------------------------------------------------------- (c) no other thread's, no finished call's

  @Test
  void twoThreadsBindingInLockstepNeverSeeEachOthersContexts() throws Exception {
    int rounds = 2_000;
    CyclicBarrier barrier = new CyclicBarrier(2);
    Queue<String> wrong = new ConcurrentLinkedQueue<>();
    ExecutorService other = Executors.newSingleThreadExecutor();
    try {
      Future<?> theirs = other.submit(() -> lockstep(1, rounds, barrier, wrong));
      lockstep(0, rounds, barrier, wrong);
      theirs.get(60, TimeUnit.SECONDS);
      assertTrue(wrong.isEmpty(), String.valueOf(wrong));
      assertFalse(other.submit(CurrentContext::isBound).get(10, TimeUnit.SECONDS));
    } finally {
      other.shutdownNow();
    }
  }

  private static Void lockstep(int side, int rounds, CyclicBarrier barrier, Queue<String> wrong)
      throws Exception {
    for (int r = 0; r < rounds; r++) {
      Context outer = Context.withValue(level(side), PAYLOAD, "outer-" + side + "-" + r);
      Context inner = Context.withValue(level(side), PAYLOAD, "inner-" + side + "-" + r);
      int round = r;
      try {
        CurrentContext.call(
            outer,
            () -> {
              barrier.await(10, TimeUnit.SECONDS); // both bound now
              if (CurrentContext.get() != outer) {
                wrong.add(side + " round " + round + " outer: " + CurrentContext.get());
              }
              try {
                CurrentContext.call(
                    inner,
                    () -> {
                      barrier.await(10, TimeUnit.SECONDS);
                      if (CurrentContext.get() != inner) {
                        wrong.add(side + " round " + round + " inner: " + CurrentContext.get());
                      }
                      if (side == round % 2) {
                        throw new IllegalStateException("one side throws each round");
                      }
                      return null;
                    });
              } catch (IllegalStateException expected) {
                // restored below
              }
              barrier.await(10, TimeUnit.SECONDS); // one side has left its inner call
              if (CurrentContext.get() != outer) {
                wrong.add(side + " round " + round + " back: " + CurrentContext.get());
              }
              return null;
            });
      } finally {
        barrier.await(10, TimeUnit.SECONDS); // both unbound now
      }
      if (CurrentContext.isBound()) {
        wrong.add(side + " round " + round + ": still bound");
      }
    }
    return null;
  }

  @Test
  void aBodyThatBindsOnAnotherThreadAndWaitsForItChangesNothingOnEither() throws Exception {
    Context a = level(1);
    Context b = level(2);
    ExecutorService other = Executors.newSingleThreadExecutor();
    try {
      CurrentContext.call(
          a,
          () -> {
            // The other thread binds b while this one is inside a, then reads again outside b.
            Future<List<Object>> f =
                other.submit(
                    () -> {
                      List<Object> seen = new ArrayList<>();
                      seen.add(CurrentContext.isBound());
                      seen.add(CurrentContext.call(b, CurrentContext::get));
                      seen.add(CurrentContext.get());
                      return seen;
                    });
            List<Object> seen = f.get(10, TimeUnit.SECONDS);
            assertEquals(false, seen.get(0), "a is not visible on the other thread");
            assertSame(b, seen.get(1));
            assertSame(Context.background(), seen.get(2), "b is over on the other thread");
            assertSame(a, CurrentContext.get(), "b never reached this thread");
            // ...and the other way round: the other thread calls back here through a wrap.
            Callable<Context> back = CurrentContext.wrap(CurrentContext::get);
            assertSame(a, other.submit(back).get(10, TimeUnit.SECONDS));
            return null;
          });
      assertFalse(other.submit(CurrentContext::isBound).get(10, TimeUnit.SECONDS));
    } finally {
      other.shutdownNow();
    }
  }

  @Test
  void threadsStartedInsideACallSeeNothingWhileItRunsNorAfterItIsOver() throws Exception {
    Context a = level(1);
    List<Thread> threads = new ArrayList<>();
    CountDownLatch callOver = new CountDownLatch(1);
    List<CompletableFuture<Object[]>> during = new ArrayList<>();
    List<CompletableFuture<Object[]>> after = new ArrayList<>();
    AtomicReference<Supplier<Context>> lazy = new AtomicReference<>();
    CurrentContext.run(
        a,
        () -> {
          // Platform threads, and whatever Tasks' factory makes (virtual threads on JDK 21+).
          for (java.util.concurrent.ThreadFactory factory :
              List.of(Executors.defaultThreadFactory(), Tasks.threadFactory("adversarial"))) {
            CompletableFuture<Object[]> now = new CompletableFuture<>();
            CompletableFuture<Object[]> later = new CompletableFuture<>();
            during.add(now);
            after.add(later);
            Thread t =
                factory.newThread(
                    () -> {
                      now.complete(new Object[] {CurrentContext.isBound(), CurrentContext.get()});
                      try {
                        callOver.await();
                      } catch (InterruptedException e) {
                        later.completeExceptionally(e);
                        return;
                      }
                      later.complete(new Object[] {CurrentContext.isBound(), CurrentContext.get()});
                    });
            threads.add(t);
            t.start();
          }
          for (CompletableFuture<Object[]> f : during) {
            f.join(); // answered while the call is still on
          }
          lazy.set(CurrentContext::get); // not wrapped: evaluated after the call
        });
    callOver.countDown();
    for (Thread t : threads) {
      t.join(10_000);
    }
    for (List<CompletableFuture<Object[]>> fs : List.of(during, after)) {
      for (CompletableFuture<Object[]> f : fs) {
        Object[] seen = f.get(10, TimeUnit.SECONDS);
        assertEquals(false, seen[0]);
        assertSame(Context.background(), seen[1]);
      }
    }
    assertSame(Context.background(), lazy.get().get(), "a call that is over binds nothing");
  }

  @Test
  void aWrappedCallbackSeesItsCapturedContextNotTheCompletingThreadsBinding() throws Exception {
    Context ada = level(1);
    Context bob = level(2);
    CompletableFuture<String> source = new CompletableFuture<>();
    AtomicReference<Object[]> fromUnbound = new AtomicReference<>();
    AtomicReference<Object[]> fromBob = new AtomicReference<>();
    // Registered by a thread without a binding, and by one bound to bob...
    Thread registrar =
        new Thread(
            () ->
                source.thenRun(
                    CurrentContext.wrap(
                        () ->
                            fromUnbound.set(
                                new Object[] {CurrentContext.isBound(), CurrentContext.get()}))));
    registrar.start();
    registrar.join(10_000);
    CurrentContext.run(
        bob,
        () ->
            source.thenRun(
                CurrentContext.wrap(
                    () -> fromBob.set(new Object[] {CurrentContext.isBound(), CurrentContext.get()}))));
    // ...and run by this thread while it is bound to ada.
    CurrentContext.run(ada, () -> source.complete("done"));
    assertNotNull(fromUnbound.get());
    assertSame(
        Context.background(), fromUnbound.get()[1], "ada leaked into a callback captured unbound");
    assertSame(bob, fromBob.get()[1]);
  }

  // ----------------------------------------------------------------------- virtual threads

  /** The two ways to bind tested on virtual threads: this JDK's binding, and the ThreadLocal one. */
  private interface Binder {
    <T> T call(Context ctx, Callable<T> body) throws Exception;

    Context get();
  }

  private static final Binder CURRENT =
      new Binder() {
        @Override
        public <T> T call(Context ctx, Callable<T> body) throws Exception {
          return CurrentContext.call(ctx, body);
        }

        @Override
        public Context get() {
          return CurrentContext.get();
        }
      };

  @Test
  void manyVirtualThreadsKeepTheirOwnBindingAcrossUnmountsAndCarrierSwitches() throws Exception {
    assertEquals(Runtime.version().feature() >= 25 ? "ScopedValue" : "ThreadLocal", Binding.mechanism());
    crowd(CURRENT);
  }

  /**
   * JDK 21 to 24 run the base layer's ThreadLocal binding on virtual threads. On JDK 25 a copy of
   * that base-layer class is loaded here and driven by virtual threads, which nothing else tests.
   */
  @Test
  void theThreadLocalBindingOfJdk17To24HoldsOnVirtualThreadsToo() throws Throwable {
    ClassLoader loader = new BaseBindingLoader(BindingAdversarialTest.class.getClassLoader());
    Class<?> copy = loader.loadClass("io.ctx4j.concurrent.internal.Binding");
    assertNotSame(Binding.class, copy);
    MethodHandles.Lookup lookup = MethodHandles.publicLookup();
    assertEquals(
        "ThreadLocal",
        (String)
            lookup.findStatic(copy, "mechanism", MethodType.methodType(String.class)).invoke());
    MethodHandle call =
        lookup.findStatic(
            copy, "call", MethodType.methodType(Object.class, Context.class, Callable.class));
    MethodHandle get = lookup.findStatic(copy, "get", MethodType.methodType(Context.class));
    crowd(
        new Binder() {
          @Override
          @SuppressWarnings("unchecked")
          public <T> T call(Context ctx, Callable<T> body) throws Exception {
            try {
              return (T) call.invoke(ctx, body);
            } catch (Exception | Error e) {
              throw e;
            } catch (Throwable t) {
              throw new AssertionError(t);
            }
          }

          @Override
          public Context get() {
            try {
              Context c = (Context) get.invoke();
              return c == null ? Context.background() : c;
            } catch (Throwable t) {
              throw new AssertionError(t);
            }
          }
        });
  }

  /**
   * 64 threads from Tasks' factory (virtual on JDK 21+, on two carriers here) meet at a barrier
   * several times per round, inside nested bindings, so each one unmounts and comes back, often on
   * another carrier, while the others bind their own contexts.
   */
  private static void crowd(Binder binder) throws Exception {
    int n = 64;
    int rounds = 15;
    CyclicBarrier barrier = new CyclicBarrier(n);
    Queue<String> wrong = new ConcurrentLinkedQueue<>();
    CountDownLatch finished = new CountDownLatch(n);
    java.util.concurrent.ThreadFactory factory = Tasks.threadFactory("crowd");
    Context[][] mine = new Context[n][2];
    for (int i = 0; i < n; i++) {
      mine[i][0] = level(i);
      mine[i][1] = level(1000 + i);
    }
    for (int i = 0; i < n; i++) {
      int me = i;
      factory
          .newThread(
              () -> {
                try {
                  for (int r = 0; r < rounds; r++) {
                    int round = r;
                    binder.call(
                        mine[me][0],
                        () -> {
                          barrier.await(30, TimeUnit.SECONDS);
                          if (binder.get() != mine[me][0]) {
                            wrong.add(me + "/" + round + " outer: " + binder.get());
                          }
                          try {
                            binder.call(
                                mine[me][1],
                                () -> {
                                  barrier.await(30, TimeUnit.SECONDS);
                                  if (binder.get() != mine[me][1]) {
                                    wrong.add(me + "/" + round + " inner: " + binder.get());
                                  }
                                  if ((me + round) % 3 == 0) {
                                    throw new IOException("some throw");
                                  }
                                  return null;
                                });
                          } catch (IOException expected) {
                            // restored below
                          }
                          barrier.await(30, TimeUnit.SECONDS);
                          if (binder.get() != mine[me][0]) {
                            wrong.add(me + "/" + round + " back: " + binder.get());
                          }
                          return null;
                        });
                    if (binder.get() != Context.background()) {
                      wrong.add(me + "/" + round + " after: " + binder.get());
                    }
                  }
                } catch (Throwable t) {
                  wrong.add(me + ": " + t);
                  barrier.reset();
                } finally {
                  finished.countDown();
                }
              })
          .start();
    }
    assertTrue(finished.await(100, TimeUnit.SECONDS), "the crowd did not finish");
    assertTrue(wrong.isEmpty(), String.valueOf(wrong));
  }

  /** Child-first for Binding (and its nested classes), read from the base layer; the rest from the parent. */
  private static final class BaseBindingLoader extends ClassLoader {
    BaseBindingLoader(ClassLoader parent) {
      super(parent);
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
      if (!name.equals("io.ctx4j.concurrent.internal.Binding")
          && !name.startsWith("io.ctx4j.concurrent.internal.Binding$")) {
        return super.loadClass(name, resolve);
      }
      synchronized (getClassLoadingLock(name)) {
        Class<?> c = findLoadedClass(name);
        if (c == null) {
          try {
            byte[] bytes = CopiedClasses.read(
                    CopiedClasses.codeSource(CurrentContext.class), name, JarFile.baseVersion());
            c = defineClass(name, bytes, 0, bytes.length);
          } catch (Exception e) {
            throw new ClassNotFoundException(name, e);
          }
        }
        return c;
      }
    }
  }

  // ------------------------------------------------ (b) nothing kept by a pooled thread

  /**
   * A container's pooled thread: runs what it is given, swallows what it throws, and lives on. Each
   * task runs in a frame of its own that is gone before the thread says it is done, so nothing of
   * the task stays in the worker's own frames.
   */
  private static final class PooledThread implements AutoCloseable {
    private final BlockingQueue<Runnable> tasks = new LinkedBlockingQueue<>();
    private final Semaphore done = new Semaphore(0);
    private final Thread thread;

    PooledThread() {
      thread =
          new Thread(
              () -> {
                try {
                  while (runOne(tasks)) {
                    done.release();
                  }
                } catch (InterruptedException e) {
                  // closed
                }
              },
              "pooled");
      thread.setDaemon(true);
      thread.start();
    }

    private static boolean runOne(BlockingQueue<Runnable> tasks) throws InterruptedException {
      Runnable r = tasks.take();
      try {
        r.run();
      } catch (Throwable ignored) {
        // a container logs and goes on
      }
      return true;
    }

    void runAndWait(Runnable task) throws InterruptedException {
      tasks.add(task);
      assertTrue(done.tryAcquire(30, TimeUnit.SECONDS), "the pooled thread did not finish");
    }

    void runAndWaitUnchecked(Runnable task) {
      try {
        runAndWait(task);
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
    }

    boolean isBoundThere() throws Exception {
      CompletableFuture<Boolean> bound = new CompletableFuture<>();
      runAndWait(() -> bound.complete(CurrentContext.isBound()));
      return bound.get();
    }

    @Override
    public void close() throws InterruptedException {
      thread.interrupt();
      thread.join(10_000);
    }
  }

  private static void collect(List<? extends WeakReference<?>> refs) {
    for (int i = 0; i < 20 && refs.stream().anyMatch(r -> r.get() != null); i++) {
      System.gc();
    }
  }

  @Test
  void aPooledThreadKeepsNoContextValueOrCancelTreeAfterTasksThatRebindAndThrow() throws Exception {
    try (PooledThread pooled = new PooledThread()) {
      List<WeakReference<Object>> refs = new ArrayList<>();
      for (Kind kind : Kind.values()) {
        feed(pooled, kind, refs);
      }
      assertFalse(pooled.isBoundThere());
      collect(refs);
      for (int i = 0; i < refs.size(); i++) {
        assertNull(refs.get(i).get(), "object " + i + " is still reachable from the pooled thread");
      }
      assertEquals(Kind.values().length * 4, refs.size());
    }
  }

  /**
   * Runs on the pooled thread: binds a context with a value over a cancel tree, wraps a task
   * captured there, rebinds inside and throws {@code kind} from the innermost level.
   */
  private static void feed(PooledThread pooled, Kind kind, List<WeakReference<Object>> refs)
      throws Exception {
    Object payload = new Object();
    CancelableContext root = Context.withCancel(Context.background());
    CancelableContext child = Context.withCancel(root);
    Context outer = Context.withValue(child, PAYLOAD, payload);
    Context inner = Context.withValue(Context.withCancel(outer), LEVEL, 1);
    Throwable thrown = kind.make.get();
    refs.add(new WeakReference<>(payload));
    refs.add(new WeakReference<>(root));
    refs.add(new WeakReference<>(outer));
    refs.add(new WeakReference<>(inner));
    CompletableFuture<Boolean> sawThem = new CompletableFuture<>();
    Runnable wrapped =
        CurrentContext.call(
            outer,
            () ->
                CurrentContext.wrap(
                    (Runnable)
                        () -> {
                          boolean ok = CurrentContext.get() == outer;
                          CurrentContext.run(
                              inner,
                              () -> {
                                sawThem.complete(ok && CurrentContext.get().value(PAYLOAD) == payload);
                                Sneaky.<RuntimeException>rethrow(thrown);
                              });
                        }));
    pooled.runAndWait(wrapped);
    assertTrue(sawThem.get(), kind + ": the task saw its contexts");
  }

  @Test
  void aContextExecutorServiceWorkerKeepsNothingAfterATaskThatRebindsAndThrowsAnError()
      throws Exception {
    try (ContextExecutorService service =
        ContextExecutorService.wrap(Executors.newSingleThreadExecutor())) {
      List<WeakReference<Object>> refs = new ArrayList<>();
      for (Kind kind : Kind.values()) {
        submitOne(service, kind, refs);
      }
      assertFalse(service.delegate().submit(CurrentContext::isBound).get(10, TimeUnit.SECONDS));
      collect(refs);
      for (int i = 0; i < refs.size(); i++) {
        assertNull(refs.get(i).get(), "object " + i + " is still reachable from the worker");
      }
    }
  }

  /** One task, in a frame of its own so that nothing of it stays in the test's frame. */
  private static void submitOne(
      ContextExecutorService service, Kind kind, List<WeakReference<Object>> refs) throws Exception {
    Object payload = new Object();
    CancelableContext parent = Context.withCancel(Context.background());
    Context ctx = Context.withValue(parent, PAYLOAD, payload);
    refs.add(new WeakReference<>(payload));
    refs.add(new WeakReference<>(parent));
    refs.add(new WeakReference<>(ctx));
    Throwable thrown = kind.make.get();
    CompletableFuture<Object> f =
        service.submit(
            ctx,
            () ->
                CurrentContext.call(
                    Context.withValue(CurrentContext.get(), LEVEL, 2),
                    () -> {
                      assertSame(payload, CurrentContext.get().value(PAYLOAD));
                      Sneaky.<RuntimeException>rethrow(thrown);
                      return null;
                    }));
    Throwable failure =
        assertThrows(
                java.util.concurrent.ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS))
            .getCause();
    assertSame(thrown, failure, kind.toString());
    assertEquals(
        0, CoreInternals.registrationCount(parent), kind + ": the task let go of its parent");
  }

  /**
   * ClassLoaderLeakTest checks the base layer, with a body that does nothing. This loads ctx4j as
   * the running JDK sees the jar (the ScopedValue layer on 25), and the application's body reads the
   * binding (which fills ScopedValue's per-thread cache), nests and throws, on a pooled thread.
   */
  @Test
  void aPooledThreadKeepsNoClassLoaderOfTheLayerThisJdkRunsAfterCallsThatReadNestAndThrow()
      throws Exception {
    try (PooledThread pooled = new PooledThread()) {
      WeakReference<ClassLoader> app = deployBindAndUndeploy(pooled);
      collect(List.of(app));
      assertNull(app.get(), "the pooled thread keeps the undeployed application's class loader");
      assertFalse(pooled.isBoundThere());
    }
  }

  private static WeakReference<ClassLoader> deployBindAndUndeploy(PooledThread pooled)
      throws Exception {
    ClassLoader app =
        CopiedClasses.loaderOf(Runtime.version(), Context.class, CurrentContext.class);
    Class<?> contextType = app.loadClass("io.ctx4j.Context");
    Class<?> currentType = app.loadClass("io.ctx4j.concurrent.CurrentContext");
    Class<?> keyType = app.loadClass("io.ctx4j.Key");
    assertNotSame(Context.class, contextType);
    String expected = Runtime.version().feature() >= 25 ? "ScopedValue" : "ThreadLocal";
    assertEquals(
        expected,
        app.loadClass("io.ctx4j.concurrent.internal.Binding").getMethod("mechanism").invoke(null));
    Method background = contextType.getMethod("background");
    Method withValue = contextType.getMethod("withValue", contextType, keyType, Object.class);
    Method withCancel = contextType.getMethod("withCancel", contextType);
    Method call = currentType.getMethod("call", contextType, Callable.class);
    Method get = currentType.getMethod("get");
    Object key = keyType.getMethod("named", String.class).invoke(null, "k");
    Object outer = withValue.invoke(null, withCancel.invoke(null, background.invoke(null)), key, "v");
    Object inner = withValue.invoke(null, outer, key, "w");
    AtomicReference<String> seen = new AtomicReference<>();
    pooled.runAndWait(
        () -> {
          try {
            call.invoke(
                null,
                outer,
                (Callable<Object>)
                    () -> {
                      Object o = get.invoke(null);
                      call.invoke(
                          null,
                          inner,
                          (Callable<Object>)
                              () -> {
                                seen.set(
                                    (o == outer) + " " + (get.invoke(null) == inner));
                                throw new IOException("application failure");
                              });
                      return null;
                    });
          } catch (IllegalAccessException | InvocationTargetException e) {
            Throwable root = e;
            while (root instanceof InvocationTargetException) {
              root = root.getCause();
            }
            seen.set(seen.get() + " threw " + root.getClass().getSimpleName());
          }
        });
    assertEquals("true true threw IOException", seen.get());
    return new WeakReference<>(app);
  }

  // ------------------------------------------------ executor decorators and rejected tasks

  @Test
  void aWrappedExecutorThatRejectsOrRunsInTheCallerLeavesTheCallersBindingAsItWas()
      throws Exception {
    Context a = level(1);
    Context b = level(2);
    // Rejecting outright.
    java.util.concurrent.Executor rejecting =
        r -> {
          throw new RejectedExecutionException("full");
        };
    CurrentContext.run(
        a,
        () -> {
          assertThrows(
              RejectedExecutionException.class,
              () -> CurrentContext.wrap(rejecting).execute(() -> fail("never runs")));
          assertSame(a, CurrentContext.get());
        });
    // A saturated pool that runs rejected tasks in the caller; the task rebinds and throws.
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch busy = new CountDownLatch(1);
    ThreadPoolExecutor pool =
        new ThreadPoolExecutor(
            1, 1, 1, TimeUnit.MINUTES, new SynchronousQueue<>(), new ThreadPoolExecutor.CallerRunsPolicy());
    try {
      pool.execute(
          () -> {
            busy.countDown();
            try {
              release.await();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          });
      assertTrue(busy.await(10, TimeUnit.SECONDS));
      java.util.concurrent.Executor carrying = CurrentContext.wrap(pool);
      Thread caller = Thread.currentThread();
      AtomicReference<Context> sawOnEntry = new AtomicReference<>();
      CurrentContext.run(
          a,
          () -> {
            IllegalStateException e =
                assertThrows(
                    IllegalStateException.class,
                    () ->
                        carrying.execute(
                            () -> {
                              assertSame(caller, Thread.currentThread(), "run by the caller");
                              sawOnEntry.set(CurrentContext.get());
                              CurrentContext.run(
                                  b,
                                  () -> {
                                    throw new IllegalStateException("rebound and threw");
                                  });
                            }));
            assertEquals("rebound and threw", e.getMessage());
            assertSame(a, CurrentContext.get(), "the caller's own binding is back");
          });
      assertSame(a, sawOnEntry.get());
      // The same, from an unbound caller: the task sees the background, and leaves nothing.
      assertThrows(
          IllegalStateException.class,
          () ->
              carrying.execute(
                  () -> CurrentContext.run(b, () -> {
                    throw new IllegalStateException();
                  })));
    } finally {
      release.countDown();
      pool.shutdown();
      assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
    }
  }

  /** Counts tasks that reach {@code execute}, then fails it with whatever it is told to throw. */
  private static final class RefusingService extends IgnoringLifecycle {
    private final Supplier<Throwable> refusal;

    RefusingService(Supplier<Throwable> refusal) {
      this.refusal = refusal;
    }

    @Override
    public void execute(Runnable command) {
      Sneaky.<RuntimeException>rethrow(refusal.get());
    }
  }

  /**
   * A task that an executor refuses never runs, so nothing of it may stay on the cancel tree of the
   * caller's context: the refusal is whatever the executor throws, an unchecked exception, an error,
   * or a checked exception thrown sneakily (as an executor written in Kotlin, or one that rethrows a
   * thread factory's failure, may). Submitted explicitly with a context and implicitly (execute,
   * under the current context), from a caller that keeps its binding.
   */
  @Test
  void aRefusedTaskLeavesNothingOnTheCallersCancelTree() throws Exception {
    List<Supplier<Throwable>> refusals =
        List.of(
            () -> new RejectedExecutionException("shut down"),
            () -> new OutOfMemoryError("unable to create native thread (simulated)"),
            () -> new IOException("sneaky: the executor's transport failed"));
    List<String> leaks = new ArrayList<>();
    for (Supplier<Throwable> refusal : refusals) {
      String what = refusal.get().toString();
      CancelableContext parent = Context.withCancel(Context.background());
      ContextExecutorService service = ContextExecutorService.wrap(new RefusingService(refusal));
      Throwable viaSubmit =
          assertThrows(Throwable.class, () -> service.submit(parent, () -> "never"));
      assertEquals(refusal.get().getClass(), viaSubmit.getClass(), "the refusal goes out as is");
      if (CoreInternals.registrationCount(parent) != 0) {
        leaks.add(what + ": submit(ctx, task) left the refused task on the parent's cancel tree");
      }
      CancelableContext current = Context.withCancel(Context.background());
      CurrentContext.run(
          current,
          () -> {
            Throwable viaExecute =
                assertThrows(Throwable.class, () -> service.execute(() -> fail("never runs")));
            assertEquals(refusal.get().getClass(), viaExecute.getClass());
            assertSame(current, CurrentContext.get());
          });
      if (CoreInternals.registrationCount(current) != 0) {
        leaks.add(what + ": execute(task) left the refused task on the current context's tree");
      }
      parent.cancel();
      current.cancel();
    }
    assertTrue(leaks.isEmpty(), String.join("\n", leaks));
  }

  @Test
  void aTaskQueuedBehindARebindingThrowingTaskOnTheSameWorkerSeesOnlyItsOwnContext()
      throws Exception {
    Context a = level(1);
    Context b = level(2);
    try (PooledThread pooled = new PooledThread()) {
      // A container's thread (it survives what its tasks throw, as a ThreadPoolExecutor's does not).
      java.util.concurrent.Executor carrying = CurrentContext.wrap(pooled::runAndWaitUnchecked);
      AtomicReference<Context> sawA = new AtomicReference<>();
      CurrentContext.run(
          a,
          () ->
              carrying.execute(
                  () -> {
                    sawA.set(CurrentContext.get());
                    CurrentContext.run(
                        b,
                        () -> {
                          throw new LinkageError("thrown with b bound over a");
                        });
                  }));
      assertSame(a, sawA.get());
      AtomicReference<Object> plain = new AtomicReference<>();
      pooled.runAndWait(() -> plain.set(CurrentContext.isBound()));
      assertEquals(false, plain.get(), "the worker kept a or b after the task that threw");
      AtomicReference<Object> wrapped = new AtomicReference<>();
      carrying.execute(() -> wrapped.set(CurrentContext.get()));
      assertSame(Context.background(), wrapped.get());
    }
  }
}
