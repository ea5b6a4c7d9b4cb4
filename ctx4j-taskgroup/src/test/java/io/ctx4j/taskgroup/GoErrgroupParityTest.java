package io.ctx4j.taskgroup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.ctx4j.Context;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The tests of Go's {@code errgroup_test.go}, one by one, against {@link TaskGroup}. */
// In a separate thread: a hang in the uninterruptible close() then fails the test, not the build.
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class GoErrgroupParityTest {
  private static final Exception ERR1 = new Exception("errgroup_test: 1");
  private static final Exception ERR2 = new Exception("errgroup_test: 2");
  private static final Exception ERR_DOOM = new Exception("group_test: doomed");

  /** A task that returns normally for {@code null} and fails with {@code err} otherwise. */
  private static Task<Void> returning(Exception err) {
    return ctx -> {
      if (err != null) {
        throw err;
      }
      return null;
    };
  }

  /** What {@code await()} reported: null, or the first failure. */
  private static Throwable awaitResult(TaskGroup g) throws InterruptedException {
    try {
      g.await();
      return null;
    } catch (TaskGroupException e) {
      return e.getCause();
    }
  }

  static Stream<Arguments> zeroGroupCases() {
    return Stream.of(
        Arguments.of(List.of()),
        Arguments.of(Arrays.asList((Exception) null)),
        Arguments.of(List.of(ERR1)),
        Arguments.of(Arrays.asList(ERR1, null)),
        Arguments.of(Arrays.asList(ERR1, null, ERR2)));
  }

  /** TestZeroGroup: one group reused; after each Go, Wait returns the first error so far. */
  @ParameterizedTest
  @MethodSource("zeroGroupCases")
  void zeroGroupReportsFirstErrorSoFarAndCanBeReused(List<Exception> errs) throws Exception {
    try (TaskGroup g = TaskGroup.open()) {
      Exception firstErr = null;
      for (Exception err : errs) {
        g.go(returning(err));
        if (firstErr == null && err != null) {
          firstErr = err;
        }
        assertSame(firstErr, awaitResult(g), "after " + err);
        assertFalse(g.context().isDone(), "a zero group cancels nothing");
      }
    }
  }

  static Stream<Arguments> withContextCases() {
    return Stream.of(
        Arguments.of(List.of(), null),
        Arguments.of(Arrays.asList((Exception) null), null),
        Arguments.of(List.of(ERR_DOOM), ERR_DOOM),
        Arguments.of(Arrays.asList(ERR_DOOM, null), ERR_DOOM));
  }

  /** TestWithContext: Wait returns the first error, and the context is done afterwards. */
  @ParameterizedTest
  @MethodSource("withContextCases")
  void withContextReportsFirstErrorAndCancelsAfterAwait(List<Exception> errs, Exception want)
      throws Exception {
    try (TaskGroup g = TaskGroup.open(Context.background())) {
      for (Exception err : errs) {
        g.go(returning(err));
      }
      assertSame(want, awaitResult(g));
      assertTrue(g.context().isDone(), "context must be done after await");
      assertSame(Context.CANCELED, g.context().err());
    }
  }

  /** TestCancelCause: same lists through TryGo; the cause is the first error, else Canceled. */
  @ParameterizedTest
  @MethodSource("withContextCases")
  void cancelCauseIsFirstErrorOrCanceled(List<Exception> errs, Exception want) throws Exception {
    try (TaskGroup g = TaskGroup.open(Context.background())) {
      for (Exception err : errs) {
        assertTrue(g.tryGo(returning(err)), "no limit: tryGo must accept");
      }
      assertSame(want, awaitResult(g));
      Throwable expectedCause = want == null ? Context.CANCELED : want;
      assertSame(expectedCause, Context.cause(g.context()));
    }
  }

  /** TestTryGo: the limit is respected by TryGo, and can be changed once the group is idle. */
  @Test
  void tryGoRespectsLimit() throws Exception {
    try (TaskGroup g = TaskGroup.open()) {
      int n = 42;
      g.setLimit(n);
      CountDownLatch release = new CountDownLatch(1);
      Task<Void> blocked =
          ctx -> {
            release.await();
            return null;
          };
      for (int i = 0; i < n; i++) {
        assertTrue(g.tryGo(blocked), "tryGo #" + i + " under the limit");
      }
      assertFalse(g.tryGo(returning(ERR1)), "tryGo over the limit must fail");
      release.countDown();
      assertNull(awaitResult(g));

      assertTrue(g.tryGo(blocked), "the limit is free again after await");
      assertNull(awaitResult(g));

      g.setLimit(1);
      CountDownLatch hold = new CountDownLatch(1);
      assertTrue(
          g.tryGo(
              ctx -> {
                hold.await();
                return null;
              }));
      assertFalse(g.tryGo(blocked), "limit 1 with one active task");
      hold.countDown();
      assertNull(awaitResult(g));

      g.setLimit(0);
      AtomicInteger ran = new AtomicInteger();
      for (int i = 0; i < 1024; i++) {
        assertFalse(
            g.tryGo(
                ctx -> {
                  ran.incrementAndGet();
                  return null;
                }),
            "limit 0 admits nothing");
      }
      assertNull(awaitResult(g));
      assertEquals(0, ran.get());
    }
  }

  /** TestGoLimit: 1025 Go calls under limit 10 never run more than 10 at once. */
  @Test
  void goNeverExceedsLimit() throws Exception {
    int limit = 10;
    AtomicInteger active = new AtomicInteger();
    AtomicInteger peak = new AtomicInteger();
    try (TaskGroup g = TaskGroup.open()) {
      g.setLimit(limit);
      for (int i = 0; i < 1025; i++) {
        g.go(
            ctx -> {
              int now = active.incrementAndGet();
              peak.accumulateAndGet(now, Math::max);
              try {
                if (now > limit) {
                  throw new IllegalStateException("saw " + now + " active tasks; want <= " + limit);
                }
                // Let others overlap, so that a broken limit would show.
                TimeUnit.MICROSECONDS.sleep(1);
                return null;
              } finally {
                active.decrementAndGet();
              }
            });
      }
      assertNull(awaitResult(g));
    }
    assertTrue(peak.get() >= 1 && peak.get() <= limit, "peak " + peak.get());
  }

  /** Go panics on SetLimit while goroutines are active; the Java group throws. */
  @Test
  void setLimitWhileTasksAreActiveThrows() throws Exception {
    try (TaskGroup g = TaskGroup.open()) {
      CountDownLatch release = new CountDownLatch(1);
      g.go(
          ctx -> {
            release.await();
            return null;
          });
      IllegalStateException e = assertThrows(IllegalStateException.class, () -> g.setLimit(3));
      assertTrue(e.getMessage().contains("1 tasks"), e.getMessage());
      release.countDown();
      g.await();
      g.setLimit(3);
    }
  }

  /**
   * Go's SetLimit(-1) clears the limit before its "still active" check, so it never panics: here it
   * never throws, and the tasks beyond the old limit start at once.
   */
  @Test
  void removingTheLimitWhileTasksAreActiveIsAllowed() throws Exception {
    try (TaskGroup g = TaskGroup.open()) {
      g.setLimit(1);
      CountDownLatch release = new CountDownLatch(1);
      Task<Void> blocked =
          ctx -> {
            release.await();
            return null;
          };
      assertTrue(g.tryGo(blocked));
      assertFalse(g.tryGo(blocked), "limit 1 reached");
      g.setLimit(-1);
      for (int i = 0; i < 5; i++) {
        assertTrue(g.tryGo(blocked), "no limit any more: tryGo #" + i);
      }
      assertTrue(g.toString().contains("active=6, limit=none"), g.toString());
      release.countDown();
      assertNull(awaitResult(g));
      g.setLimit(2); // idle again: a new limit is accepted
      assertTrue(g.tryGo(blocked));
      assertNull(awaitResult(g));
    }
  }

  /** ExampleGroup_parallel: three fake searches; results in submission order. */
  @Test
  void parallelSearchExample() throws Exception {
    List<String> kinds = List.of("web", "image", "video");
    List<java.util.concurrent.CompletableFuture<String>> results = new ArrayList<>();
    try (TaskGroup g = TaskGroup.open(Context.background())) {
      for (String kind : kinds) {
        results.add(g.go(ctx -> kind + " result for \"golang\""));
      }
      g.await();
    }
    List<String> got = new ArrayList<>();
    for (var f : results) {
      if (!f.isDone()) {
        fail("a future is not complete after await");
      }
      got.add(f.join());
    }
    assertEquals(
        List.of(
            "web result for \"golang\"",
            "image result for \"golang\"",
            "video result for \"golang\""),
        got);
  }
}
