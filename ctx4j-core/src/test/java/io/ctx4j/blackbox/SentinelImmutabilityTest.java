package io.ctx4j.blackbox;

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
import io.ctx4j.ContextException;
import io.ctx4j.DeadlineExceededException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.concurrent.CancellationException;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The two sentinels are shared by every context in the JVM, so no user code may change what another
 * context's {@code err()} returns (issue 14, item 1). Runs on JDK 17 and 25 alike: the sentinels'
 * locked state comes from {@code Throwable}'s serialized form, which both honour.
 */
class SentinelImmutabilityTest {

  static Stream<ContextException> sentinels() {
    return Stream.of(Context.CANCELED, Context.DEADLINE_EXCEEDED);
  }

  /**
   * The scenario: Go's {@code return ctx.Err()} written as {@code throw ctx.err()} inside a
   * try-with-resources whose {@code close()} fails. Three loops used to leave three suppressed
   * exceptions on the JVM-wide {@code Context.CANCELED}.
   */
  @Test
  void throwingErrFromTryWithResourcesWithAFailingCloseLeavesTheSentinelUnchanged() {
    CancelableContext ctx = Context.withCancel(Context.background());
    ctx.cancel();
    for (int i = 0; i < 3; i++) {
      CanceledException thrown =
          thrownWithAFailingClose(
              CanceledException.class,
              () -> {
                throw ctx.err();
              });
      assertSame(Context.CANCELED, thrown, "catch and == still see the sentinel");
    }
    assertEquals(0, Context.CANCELED.getSuppressed().length, "the shared sentinel collected suppressed exceptions");
  }

  @ParameterizedTest
  @MethodSource("sentinels")
  void addSuppressedIsANoOp(ContextException sentinel) {
    sentinel.addSuppressed(new IllegalStateException("from user code"));
    assertEquals(0, sentinel.getSuppressed().length);
  }

  @ParameterizedTest
  @MethodSource("sentinels")
  void setStackTraceAndFillInStackTraceAreNoOps(ContextException sentinel) {
    sentinel.setStackTrace(new StackTraceElement[] {new StackTraceElement("Evil", "run", "Evil.java", 1)});
    assertEquals(0, sentinel.getStackTrace().length, "setStackTrace changed the shared sentinel");
    assertSame(sentinel, sentinel.fillInStackTrace());
    assertEquals(0, sentinel.getStackTrace().length, "fillInStackTrace changed the shared sentinel");
  }

  @ParameterizedTest
  @MethodSource("sentinels")
  void initCauseThrowsAndLeavesNoCause(ContextException sentinel) {
    assertThrows(IllegalStateException.class, () -> sentinel.initCause(new Exception("cause")));
    assertThrows(IllegalStateException.class, () -> sentinel.initCause(null));
    assertNull(sentinel.getCause());
  }

  @ParameterizedTest
  @MethodSource("sentinels")
  void theSentinelsStayWhatTheyWere(ContextException sentinel) {
    assertInstanceOf(CancellationException.class, sentinel, "catch (CancellationException) must still work");
    assertSame(sentinel, sentinel.sentinel());
    assertEquals(0, sentinel.getStackTrace().length);
    assertNull(sentinel.getCause());
    assertEquals(
        sentinel.isTimeout() ? DeadlineExceededException.MESSAGE : CanceledException.MESSAGE,
        sentinel.getMessage());
  }

  @ParameterizedTest
  @MethodSource("sentinels")
  void aDeserializedSentinelIsTheCanonicalInstance(ContextException sentinel) throws Exception {
    assertSame(sentinel, roundTrip(sentinel), "== must survive serialization");
    ContextException[] pair = {Context.CANCELED, Context.DEADLINE_EXCEEDED};
    assertArrayEquals(pair, (Object[]) roundTrip(pair));
    assertSame(Context.CANCELED, ((ContextException[]) roundTrip(pair))[0]);
  }

  @Test
  void aDeserializedCopyIsAnOrdinaryException() throws Exception {
    Exception why = new Exception("why");
    ContextException copy = Context.CANCELED.copy(why);
    copy.addSuppressed(new IllegalStateException("suppressed"));
    ContextException back = (ContextException) roundTrip(copy);
    assertNotSame(Context.CANCELED, back);
    assertInstanceOf(CanceledException.class, back);
    assertEquals("why", back.getCause().getMessage());
    assertEquals(1, back.getSuppressed().length, "a fresh copy keeps its suppressed exceptions");
    assertEquals(copy.getStackTrace().length, back.getStackTrace().length);
    back.addSuppressed(new IllegalStateException("more"));
    assertEquals(2, back.getSuppressed().length, "and takes more: it is not shared");
  }

  /** Fresh copies, which are what ctx4j throws, remain ordinary mutable exceptions. */
  @Test
  void thrownCopiesStillCollectSuppressedExceptions() {
    CancelableContext ctx = Context.withCancel(Context.background());
    ctx.cancel();
    ContextException thrown = thrownWithAFailingClose(ContextException.class, ctx::throwIfDone);
    assertEquals(1, thrown.getSuppressed().length, "the close failure is kept on the fresh copy");
  }

  /**
   * Runs {@code body} inside a try-with-resources whose {@code close()} fails, and returns the
   * {@code type} it throws (with the close failure added as suppressed, if it takes any).
   */
  @SuppressWarnings("try") // the resource exists only to fail on close
  private static <T extends Throwable> T thrownWithAFailingClose(Class<T> type, Executable body) {
    return assertThrows(
        type,
        () -> {
          try (AutoCloseable resource =
              () -> {
                throw new IOException("close failed");
              }) {
            body.execute();
          }
        });
  }

  private static Object roundTrip(Object o) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(o);
    }
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      return in.readObject();
    }
  }
}
