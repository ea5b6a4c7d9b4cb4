package io.ctx4j.stress;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Key;
import io.ctx4j.Registration;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.testing.Gc;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.ThreadMXBean;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * Mixed random load on every core for a set time, then a verdict: the soak test of ctx4j.
 *
 * <p>Worker threads (two per core) build small random trees under one long-lived root (cancelable
 * children, timeouts long and short, value layers, {@code onDone} callbacks, {@code afterFunc}
 * functions, waiters) and end them every way there is: cancel from the owning thread, cancel from a
 * separate canceller thread while the owner waits, deadlines firing, registrations stopped. Every
 * ending is checked at once: after a cancel returns, or after a wait wakes, the whole subtree must be
 * done and every callback must have run exactly once. A sampler records the peak heap and thread
 * count. At the end, the retained heap after GC is compared with the level after warm-up, the root
 * must hold no registrations, the timer no entries, sampled dead contexts must be collectable, and
 * ctx4j's threads must be back to the timer alone.
 *
 * <p>Usage: {@code Soak [--seconds N | --minutes N] [--threads N]}; exit status 0 on success, 1 on
 * any lost cancellation, callback miscount or retained growth, 2 on bad arguments. Run it with a
 * bounded heap (the script uses {@code -Xmx256m}) so that a leak shows. Not thread-safe as an
 * object: {@link #main} owns it.
 */
public final class Soak {
  private static final Key<Integer> DEPTH = Key.of("depth", Integer.class);
  /** How long any check may wait for something that must happen; far beyond any normal delay. */
  private static final long BOUND_NANOS = TimeUnit.SECONDS.toNanos(20);

  private final int threads;
  private final long durationNanos;
  private final CancelableContext root = Context.withCancel(Context.background());
  private final ConcurrentLinkedQueue<Handoff> toCancel = new ConcurrentLinkedQueue<>();
  private final LongAdder operations = new LongAdder();
  private final LongAdder cancellations = new LongAdder();
  private final LongAdder deadlines = new LongAdder();
  private final LongAdder callbackRuns = new LongAdder();
  private final LongAdder afterFuncExpected = new LongAdder();
  private final LongAdder afterFuncRuns = new LongAdder();
  private final LongAdder failures = new LongAdder();
  private final ConcurrentLinkedQueue<String> failureSamples = new ConcurrentLinkedQueue<>();
  /** A ring of weak references to cancelled contexts: all must be collectable at the end. */
  private final AtomicReferenceArray<WeakReference<Context>> graveyard = new AtomicReferenceArray<>(1024);
  private final AtomicLong graveSlot = new AtomicLong();
  private volatile boolean stop;
  /** A planted fault ("lost" or "leak") that the verdict must catch; null for a real run. */
  private final String plant;
  /** Where the planted leak keeps cancelled contexts. */
  private final ConcurrentLinkedQueue<Context> plantedLeak = new ConcurrentLinkedQueue<>();

  private Soak(int threads, long durationNanos, String plant) {
    this.threads = threads;
    this.durationNanos = durationNanos;
    this.plant = plant;
  }

  /** A context handed to the canceller thread, and what the owner waits for. */
  private static final class Handoff {
    final CancelableContext ctx;
    final CountDownLatch cancelled = new CountDownLatch(1);

    Handoff(CancelableContext ctx) {
      this.ctx = ctx;
    }
  }

  /**
   * Runs the soak.
   *
   * @param args {@code --seconds N}, {@code --minutes N} (fractions allowed), {@code --threads N},
   *     and {@code --plant lost|leak} to plant a fault the verdict must catch (a self-test)
   * @throws InterruptedException if the main thread is interrupted
   */
  public static void main(String[] args) throws InterruptedException {
    double seconds = 30;
    int threads = 2 * Runtime.getRuntime().availableProcessors();
    String plant = null;
    try {
      for (int i = 0; i < args.length; i++) {
        switch (args[i]) {
          case "--seconds":
            seconds = Double.parseDouble(args[++i]);
            break;
          case "--minutes":
            seconds = 60 * Double.parseDouble(args[++i]);
            break;
          case "--threads":
            threads = Integer.parseInt(args[++i]);
            break;
          case "--plant":
            plant = args[++i];
            if (!plant.equals("lost") && !plant.equals("leak")) {
              throw new IllegalArgumentException("--plant takes lost or leak, not " + plant);
            }
            break;
          default:
            throw new IllegalArgumentException("unknown argument: " + args[i]);
        }
      }
      if (seconds <= 0 || threads <= 0) {
        throw new IllegalArgumentException("--seconds and --threads must be positive");
      }
    } catch (RuntimeException e) {
      System.err.println("Soak: " + e.getMessage());
      System.err.println("usage: Soak [--seconds N | --minutes N] [--threads N] [--plant lost|leak]");
      System.exit(2);
      return;
    }
    boolean ok = new Soak(threads, (long) (seconds * 1e9), plant).run();
    System.exit(ok ? 0 : 1);
  }

  private boolean run() throws InterruptedException {
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    ThreadMXBean threadBean = ManagementFactory.getThreadMXBean();
    int threadsAtStart = threadBean.getThreadCount();
    int timersAtStart = CoreInternals.pendingTimers();
    long[] maxHeap = {0};
    int[] maxThreads = {0};
    Thread sampler = daemon("soak-sampler", () -> {
      while (!stop) {
        maxHeap[0] = Math.max(maxHeap[0], memory.getHeapMemoryUsage().getUsed());
        maxThreads[0] = Math.max(maxThreads[0], threadBean.getThreadCount());
        sleepQuietly(50);
      }
    });
    Thread canceller = daemon("soak-canceller", this::cancelHandoffs);
    List<Thread> workers = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      long seed = 0x5EEDL * (i + 1);
      workers.add(daemon("soak-worker-" + i, () -> work(new SplittableRandom(seed))));
    }
    long start = System.nanoTime();
    long warmUp = Math.max(Math.min(durationNanos / 5, TimeUnit.SECONDS.toNanos(30)), TimeUnit.SECONDS.toNanos(2));
    sleepUntil(start + Math.min(warmUp, durationNanos));
    long baseline = Gc.usedAfterGc();
    long baselineOps = operations.sum();
    sleepUntil(start + durationNanos);
    stop = true;
    for (Thread w : workers) {
      w.join(TimeUnit.NANOSECONDS.toMillis(BOUND_NANOS));
    }
    canceller.join(TimeUnit.NANOSECONDS.toMillis(BOUND_NANOS));
    sampler.join();
    long elapsed = System.nanoTime() - start;
    for (Thread w : workers) {
      if (w.isAlive()) {
        fail("worker " + w.getName() + " did not finish: stuck waiting for a cancellation");
      }
    }
    // afterFunc runs still in flight finish within the bound, or they were lost.
    long deadline = System.nanoTime() + BOUND_NANOS;
    while (afterFuncRuns.sum() < afterFuncExpected.sum() && System.nanoTime() < deadline) {
      sleepQuietly(10);
    }
    if (afterFuncRuns.sum() != afterFuncExpected.sum()) {
      fail("afterFunc ran " + afterFuncRuns.sum() + " times, expected " + afterFuncExpected.sum());
    }
    int rootRegistrations = CoreInternals.registrationCount(root);
    int rootNodes = CoreInternals.nodeCount(root);
    if (rootRegistrations != 0) {
      fail("the long-lived root still holds " + rootRegistrations + " registrations");
    }
    if (rootNodes > 64) {
      fail("the long-lived root's stack holds " + rootNodes + " dead nodes");
    }
    int timersAtEnd = CoreInternals.pendingTimers();
    if (timersAtEnd > timersAtStart) {
      fail("timer entries left: " + timersAtEnd + " (at start " + timersAtStart + ")");
    }
    long retained = Gc.usedAfterGc();
    int graves = 0;
    int undead = 0;
    for (int i = 0; i < graveyard.length(); i++) {
      WeakReference<Context> ref = graveyard.get(i);
      if (ref != null) {
        graves++;
        if (ref.get() != null) {
          undead++;
        }
      }
    }
    if (undead > 0) {
      fail(undead + " of " + graves + " sampled cancelled contexts are still reachable");
    }
    long allowed = Math.max(8L << 20, baseline / 4);
    if (retained - baseline > allowed) {
      fail("retained heap grew from " + mib(baseline) + " to " + mib(retained) + " MiB after GC");
    }
    int ctx4jThreads = awaitCallbackThreadsRetire();
    int threadsAtEnd = threadBean.getThreadCount();
    if (ctx4jThreads > 1) {
      fail(ctx4jThreads + " ctx4j threads still alive after the callback pool's idle time");
    }

    double secs = elapsed / 1e9;
    long ops = operations.sum();
    PrintfOut out = new PrintfOut();
    out.line("Soak: %.1f s, %d worker threads on %d cores, heap limit %d MiB",
        secs, threads, Runtime.getRuntime().availableProcessors(), mib(Runtime.getRuntime().maxMemory()));
    out.line("operations done:          %,d (%,.0f/s; %,d after warm-up)", ops, ops / secs, ops - baselineOps);
    out.line("cancellations observed:   %,d (%,d of them deadlines firing)", cancellations.sum(), deadlines.sum());
    out.line("callbacks run:            %,d onDone, %,d of %,d afterFunc", callbackRuns.sum(),
        afterFuncRuns.sum(), afterFuncExpected.sum());
    out.line("lost cancellations/other failures: %d", failures.sum());
    out.line("max heap used:            %d MiB", mib(maxHeap[0]));
    out.line("retained heap after GC:   %d MiB after warm-up, %d MiB at the end", mib(baseline), mib(retained));
    out.line("live threads:             %d at start, %d at most, %d at the end (%d of ctx4j)",
        threadsAtStart, maxThreads[0], threadsAtEnd, ctx4jThreads);
    out.line("root at end:              %d registrations, %d nodes; timer entries %d (at start %d)",
        rootRegistrations, rootNodes, timersAtEnd, timersAtStart);
    out.line("sampled dead contexts:    %d, still reachable %d", graves, undead);
    for (String f : failureSamples) {
      out.line("FAILURE: %s", f);
    }
    if (plant != null) {
      out.line("planted fault: %s (this run must FAIL)", plant);
    }
    out.line("RESULT: %s", failures.sum() == 0 ? "PASS" : "FAIL");
    return failures.sum() == 0;
  }

  // ------------------------------------------------------------------------------ the load

  private void work(SplittableRandom rnd) {
    while (!stop) {
      int what = rnd.nextInt(100);
      try {
        if (what < 45) {
          treeCancelledHere(rnd);
        } else if (what < 65) {
          treeCancelledElsewhere(rnd);
        } else if (what < 85) {
          shortDeadline(rnd);
        } else {
          registrationsStopped(rnd);
        }
      } catch (InterruptedException e) {
        fail("worker interrupted");
        return;
      } catch (RuntimeException | Error e) {
        fail("unexpected " + e);
      }
    }
  }

  /** A random subtree of the root; the caller cancels its top. */
  private final class Tree {
    final CancelableContext top;
    final List<Context> nodes = new ArrayList<>();
    final LongAdder runs = new LongAdder();
    int callbacks;

    Tree(SplittableRandom rnd) {
      top = Context.withCancel(root);
      nodes.add(top);
      int size = rnd.nextInt(1, 24);
      for (int i = 1; i < size; i++) {
        Context parent = nodes.get(rnd.nextInt(nodes.size()));
        Context c;
        switch (rnd.nextInt(4)) {
          case 0:
            c = Context.withCancel(parent);
            break;
          case 1:
            c = Context.withTimeout(parent, Duration.ofHours(1));
            break;
          case 2:
            c = Context.withValue(parent, DEPTH, i);
            break;
          default:
            c = Context.withDeadline(parent, java.time.Instant.now().plusSeconds(3600));
            break;
        }
        if ("lost".equals(plant) && rnd.nextInt(200) == 0) {
          // Planted fault: a node cut off from the tree's cancellation, so its top's cancel misses it.
          c = Context.withCancel(Context.withoutCancel(c));
        }
        nodes.add(c);
        if (rnd.nextInt(3) == 0) {
          c.onDone(runs::increment);
          callbacks++;
        }
        if (rnd.nextInt(10) == 0) {
          afterFuncExpected.increment();
          Context.afterFunc(c, afterFuncRuns::increment);
        }
      }
      operations.add(size + callbacks);
    }

    /** Checks that everything ended, right after the cancel that ended it became visible. */
    void verify(String how) {
      for (Context c : nodes) {
        if (!c.isDone() || c.err() != Context.CANCELED) {
          fail("lost cancellation (" + how + "): " + c + " err=" + c.err());
          return;
        }
      }
      if (runs.sum() != callbacks) {
        fail("onDone ran " + runs.sum() + " times for " + callbacks + " callbacks (" + how + ")");
      }
      callbackRuns.add(runs.sum());
      cancellations.add(nodes.size());
      bury(nodes.get(nodes.size() - 1));
      if ("leak".equals(plant) && runs.sum() % 4 == 0) {
        plantedLeak.add(top); // planted fault: keeps a quarter of the dead tops forever
      }
    }
  }

  private void treeCancelledHere(SplittableRandom rnd) {
    Tree t = new Tree(rnd);
    // Cancel the top, or first some inner node and then the top.
    if (rnd.nextBoolean() && t.nodes.size() > 1) {
      Context inner = t.nodes.get(rnd.nextInt(1, t.nodes.size()));
      if (inner instanceof CancelableContext) {
        ((CancelableContext) inner).cancel();
      }
    }
    t.top.cancel();
    operations.increment();
    t.verify("cancelled by its owner");
  }

  private void treeCancelledElsewhere(SplittableRandom rnd) throws InterruptedException {
    Tree t = new Tree(rnd);
    Context leaf = t.nodes.get(rnd.nextInt(t.nodes.size()));
    Handoff h = new Handoff(t.top);
    toCancel.add(h);
    // Wait on a random node of the tree: the wake-up must come, and with it everything else.
    if (!leaf.await(Duration.ofNanos(BOUND_NANOS))) {
      fail("lost wake-up: " + leaf + " not done " + BOUND_NANOS / 1_000_000 + " ms after its top was handed off");
      return;
    }
    // Callbacks run in the canceller before its cancel returns; wait for that point.
    if (!h.cancelled.await(BOUND_NANOS, TimeUnit.NANOSECONDS)) {
      fail("canceller never finished cancelling " + t.top);
      return;
    }
    operations.increment();
    t.verify("cancelled by another thread");
  }

  private void shortDeadline(SplittableRandom rnd) throws InterruptedException {
    CancelableContext ctx = Context.withTimeout(root, Duration.ofMillis(rnd.nextInt(1, 5)));
    Context child = Context.withCancel(Context.withValue(ctx, DEPTH, 1));
    LongAdder ran = new LongAdder();
    child.onDone(ran::increment);
    operations.add(3);
    if (!child.await(Duration.ofNanos(BOUND_NANOS))) {
      fail("lost deadline: " + ctx + " did not fire");
      return;
    }
    if (ctx.err() != Context.DEADLINE_EXCEEDED || child.err() != Context.DEADLINE_EXCEEDED) {
      fail("deadline reported as " + ctx.err() + " / " + child.err());
    }
    // The callback runs on the timer thread (or the pool) around the time the waiter wakes.
    long until = System.nanoTime() + BOUND_NANOS;
    while (ran.sum() == 0 && System.nanoTime() < until) {
      Thread.onSpinWait();
    }
    if (ran.sum() != 1) {
      fail("onDone of an expired context ran " + ran.sum() + " times");
    }
    callbackRuns.add(ran.sum());
    cancellations.add(2);
    deadlines.add(2);
    ctx.cancel(); // no-op, and must stay one
    bury(child);
  }

  private void registrationsStopped(SplittableRandom rnd) {
    CancelableContext ctx = Context.withTimeout(root, Duration.ofHours(1));
    int n = rnd.nextInt(1, 16);
    Registration[] regs = new Registration[n];
    LongAdder ran = new LongAdder();
    for (int i = 0; i < n; i++) {
      regs[i] = rnd.nextBoolean() ? ctx.onDone(ran::increment) : Context.afterFunc(ctx, ran::increment);
    }
    for (Registration r : regs) {
      if (!r.stop()) {
        fail("stop() of a live context's registration returned false");
      }
    }
    ctx.cancel();
    if (ran.sum() != 0) {
      fail("stopped registrations ran " + ran.sum() + " times");
    }
    operations.add(2L * n + 2);
    cancellations.increment();
  }

  private void cancelHandoffs() {
    while (!stop || !toCancel.isEmpty()) {
      Handoff h = toCancel.poll();
      if (h == null) {
        Thread.onSpinWait();
        continue;
      }
      h.ctx.cancel();
      h.cancelled.countDown();
    }
  }

  // -------------------------------------------------------------------------- helpers

  private void bury(Context dead) {
    int slot = (int) (graveSlot.getAndIncrement() % graveyard.length());
    graveyard.set(slot, new WeakReference<>(dead));
  }

  private void fail(String message) {
    failures.increment();
    if (failureSamples.size() < 20) {
      failureSamples.add(message);
    }
  }

  private static int awaitCallbackThreadsRetire() {
    // Idle callback threads retire after 5 s; give them a little more.
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
    int n;
    do {
      n = 0;
      for (Thread t : Thread.getAllStackTraces().keySet()) {
        if (t.getName().startsWith("ctx4j-")) {
          n++;
        }
      }
      if (n <= 1) {
        return n;
      }
      sleepQuietly(100);
    } while (System.nanoTime() < until);
    return n;
  }

  private static long mib(long bytes) {
    return bytes >> 20;
  }

  private static Thread daemon(String name, Runnable body) {
    Thread t = new Thread(body, name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  private static void sleepUntil(long nanoTime) throws InterruptedException {
    long left;
    while ((left = nanoTime - System.nanoTime()) > 0) {
      TimeUnit.NANOSECONDS.sleep(left);
    }
  }

  private static void sleepQuietly(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Locale-independent report lines. */
  private static final class PrintfOut {
    void line(String format, Object... args) {
      System.out.println(String.format(Locale.ROOT, format, args));
    }
  }
}
