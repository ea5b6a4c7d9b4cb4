package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Key;
import io.ctx4j.Registration;
import io.ctx4j.internal.CoreInternals;
import java.io.IOException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Hostile use of the helpers other than the current-context binding (which BindingAdversarialTest
 * covers): futures cancelled by the context a helper waits on, futures completed by their rarely
 * used methods, task bodies throwing cancellations of their own, executors that run a task twice or
 * throw after accepting it, a custom context whose registration fails to stop, and many calls on
 * one long-lived context.
 */
@Timeout(120)
class HostileUseTest {
  @AfterEach
  void noInterruptLeft() {
    assertFalse(Thread.interrupted(), "a stray interrupt was left on the test thread");
  }

  // ---------------------------------------------------------------------- Blocking: done wins

  /**
   * {@code cancelWhenDone(ctx, f); Blocking.get(ctx, f)}: the context's end cancels the future the
   * helper waits on. Deterministic form: the context ends inside {@code get()}, so the wait wakes to
   * a cancelled future, not to the interrupt.
   */
  @Test
  void getOfAFutureTheContextCancelledThrowsTheContextError() {
    CancelableContext ctx = Context.withCancel(Context.background());
    FutureTask<String> f =
        new FutureTask<>(() -> "never") {
          @Override
          public String get() throws InterruptedException, ExecutionException {
            ctx.cancel();
            return super.get();
          }
        };
    Futures.cancelWhenDone(ctx, f);
    assertThrows(CanceledException.class, () -> Blocking.get(ctx, f));
  }

  /** The same with a CompletableFuture, whose get() wraps the stored error on newer JDKs (25). */
  @Test
  void awaitOfAFutureTheContextCompletedThrowsTheContextErrorOnEveryJdk() {
    CancelableContext ctx = Context.withCancel(Context.background());
    CompletableFuture<String> f =
        new CompletableFuture<>() {
          @Override
          public String get() throws InterruptedException, ExecutionException {
            ctx.cancel();
            return super.get();
          }
        };
    Futures.cancelWhenDone(ctx, f);
    assertThrows(CanceledException.class, () -> Blocking.await(ctx, f));
  }

  // ---------------------------------------------------------------------- task futures

  /** obtrudeValue, obtrudeException and completeAsync complete a queued task without cancel(). */
  @Test
  void aQueuedTaskCompletedByARarelyUsedMethodLetsGoOfItsParent() throws Exception {
    List<Consumer<CompletableFuture<String>>> outside =
        List.of(
            f -> f.obtrudeValue("outside"),
            f -> f.obtrudeException(new IllegalStateException("outside")),
            f -> f.completeAsync(() -> "outside", Runnable::run));
    try (ContextExecutorService pool =
        ContextExecutorService.wrap(Executors.newSingleThreadExecutor())) {
      for (int i = 0; i < outside.size(); i++) {
        CancelableContext parent = Context.withCancel(Context.background());
        CountDownLatch release = new CountDownLatch(1);
        CompletableFuture<Object> blocker =
            pool.submit(
                Context.background(),
                () -> {
                  release.await();
                  return null;
                });
        CompletableFuture<String> f = pool.submit(parent, () -> "body");
        outside.get(i).accept(f);
        release.countDown();
        blocker.get(30, TimeUnit.SECONDS);
        pool.submit(Context.background(), () -> null).get(30, TimeUnit.SECONDS); // f was reached
        assertEquals(
            0, CoreInternals.registrationCount(parent), "case " + i + ": the task stayed on its parent");
      }
    }
  }

  /** As supplyAsync and a ThreadPoolExecutor's future report it: a failure, not a cancellation. */
  @Test
  void aCancellationThrownByTheBodyItselfIsAFailureNotACancelledTask() throws Exception {
    CancellationException mine = new CancellationException("the body's own");
    Callable<String> body =
        () -> {
          throw mine;
        };
    CompletableFuture<String> jdk =
        CompletableFuture.supplyAsync(
            () -> {
              throw mine;
            });
    assertSame(mine, assertThrows(ExecutionException.class, jdk::get).getCause());
    try (ContextExecutorService pool =
        ContextExecutorService.wrap(Executors.newSingleThreadExecutor())) {
      List<CompletableFuture<String>> futures =
          List.of(
              Tasks.start(Context.background(), body),
              pool.submit(Context.background(), body),
              pool.submit(body));
      for (CompletableFuture<String> f : futures) {
        assertSame(mine, assertThrows(ExecutionException.class, f::get).getCause());
        assertSame(
            mine,
            assertThrows(ExecutionException.class, () -> f.get(1, TimeUnit.MINUTES)).getCause());
        assertSame(mine, assertThrows(CompletionException.class, f::join).getCause());
        assertFalse(f.isCancelled(), "a task that failed passed for a cancelled one");
      }
    }
  }

  /**
   * Guard (passes on the code before it was written): executors that run the task twice, throw
   * after running or queueing it (unchecked, Error, checked thrown sneakily) leave nothing on the
   * task's parent, run the body once and leave no interrupt on the caller.
   */
  @Test
  void executorsThatMisbehaveLeaveNothingOnTheParent() throws Exception {
    ExecutorService worker = Executors.newSingleThreadExecutor();
    try {
      List<Executor> hostile =
          List.of(
              r -> {
                r.run();
                r.run();
              },
              r -> {
                worker.execute(r);
                worker.execute(r);
              },
              r -> {
                r.run();
                throw new RejectedExecutionException("after running");
              },
              r -> {
                worker.execute(r);
                throw new RejectedExecutionException("after queueing");
              },
              r -> {
                worker.execute(r);
                Sneaky.<RuntimeException>rethrow(new IOException("after queueing"));
              },
              r -> {
                throw new AssertionError("refused");
              });
      for (int i = 0; i < hostile.size(); i++) {
        CancelableContext parent = Context.withCancel(Context.background());
        CountDownLatch ran = new CountDownLatch(2);
        CompletableFuture<String> f = null;
        try {
          f =
              ContextTask.submit(
                  hostile.get(i),
                  parent,
                  () -> {
                    ran.countDown();
                    return "x";
                  });
        } catch (Throwable refused) {
          // the caller hears of it; the task must not stay behind
        }
        worker.submit(() -> null).get(30, TimeUnit.SECONDS); // whatever was queued has run
        assertEquals(0, CoreInternals.registrationCount(parent), "case " + i + ": left on the parent");
        assertFalse(ran.getCount() == 0, "case " + i + ": the body ran twice");
        if (f != null) {
          assertEquals("x", f.get(30, TimeUnit.SECONDS), "case " + i);
        }
      }
    } finally {
      worker.shutdownNow();
    }
  }

  // ---------------------------------------------------------------------- Futures: a stage that refuses

  /** A CompletableFuture subclass whose whenComplete throws, as a broken override may. */
  private static final class RefusingFuture<T> extends CompletableFuture<T> {
    @Override
    public CompletableFuture<T> whenComplete(
        java.util.function.BiConsumer<? super T, ? super Throwable> action) {
      throw new IllegalStateException("whenComplete refused");
    }
  }

  /**
   * cancelWhenDone registers on the context, then asks the future to release it on completion; if
   * the future refuses, the caller gets the failure and no registration, so none may stay behind.
   */
  @Test
  void cancelWhenDoneOnAFutureThatRefusesACallbackLeavesNoRegistration() {
    CancelableContext ctx = Context.withCancel(Context.background());
    RefusingFuture<String> f = new RefusingFuture<>();
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> Futures.cancelWhenDone(ctx, f));
    assertEquals("whenComplete refused", e.getMessage());
    assertEquals(0, CoreInternals.registrationCount(ctx), "registration left on the context");
    ctx.cancel();
    assertFalse(f.isDone(), "a future the caller was told nothing about was cancelled");
  }

  /**
   * Guard (passes on the code before it was written: a child registers with its parent only when
   * first waited on): contextOf makes a child, then asks the stage to cancel it; if the stage
   * refuses, nothing stays on the parent.
   */
  @Test
  void contextOfAStageThatRefusesACallbackLeavesNoChild() {
    CancelableContext parent = Context.withCancel(Context.background());
    assertThrows(
        IllegalStateException.class, () -> Futures.contextOf(parent, new RefusingFuture<>()));
    assertEquals(0, CoreInternals.nodeCount(parent), "a child left on the parent");
    assertEquals(0, CoreInternals.registrationCount(parent), "registration left on the parent");
  }

  // ---------------------------------------------------------------------- InterruptScope

  /** A custom context whose registration cannot be withdrawn: stop() throws, the callback stays. */
  @Test
  void aScopeWhoseRegistrationFailsToStopNeverInterruptsAfterClose() {
    CancelableContext inner = Context.withCancel(Context.background());
    Context ctx =
        forwardingTo(
            inner,
            callback -> {
              inner.onDone(callback);
              return () -> {
                throw new IllegalStateException("stop failed");
              };
            });
    InterruptScope scope = InterruptScope.open(ctx);
    assertThrows(IllegalStateException.class, scope::close);
    inner.cancel();
    assertFalse(Thread.interrupted(), "the scope interrupted its thread after it was closed");
  }

  /**
   * A custom context whose onDone keeps the callback and then throws: open() fails, so the caller
   * has no scope to close, and the kept callback must not interrupt the thread later, when it has
   * moved on to other work.
   */
  @Test
  void aScopeWhoseOpenFailsNeverInterruptsTheThreadLater() {
    CancelableContext inner = Context.withCancel(Context.background());
    assertOpenFailsAndNeverInterruptsLater(
        inner, keepsTheCallbackThenThrows(inner), IllegalStateException.class, "onDone failed");
  }

  /**
   * open() on {@code ctx}, which keeps its callbacks on {@code inner}, fails with a {@code type}
   * whose message is {@code message}, and the end of {@code inner} does not interrupt the thread.
   */
  private static void assertOpenFailsAndNeverInterruptsLater(
      CancelableContext inner, Context ctx, Class<? extends Throwable> type, String message) {
    Throwable e = assertThrows(type, () -> InterruptScope.open(ctx));
    assertEquals(message, e.getMessage());
    inner.cancel();
    assertFalse(Thread.interrupted(), "a scope that failed to open interrupted its thread");
  }

  /**
   * The same context already done: the kept callback runs inside onDone, before it throws. The
   * interrupt it delivered belongs to a scope the caller never got, so open() clears it.
   */
  @Test
  void aScopeWhoseOpenFailsOnADoneContextLeavesNoInterrupt() {
    CancelableContext inner = Context.withCancel(Context.background());
    inner.cancel();
    Context ctx = keepsTheCallbackThenThrows(inner);
    assertThrows(IllegalStateException.class, () -> InterruptScope.open(ctx));
    assertFalse(Thread.interrupted(), "a scope that failed to open left its interrupt");
  }

  /** An interrupt the thread had before open() is not the scope's: a failed open leaves it. */
  @Test
  void aScopeWhoseOpenFailsKeepsAnInterruptThatWasThereBefore() {
    CancelableContext inner = Context.withCancel(Context.background());
    Context ctx = keepsTheCallbackThenThrows(inner);
    Thread.currentThread().interrupt();
    assertThrows(IllegalStateException.class, () -> InterruptScope.open(ctx));
    assertTrue(Thread.interrupted(), "the thread's own interrupt was cleared");
  }

  /**
   * A custom context whose onDone keeps the callback and returns null breaks its contract: open()
   * fails at once with the core's message (the scope would otherwise fail only at close(), with a
   * bare NullPointerException, after the work it guarded), and the kept callback never interrupts
   * the thread later.
   */
  @Test
  void aScopeOnAContextWhoseOnDoneReturnsNullFailsToOpenSayingSo() {
    CancelableContext inner = Context.withCancel(Context.background());
    Context ctx = keepsTheCallbackThenReturnsNull(inner);
    assertOpenFailsAndNeverInterruptsLater(
        inner, ctx, NullPointerException.class, nullRegistrationMessage(ctx));
  }

  /** The same for cancelWhenDone, which returned the null as the caller's registration. */
  @Test
  void cancelWhenDoneOnAContextWhoseOnDoneReturnsNullFailsSayingSo() {
    Context ctx = keepsTheCallbackThenReturnsNull(Context.withCancel(Context.background()));
    for (Future<?> f : List.of(new CompletableFuture<>(), new FutureTask<>(() -> null))) {
      NullPointerException e =
          assertThrows(NullPointerException.class, () -> Futures.cancelWhenDone(ctx, f));
      assertEquals(nullRegistrationMessage(ctx), e.getMessage(), f.getClass().getName());
    }
  }

  private static String nullRegistrationMessage(Context ctx) {
    return "onDone of " + ctx.getClass().getName() + " returned null instead of a Registration";
  }

  /** Registers the callback on {@code inner}, then returns null, as a broken onDone may. */
  private static Context keepsTheCallbackThenReturnsNull(CancelableContext inner) {
    return forwardingTo(
        inner,
        callback -> {
          inner.onDone(callback);
          return null;
        });
  }

  /** Registers the callback on {@code inner}, then throws, as a broken onDone may. */
  private static Context keepsTheCallbackThenThrows(CancelableContext inner) {
    return forwardingTo(
        inner,
        callback -> {
          inner.onDone(callback);
          throw new IllegalStateException("onDone failed");
        });
  }

  /** A context implemented outside ctx4j: {@code inner}'s state, with {@code onDone} replaced. */
  private static Context forwardingTo(
      Context inner, java.util.function.Function<Runnable, Registration> onDone) {
    return new Context() {
      @Override
      public ContextException err() {
        return inner.err();
      }

      @Override
      public Optional<Instant> deadline() {
        return inner.deadline();
      }

      @Override
      public <T> T value(Key<T> key) {
        return inner.value(key);
      }

      @Override
      public Registration onDone(Runnable callback) {
        return onDone.apply(callback);
      }
    };
  }

  // ---------------------------------------------------------------------- long-lived context

  /**
   * Guard (passes on the code before it was written): many calls of every helper on one long-lived
   * context, some of them failing with an Error, leave no registration on it.
   */
  @Test
  void manyCallsOnALongLivedContextLeaveNoRegistration() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    FutureTask<String> failing =
        new FutureTask<>(() -> "x") {
          @Override
          public String get() {
            throw new AssertionError("get");
          }
        };
    for (int i = 0; i < 100; i++) {
      CompletableFuture<String> cf = CompletableFuture.completedFuture("x");
      assertEquals("x", Blocking.get(ctx, cf));
      assertEquals("x", Blocking.await(ctx, cf));
      assertEquals("x", Blocking.await(ctx, cf.minimalCompletionStage()));
      assertThrows(AssertionError.class, () -> Blocking.get(ctx, failing));
      InterruptScope.open(ctx).close();
      CompletableFuture<String> pending = new CompletableFuture<>();
      Futures.cancelWhenDone(ctx, pending);
      pending.complete("y");
      assertThrows(
          AssertionError.class,
          () ->
              Closer.call(
                  ctx,
                  () -> {},
                  () -> {
                    throw new AssertionError("body");
                  }));
      Futures.contextOf(ctx, cf).cancel();
      assertEquals("t", Tasks.start(ctx, () -> "t").get(30, TimeUnit.SECONDS));
    }
    assertEquals(0, CoreInternals.registrationCount(ctx), "registrations left on the context");
  }
}
