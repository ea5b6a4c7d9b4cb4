package io.ctx4j.concurrent.internal;

import io.ctx4j.Context;
import java.util.concurrent.Callable;

/**
 * Where the current context is kept. This is the JDK 17 version, a {@link ThreadLocal} that is set
 * for the extent of a call and restored in a {@code finally}; the jar's {@code META-INF/versions/25}
 * layer replaces it with a {@code ScopedValue}. Not part of the API.
 */
public final class Binding {
  private static final ThreadLocal<Context> CURRENT = new ThreadLocal<>();

  private Binding() {}

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
    return CURRENT.get();
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
    Context previous = bind(ctx);
    try {
      return body.call();
    } finally {
      restore(previous);
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
    Context previous = bind(ctx);
    try {
      body.run();
    } finally {
      restore(previous);
    }
  }

  private static Context bind(Context ctx) {
    Context previous = CURRENT.get();
    CURRENT.set(ctx);
    return previous;
  }

  private static void restore(Context previous) {
    // set(null), not remove(): the thread's entry is kept (it holds no context, so nothing leaks
    // on a pooled thread) and the next bind reuses it, where remove() made every bind on a pooled
    // thread allocate a new ThreadLocalMap entry (ctx4j-servlet's FilterLoad profile: about 7% of
    // the filter's samples went to bind and restore).
    CURRENT.set(previous);
  }
}
