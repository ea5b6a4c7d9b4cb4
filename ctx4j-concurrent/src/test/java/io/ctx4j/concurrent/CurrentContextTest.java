package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import io.ctx4j.Key;
import io.ctx4j.concurrent.internal.Binding;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** One suite for both bindings: ThreadLocal on 17 to 24, ScopedValue from the jar's 25 layer. */
class CurrentContextTest {
  private static final Key<String> USER = Key.of("user", String.class);
  private final Context ada = Context.withValue(Context.background(), USER, "ada");
  private final Context bob = Context.withValue(Context.background(), USER, "bob");

  @Test
  void theJarServesTheBindingOfTheRunningJdk() {
    String expected = Runtime.version().feature() >= 25 ? "ScopedValue" : "ThreadLocal";
    assertEquals(expected, Binding.mechanism());
  }

  @Test
  void unboundMeansBackground() {
    assertSame(Context.background(), CurrentContext.get());
    assertFalse(CurrentContext.isBound());
  }

  @Test
  void bindingsNestAndEndWithTheirScope() throws Exception {
    CurrentContext.run(
        ada,
        () -> {
          assertSame(ada, CurrentContext.get());
          assertTrue(CurrentContext.isBound());
          try {
            assertEquals("bob", CurrentContext.call(bob, () -> CurrentContext.get().value(USER)));
          } catch (Exception e) {
            throw new AssertionError(e);
          }
          assertSame(ada, CurrentContext.get());
        });
    assertSame(Context.background(), CurrentContext.get());
  }

  @Test
  void aThrowingBodyDoesNotLeakItsBinding() {
    IllegalStateException boom = new IllegalStateException("boom");
    assertSame(
        boom,
        assertThrows(
            IllegalStateException.class,
            () ->
                CurrentContext.run(
                    ada,
                    () -> {
                      throw boom;
                    })));
    Exception checked = new java.io.IOException("io");
    assertSame(
        checked,
        assertThrows(
            java.io.IOException.class,
            () ->
                CurrentContext.call(
                    ada,
                    () -> {
                      throw checked;
                    })));
    assertSame(Context.background(), CurrentContext.get());
  }

  @Test
  void otherThreadsDoNotSeeTheBindingUnlessTheTaskIsWrapped() throws Exception {
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Callable<String> read = () -> CurrentContext.get().value(USER);
      Callable<String> wrapped = CurrentContext.call(ada, () -> CurrentContext.wrap(read));
      assertEquals("ada", pool.submit(wrapped).get(10, TimeUnit.SECONDS));
      // The pool thread keeps nothing once the wrapped task is over.
      assertEquals(null, pool.submit(read).get(10, TimeUnit.SECONDS));

      Executor carrying = CurrentContext.wrap(pool);
      CompletableFuture<String> seen = new CompletableFuture<>();
      CurrentContext.run(bob, () -> carrying.execute(() -> seen.complete(CurrentContext.get().value(USER))));
      assertEquals("bob", seen.get(10, TimeUnit.SECONDS));
      assertFalse(pool.submit(CurrentContext::isBound).get(10, TimeUnit.SECONDS));
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void wrapCapturesAtWrapTimeNotAtRunTime() {
    Runnable[] task = new Runnable[1];
    String[] seen = new String[1];
    CurrentContext.run(ada, () -> task[0] = CurrentContext.wrap((Runnable) () -> seen[0] = CurrentContext.get().value(USER)));
    CurrentContext.run(bob, task[0]);
    assertEquals("ada", seen[0]);
  }

  @Test
  void badArgumentsAreNamed() {
    assertEquals(
        "ctx",
        assertThrows(NullPointerException.class, () -> CurrentContext.run(null, () -> {}))
            .getMessage());
    assertEquals(
        "body",
        assertThrows(NullPointerException.class, () -> CurrentContext.call(ada, null)).getMessage());
    assertEquals(
        "executor",
        assertThrows(NullPointerException.class, () -> CurrentContext.wrap((Executor) null))
            .getMessage());
  }

  @Test
  void aSneakyCheckedExceptionPassesThroughRunAndWrapAsIs() {
    java.io.IOException io = new java.io.IOException("disk");
    Runnable sneaky = () -> Sneaky.<RuntimeException>rethrow(io);
    Throwable fromRun = org.junit.jupiter.api.Assertions.assertThrows(Throwable.class, () -> CurrentContext.run(ada, sneaky));
    assertSame(io, fromRun);
    Throwable fromWrap =
        org.junit.jupiter.api.Assertions.assertThrows(
            Throwable.class, () -> CurrentContext.call(ada, () -> CurrentContext.wrap(sneaky)).run());
    assertSame(io, fromWrap);
    assertFalse(CurrentContext.isBound(), "the binding is undone");
  }
}
