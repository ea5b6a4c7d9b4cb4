package io.ctx4j;

import java.lang.ref.WeakReference;
import java.util.List;
import java.util.function.BooleanSupplier;

/** Bounded waits for the garbage collector, in the manner of the JDK test library's ForceGC. */
final class Gc {
  private Gc() {}

  /**
   * Runs GC cycles until {@code condition} holds, for at most about ten seconds.
   *
   * @return whether the condition held in time
   */
  static boolean until(BooleanSupplier condition) {
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

  /** Counts the references in {@code refs} whose referent is still reachable after GC. */
  static long survivors(List<? extends WeakReference<?>> refs) {
    until(() -> refs.stream().allMatch(r -> r.get() == null));
    return refs.stream().filter(r -> r.get() != null).count();
  }

  /** Heap in use after a full collection, in bytes. */
  static long usedAfterGc() {
    Runtime rt = Runtime.getRuntime();
    long best = Long.MAX_VALUE;
    for (int i = 0; i < 3; i++) {
      System.gc();
      best = Math.min(best, rt.totalMemory() - rt.freeMemory());
    }
    return best;
  }
}
