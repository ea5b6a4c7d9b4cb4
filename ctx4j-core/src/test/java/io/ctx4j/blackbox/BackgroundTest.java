package io.ctx4j.blackbox;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import io.ctx4j.Key;
import io.ctx4j.Registration;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Go's TestBackground and TestTODO: the roots are never done and carry nothing. */
class BackgroundTest {

  static Stream<Context> roots() {
    return Stream.of(Context.background(), Context.todo());
  }

  @ParameterizedTest
  @MethodSource("roots")
  void rootIsNeverDoneAndCarriesNothing(Context root) throws Exception {
    assertFalse(root.isDone());
    assertNull(root.err());
    assertNull(root.cause());
    assertNull(Context.cause(root));
    assertTrue(root.deadline().isEmpty());
    assertNull(root.value(Key.named("anything")));
    assertDoesNotThrow(root::throwIfDone);
    assertFalse(root.await(Duration.ofMillis(1)));
    assertFalse(root.toFuture().isDone());
  }

  @ParameterizedTest
  @MethodSource("roots")
  void callbacksOnARootNeverRunAndStopOnce(Context root) {
    AtomicInteger runs = new AtomicInteger();
    Registration r = root.onDone(runs::incrementAndGet);
    assertTrue(r.stop(), "the first stop() withdraws a callback that can never run");
    assertFalse(r.stop());
    assertEquals(0, runs.get());
  }

  @ParameterizedTest
  @MethodSource("roots")
  void awaitWorkOnARootReturnsTheWorkResult(Context root) throws Exception {
    CompletableFuture<String> work = new CompletableFuture<>();
    Thread t = new Thread(() -> work.complete("done"));
    t.start();
    assertEquals("done", root.await(work));
    t.join();
  }

  @Test
  void rootsAreSingletonsButDistinct() {
    assertSame(Context.background(), Context.background());
    assertSame(Context.todo(), Context.todo());
    assertNotSame(Context.background(), Context.todo());
  }

  @Test
  void rootsPrintLikeGo() {
    assertEquals("context.Background", Context.background().toString());
    assertEquals("context.TODO", Context.todo().toString());
  }
}
