package io.ctx4j;

import java.lang.reflect.UndeclaredThrowableException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.PriorityQueue;

/**
 * A {@link TimeSource} whose time moves only when told to, for tests of code with deadlines.
 *
 * <pre>{@code
 * ManualTimeSource time = ManualTimeSource.startingAt(Instant.parse("2030-01-01T00:00:00Z"));
 * Context root = Context.withTimeSource(Context.background(), time);
 * CancelableContext ctx = Context.withTimeout(root, Duration.ofSeconds(3));
 * time.advance(Duration.ofSeconds(3));   // fires the deadline on this thread
 * assert ctx.err() == Context.DEADLINE_EXCEEDED;
 * }</pre>
 *
 * <p>Actions scheduled on it run on the thread that calls {@link #advance} or {@link #set}, in
 * deadline order (ties in scheduling order), after the time has been moved and outside any lock, so
 * an action may schedule or stop others. An action that throws stops none of the others: all due
 * actions run, then the first failure is rethrown to the caller. Thread-safe; {@link #now()} reads are ordered after the
 * {@code advance} that set them.
 *
 * @since 0.1
 */
public final class ManualTimeSource implements TimeSource {
  private final Object lock = new Object();
  private final PriorityQueue<Task> queue =
      new PriorityQueue<>(
          (a, b) -> {
            int c = a.at.compareTo(b.at);
            return c != 0 ? c : Long.compare(a.seq, b.seq);
          });
  private volatile Instant now;
  private long seq;
  /** Stopped tasks still in the queue; purged in bulk so that a stop is not a linear search. */
  private int stopped;

  private ManualTimeSource(Instant start) {
    this.now = start;
  }

  /**
   * Creates a source that reads {@code start} until moved.
   *
   * @param start the initial time
   * @return a new manual source
   * @throws NullPointerException if {@code start} is null
   */
  public static ManualTimeSource startingAt(Instant start) {
    return new ManualTimeSource(Objects.requireNonNull(start, "start"));
  }

  @Override
  public Instant now() {
    return now;
  }

  @Override
  public Registration schedule(Instant deadline, Runnable action) {
    Objects.requireNonNull(deadline, "deadline");
    Objects.requireNonNull(action, "action");
    Task t;
    synchronized (lock) {
      t = new Task(deadline, seq++, action);
      t.queued = true;
      queue.add(t);
    }
    return t;
  }

  /**
   * Moves time forward and runs every action now due.
   *
   * @param by how far; zero runs what is due without moving
   * @throws NullPointerException if {@code by} is null
   * @throws IllegalArgumentException if {@code by} is negative
   * @throws RuntimeException the first exception an action threw (an {@code Error} as is), once
   *     every due action has run; later ones are suppressed on it
   */
  public void advance(Duration by) {
    Objects.requireNonNull(by, "by");
    if (by.isNegative()) {
      throw new IllegalArgumentException("cannot move time backwards: " + by);
    }
    Instant target;
    synchronized (lock) {
      target = Durations.saturatedPlus(now, by);
      now = target;
    }
    runDue();
  }

  /**
   * Moves time to {@code instant} (forward only) and runs every action now due.
   *
   * @param instant the new time
   * @throws NullPointerException if {@code instant} is null
   * @throws IllegalArgumentException if {@code instant} is before the current time
   * @throws RuntimeException the first exception an action threw (an {@code Error} as is), once
   *     every due action has run; later ones are suppressed on it
   */
  public void set(Instant instant) {
    Objects.requireNonNull(instant, "instant");
    synchronized (lock) {
      if (instant.isBefore(now)) {
        throw new IllegalArgumentException("cannot move time backwards: " + instant + " < " + now);
      }
      now = instant;
    }
    runDue();
  }

  /**
   * Counts the actions scheduled and neither run nor stopped.
   *
   * @return the number of pending actions
   */
  public int pendingCount() {
    synchronized (lock) {
      return queue.size() - stopped;
    }
  }

  private void runDue() {
    Throwable failure = null;
    for (; ; ) {
      List<Task> due = new ArrayList<>();
      synchronized (lock) {
        Task t;
        while ((t = queue.peek()) != null && !t.at.isAfter(now)) {
          queue.poll();
          t.queued = false;
          if (t.isStopped()) {
            stopped--;
          } else {
            due.add(t);
          }
        }
      }
      if (due.isEmpty()) {
        break;
      }
      for (Task t : due) {
        Runnable a = t.take();
        if (a != null) {
          // Every due action runs: they are off the queue already, so one that stopped the batch
          // would lose the rest (a context whose deadline fell in it would never expire).
          try {
            a.run();
          } catch (Throwable x) {
            if (failure == null) {
              failure = x;
            } else if (x != failure) {
              failure.addSuppressed(x);
            }
          }
        }
      }
    }
    if (failure instanceof RuntimeException) {
      throw (RuntimeException) failure;
    }
    if (failure instanceof Error) {
      throw (Error) failure;
    }
    if (failure != null) {
      throw new UndeclaredThrowableException(failure); // a checked exception thrown sneakily
    }
  }

  @Override
  public String toString() {
    return "ManualTimeSource(" + now + ")";
  }

  private final class Task implements Registration {
    final Instant at;
    final long seq;
    private Runnable action;

    Task(Instant at, long seq, Runnable action) {
      this.at = at;
      this.seq = seq;
      this.action = action;
    }

    /** Guarded by the source's lock: what the queue holds is counted under it. */
    private boolean stoppedInQueue;
    /** Guarded by the source's lock. */
    boolean queued;

    synchronized Runnable take() {
      Runnable a = action;
      action = null;
      return a;
    }

    boolean isStopped() {
      return stoppedInQueue;
    }

    @Override
    public boolean stop() {
      if (take() == null) {
        return false;
      }
      synchronized (lock) {
        if (queued) { // else already taken off by runDue, which will find no action
          stoppedInQueue = true;
          stopped++;
          if (stopped > 64 && stopped > queue.size() / 2) {
            queue.removeIf(Task::isStopped);
            stopped = 0;
          }
        }
      }
      return true;
    }
  }
}
