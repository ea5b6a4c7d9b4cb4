package io.ctx4j.servlet.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.internal.CoreInternals;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The deadlines the servlet filter shares between the requests of one window, driven by the
 * time the tests pass in (nanoseconds) and a manual time source (the deadlines), so nothing waits.
 */
class SharedDeadlinesTest {
  private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");
  private static final Duration TIMEOUT = Duration.ofSeconds(1); // a 10 ms window
  private static final long MS = 1_000_000L;

  private final ManualTimeSource clock = ManualTimeSource.startingAt(T0);
  private final CancelableContext root =
      Context.withCancel(Context.withTimeSource(Context.background(), clock));
  private final SharedDeadlines shared = new SharedDeadlines(root);
  private final Throwable cause = new IllegalStateException("the test's deadline");

  @Test
  void theRequestsOfOneWindowShareADeadlineFromItsStart() {
    clock.advance(Duration.ofNanos(7_300_000)); // 7.3 ms into the 10 ms window, as the nanos below
    SharedDeadlines.Entry first = shared.take(5_000 * MS + 7_300_000, TIMEOUT, cause);
    SharedDeadlines.Entry last = shared.take(5_000 * MS + 9_999_999, TIMEOUT, cause);
    SharedDeadlines.Entry next = shared.take(5_010 * MS, TIMEOUT, cause);
    assertSame(first, last);
    assertNotSame(first, next);
    // The start of the window plus the timeout: earlier than the request's own by 7.3 ms.
    assertEquals(Optional.of(T0.plus(TIMEOUT)), first.context().deadline());
    assertEquals(1, shared.currentCount());
  }

  @Test
  void withoutATimeGivenTheRootsOwnClockPlacesTheWindow() {
    clock.advance(Duration.ofNanos(7_300_000)); // T0 starts a 10 ms window on the epoch's count
    SharedDeadlines.Entry first = shared.take(TIMEOUT, cause);
    clock.advance(Duration.ofNanos(2_699_999));
    assertSame(first, shared.take(TIMEOUT, cause));
    clock.advance(Duration.ofNanos(1));
    assertNotSame(first, shared.take(TIMEOUT, cause));
    assertEquals(Optional.of(T0.plus(TIMEOUT)), first.context().deadline());
  }

  @Test
  void theWindowIsOnePercentOfTheTimeoutInWholeMilliseconds() {
    assertEquals(MS, SharedDeadlines.windowNanos(Duration.ofMillis(100).toNanos()));
    assertEquals(MS, SharedDeadlines.windowNanos(Duration.ofMillis(199).toNanos()));
    assertEquals(9 * MS, SharedDeadlines.windowNanos(Duration.ofMillis(999).toNanos()));
    assertEquals(10 * MS, SharedDeadlines.windowNanos(Duration.ofSeconds(1).toNanos()));
    assertEquals(300 * MS, SharedDeadlines.windowNanos(Duration.ofSeconds(30).toNanos()));
    assertEquals(864_000 * MS, SharedDeadlines.windowNanos(Duration.ofDays(1).toNanos()));
  }

  @Test
  void aThirtySecondTimeoutIsSharedForThreeHundredMilliseconds() {
    Duration thirty = Duration.ofSeconds(30);
    clock.advance(Duration.ofMillis(123));
    SharedDeadlines.Entry first = shared.take(5_100 * MS + 123 * MS, thirty, cause);
    assertSame(first, shared.take(5_100 * MS + 300 * MS - 1, thirty, cause));
    assertNotSame(first, shared.take(5_400 * MS, thirty, cause));
    // The window started 123 ms before the request: the deadline is 0.41% early, never late.
    assertEquals(Optional.of(T0.plus(thirty)), first.context().deadline());
  }

  @Test
  void timeoutsUnderTwoHundredMillisecondsShareAMillisecondOnly() {
    Duration short_ = Duration.ofMillis(150);
    clock.advance(Duration.ofNanos(700_000));
    SharedDeadlines.Entry first = shared.take(5_000 * MS + 700_000, short_, cause);
    assertSame(first, shared.take(5_000 * MS + 999_999, short_, cause));
    assertNotSame(first, shared.take(5_001 * MS, short_, cause));
    assertEquals(Optional.of(T0.plus(short_)), first.context().deadline());
  }

  /** System.nanoTime() may be negative: windows still start at a multiple of their length. */
  @Test
  void aNegativeTimeFallsInTheWindowBelowIt() {
    SharedDeadlines.Entry first = shared.take(-10 * MS, TIMEOUT, cause);
    SharedDeadlines.Entry last = shared.take(-1, TIMEOUT, cause);
    assertSame(first, last, "[-10 ms, 0) is one window");
    assertNotSame(last, shared.take(0, TIMEOUT, cause));
    // Asked at -1 ns into a window that started at -10 ms: the deadline is from the window's
    // start, never later than the request's own.
    SharedDeadlines fresh = new SharedDeadlines(root);
    SharedDeadlines.Entry e = fresh.take(-1, TIMEOUT, new IllegalStateException());
    assertEquals(
        Optional.of(T0.minusNanos(10 * MS - 1).plus(TIMEOUT)), e.context().deadline());
  }

  /**
   * A manual clock beyond the 292 years that nanoseconds count from the epoch: requests share no
   * deadline (every instant would fall in one window), and at the ends of Instant's range the
   * deadline saturates instead of throwing.
   */
  @Test
  void beyondTheYearsNanosecondsCountEachRequestGetsADeadlineOfItsOwn() {
    Instant[] starts = {
      Instant.parse("3000-01-01T00:00:00Z"), Instant.parse("1000-01-01T00:00:00Z"),
      Instant.MAX.minusMillis(500), Instant.MIN
    };
    for (Instant start : starts) {
      ManualTimeSource far = ManualTimeSource.startingAt(start);
      CancelableContext farRoot = Context.withCancel(Context.withTimeSource(Context.background(), far));
      SharedDeadlines farShared = new SharedDeadlines(farRoot);
      SharedDeadlines.Entry a = farShared.take(TIMEOUT, cause);
      SharedDeadlines.Entry b = farShared.take(TIMEOUT, cause);
      assertNotSame(a, b, "shared at " + start);
      Instant expected = start.equals(Instant.MAX.minusMillis(500)) ? Instant.MAX : start.plus(TIMEOUT);
      assertEquals(Optional.of(expected), a.context().deadline(), "deadline at " + start);
      assertFalse(a.context().isDone(), "ended at once at " + start);
      a.release();
      b.release();
      assertTrue(a.closed() && b.closed(), "an entry of its own is closed when given back");
      assertEquals(0, CoreInternals.registrationCount(farRoot), "registered at " + start);
    }
  }

  @Test
  void anotherTimeoutOrCauseGetsADeadlineOfItsOwn() {
    SharedDeadlines.Entry a = shared.take(7 * MS, TIMEOUT, cause);
    SharedDeadlines.Entry longer = shared.take(7 * MS, TIMEOUT.plusMillis(1), cause);
    SharedDeadlines.Entry otherCause = shared.take(7 * MS, TIMEOUT, new IllegalStateException());
    assertNotSame(a, longer);
    assertNotSame(a, otherCause);
    assertNotSame(longer, otherCause);
  }

  @Test
  void onlyTimeoutsFromATenthOfASecondToADayAreShared() {
    assertFalse(SharedDeadlines.shares(Duration.ofMillis(99)));
    assertTrue(SharedDeadlines.shares(Duration.ofMillis(100)));
    assertTrue(SharedDeadlines.shares(Duration.ofDays(1)));
    assertFalse(SharedDeadlines.shares(Duration.ofDays(1).plusNanos(1)));
  }

  @Test
  void theSharedDeadlineEndsEachRequestWithItsCause() {
    SharedDeadlines.Entry e = shared.take(0, TIMEOUT, cause);
    CancelableContext request = Context.withCancel(e.context());
    assertEquals(Optional.of(T0.plus(TIMEOUT)), request.deadline());
    clock.advance(TIMEOUT);
    assertSame(Context.DEADLINE_EXCEEDED, request.err());
    assertSame(cause, Context.cause(request));
  }

  @Test
  void aReplacedEntryIsClosedWhenItsLastRequestGivesItBack() {
    SharedDeadlines.Entry e = shared.take(30 * MS, TIMEOUT, cause);
    assertSame(e, shared.take(30 * MS, TIMEOUT, cause)); // two requests hold it
    SharedDeadlines.Entry next = shared.take(40 * MS, TIMEOUT, cause);
    assertFalse(e.closed(), "closed while two requests hold it");
    e.release();
    assertFalse(e.closed(), "closed while a request holds it");
    assertEquals(2, CoreInternals.registrationCount(root));
    e.release();
    assertTrue(e.closed());
    assertSame(Context.CANCELED, e.context().err());
    assertEquals(1, CoreInternals.registrationCount(root), "only the current entry is registered");
    next.release();
    assertFalse(next.closed(), "the current entry stays, for the next request of its window");
    assertSame(next, shared.take(40 * MS + 1, TIMEOUT, cause));
  }

  @Test
  void anUnusedEntryIsClosedByTheRequestThatReplacesIt() {
    SharedDeadlines.Entry e = shared.take(30 * MS, TIMEOUT, cause);
    e.release();
    assertFalse(e.closed());
    SharedDeadlines.Entry next = shared.take(90 * MS, TIMEOUT, cause);
    assertTrue(e.closed());
    assertFalse(next.closed());
    assertEquals(1, CoreInternals.registrationCount(root));
  }

  @Test
  void aRequestEndedTwiceGivesItsSharedDeadlineBackOnce() {
    SharedDeadlines.Entry e = shared.take(30 * MS, TIMEOUT, cause);
    assertSame(e, shared.take(30 * MS, TIMEOUT, cause)); // a second request holds it too
    RequestScope scope = new RequestScope(Context.withCancel(e.context()), e);
    shared.take(40 * MS, TIMEOUT, cause); // replaced: the last give-back closes it
    scope.end(RequestScope.COMPLETED); // e.g. the async listener, then a failed write
    scope.end(RequestScope.failure(new java.io.IOException("broken pipe")));
    assertFalse(e.closed(), "closed while the other request holds it: given back twice");
    assertSame(RequestScope.COMPLETED, Context.cause(scope.context()), "the first end's cause stays");
    e.release(); // the other request ends
    assertTrue(e.closed());
  }

  @Test
  void theRootsEndReachesTheRequests() {
    SharedDeadlines.Entry e = shared.take(0, TIMEOUT, cause);
    CancelableContext request = Context.withCancel(e.context());
    IllegalStateException shutdown = new IllegalStateException("shutdown");
    root.cancel(shutdown);
    assertSame(Context.CANCELED, request.err());
    assertSame(shutdown, Context.cause(request));
  }

  /**
   * Four threads take, derive, end and give back entries as fast as they can while the time moves
   * 500 µs per take: entries are replaced while others take and give them back. At the end every
   * entry is closed but the current ones, which nobody holds, and only those are registered on the
   * root. (A release below zero or a second close trips the class's asserts.)
   */
  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void racingTakesReleasesAndReplacementsLeaveOnlyTheCurrentEntries() throws Exception {
    int threads = 4;
    int perThread = 100_000;
    Throwable[] causes = {cause, new IllegalStateException("another")};
    AtomicLong now = new AtomicLong();
    Set<SharedDeadlines.Entry> seen = ConcurrentHashMap.newKeySet();
    CyclicBarrier start = new CyclicBarrier(threads);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int id = t;
        done.add(
            pool.submit(
                () -> {
                  start.await();
                  for (int i = 0; i < perThread; i++) {
                    SharedDeadlines.Entry e =
                        shared.take(now.getAndAdd(500_000), TIMEOUT, causes[(i + id) & 1]);
                    seen.add(e);
                    CancelableContext request = Context.withCancel(e.context());
                    if (i % 8 == 0) {
                      request.onDone(() -> {}); // registers the request with the shared deadline
                    }
                    assertFalse(e.context().isDone(), "a request was given a closed deadline");
                    request.cancel();
                    e.release();
                  }
                  return null;
                }));
      }
      for (Future<?> f : done) {
        f.get(100, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    int open = 0;
    for (SharedDeadlines.Entry e : seen) {
      if (!e.closed()) {
        open++;
        assertFalse(e.context().isDone());
      }
    }
    assertTrue(seen.size() > 1_000, "too few entries to race: " + seen.size());
    assertEquals(shared.currentCount(), open, "entries neither current nor closed");
    assertEquals(open, CoreInternals.registrationCount(root), "registrations left on the root");
  }
}
