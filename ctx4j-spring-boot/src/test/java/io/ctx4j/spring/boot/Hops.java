package io.ctx4j.spring.boot;

import io.ctx4j.Context;
import io.ctx4j.testing.ContextProbe;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;

/** What each service of a chain saw: its time left on entry, its protocol, how its context ended. */
final class Hops {
  static final class Hop extends ContextProbe {
    volatile String protocol;
    volatile RuntimeException downstreamFailure;
    /** Counted down by a test to let a held handler go on. */
    final CountDownLatch release = new CountDownLatch(1);
    /** Counted down by a held handler once it has written what it could before the client reads. */
    final CountDownLatch sent = new CountDownLatch(1);
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
    h.protocol = protocol;
    h.enter(ctx);
    return h;
  }
}
