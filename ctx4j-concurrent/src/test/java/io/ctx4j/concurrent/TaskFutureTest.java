package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every accessor of the futures that {@link Tasks} and {@link ContextExecutorService} return, on the
 * running JDK (the build runs this on 17 and on 25).
 */
@Timeout(120)
class TaskFutureTest {
  private static final ContextExecutorService POOL =
      ContextExecutorService.wrap(Executors.newFixedThreadPool(2));

  @AfterAll
  static void shutDown() throws Exception {
    POOL.shutdownNow();
    assertTrue(POOL.awaitTermination(30, TimeUnit.SECONDS));
  }

  private static <T> CompletableFuture<T> start(String how, Context ctx, java.util.concurrent.Callable<T> body) {
    return how.equals("tasks") ? Tasks.start(ctx, body) : POOL.submit(ctx, body);
  }

  /** A task whose context ended while it ran. */
  private static CompletableFuture<String> endedWhileRunning(String how) throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    CountDownLatch started = new CountDownLatch(1);
    CompletableFuture<String> f =
        start(
            how,
            ctx,
            () -> {
              started.countDown();
              new CountDownLatch(1).await();
              return "never";
            });
    assertTrue(started.await(30, TimeUnit.SECONDS));
    ctx.cancel(new IllegalStateException("request over"));
    return f;
  }

  private static void assertContextError(Throwable t) {
    assertSame(CanceledException.class, t.getClass(), () -> "unwrapped: got " + t);
    assertInstanceOf(IllegalStateException.class, t.getCause());
  }

  /** Calls a Future method added after JDK 17 (resultNow, exceptionNow, state) where it exists. */
  private static Object call(Future<?> f, String method) throws Throwable {
    Method m = Future.class.getMethod(method);
    try {
      return m.invoke(f);
    } catch (InvocationTargetException e) {
      throw e.getCause();
    }
  }

  private static boolean hasJdk19FutureMethods() {
    return Runtime.version().feature() >= 19;
  }

  @ParameterizedTest
  @ValueSource(strings = {"tasks", "pool"})
  void everyAccessorReportsTheContextErrorItselfOnEveryJdk(String how) throws Throwable {
    CompletableFuture<String> f = endedWhileRunning(how);
    assertContextError(assertThrows(CancellationException.class, f::get));
    assertContextError(assertThrows(CancellationException.class, () -> f.get(30, TimeUnit.SECONDS)));
    assertContextError(assertThrows(CancellationException.class, f::join));
    assertContextError(assertThrows(CancellationException.class, () -> f.getNow("absent")));
    assertTrue(f.isDone());
    assertTrue(f.isCancelled());
    assertTrue(f.isCompletedExceptionally());
    Throwable seen = f.handle((v, e) -> e).get(30, TimeUnit.SECONDS);
    assertContextError(seen);
    if (hasJdk19FutureMethods()) {
      assertEquals("CANCELLED", call(f, "state").toString());
      assertThrows(IllegalStateException.class, () -> call(f, "resultNow"));
      assertThrows(IllegalStateException.class, () -> call(f, "exceptionNow"));
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"tasks", "pool"})
  void aFailedOrSuccessfulTaskReportsAsACompletableFutureDoes(String how) throws Throwable {
    IllegalArgumentException boom = new IllegalArgumentException("boom");
    CompletableFuture<String> failed =
        start(
            how,
            Context.background(),
            () -> {
              throw boom;
            });
    assertSame(boom, assertThrows(ExecutionException.class, failed::get).getCause());
    assertSame(boom, assertThrows(CompletionException.class, failed::join).getCause());
    assertSame(boom, assertThrows(CompletionException.class, () -> failed.getNow("x")).getCause());
    assertFalse(failed.isCancelled());
    CompletableFuture<String> ok = start(how, Context.background(), () -> "v");
    assertEquals("v", ok.get(30, TimeUnit.SECONDS));
    assertEquals("v", ok.getNow("x"));
    assertEquals("v", ok.join());
    if (hasJdk19FutureMethods()) {
      assertEquals("FAILED", call(failed, "state").toString());
      assertSame(boom, call(failed, "exceptionNow"));
      assertEquals("SUCCESS", call(ok, "state").toString());
      assertEquals("v", call(ok, "resultNow"));
    }
  }

  /** A body that waits until interrupted, then returns "late". */
  private static java.util.concurrent.Callable<String> blocked(
      CountDownLatch started, CountDownLatch interrupted) {
    return () -> {
      started.countDown();
      try {
        new CountDownLatch(1).await();
      } catch (InterruptedException e) {
        interrupted.countDown();
      }
      return "late";
    };
  }

  @ParameterizedTest
  @ValueSource(strings = {"tasks", "pool"})
  void cancelWhenDoneStopsTheTaskItself(String how) throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch interrupted = new CountDownLatch(1);
    CompletableFuture<String> f = start(how, Context.background(), blocked(started, interrupted));
    assertTrue(started.await(30, TimeUnit.SECONDS));
    CancelableContext ctx = Context.withCancel(Context.background());
    Futures.cancelWhenDone(ctx, f);
    ctx.cancel();
    assertTrue(f.isCancelled());
    assertTrue(interrupted.await(30, TimeUnit.SECONDS), "the body kept running");
  }

  @ParameterizedTest
  @ValueSource(strings = {"tasks", "pool"})
  void completingTheFutureFromOutsideStopsTheTask(String how) throws Exception {
    for (Function<CompletableFuture<String>, Boolean> outside :
        java.util.List.<Function<CompletableFuture<String>, Boolean>>of(
            f -> f.complete("outside"),
            f -> f.completeExceptionally(new IllegalStateException("outside")))) {
      CountDownLatch started = new CountDownLatch(1);
      CountDownLatch interrupted = new CountDownLatch(1);
      CompletableFuture<String> f = start(how, Context.background(), blocked(started, interrupted));
      assertTrue(started.await(30, TimeUnit.SECONDS));
      assertTrue(outside.apply(f));
      assertTrue(interrupted.await(30, TimeUnit.SECONDS), "the body kept running");
      assertFalse(f.isCancelled() && f.isDone() && "late".equals(f.getNow(null)));
    }
  }

  @Test
  void getOnAnEndedTaskWinsOverAnInterruptAndKeepsIt() throws Exception {
    CompletableFuture<String> f = endedWhileRunning("pool");
    Thread.currentThread().interrupt();
    try {
      assertContextError(assertThrows(CancellationException.class, f::get));
      assertTrue(Thread.currentThread().isInterrupted(), "the interrupt is kept");
      assertContextError(assertThrows(CancellationException.class, () -> f.get(1, TimeUnit.SECONDS)));
      assertTrue(Thread.currentThread().isInterrupted(), "the interrupt is kept");
    } finally {
      Thread.interrupted();
    }
  }

  /**
   * Done wins over an interrupt in get(timeout), but never past the timeout: when the task's context
   * is done and the callback that completes its future is held up (another callback on the parent,
   * registered first, runs first and takes its time), an interrupted get(200 ms) waited for that
   * callback, however long it took, instead of timing out.
   */
  @Test
  void anInterruptedTimedGetNeverWaitsPastItsTimeoutForASlowContextCallback() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    CountDownLatch callbackMayReturn = new CountDownLatch(1);
    CountDownLatch inCallback = Stalls.endOf(ctx, callbackMayReturn);
    CountDownLatch started = new CountDownLatch(1);
    CompletableFuture<String> f = POOL.submit(ctx, blocked(started, new CountDownLatch(1)));
    assertTrue(started.await(30, TimeUnit.SECONDS));
    CompletableFuture<Void> cancelling = CompletableFuture.runAsync(ctx::cancel);
    try {
      assertTrue(inCallback.await(30, TimeUnit.SECONDS));
      assertFalse(f.isDone(), "the task's callback is held up behind the parent's");
      assertEquals(
          "TimeoutException, interrupted",
          Stalls.timedGet(f, 200, true),
          "get(200 ms) with the interrupt status set, the task's context done");
    } finally {
      callbackMayReturn.countDown();
    }
    cancelling.get(30, TimeUnit.SECONDS);
    assertThrows(CanceledException.class, () -> f.get(30, TimeUnit.SECONDS));
  }
}
