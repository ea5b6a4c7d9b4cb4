package io.ctx4j.blackbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.Key;
import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The two errors: sentinels for comparison, fresh copies for throwing. */
class ErrorsTest {

  @Test
  void sentinelsCarryGosMessages() {
    assertEquals("context canceled", Context.CANCELED.getMessage());
    assertEquals("context deadline exceeded", Context.DEADLINE_EXCEEDED.getMessage());
    assertEquals(CanceledException.MESSAGE, Context.CANCELED.getMessage());
    assertEquals(DeadlineExceededException.MESSAGE, Context.DEADLINE_EXCEEDED.getMessage());
  }

  /** TestDeadlineExceededSupportsTimeout. */
  @Test
  void onlyDeadlineExceededIsATimeout() {
    assertTrue(Context.DEADLINE_EXCEEDED.isTimeout());
    assertFalse(Context.CANCELED.isTimeout());
    assertTrue(new DeadlineExceededException().isTimeout());
    assertFalse(new CanceledException().isTimeout());
  }

  @Test
  void sentinelsAreSharedCheapAndLocked() {
    assertSame(Context.CANCELED, Context.CANCELED.sentinel());
    assertSame(Context.DEADLINE_EXCEEDED, Context.DEADLINE_EXCEEDED.sentinel());
    assertSame(Context.CANCELED, new CanceledException().sentinel());
    assertSame(Context.DEADLINE_EXCEEDED, new DeadlineExceededException().sentinel());
    for (ContextException e : new ContextException[] {Context.CANCELED, Context.DEADLINE_EXCEEDED}) {
      assertInstanceOf(CancellationException.class, e);
      assertEquals(0, e.getStackTrace().length, "a sentinel is compared, never thrown: no stack trace");
      assertNull(e.getCause());
      assertThrows(IllegalStateException.class, () -> e.initCause(new Exception()), "shared: must not take a cause");
    }
  }

  @Test
  void publicConstructorsAttachTheCause() {
    Exception why = new Exception("why");
    assertSame(why, new CanceledException(why).getCause());
    assertSame(why, new DeadlineExceededException(why).getCause());
    assertNull(new CanceledException(null).getCause());
    assertTrue(new CanceledException().getStackTrace().length > 0);
  }

  /** Every way an error is thrown to the caller gives a fresh copy with a stack trace and the cause. */
  static Stream<Function<Context, Throwable>> throwers() {
    return Stream.of(
        ctx -> assertThrows(ContextException.class, ctx::throwIfDone),
        ctx -> assertThrows(ContextException.class, () -> ctx.await(new CompletableFuture<String>())),
        ctx -> ctx.toFuture().handle((v, e) -> e).join());
  }

  @ParameterizedTest
  @MethodSource("throwers")
  void thrownCopiesAreFreshOfTheSameClassAndCarryTheCause(Function<Context, Throwable> thrower) {
    Exception why = new Exception("why");
    CancelableContext canceled = Context.withCancel(Context.background());
    canceled.cancel(why);
    CancelableContext plain = Context.withCancel(Context.background());
    plain.cancel();
    Exception tooSlow = new Exception("too slow");
    CancelableContext expired = Context.withTimeoutCause(Context.background(), Duration.ZERO, tooSlow);
    CancelableContext expiredPlain = Context.withTimeout(Context.background(), Duration.ZERO);

    check(thrower.apply(canceled), CanceledException.class, why);
    check(thrower.apply(plain), CanceledException.class, null);
    check(thrower.apply(expired), DeadlineExceededException.class, tooSlow);
    check(thrower.apply(expiredPlain), DeadlineExceededException.class, null);
    check(thrower.apply(Context.withValue(canceled, Key.named("k"), 1)), CanceledException.class, why);
    check(thrower.apply(new Fixtures.Wrapper(expired)), DeadlineExceededException.class, tooSlow);
    Throwable first = thrower.apply(canceled);
    assertNotSame(first, thrower.apply(canceled), "each throw is a new instance");
  }

  private static void check(Throwable thrown, Class<?> type, Throwable cause) {
    assertEquals(type, thrown.getClass());
    assertNotSame(((ContextException) thrown).sentinel(), thrown, "the shared sentinel must never be thrown");
    assertTrue(thrown.getStackTrace().length > 0, "a thrown copy has a stack trace");
    assertSame(cause, thrown.getCause());
  }
}
