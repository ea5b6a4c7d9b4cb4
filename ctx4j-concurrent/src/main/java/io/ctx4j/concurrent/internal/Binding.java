package io.ctx4j.concurrent.internal;

import io.ctx4j.Context;
import java.util.concurrent.Callable;

/**
 * Where the current context is kept. This is the JDK 17 version, a slot per thread (found through
 * a {@link ThreadLocal}) that is set for the extent of a call and restored in a {@code finally};
 * the jar's {@code META-INF/versions/25} layer replaces it with a {@code ScopedValue}. Not part of
 * the API.
 */
public final class Binding {
  /**
   * One slot per thread, found once per call: a bind then costs one {@code ThreadLocal} lookup,
   * where a get and two sets cost three (in ctx4j-servlet's FilterLoad profile of 2026-12-02 the
   * binding's own frames had half as many samples as all of the filter's deadline code). The slot
   * is made by a thread's first bind (a read alone makes none) and holds null outside any call, so
   * a pooled thread keeps no context alive. It is an {@code Object[1]}, a class of the JDK's, not
   * one of ctx4j's: a container's pooled threads outlive a web application, and a value whose class
   * the application's class loader defined would keep that loader, with all its classes, from
   * being collected after the application is undeployed.
   */
  private static final ThreadLocal<Object[]> CURRENT = new ThreadLocal<>();

  private Binding() {}

  private static Object[] slot() {
    Object[] slot = CURRENT.get();
    if (slot == null) {
      slot = new Object[1];
      CURRENT.set(slot);
    }
    return slot;
  }

  /**
   * Names the mechanism in use, for tests and diagnostics.
   *
   * @return {@code "ThreadLocal"} or {@code "ScopedValue"}
   */
  public static String mechanism() {
    return "ThreadLocal";
  }

  /**
   * Returns the context bound on this thread.
   *
   * @return the context, or null if none is bound
   */
  public static Context get() {
    Object[] slot = CURRENT.get();
    return slot == null ? null : (Context) slot[0];
  }

  /**
   * Calls {@code body} with {@code ctx} bound, and restores the previous binding afterwards.
   *
   * @param ctx the context to bind
   * @param body what to call
   * @param <T> the result type
   * @return what {@code body} returns
   * @throws Exception what {@code body} throws
   */
  public static <T> T call(Context ctx, Callable<T> body) throws Exception {
    Object[] slot = slot();
    Object previous = slot[0];
    slot[0] = ctx;
    try {
      return body.call();
    } finally {
      slot[0] = previous;
    }
  }

  /**
   * Runs {@code body} with {@code ctx} bound, and restores the previous binding afterwards. Whatever
   * {@code body} throws passes through as is, even a checked exception thrown sneakily, as the JDK 25
   * layer lets it.
   *
   * @param ctx the context to bind
   * @param body what to run
   */
  public static void run(Context ctx, Runnable body) {
    Object[] slot = slot();
    Object previous = slot[0];
    slot[0] = ctx;
    try {
      body.run();
    } finally {
      slot[0] = previous;
    }
  }
}
