package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.testing.LaggingClock;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** ContextHttp.ioErrorOf: the exception of the client integrations that report IOException. */
class IoErrorOfTest {

  @Test
  void wrapsAFreshCopyOfTheContextsErrorWithItsCause() {
    IllegalStateException why = new IllegalStateException("shutting down");
    CancelableContext ctx = Context.withCancelCause(Context.background());
    ctx.cancel(why);
    IOException socketClosed = new IOException("Socket closed");
    InterruptedIOException e = ContextHttp.ioErrorOf(ctx, socketClosed);
    CanceledException err = assertInstanceOf(CanceledException.class, e.getCause());
    assertNotSame(Context.CANCELED, err, "a fresh copy, never the shared sentinel");
    assertSame(why, err.getCause());
    assertEquals(err.getMessage(), e.getMessage());
    assertArrayEquals(new Throwable[] {socketClosed}, e.getSuppressed());
    assertEquals(0, ContextHttp.ioErrorOf(ctx, null).getSuppressed().length);
  }

  @Test
  void aPassedDeadlineGivesDeadlineExceeded() {
    ManualTimeSource time = ManualTimeSource.startingAt(Instant.parse("2040-01-01T00:00:00Z"));
    CancelableContext ctx =
        Context.withTimeout(Context.withTimeSource(Context.background(), time), Duration.ofSeconds(1));
    time.advance(Duration.ofSeconds(2));
    assertInstanceOf(DeadlineExceededException.class, ContextHttp.ioErrorOf(ctx, null).getCause());
  }

  /** Before the timer has ended the context (a clock whose timers never fire holds it there). */
  @Test
  void aDeadlinePassedBeforeItsTimerGivesDeadlineExceededWithoutCause() {
    LaggingClock clock = new LaggingClock();
    CancelableContext ctx = clock.withTimeout(Duration.ofSeconds(1));
    clock.pass(Duration.ofSeconds(1));
    InterruptedIOException e = ContextHttp.ioErrorOf(ctx, null);
    DeadlineExceededException err = assertInstanceOf(DeadlineExceededException.class, e.getCause());
    assertNull(err.getCause(), "the context has no cause yet");
    assertNull(ctx.err(), "the clock fired the timer");
  }

  @Test
  void refusesAContextThatIsNotDone() {
    CancelableContext ctx = Context.withCancel(Context.background());
    assertThrows(IllegalStateException.class, () -> ContextHttp.ioErrorOf(ctx, null));
    assertThrows(NullPointerException.class, () -> ContextHttp.ioErrorOf(null, null));
    ctx.cancel();
  }
}
