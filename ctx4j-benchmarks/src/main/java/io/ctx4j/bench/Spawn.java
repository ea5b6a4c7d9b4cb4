package io.ctx4j.bench;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Starts short-lived threads the way the benchmarks mirror Go's goroutines: a virtual thread where
 * the running JDK has them (21 and later), otherwise a platform thread with a small stack. The
 * module is compiled for Java 17, so the virtual-thread factory is looked up reflectively once.
 *
 * <p>Thread-safe; the lookup happens in the static initialiser.
 */
public final class Spawn {
  private static final MethodHandle START_VIRTUAL = findStartVirtual();

  /** Stack size for platform threads when virtual threads are unavailable: enough for the bodies. */
  private static final long PLATFORM_STACK = 256 * 1024;

  private Spawn() {}

  private static MethodHandle findStartVirtual() {
    try {
      return MethodHandles.publicLookup()
          .findStatic(
              Thread.class,
              "startVirtualThread",
              MethodType.methodType(Thread.class, Runnable.class));
    } catch (ReflectiveOperationException e) {
      return null; // JDK 17-20: fall back to platform threads
    }
  }

  /**
   * Says which kind of thread {@link #start} creates on this JDK, for the results' machine section.
   *
   * @return {@code "virtual"} or {@code "platform"}
   */
  public static String kind() {
    return START_VIRTUAL != null ? "virtual" : "platform";
  }

  /**
   * Starts {@code body} on a new thread (virtual if available).
   *
   * @param body what the thread runs; must not be {@code null}
   * @return the started thread
   * @throws NullPointerException if {@code body} is {@code null}
   */
  public static Thread start(Runnable body) {
    if (body == null) {
      throw new NullPointerException("body");
    }
    if (START_VIRTUAL != null) {
      try {
        return (Thread) START_VIRTUAL.invokeExact(body);
      } catch (RuntimeException | Error e) {
        throw e;
      } catch (Throwable t) {
        throw new IllegalStateException("cannot start a virtual thread", t);
      }
    }
    Thread t = new Thread(null, body, "bench-worker", PLATFORM_STACK);
    t.setDaemon(true);
    t.start();
    return t;
  }

  /**
   * Runs {@code body} on a fresh platform thread with a large stack and waits for it, rethrowing
   * what it threw. The scale benchmarks use it for every library alike, so that a peer whose
   * propagation recurses once per level is measured rather than killed by the default stack.
   *
   * @param stackBytes requested stack size of the thread
   * @param body what to run; must not be {@code null}
   * @throws NullPointerException if {@code body} is {@code null}
   * @throws IllegalStateException wrapping any checked failure of the body
   */
  public static void runWithStack(long stackBytes, Runnable body) {
    if (body == null) {
      throw new NullPointerException("body");
    }
    Throwable[] failure = new Throwable[1];
    Thread t =
        new Thread(
            null,
            () -> {
              try {
                body.run();
              } catch (Throwable x) {
                failure[0] = x;
              }
            },
            "bench-deep",
            stackBytes);
    t.start();
    try {
      t.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the deep-stack thread", e);
    }
    // join() makes the thread's write of failure[0] visible here.
    Throwable x = failure[0];
    if (x instanceof RuntimeException) {
      throw (RuntimeException) x;
    }
    if (x instanceof Error) {
      throw (Error) x;
    }
    if (x != null) {
      throw new IllegalStateException(x);
    }
  }
}
