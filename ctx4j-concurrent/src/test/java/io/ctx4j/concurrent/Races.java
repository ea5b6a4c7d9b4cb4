package io.ctx4j.concurrent;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/** Runs two actions as close to simultaneously as a barrier allows, many times over. */
final class Races {
  static final int ITERATIONS = 1_000;

  private Races() {}

  interface Action {
    void run() throws Exception;
  }

  /** Per iteration: a fresh setup, then {@code mine} on this thread racing {@code theirs} on a helper. */
  interface Round {
    Action setUp() throws Exception; // returns the helper's action; may prepare state for mine

    void mine() throws Exception;

    void check() throws Exception;
  }

  static void run(int iterations, Round round) throws Exception {
    ExecutorService helper = Executors.newSingleThreadExecutor();
    try {
      CyclicBarrier barrier = new CyclicBarrier(2);
      for (int i = 0; i < iterations; i++) {
        Action theirs = round.setUp();
        CompletableFuture<Void> done =
            CompletableFuture.runAsync(
                () -> {
                  try {
                    barrier.await(10, TimeUnit.SECONDS);
                    theirs.run();
                  } catch (Exception e) {
                    throw new IllegalStateException(e);
                  }
                },
                helper);
        barrier.await(10, TimeUnit.SECONDS);
        round.mine();
        done.get(10, TimeUnit.SECONDS);
        round.check();
      }
    } finally {
      helper.shutdownNow();
    }
  }
}
