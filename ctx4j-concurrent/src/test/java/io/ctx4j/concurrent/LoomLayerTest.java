package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.concurrent.internal.Loom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class LoomLayerTest {
  @Test
  void theJarServesTheLayerOfTheRunningJdk() throws Exception {
    boolean expectVirtual = Runtime.version().feature() >= 21;
    assertEquals(expectVirtual, Loom.virtualThreads(), "multi-release layer for " + Runtime.version());
    CompletableFuture<String> name = new CompletableFuture<>();
    Thread t = Loom.factory("probe").newThread(() -> name.complete(Thread.currentThread().getName()));
    t.start();
    assertEquals("probe-1", name.get(10, TimeUnit.SECONDS));
    assertEquals(expectVirtual, isVirtual(t));
  }

  private static boolean isVirtual(Thread t) throws Exception {
    if (Runtime.version().feature() < 21) {
      return false;
    }
    return (Boolean) Thread.class.getMethod("isVirtual").invoke(t);
  }
}
