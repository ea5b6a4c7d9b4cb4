package io.ctx4j.demo;

import io.ctx4j.Context;
import io.ctx4j.Registration;
import io.ctx4j.TimeSource;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;

/**
 * The clock of the demo: Go's {@code time.Now}, {@code time.Sleep} and {@code time.After}, plus the
 * root context that deadlines are measured from, all driven by one {@link TimeSource}.
 *
 * <p>{@link #system()} is real time, what {@code mvn exec:java} uses. Tests build one over a {@link
 * io.ctx4j.ManualTimeSource} so that the examples' two-, three- and five-second waits take no time
 * and end at exact instants: because sleeps, {@code after} and context deadlines all go through the
 * same source, moving it by hand moves every one of them consistently.
 *
 * <p>Thread-safe if its time source is.
 */
public final class DemoTime {
  private static final DemoTime SYSTEM = new DemoTime(TimeSource.system(), Context.background());

  private final TimeSource source;
  private final Context root;

  private DemoTime(TimeSource source, Context root) {
    this.source = source;
    this.root = root;
  }

  /**
   * Returns the real clock: {@link TimeSource#system()} and {@link Context#background()} as root.
   *
   * @return the shared real-time instance
   */
  public static DemoTime system() {
    return SYSTEM;
  }

  /**
   * Returns a clock driven by {@code source}; its root is {@code Context.background()} bound to
   * {@code source} with {@link Context#withTimeSource}.
   *
   * @param source the time source
   * @return a new instance
   * @throws NullPointerException if {@code source} is null
   */
  public static DemoTime of(TimeSource source) {
    Objects.requireNonNull(source, "source");
    if (source == TimeSource.system()) {
      return SYSTEM;
    }
    return new DemoTime(source, Context.withTimeSource(Context.background(), source));
  }

  /**
   * Returns the context the examples derive theirs from, in place of Go's {@code
   * context.Background()}, so that their deadlines follow this clock.
   *
   * @return the root context; never done
   */
  public Context root() {
    return root;
  }

  /**
   * Returns the current instant of this clock: Go's {@code time.Now()}.
   *
   * @return now
   */
  public Instant now() {
    return source.now();
  }

  /**
   * Blocks for {@code duration} of this clock's time: Go's {@code time.Sleep}. Returns at once for
   * zero.
   *
   * @param duration how long
   * @throws InterruptedException if the thread is interrupted while sleeping; the timer is withdrawn
   * @throws NullPointerException if {@code duration} is null
   * @throws IllegalArgumentException if {@code duration} is negative
   */
  public void sleep(Duration duration) throws InterruptedException {
    Instant until = deadlineAfter(duration);
    if (duration.isZero()) {
      return;
    }
    CountDownLatch latch = new CountDownLatch(1);
    Registration timer = source.schedule(until, latch::countDown);
    try {
      latch.await();
    } finally {
      timer.stop();
    }
  }

  /**
   * Returns a future that completes with the then-current instant once {@code duration} has passed:
   * Go's {@code time.After}, standing for an operation that takes that long. Unlike Go's channel,
   * cancelling the future withdraws its timer, so abandoned operations hold nothing.
   *
   * <p>Memory consistency effects: the future is completed on the time source's thread (for the
   * system source, ctx4j's timer thread; for a manual one, the thread that moves time), with the
   * usual {@link CompletableFuture} guarantees.
   *
   * @param duration how long until completion
   * @return a new future; never completes exceptionally unless cancelled
   * @throws NullPointerException if {@code duration} is null
   * @throws IllegalArgumentException if {@code duration} is negative
   */
  public CompletableFuture<Instant> after(Duration duration) {
    Instant at = deadlineAfter(duration);
    CompletableFuture<Instant> done = new CompletableFuture<>();
    Registration timer = source.schedule(at, () -> done.complete(source.now()));
    done.whenComplete((t, e) -> timer.stop());
    return done;
  }

  /**
   * Formats the time elapsed on this clock since {@code start} the way the demo prints it, e.g.
   * {@code (after 2.0 s)}, with one decimal whatever the default locale.
   *
   * @param start an earlier {@link #now()}
   * @return the formatted elapsed time
   * @throws NullPointerException if {@code start} is null
   */
  public String since(Instant start) {
    Objects.requireNonNull(start, "start");
    double seconds = Duration.between(start, now()).toNanos() / 1e9;
    return String.format(Locale.ROOT, "(after %.1f s)", seconds);
  }

  private Instant deadlineAfter(Duration duration) {
    Objects.requireNonNull(duration, "duration");
    if (duration.isNegative()) {
      throw new IllegalArgumentException("duration is negative: " + duration);
    }
    return source.now().plus(duration);
  }

  @Override
  public String toString() {
    return "DemoTime(" + source + ")";
  }
}
