package io.ctx4j.signal;

import io.ctx4j.Context;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The child JVM of {@link SignalsProcessTest}: a worker pool that runs until SIGINT or SIGTERM, then
 * drains and exits 0.
 */
public final class ShutdownChild {
  private ShutdownChild() {}

  public static void main(String[] args) throws Exception {
    AtomicInteger jobs = new AtomicInteger();
    try (SignalContext ctx = Signals.notifyContext(Context.background(), "INT", "TERM")) {
      ExecutorService pool = Executors.newFixedThreadPool(3);
      for (int w = 0; w < 3; w++) {
        pool.execute(
            () -> {
              // Each job runs to completion; the loop checks the context only between jobs.
              while (!ctx.isDone()) {
                try {
                  Thread.sleep(2);
                } catch (InterruptedException e) {
                  return;
                }
                jobs.incrementAndGet();
              }
            });
      }
      System.out.println("ready");
      System.out.flush();
      ctx.await();
      System.out.println("shutting down: " + ctx.cause().getMessage());
      pool.shutdown();
      boolean drained = pool.awaitTermination(30, TimeUnit.SECONDS);
      System.out.println("drained=" + drained + " jobs>0=" + (jobs.get() > 0));
      System.out.println("context: " + ctx);
    }
  }
}
