package io.ctx4j.servlet.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The deadlines the servlet filter shares between the requests whose deadlines fall in one window,
 * driven by the time the tests pass in (nanoseconds) and a manual time source (the deadlines), so
 * nothing waits.
 */
class SharedDeadlinesTest {
  private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");
  private static final Duration TIMEOUT = Duration.ofSeconds(1); // an 8 ms window
  private static final long MS = 1_000_000L;

  private final ManualTimeSource clock = ManualTimeSource.startingAt(T0);
  private final CancelableContext root =
      Context.withCancel(Context.withTimeSource(Context.background(), clock));
  private final SharedDeadlines shared = new SharedDeadlines(root);
  private final Throwable cause = new IllegalStateException("the test's deadline");

  /** A take in cause slot 0 at {@code nowNanos}. */
  private SharedDeadlines.Entry take(long nowNanos, Duration timeout, Throwable c) {
    return shared.take(nowNanos, timeout, c, 0);
  }

  @Test
  void theRequestsWhoseDeadlinesFallInOneWindowShareOneFromItsStart() {
    // Deadlines from 6,000 to 6,008 ms on the count passed in are one window; the clock stands for
    // the first request's arrival.
    clock.advance(Duration.ofNanos(7_300_000));
    SharedDeadlines.Entry first = take(5_000 * MS + 7_300_000, TIMEOUT, cause);
    SharedDeadlines.Entry last = take(5_000 * MS + 7_999_999, TIMEOUT, cause);
    SharedDeadlines.Entry next = take(5_008 * MS, TIMEOUT, cause);
    assertSame(first, last);
    assertNotSame(first, next);
    // The start of the window: earlier than the first request's own by 7.3 ms.
    assertEquals(Optional.of(T0.plus(TIMEOUT)), first.context().deadline());
    assertEquals(2, shared.currentCount(), "next is in another slot of the cause");
  }

  /**
   * A propagated deadline arrives with another budget every time: a request that came earlier with
   * a longer budget, or later with a shorter one, shares the deadline if its own falls in the
   * window, and its window has the same size.
   */
  @Test
  void otherTimeoutsWhoseDeadlinesFallInTheWindowShareIt() {
    SharedDeadlines.Entry first = take(5_007 * MS, TIMEOUT, cause); // due at 6,007 ms
    assertSame(first, take(5_006 * MS, TIMEOUT.plusMillis(1), cause));
    assertSame(first, take(4_500 * MS + 1, Duration.ofMillis(1_500), cause)); // also an 8 ms window
    assertSame(first, take(5_007_500_000L, TIMEOUT.minusNanos(500_000), cause));
    // Two seconds have a 16 ms window: another size, another entry, in another slot.
    SharedDeadlines.Entry two = take(4_007 * MS, Duration.ofSeconds(2), cause);
    assertNotSame(first, two);
    assertSame(first, take(5_007 * MS, TIMEOUT, cause), "not replaced by the other size");
  }

  @Test
  void withoutATimeGivenTheRootsOwnClockPlacesTheWindow() {
    clock.advance(Duration.ofNanos(7_300_000)); // T0 + 1 s starts an 8 ms window on the epoch's count
    SharedDeadlines.Entry first = shared.take(TIMEOUT, cause, 0);
    clock.advance(Duration.ofNanos(699_999));
    assertSame(first, shared.take(TIMEOUT, cause, 0));
    clock.advance(Duration.ofNanos(1));
    assertNotSame(first, shared.take(TIMEOUT, cause, 0));
    assertEquals(Optional.of(T0.plus(TIMEOUT)), first.context().deadline());
  }

  @Test
  void aCauseSlotOutsideTheRangeIsRejected() {
    assertThrows(IndexOutOfBoundsException.class, () -> shared.take(TIMEOUT, cause, -1));
    assertThrows(
        IndexOutOfBoundsException.class, () -> shared.take(TIMEOUT, cause, SharedDeadlines.CAUSES));
    assertEquals(0, CoreInternals.registrationCount(root), "nothing made for a rejected take");
  }

  @Test
  void theWindowIsAPowerOfTwoMillisecondsUpToOnePercentOfTheTimeout() {
    assertEquals(MS, SharedDeadlines.windowNanos(Duration.ofMillis(100).toNanos()));
    assertEquals(MS, SharedDeadlines.windowNanos(Duration.ofMillis(199).toNanos()));
    assertEquals(2 * MS, SharedDeadlines.windowNanos(Duration.ofMillis(200).toNanos()));
    assertEquals(8 * MS, SharedDeadlines.windowNanos(Duration.ofMillis(999).toNanos()));
    assertEquals(8 * MS, SharedDeadlines.windowNanos(Duration.ofSeconds(1).toNanos()));
    assertEquals(16 * MS, SharedDeadlines.windowNanos(Duration.ofMillis(1_600).toNanos()));
    assertEquals(256 * MS, SharedDeadlines.windowNanos(Duration.ofSeconds(30).toNanos()));
    assertEquals(524_288 * MS, SharedDeadlines.windowNanos(Duration.ofDays(1).toNanos()));
  }

  @Test
  void aThirtySecondTimeoutIsSharedFor256Milliseconds() {
    Duration thirty = Duration.ofSeconds(30);
    // 35,072 ms = 137 windows of 256 ms: a request at 5,172 ms is due 100 ms into that window.
    clock.advance(Duration.ofMillis(100));
    SharedDeadlines.Entry first = take(5_172 * MS, thirty, cause);
    assertSame(first, take(5_328 * MS - 1, thirty, cause));
    assertNotSame(first, take(5_328 * MS, thirty, cause));
    // 100 ms (0.33%) early, never late.
    assertEquals(Optional.of(T0.plus(thirty)), first.context().deadline());
  }

  @Test
  void timeoutsUnderTwoHundredMillisecondsShareAMillisecondOnly() {
    Duration short_ = Duration.ofMillis(150);
    clock.advance(Duration.ofNanos(700_000));
    SharedDeadlines.Entry first = take(5_000 * MS + 700_000, short_, cause);
    assertSame(first, take(5_000 * MS + 999_999, short_, cause));
    assertNotSame(first, take(5_001 * MS, short_, cause));
    assertEquals(Optional.of(T0.plus(short_)), first.context().deadline());
  }

  /** System.nanoTime() may be negative: windows still start at a multiple of their length. */
  @Test
  void aNegativeTimeFallsInTheWindowBelowIt() {
    SharedDeadlines.Entry first = take(-1_016 * MS, TIMEOUT, cause); // due at -16 ms
    SharedDeadlines.Entry last = take(-1_008 * MS - 1, TIMEOUT, cause);
    assertSame(first, last, "deadlines in [-16 ms, -8 ms) are one window");
    assertNotSame(last, take(-1_008 * MS, TIMEOUT, cause));
    // Due 1 ns before -8 ms, in a window that started at -16 ms: the deadline is from the window's
    // start, never later than the request's own.
    SharedDeadlines fresh = new SharedDeadlines(root);
    SharedDeadlines.Entry e = fresh.take(-1_008 * MS - 1, TIMEOUT, new IllegalStateException(), 0);
    assertEquals(Optional.of(T0.minusNanos(8 * MS - 1).plus(TIMEOUT)), e.context().deadline());
  }

  /**
   * A manual clock beyond the 292 years that nanoseconds count from the epoch, or so near their
   * end that the deadline lies beyond it: requests share no deadline, and at the ends of Instant's
   * range the deadline saturates instead of throwing.
   */
  @Test
  void beyondTheYearsNanosecondsCountEachRequestGetsADeadlineOfItsOwn() {
    Instant[] starts = {
      Instant.parse("3000-01-01T00:00:00Z"), Instant.parse("1000-01-01T00:00:00Z"),
      Instant.MAX.minusMillis(500), Instant.MIN, Instant.EPOCH.plusNanos(Long.MAX_VALUE).minusMillis(500)
    };
    for (Instant start : starts) {
      ManualTimeSource far = ManualTimeSource.startingAt(start);
      CancelableContext farRoot = Context.withCancel(Context.withTimeSource(Context.background(), far));
      SharedDeadlines farShared = new SharedDeadlines(farRoot);
      SharedDeadlines.Entry a = farShared.take(TIMEOUT, cause, 0);
      SharedDeadlines.Entry b = farShared.take(TIMEOUT, cause, 0);
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
  void anotherWindowOrCauseGetsADeadlineOfItsOwn() {
    SharedDeadlines.Entry a = take(7 * MS, TIMEOUT, cause);
    SharedDeadlines.Entry later = take(15 * MS, TIMEOUT, cause);
    SharedDeadlines.Entry otherCause = shared.take(7 * MS, TIMEOUT, new IllegalStateException(), 1);
    assertNotSame(a, later);
    assertNotSame(a, otherCause);
    assertNotSame(later, otherCause);
    // Each window and cause has its slot: none replaced another.
    assertSame(a, take(7 * MS, TIMEOUT, cause));
    assertSame(later, take(15 * MS, TIMEOUT, cause));
    assertEquals(3, shared.currentCount());
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
    SharedDeadlines.Entry e = take(0, TIMEOUT, cause);
    CancelableContext request = Context.withCancel(e.context());
    assertEquals(Optional.of(T0.plus(TIMEOUT)), request.deadline());
    clock.advance(TIMEOUT);
    assertSame(Context.DEADLINE_EXCEEDED, request.err());
    assertSame(cause, Context.cause(request));
  }

  /**
   * Takes and gives back an entry in each of the three windows after the one due from 1,024 ms
   * (arrivals at 38, 46 and 54 ms), so that all four slots of the cause are in use.
   */
  private void fillTheOtherSlots() {
    for (long at : new long[] {38, 46, 54}) {
      take(at * MS, TIMEOUT, cause).release();
    }
  }

  @Test
  void aReplacedEntryIsClosedWhenItsLastRequestGivesItBack() {
    SharedDeadlines.Entry e = take(30 * MS, TIMEOUT, cause); // due in [1,024, 1,032) ms
    assertSame(e, take(30 * MS, TIMEOUT, cause)); // two requests hold it
    fillTheOtherSlots();
    SharedDeadlines.Entry next = take(62 * MS, TIMEOUT, cause); // replaces the earliest: e
    assertFalse(e.closed(), "closed while two requests hold it");
    e.release();
    assertFalse(e.closed(), "closed while a request holds it");
    assertEquals(5, CoreInternals.registrationCount(root));
    e.release();
    assertTrue(e.closed());
    assertSame(Context.CANCELED, e.context().err());
    assertEquals(4, CoreInternals.registrationCount(root), "only the current entries are registered");
    next.release();
    assertFalse(next.closed(), "the current entry stays, for the next request of its window");
    assertSame(next, take(62 * MS + 1, TIMEOUT, cause));
  }

  /** Deadlines straddling a window's edge fall in two windows with slots of their own. */
  @Test
  void adjacentWindowsDoNotReplaceEachOther() {
    SharedDeadlines.Entry e = take(30 * MS, TIMEOUT, cause); // due in [1,024, 1,032) ms
    SharedDeadlines.Entry f = take(34 * MS, TIMEOUT, cause); // due in [1,032, 1,040) ms
    assertNotSame(e, f);
    assertSame(e, take(31 * MS, TIMEOUT, cause));
    assertSame(f, take(35 * MS, TIMEOUT, cause));
    assertEquals(2, CoreInternals.registrationCount(root));
  }

  /**
   * Four windows in use at once keep their entries, whatever their sizes and however far apart:
   * 1 s and 5 s budgets in turn (8 and 32 ms windows), and four neighbouring windows; a fifth
   * replaces the one whose deadline comes first.
   */
  @Test
  void fourWindowsInUseAtOnceKeepTheirEntries() {
    SharedDeadlines.Entry one = take(8 * MS, TIMEOUT, cause);
    SharedDeadlines.Entry five = take(8 * MS, Duration.ofSeconds(5), cause);
    for (int i = 0; i < 3; i++) {
      assertSame(one, take(8 * MS, TIMEOUT, cause), "the 1 s entry, round " + i);
      assertSame(five, take(8 * MS, Duration.ofSeconds(5), cause), "the 5 s entry, round " + i);
    }
    SharedDeadlines.Entry a = take(16 * MS, TIMEOUT, cause); // due in [1,016, 1,024) ms
    SharedDeadlines.Entry b = take(24 * MS, TIMEOUT, cause); // due in [1,024, 1,032) ms
    // All four slots are in use: one (due from 1,008 ms), five (5,008), a, b. The next window
    // replaces the earliest, one.
    SharedDeadlines.Entry c = take(32 * MS, TIMEOUT, cause);
    assertFalse(shared.isCurrent(one), "the earliest gave way");
    assertFalse(one.closed(), "closed while requests hold it");
    assertSame(five, take(8 * MS, Duration.ofSeconds(5), cause));
    assertSame(a, take(16 * MS, TIMEOUT, cause));
    assertSame(b, take(24 * MS, TIMEOUT, cause));
    assertSame(c, take(32 * MS, TIMEOUT, cause));
    assertEquals(4, shared.currentCount());
  }

  @Test
  void anUnusedEntryIsClosedByTheRequestThatReplacesIt() {
    SharedDeadlines.Entry e = take(30 * MS, TIMEOUT, cause);
    e.release();
    assertFalse(e.closed());
    fillTheOtherSlots();
    assertFalse(e.closed());
    SharedDeadlines.Entry next = take(90 * MS, TIMEOUT, cause);
    assertTrue(e.closed());
    assertFalse(next.closed());
    assertEquals(4, CoreInternals.registrationCount(root));
  }

  @Test
  void aRequestEndedTwiceGivesItsSharedDeadlineBackOnce() {
    SharedDeadlines.Entry e = take(30 * MS, TIMEOUT, cause);
    assertSame(e, take(30 * MS, TIMEOUT, cause)); // a second request holds it too
    RequestScope scope = new RequestScope(Context.withCancel(e.context()), e);
    fillTheOtherSlots();
    take(62 * MS, TIMEOUT, cause); // replaced: the last give-back closes it
    scope.end(RequestScope.COMPLETED); // e.g. the async listener, then a failed write
    scope.end(RequestScope.failure(new java.io.IOException("broken pipe")));
    assertFalse(e.closed(), "closed while the other request holds it: given back twice");
    assertSame(RequestScope.COMPLETED, Context.cause(scope.context()), "the first end's cause stays");
    e.release(); // the other request ends
    assertTrue(e.closed());
  }

  @Test
  void theRootsEndReachesTheRequests() {
    SharedDeadlines.Entry e = take(0, TIMEOUT, cause);
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
                        shared.take(now.getAndAdd(500_000), TIMEOUT, causes[(i + id) & 1], (i + id) & 1);
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

  /**
   * Each stripe of the count, which every take and release writes, has a cache line (64 bytes) of
   * its array on each side, so no two stripes and nothing that a take only reads share a line.
   */
  @Test
  void eachStripeHasACacheLineOfItsOwn() {
    assertTrue(SharedDeadlines.STRIDE * Integer.BYTES >= 64);
    assertEquals(SharedDeadlines.STRIDE, SharedDeadlines.stripeIndex(0), "before the first");
    for (int s = 1; s < SharedDeadlines.STRIPES; s++) {
      assertEquals(
          SharedDeadlines.STRIDE,
          SharedDeadlines.stripeIndex(s) - SharedDeadlines.stripeIndex(s - 1),
          "between stripes " + (s - 1) + " and " + s);
    }
    int last = SharedDeadlines.stripeIndex(SharedDeadlines.STRIPES - 1);
    assertEquals(SharedDeadlines.STRIDE, SharedDeadlines.COUNTS_LENGTH - 1 - last, "after the last");
  }

  @Test
  void theStripesArePowersOfTwoFromEightToSixtyFour() {
    assertEquals(8, SharedDeadlines.stripes(1));
    assertEquals(8, SharedDeadlines.stripes(2));
    assertEquals(8, SharedDeadlines.stripes(4));
    assertEquals(16, SharedDeadlines.stripes(5));
    assertEquals(16, SharedDeadlines.stripes(8));
    assertEquals(64, SharedDeadlines.stripes(24));
    assertEquals(64, SharedDeadlines.stripes(1024));
    int s = SharedDeadlines.STRIPES;
    assertTrue(s >= 8 && s <= 64 && Integer.bitCount(s) == 1, "STRIPES " + s);
  }

  /**
   * A request taken on one thread and given back on others (an async request completed by another
   * thread): the stripes then hold +1 and -1 where the threads hash, and only their sum counts. The
   * entry is closed only when the last holder gives it back, wherever that happens.
   */
  @Test
  void takesAndReleasesOnDifferentThreadsAreCountedTogether() throws Exception {
    int holders = 3 * SharedDeadlines.STRIPES; // more threads than stripes: some share one
    SharedDeadlines.Entry e = take(30 * MS, TIMEOUT, cause);
    for (int i = 1; i < holders; i++) {
      assertSame(e, take(30 * MS, TIMEOUT, cause));
    }
    fillTheOtherSlots();
    take(62 * MS, TIMEOUT, cause).release(); // replaced: the last give-back closes it
    assertFalse(shared.isCurrent(e));
    ExecutorService pool = Executors.newFixedThreadPool(holders - 1);
    try {
      CountDownLatch released = new CountDownLatch(holders - 1);
      for (int i = 1; i < holders; i++) {
        pool.execute(
            () -> {
              e.release();
              released.countDown();
            });
      }
      assertTrue(released.await(30, TimeUnit.SECONDS));
    } finally {
      pool.shutdown();
      assertTrue(pool.awaitTermination(30, TimeUnit.SECONDS));
    }
    assertFalse(e.closed(), "closed while the taking thread still holds it");
    assertFalse(e.context().isDone());
    e.release();
    assertTrue(e.closed(), "the last give-back, on the taking thread, closes it");
    assertEquals(4, CoreInternals.registrationCount(root));
  }

  /**
   * A taker that found the entry OPEN, and then lost the processor while the entry was replaced,
   * given back by its last holder and closed: its add comes after the close, and it must not keep
   * a closed entry (the re-read of the state after the add).
   */
  @Test
  void aTakerThatSawTheEntryOpenBeforeItsCloseDoesNotKeepIt() {
    SharedDeadlines.Entry e = take(30 * MS, TIMEOUT, cause);
    fillTheOtherSlots();
    take(62 * MS, TIMEOUT, cause).release(); // replaced while held
    e.release(); // the last holder: closes it
    assertTrue(e.closed());
    int stripe = e.add(); // the late taker's add
    assertFalse(e.confirm(stripe), "a take kept on a closed entry");
    assertTrue(e.closed());
    assertEquals(4, CoreInternals.registrationCount(root));
  }

  /**
   * A taker adds while the entry is held and replaced; the holder's give-back then counts the
   * taker's add and leaves the entry open; the taker sees CLOSING, backs out, and must close the
   * entry itself: nobody else will.
   */
  @Test
  void aTakerThatBacksOutLastClosesTheEntry() {
    SharedDeadlines.Entry e = take(30 * MS, TIMEOUT, cause);
    fillTheOtherSlots();
    int stripe = e.add(); // a taker that found it OPEN
    take(62 * MS, TIMEOUT, cause).release(); // replaced: CLOSING, two holders counted
    e.release(); // the holder ends; the close counts the taker's add and gives up
    assertFalse(e.closed(), "closed while a taker's add was counted");
    assertFalse(e.confirm(stripe), "a take kept on a CLOSING entry");
    assertTrue(e.closed(), "the taker backed out last and did not close the entry");
    assertTrue(e.context().isDone());
    assertEquals(4, CoreInternals.registrationCount(root));
  }
}
