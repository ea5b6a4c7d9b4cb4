package io.ctx4j.servlet.internal;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.TimeSource;
import io.ctx4j.internal.CoreInternals;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * Deadline contexts shared by the requests whose deadlines fall in the same window, with the same
 * cause. Not part of the API.
 *
 * <p>Why: a request with a deadline otherwise costs a deadline context of its own under the server
 * root: a timer scheduled and stopped, and a registration pushed on the root and withdrawn, with
 * cache lines that are cold by the time the request ends. Under load many requests a millisecond
 * carry a deadline; each now takes a plain {@code withCancel} child of a shared deadline context,
 * which registers with nothing unless someone waits on it, and the deadline's cost is paid once
 * per window.
 *
 * <p>The window is keyed by the request's own deadline (arrival plus timeout), not by its timeout:
 * a caller that propagates its deadline sends a different budget with nearly every request (the
 * time it has left, to the millisecond; gRPC's to the microsecond), and a window keyed by the
 * timeout value shared nothing then, while each request still paid for a shared deadline, a cause
 * and the close of the one it replaced ({@code results/2026-12-02-servlet-varied-budgets}). A
 * window is a power of two milliseconds, the
 * largest not above 1% of the timeout, at least one (1 ms up to 199 ms, 8 ms for a second, 256 ms
 * for 30 s): nearby timeouts get the same window. The shared deadline is the window's start: up to
 * one window (at most 1% of the timeout) earlier than the request's own, never later: it is
 * computed from the time source's instant and a reading of {@code System.nanoTime()} taken after
 * it, so a pause between the readings can only make it earlier. Only timeouts from {@link
 * #MIN_TIMEOUT} to
 * {@link #MAX_TIMEOUT} are shared: the rounding is then at most 1% of the budget, and the
 * arithmetic cannot overflow.
 *
 * <p>Each of a caller's {@link #CAUSES} causes has {@link #WAYS} slots, searched together: up to
 * four windows in use at once (neighbours, as the deadlines of concurrent requests spread across
 * an edge, or windows of several sizes, for callers with different budgets) each keep their
 * entry, and a fifth replaces an ended entry or else the one whose deadline comes first.
 *
 * <h2>An entry's states</h2>
 *
 * The number of requests holding an entry is striped: each of {@link #STRIPES} counters, a cache
 * line apart, holds the takes minus the releases made by the threads that hash to it, so that a
 * take and a release on one core do not fetch a line the other core wrote last. A stripe alone
 * means nothing (a request taken on one thread may be given back on another); their sum is the
 * number of holders. A separate {@code state} says whether the entry may still be taken.
 *
 * <pre>
 *   OPEN      it may be taken
 *   CLOSING   not current, and a close found (or may yet find) holders; never taken again; the
 *             last holder's release, or a taker backing out, closes it
 *   CLOSED    its context is cancelled
 *
 *   take      on OPEN: add 1 to the taker's stripe, then read state again; if it is no longer OPEN,
 *             subtract the 1 again, try the close and fail (the taker makes a new entry)
 *   release   subtract 1 from the releaser's stripe; if the entry is no longer current, try the
 *             close
 *   close     OPEN -> CLOSING (CAS), or find CLOSING; sum the stripes; if the sum is 0,
 *             CLOSING -> CLOSED (CAS) and cancel the context. Tried by the replacer once it has
 *             replaced the entry, by every release of an entry no longer current, and by a taker
 *             that backs out
 * </pre>
 *
 * Invariants:
 *
 * <ol>
 *   <li>{@code state} only moves forward, OPEN to CLOSING to CLOSED, and a take is kept only if the
 *       entry was OPEN after its add. Every access to {@code state} and to the stripes is volatile,
 *       so they fall in one total order: a kept take's add comes before the first move to CLOSING,
 *       and so before every read of the stripes by a close. A close therefore sees every kept take;
 *       it may miss releases and back-outs, which only makes its sum larger. The sum it reads is
 *       never below 0, and is 0 only when every kept take has been released.
 *   <li>An entry is closed at most once (the CAS to CLOSED), and never while a request holds it
 *       (the sum was 0 after CLOSING, and no take is kept after CLOSING).
 *   <li>An entry that is not current and has no holders gets closed, provided that every take
 *       is released exactly once ({@code RequestScope} ensures it). Take W, the last write to
 *       any stripe. If W is a back-out, its own close comes after it. If W is a release, its
 *       read of {@code slots[i]} comes either after the replacer's write there (it sees the
 *       entry replaced and tries the close itself) or before it (then the replacer, which always
 *       tries the close after its write, sums after W). Either way some close sums after W,
 *       reads the final stripes, which add up to 0, and closes the entry. An entry in no slot
 *       ({@code own}) is never current: its one release closes it.
 *   <li>An entry stops being current only when a request that found no entry of its window, size
 *       and cause it could take among its cause's slots replaces it: an empty slot is taken first,
 *       then an ended entry, then the one with the earliest deadline. Two such requests racing for
 *       one key may both make an entry: if they chose the same slot, the one replaced is closed
 *       like any other; if not, both stay current, in two slots, until later windows replace
 *       them. The current entry is never closed here (its own deadline or the root's end may
 *       still end its context).
 * </ol>
 *
 * <p>So when traffic stops, at most one entry per slot stays, and its timer fires by itself at its
 * deadline; nothing else outlives the requests that used it. Thread-safe; lock-free.
 */
public final class SharedDeadlines {
  /** The shortest timeout shared: the one-millisecond rounding is then at most 1% of it. */
  public static final Duration MIN_TIMEOUT = Duration.ofMillis(100);

  /** The longest timeout shared; longer ones are rare and get a context of their own. */
  public static final Duration MAX_TIMEOUT = Duration.ofDays(1);

  private static final long MILLI_NANOS = 1_000_000L;
  private static final int OPEN = 0;
  private static final int CLOSING = 1;
  private static final int CLOSED = 2;
  /** How many causes a caller can use at once; a caller's cause slot is below this. */
  public static final int CAUSES = 4;
  /** Slots per cause: how many windows of one cause keep their entries at once. */
  public static final int WAYS = 4;
  /** How many entries can be current at once, one per slot. */
  static final int SLOTS = CAUSES * WAYS;
  private static final VarHandle COUNTS;
  private static final VarHandle STATE;
  private static final VarHandle SLOT;

  /**
   * How many stripes an entry's count has: a power of two, twice the processors, from 8 to 64, so
   * that two threads running at once seldom share one. An entry's array takes (STRIPES + 1) * 64
   * + 4 bytes and its header: about 600 bytes at 8 stripes, 4.2 KB at 64. An entry is made on a
   * miss: once per window and cause slot while at most four windows of a cause are in use at once,
   * up to once per request beyond that, or when two misses race. The spacing is 64 bytes, the
   * cache line of x86 and most ARM servers; on processors that fetch lines in pairs of 128 bytes,
   * neighbouring stripes may still share.
   *
   * <p>What a release pays: on an entry still current, one add on its stripe and one read of the
   * slot. On an entry no longer current, it also sums the stripes (up to 64 reads). An entry stops
   * being current once four later windows of its cause are in use, so that happens to requests
   * that last more than about 3% of their timeout (3 ms for 100 ms, about a second for 30 s).
   */
  static final int STRIPES = stripes(Runtime.getRuntime().availableProcessors());

  /**
   * Ints from one stripe to the next, and before the first and after the last: 64 bytes, a cache
   * line, so that a stripe shares its line with nothing that another core writes or that a take
   * reads (the entry's key and state).
   */
  static final int STRIDE = 16;

  /** The length of an entry's array: a line before the first stripe and after the last. */
  static final int COUNTS_LENGTH = stripeIndex(STRIPES - 1) + STRIDE + 1;

  static {
    SLOT = MethodHandles.arrayElementVarHandle(Entry[].class);
    COUNTS = MethodHandles.arrayElementVarHandle(int[].class);
    try {
      STATE = MethodHandles.lookup().findVarHandle(Entry.class, "state", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** {@link #STRIPES} for {@code processors}. */
  static int stripes(int processors) {
    int n = Math.min(64, Math.max(8, 2 * processors));
    return Integer.highestOneBit(n - 1) << 1;
  }

  /** Where stripe {@code s} lies in an entry's array. */
  static int stripeIndex(int s) {
    return STRIDE * (s + 1);
  }

  /** The stripe of the calling thread, as an index into an entry's array. */
  @SuppressWarnings("deprecation") // Thread.threadId() is JDK 19+; getId() answers the same
  private static int myStripe() {
    // Thread ids are handed out in sequence, so their low bits spread a pool's threads evenly.
    return stripeIndex((int) Thread.currentThread().getId() & (STRIPES - 1));
  }

  private final Context root;
  private final TimeSource timeSource;
  // The system's time source moves with System.nanoTime(), one cheap read per request; another
  // (a test's manual clock) is read as nanoseconds since the epoch.
  private final boolean systemTime;
  private final Entry[] slots = new Entry[SLOTS];

  /**
   * Creates the shared deadlines of one filter.
   *
   * @param root the parent of every shared deadline context; its time source gives the deadlines
   */
  public SharedDeadlines(Context root) {
    this.root = Objects.requireNonNull(root, "root");
    this.timeSource = Context.timeSourceOf(root);
    this.systemTime = timeSource == TimeSource.system();
  }

  /**
   * Whether a timeout is shared.
   *
   * @param timeout the request's timeout
   * @return true if it lies between {@link #MIN_TIMEOUT} and {@link #MAX_TIMEOUT}
   */
  public static boolean shares(Duration timeout) {
    return timeout.compareTo(MIN_TIMEOUT) >= 0 && timeout.compareTo(MAX_TIMEOUT) <= 0;
  }

  /**
   * Takes the entry for a request that arrives now, by the root's time source, with {@code
   * timeout}: the current one of its cause slot if its deadline falls in the same window with the
   * same cause and the entry is not closed, else a new one, which becomes current. The caller must
   * {@linkplain Entry#release() release} it exactly once, after its own child of {@link
   * Entry#context()} has ended. A caller gives each cause it keeps a slot of its own, so that two
   * causes in use at once never replace each other's entries.
   *
   * @param timeout the request's timeout, one that {@link #shares(Duration)}
   * @param cause the cause the deadline ends the context with
   * @param causeSlot the cause's slot, from 0 to {@link #CAUSES} - 1
   * @return the entry, taken once
   * @throws IndexOutOfBoundsException if {@code causeSlot} is not a cause slot
   */
  public Entry take(Duration timeout, Throwable cause, int causeSlot) {
    Objects.checkIndex(causeSlot, CAUSES);
    if (systemTime) {
      return take(System.nanoTime(), null, timeout, cause, causeSlot);
    }
    Instant at = timeSource.now();
    long now = CoreInternals.saturatedNanos(Instant.EPOCH, at);
    if (now == Long.MAX_VALUE || now == Long.MIN_VALUE) {
      // A manual clock beyond the 292 years that nanoseconds count from the epoch: every instant
      // would fall in one window, and a deadline from its start could be far too early. Such a
      // request shares nothing; the core saturates its deadline at the ends of Instant's range.
      return own(timeout, cause);
    }
    return take(now, at, timeout, cause, causeSlot);
  }

  /**
   * As {@link #take(Duration, Throwable, int)}, for a request that arrives at {@code nowNanos}: for
   * tests, and the jcstress harness, which pass a time of their own.
   *
   * @param nowNanos the time, in nanoseconds of a clock that moves with the root's time source
   *     ({@code System.nanoTime()} for the system's)
   * @param timeout the request's timeout, one that {@link #shares(Duration)}
   * @param cause the cause the deadline ends the context with
   * @param causeSlot the cause's slot, from 0 to {@link #CAUSES} - 1
   * @return the entry, taken once
   * @throws IndexOutOfBoundsException if {@code causeSlot} is not a cause slot
   */
  public Entry take(long nowNanos, Duration timeout, Throwable cause, int causeSlot) {
    Objects.checkIndex(causeSlot, CAUSES);
    return take(nowNanos, timeSource.now(), timeout, cause, causeSlot);
  }

  /**
   * The take itself. {@code at} is the instant of {@code nowNanos}, or null on the system's time
   * source: the instant is then read on a miss only, followed by {@code System.nanoTime()}.
   */
  private Entry take(long nowNanos, Instant at, Duration timeout, Throwable cause, int causeSlot) {
    assert shares(timeout) : timeout;
    long timeoutNanos = timeout.toNanos();
    if (nowNanos > Long.MAX_VALUE - timeoutNanos) {
      return own(timeout, cause); // a deadline past the clock's range (a manual clock near 2262)
    }
    long due = nowNanos + timeoutNanos;
    long window = windowNanos(timeoutNanos);
    long tick = Math.floorDiv(due, window); // floor: nanoTime may be negative
    long start = tick * window; // the shared deadline, on the nanosecond count
    int base = causeSlot * WAYS;
    for (int w = 0; w < WAYS; w++) {
      Entry e = (Entry) SLOT.getVolatile(slots, base + w);
      if (e != null
          && e.startNanos == start
          && e.windowNanos == window
          && e.cause == cause
          && e.tryTake()) {
        return e;
      }
    }
    // A miss: the first empty slot, else an ended entry, else the earliest deadline gives way.
    int victim = base;
    long victimStart = Long.MAX_VALUE;
    for (int w = 0; w < WAYS && victimStart != Long.MIN_VALUE; w++) {
      Entry e = (Entry) SLOT.getVolatile(slots, base + w);
      long rank = e == null || e.ctx.isDone() ? Long.MIN_VALUE : e.startNanos;
      if (rank < victimStart) {
        victim = base + w;
        victimStart = rank;
      }
    }
    Instant deadline;
    if (at != null) {
      deadline = at.plusNanos(start - nowNanos);
    } else {
      // The instant first, then the count: a pause between the two makes the deadline earlier.
      Instant now = timeSource.now();
      deadline = now.plusNanos(start - System.nanoTime());
    }
    Entry fresh =
        new Entry(this, victim, start, window, cause, Context.withDeadlineCause(root, deadline, cause));
    Entry replaced = (Entry) SLOT.getAndSet(slots, victim, fresh);
    if (replaced != null) {
      replaced.closeIfUnused(); // invariant 3, the replacer's side
    }
    return fresh;
  }

  /** An entry in no slot, with a deadline of its own: closed when its request gives it back. */
  private Entry own(Duration timeout, Throwable cause) {
    assert shares(timeout) : timeout;
    CancelableContext own = Context.withTimeoutCause(root, timeout, cause);
    return new Entry(this, 0, Long.MIN_VALUE, 0, cause, own); // in no slot: never current
  }

  /**
   * The window of a timeout: a power of two milliseconds, the largest not above 1% of it, at least
   * one millisecond (1 ms up to 199 ms, 8 ms for a second, 256 ms for 30 s). A shared deadline is
   * then at most 1% of the timeout earlier than the request's own.
   *
   * @param timeoutNanos a timeout that {@link #shares(Duration)}, in nanoseconds
   * @return the window in nanoseconds
   */
  static long windowNanos(long timeoutNanos) {
    return Long.highestOneBit(Math.max(1, timeoutNanos / (100 * MILLI_NANOS))) * MILLI_NANOS;
  }

  /**
   * How many entries are current, for tests and diagnostics; each holds one registration on the
   * root until its context ends.
   *
   * @return the number of slots holding an entry whose context has not ended
   */
  public int currentCount() {
    int n = 0;
    for (int i = 0; i < SLOTS; i++) {
      Entry e = (Entry) SLOT.getVolatile(slots, i);
      if (e != null && !e.ctx.isDone()) {
        n++;
      }
    }
    return n;
  }

  /** Whether {@code e} is in one of the slots, for tests. */
  boolean isCurrent(Entry e) {
    for (int i = 0; i < SLOTS; i++) {
      if (SLOT.getVolatile(slots, i) == e) {
        return true;
      }
    }
    return false;
  }

  /** One shared deadline context and the requests holding it. */
  public static final class Entry {
    private final SharedDeadlines owner;
    private final int slot;
    private final long startNanos;
    private final long windowNanos;
    private final Throwable cause;
    private final CancelableContext ctx;
    /** OPEN, CLOSING or CLOSED; every access is volatile. */
    private volatile int state;
    /** The stripes, at {@link #stripeIndex}, written and read through {@link #COUNTS} alone. */
    private final int[] counts = new int[COUNTS_LENGTH];

    Entry(
        SharedDeadlines owner,
        int slot,
        long startNanos,
        long windowNanos,
        Throwable cause,
        CancelableContext ctx) {
      this.owner = owner;
      this.slot = slot;
      this.startNanos = startNanos;
      this.windowNanos = windowNanos;
      this.cause = cause;
      this.ctx = ctx;
      COUNTS.setVolatile(counts, myStripe(), 1); // born taken by its creator
    }

    /**
     * The shared deadline context: the parent to give the request's own context.
     *
     * @return the context
     */
    public Context context() {
      return ctx;
    }

    /** Gives the entry back; once per {@link SharedDeadlines#take}, on any thread. */
    public void release() {
      assert state != CLOSED : "released after the close: released more often than taken";
      COUNTS.getAndAdd(counts, myStripe(), -1);
      if (SLOT.getVolatile(owner.slots, slot) != this) {
        closeIfUnused(); // invariant 3, the release's side
      }
    }

    /** Whether it was closed, for tests. */
    boolean closed() {
      return state == CLOSED;
    }

    private boolean tryTake() {
      return state == OPEN && confirm(add());
    }

    /**
     * A take's first step, after it found the entry OPEN: adds 1 to the caller's stripe. Apart
     * from {@link #confirm} only so that tests can run a close between the two.
     *
     * @return the stripe, for {@link #confirm}
     */
    int add() {
      int stripe = myStripe();
      COUNTS.getAndAdd(counts, stripe, 1);
      return stripe;
    }

    /**
     * A take's second step: whether the add made by {@link #add} is kept. If the entry is no longer
     * OPEN, a close may have counted that add and given up: the add is undone and the close tried
     * in its place.
     *
     * @param stripe what {@link #add} returned
     * @return true if the take is kept
     */
    boolean confirm(int stripe) {
      if (state == OPEN) {
        return true; // invariant 1: the add came before any move to CLOSING
      }
      COUNTS.getAndAdd(counts, stripe, -1);
      closeIfUnused();
      return false;
    }

    private void closeIfUnused() {
      if (state == OPEN) {
        STATE.compareAndSet(this, OPEN, CLOSING);
      }
      if (state != CLOSING) {
        return; // closed already
      }
      int holders = 0;
      for (int s = 0; s < STRIPES; s++) {
        holders += (int) COUNTS.getVolatile(counts, stripeIndex(s));
      }
      assert holders >= 0 : "released more often than taken: " + holders; // invariant 1
      if (holders == 0 && STATE.compareAndSet(this, CLOSING, CLOSED)) { // invariant 2
        ctx.cancel(); // stops the timer, withdraws the registration from the root
      }
    }
  }
}
