package io.ctx4j.testing;

import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * Bounded waits for the garbage collector, in the manner of the JDK test library's {@code ForceGC}:
 * for leak tests that check that something became unreachable.
 *
 * <p>Thread safety: stateless; call from any thread.
 */
public final class Gc {
  private Gc() {}

  /**
   * Runs GC cycles until {@code condition} holds, for at most about ten seconds.
   *
   * @param condition what the collection should bring about
   * @return whether the condition held in time; {@code false} also if the thread is interrupted
   *     (its interrupt status is then set again)
   */
  public static boolean until(BooleanSupplier condition) {
    for (int i = 0; i < 100; i++) {
      if (condition.getAsBoolean()) {
        return true;
      }
      System.gc();
      // Gives reference processing time to clear referents; a wait, not synchronisation.
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return condition.getAsBoolean();
  }

  /**
   * Runs GC cycles under allocation pressure (1 MiB blocks, at most 16 held at a time) until {@code
   * condition} holds or {@code limit} has passed: for what a {@link java.lang.ref.Cleaner} releases,
   * which some collectors process only once the heap is under pressure.
   *
   * @param condition what the collection should bring about
   * @param limit how long to try
   * @return whether the condition held in time
   */
  public static boolean untilUnderPressure(BooleanSupplier condition, Duration limit) {
    long deadline = System.nanoTime() + limit.toNanos();
    List<byte[]> pressure = new ArrayList<>();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadline >= 0) {
        return false;
      }
      System.gc();
      pressure.add(new byte[1 << 20]);
      if (pressure.size() > 16) {
        pressure.clear();
      }
      Thread.onSpinWait();
    }
    return true;
  }

  /**
   * Counts the references in {@code refs} whose referent is still reachable after GC, waiting (as
   * {@link #until}) for all of them to clear first.
   *
   * @param refs weak references to what should be garbage
   * @return how many referents survived
   */
  public static long survivors(List<? extends WeakReference<?>> refs) {
    until(() -> refs.stream().allMatch(r -> r.get() == null));
    return refs.stream().filter(r -> r.get() != null).count();
  }

  /**
   * Returns the heap in use after a full collection, in bytes: the least of three readings, each
   * after {@code System.gc()}.
   *
   * @return bytes in use
   */
  public static long usedAfterGc() {
    Runtime rt = Runtime.getRuntime();
    long best = Long.MAX_VALUE;
    for (int i = 0; i < 3; i++) {
      System.gc();
      best = Math.min(best, rt.totalMemory() - rt.freeMemory());
    }
    return best;
  }
}
