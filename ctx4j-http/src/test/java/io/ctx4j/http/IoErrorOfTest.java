package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.http.internal.ClientFailures;
import io.ctx4j.testing.IoEnds;
import io.ctx4j.testing.LaggingClock;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
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

  /**
   * The clients pass on as is only an end made for their call's own context, not another context's
   * of the same shape (a user's interceptor's nested call, or its own wrapping of an err()).
   */
  @Test
  void isTheEndOfItsOwnContextOnlyForTheClients() {
    CancelableContext ctx = Context.withCancel(Context.background());
    CancelableContext other = Context.withCancel(Context.background());
    ctx.cancel();
    other.cancel();
    InterruptedIOException e = ContextHttp.ioErrorOf(ctx, null);
    assertTrue(ClientFailures.isEnd(ctx, e));
    assertFalse(ClientFailures.isEnd(other, e), "another context's end");
    InterruptedIOException shaped = new InterruptedIOException(ctx.err().getMessage());
    shaped.initCause(ctx.err());
    assertFalse(ClientFailures.isEnd(ctx, shaped), "not made by ctx4j");
    assertSame(e, ClientFailures.endedWith(ctx, e), "made once");
    InterruptedIOException mapped = ClientFailures.endedWith(ctx, ContextHttp.ioErrorOf(other, null));
    assertTrue(ClientFailures.isEnd(ctx, mapped));
    assertFalse(ClientFailures.isEnd(ctx, new IOException("plain")));
  }

  /** The test-support check the client modules' tests use: an end made twice, not another's. */
  @Test
  void ioEndsTellsAnEndMadeTwiceFromAnotherContextsEndSuppressedOnIt() {
    CancelableContext ctx = Context.withCancelCause(Context.background());
    CancelableContext other = Context.withCancelCause(Context.background());
    ctx.cancel(new IllegalStateException("this one"));
    other.cancel(new IllegalStateException("the other one"));
    IoEnds.assertMadeOnce(ContextHttp.ioErrorOf(ctx, new IOException("Socket closed")));
    IoEnds.assertMadeOnce(ContextHttp.ioErrorOf(ctx, ContextHttp.ioErrorOf(other, null)));
    AssertionError twice =
        assertThrows(
            AssertionError.class,
            () -> IoEnds.assertMadeOnce(ContextHttp.ioErrorOf(ctx, ContextHttp.ioErrorOf(ctx, null))));
    assertTrue(twice.getMessage().startsWith("the end was made twice"), twice.getMessage());
    InterruptedIOException shaped = new InterruptedIOException("gave up");
    shaped.initCause(ctx.err());
    assertThrows(AssertionError.class, () -> IoEnds.assertMadeOnce(shaped), "not made by ctx4j");
  }

  /** Serialized, it is a plain InterruptedIOException: the reader needs no ctx4j-http. */
  @Test
  void serializesAsAPlainInterruptedIOException() throws Exception {
    IllegalStateException why = new IllegalStateException("shutting down");
    CancelableContext ctx = Context.withCancelCause(Context.background());
    ctx.cancel(why);
    InterruptedIOException e = ContextHttp.ioErrorOf(ctx, new IOException("Socket closed"));
    e.bytesTransferred = 7;
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(e);
    }
    Object read;
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      read = in.readObject();
    }
    InterruptedIOException copy = assertInstanceOf(InterruptedIOException.class, read);
    assertEquals(InterruptedIOException.class, copy.getClass());
    assertEquals(e.getMessage(), copy.getMessage());
    assertEquals(7, copy.bytesTransferred);
    assertArrayEquals(e.getStackTrace(), copy.getStackTrace());
    CanceledException err = assertInstanceOf(CanceledException.class, copy.getCause());
    assertEquals("shutting down", err.getCause().getMessage());
    assertEquals(1, copy.getSuppressed().length);
    assertEquals("Socket closed", copy.getSuppressed()[0].getMessage());
    assertFalse(ClientFailures.isEnd(ctx, copy), "a copy is no call's end");
  }

  @Test
  void refusesAContextThatIsNotDone() {
    CancelableContext ctx = Context.withCancel(Context.background());
    assertThrows(IllegalStateException.class, () -> ContextHttp.ioErrorOf(ctx, null));
    assertThrows(NullPointerException.class, () -> ContextHttp.ioErrorOf(null, null));
    ctx.cancel();
  }
}
