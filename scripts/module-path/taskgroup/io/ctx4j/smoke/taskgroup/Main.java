package io.ctx4j.smoke.taskgroup;

import io.ctx4j.Context;
import io.ctx4j.taskgroup.TaskGroup;
import java.util.concurrent.CompletableFuture;

/** Module-path smoke test of io.ctx4j.taskgroup (built on io.ctx4j.concurrent's public API). */
public final class Main {
  public static void main(String[] args) throws Exception {
    try (TaskGroup group = TaskGroup.open(Context.background())) {
      CompletableFuture<Integer> a = group.go(c -> 20);
      CompletableFuture<Integer> b = group.go(c -> 22);
      group.await();
      if (a.join() + b.join() != 42) throw new AssertionError();
    }
    System.out.println("io.ctx4j.taskgroup ok");
  }
}
