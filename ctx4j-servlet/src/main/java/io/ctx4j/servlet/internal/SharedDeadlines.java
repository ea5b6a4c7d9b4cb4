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
 * Deadline contexts shared by the requests that arrive in the same window (1% of the timeout, in
 * whole milliseconds, at least one) with the same timeout and cause. Not part of the API.
 *
 * <p>Why: a request with a deadline otherwise costs a deadline context of its own under the server
 * root: a timer scheduled and stopped, and a registration pushed on the root and withdrawn, with
 * cache lines that are cold by the time the request ends. Under load, requests carrying the same
 * timeout header arrive many to the millisecond; each now takes a plain {@code withCancel} child of
 * the shared deadline context, which registers with nothing unless someone waits on it, and the
 * deadline's cost is paid once per window. The window is as long as the rounding allows, 1% of the
 * timeout (300 ms for 30 s): creating a deadline context runs code too rarely to be compiled well
 * and touches memory that the rest of the server has pushed out of the caches by then, which
 * measured about 14 µs per creation under FilterLoad's load. With a window of 1 ms that left a fair
 * part of the cost in place, and with 10 ms still a third of the deadline's own CPU. The shared
 * deadline is the start of the window plus the timeout: up to one window earlier than the
 * request's own, never later (but for the instant between reading the clock for the window and
 * for the deadline). Only timeouts from {@link #MIN_TIMEOUT} to {@link #MAX_TIMEOUT} are shared:
 * the rounding is then at most 1% of the budget, and the arithmetic cannot overflow.
 *
 * <h2>An entry's states ({@code users})</h2>
 *
 * <pre>
 *   n >= 1   n requests hold the entry
 *   0        nobody holds it; while it is current it may be taken again
 *   CLOSED   its context is cancelled; it is never taken again
 *
 *   take      n -> n + 1 (n >= 0), CAS; fails on CLOSED (the taker makes a new entry)
 *   release   n -> n - 1
 *   close     0 -> CLOSED, CAS; tried by whoever last sees 0 on an entry that is no longer current:
 *             the release that brings it to 0 after it was replaced, or the replacer that finds 0
 * </pre>
 *
 * Invariants:
 *
 * <ol>
 *   <li>{@code users} is {@code CLOSED} or at least 0, and never leaves {@code CLOSED}.
 *   <li>An entry is closed at most once, and never while a request holds it (close needs 0).
 *   <li>An entry that is no longer current and has no users gets closed: the replacer writes
 *       {@code slots[i]} and then reads {@code users}; the last release writes {@code users} and
 *       then reads {@code slots[i]}; all four accesses are volatile, so at least one of the two
 *       sees the other's write and tries the close.
 *   <li>An entry is replaced only by a request whose window, timeout or cause differs, or
 *       which found it closed; the current entry is never closed here (its own deadline or the
 *       root's end may still end its context).
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
  private static final int CLOSED = -1;
  /** How many entries can be current at once, one per slot; a caller's slot is below this. */
  public static final int SLOTS = 8;
  private static final VarHandle USERS;
  private static final VarHandle SLOT;

  static {
    try {
      USERS = MethodHandles.lookup().findVarHandle(Entry.class, "users", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
    SLOT = MethodHandles.arrayElementVarHandle(Entry[].class);
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
   * timeout}; see {@link #take(long, Duration, Throwable)}.
   *
   * @param timeout the request's timeout, one that {@link #shares(Duration)}
   * @param cause the cause the deadline ends the context with
   * @return the entry, taken once
   */
  public Entry take(Duration timeout, Throwable cause) {
    return take(timeout, cause, slotOf(cause));
  }

  /**
   * As {@link #take(Duration, Throwable)}, in the slot {@code slot}: a caller that keeps a few
   * causes gives each its own slot, so that two causes in use at once never take turns replacing
   * each other's entry (which {@linkplain #slotOf the identity hash} can make them do).
   *
   * @param timeout the request's timeout, one that {@link #shares(Duration)}
   * @param cause the cause the deadline ends the context with
   * @param slot the slot, from 0 to {@link #SLOTS} - 1
   * @return the entry, taken once
   * @throws IndexOutOfBoundsException if {@code slot} is not a slot
   */
  public Entry take(Duration timeout, Throwable cause, int slot) {
    Objects.checkIndex(slot, SLOTS);
    if (systemTime) {
      return take(System.nanoTime(), timeout, cause, slot);
    }
    long now = CoreInternals.saturatedNanos(Instant.EPOCH, timeSource.now());
    if (now == Long.MAX_VALUE || now == Long.MIN_VALUE) {
      // A manual clock beyond the 292 years that nanoseconds count from the epoch: every instant
      // would fall in one window, and a deadline from its start could be far too early. Such a
      // request shares nothing; the core saturates its deadline at the ends of Instant's range.
      assert shares(timeout) : timeout;
      CancelableContext own = Context.withTimeoutCause(root, timeout, cause);
      return new Entry(this, 0, Long.MIN_VALUE, timeout.toNanos(), cause, own);
    }
    return take(now, timeout, cause, slot);
  }

  /**
   * Takes the entry for a request that arrives at {@code nowNanos} with {@code timeout}: the current
   * one if it has the same window, timeout and cause and is not closed, else a new one, which
   * becomes current. The caller must {@linkplain Entry#release() release} it exactly once, after
   * its own child of {@link Entry#context()} has ended.
   *
   * @param nowNanos the time, in nanoseconds of a clock that moves with the root's time source
   *     ({@code System.nanoTime()} for the system's, as {@link #take(Duration, Throwable)} reads
   *     it; tests pass a number of their own)
   * @param timeout the request's timeout, one that {@link #shares(Duration)}
   * @param cause the cause the deadline ends the context with
   * @return the entry, taken once
   */
  public Entry take(long nowNanos, Duration timeout, Throwable cause) {
    return take(nowNanos, timeout, cause, slotOf(cause));
  }

  /** The slot of a cause whose caller names none: its identity hash's lowest bits. */
  static int slotOf(Throwable cause) {
    return System.identityHashCode(cause) & (SLOTS - 1);
  }

  private Entry take(long nowNanos, Duration timeout, Throwable cause, int i) {
    assert shares(timeout) : timeout;
    assert i >= 0 && i < SLOTS : i;
    long timeoutNanos = timeout.toNanos();
    long window = windowNanos(timeoutNanos);
    long tick = Math.floorDiv(nowNanos, window); // floor: nanoTime may be negative
    long intoTick = nowNanos - tick * window; // tick counts windows, which the timeout implies
    Entry current = (Entry) SLOT.getVolatile(slots, i);
    if (current != null
        && current.tick == tick
        && current.timeoutNanos == timeoutNanos
        && current.cause == cause
        && current.tryTake()) {
      return current;
    }
    Instant deadline = timeSource.now().minusNanos(intoTick).plus(timeout);
    Entry fresh =
        new Entry(this, i, tick, timeoutNanos, cause, Context.withDeadlineCause(root, deadline, cause));
    Entry replaced = (Entry) SLOT.getAndSet(slots, i, fresh);
    if (replaced != null) {
      replaced.closeIfUnused(); // invariant 3, the replacer's side
    }
    return fresh;
  }

  /**
   * The window of a timeout: 1% of it, rounded down to whole milliseconds, at least one
   * millisecond (so 1 ms up to 199 ms, 10 ms for a second, 300 ms for 30 s). A shared deadline is
   * then at most 1% of the timeout earlier than the request's own.
   *
   * @param timeoutNanos a timeout that {@link #shares(Duration)}, in nanoseconds
   * @return the window in nanoseconds
   */
  static long windowNanos(long timeoutNanos) {
    return Math.max(MILLI_NANOS, timeoutNanos / (100 * MILLI_NANOS) * MILLI_NANOS);
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

  /** One shared deadline context and the requests holding it. */
  public static final class Entry {
    private final SharedDeadlines owner;
    private final int slot;
    private final long tick;
    private final long timeoutNanos;
    private final Throwable cause;
    private final CancelableContext ctx;
    @SuppressWarnings("unused") // USERS
    private volatile int users = 1; // born taken by its creator

    Entry(
        SharedDeadlines owner,
        int slot,
        long tick,
        long timeoutNanos,
        Throwable cause,
        CancelableContext ctx) {
      this.owner = owner;
      this.slot = slot;
      this.tick = tick;
      this.timeoutNanos = timeoutNanos;
      this.cause = cause;
      this.ctx = ctx;
    }

    /**
     * The shared deadline context: the parent to give the request's own context.
     *
     * @return the context
     */
    public Context context() {
      return ctx;
    }

    /** Gives the entry back; once per {@link SharedDeadlines#take}. */
    public void release() {
      int left = (int) USERS.getAndAdd(this, -1) - 1;
      assert left >= 0 : "released more often than taken: " + left; // invariant 1
      if (left == 0 && SLOT.getVolatile(owner.slots, slot) != this) {
        closeIfUnused(); // invariant 3, the last release's side
      }
    }

    /** Whether it was closed, for tests. */
    boolean closed() {
      return users == CLOSED;
    }

    private boolean tryTake() {
      for (int n = users; n >= 0; n = users) {
        if (USERS.compareAndSet(this, n, n + 1)) {
          return true;
        }
      }
      return false;
    }

    private void closeIfUnused() {
      if (USERS.compareAndSet(this, 0, CLOSED)) { // invariant 2: only from 0, only once
        ctx.cancel(); // stops the timer, withdraws the registration from the root
      }
    }
  }
}
