package io.ctx4j.spring.boot;

import io.ctx4j.Context;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;

/** What each service of a chain saw: its time left on entry, its protocol, how its context ended. */
final class Hops {
  static final class Hop {
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch ended = new CountDownLatch(1);
    volatile Duration leftAtEntry;
    volatile String protocol;
    volatile Throwable cause;
    volatile long endedAtNanos;
    volatile RuntimeException downstreamFailure;
    /** Counted down by a test to let a held handler go on. */
    final CountDownLatch release = new CountDownLatch(1);
    /** The number of body chunks a streaming handler wrote. */
    volatile int written;
    /** Whether the handler found its context done when it finished. */
    volatile boolean doneWhenFinished;
  }

  private final Map<String, Hop> hops = new ConcurrentHashMap<>();

  /** Forgets every record: call before a run. */
  void reset() {
    hops.clear();
  }

  Hop get(String name) {
    return hops.computeIfAbsent(name, n -> new Hop());
  }

  Hop begin(String name, Context ctx, String protocol) {
    Hop h = get(name);
    h.leftAtEntry = ctx.remaining().orElse(null);
    h.protocol = protocol;
    ctx.onDone(
        () -> {
          h.endedAtNanos = System.nanoTime();
          h.cause = ctx.cause();
          h.ended.countDown();
        });
    h.entered.countDown();
    return h;
  }
}
