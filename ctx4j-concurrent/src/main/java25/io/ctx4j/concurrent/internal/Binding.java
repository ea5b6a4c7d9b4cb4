package io.ctx4j.concurrent.internal;

import io.ctx4j.Context;
import java.util.concurrent.Callable;

/**
 * Where the current context is kept, on JDK 25 and later: a {@link ScopedValue}, so the binding
 * cannot outlive its call and is inherited by the forks of a {@code StructuredTaskScope}. Not part
 * of the API.
 */
public final class Binding {
  private static final ScopedValue<Context> CURRENT = ScopedValue.newInstance();

  private Binding() {}

  /**
   * Names the mechanism in use, for tests and diagnostics.
   *
   * @return {@code "ThreadLocal"} or {@code "ScopedValue"}
   */
  public static String mechanism() {
    return "ScopedValue";
  }

  /**
   * Returns the context bound on this thread.
   *
   * @return the context, or null if none is bound
   */
  public static Context get() {
    return CURRENT.isBound() ? CURRENT.get() : null; // orElse rejects a null default
  }

  /**
   * Calls {@code body} with {@code ctx} bound for its extent.
   *
   * @param ctx the context to bind
   * @param body what to call
   * @param <T> the result type
   * @return what {@code body} returns
   * @throws Exception what {@code body} throws
   */
  public static <T> T call(Context ctx, Callable<T> body) throws Exception {
    return ScopedValue.where(CURRENT, ctx).call(body::call);
  }

  /**
   * Runs {@code body} with {@code ctx} bound for its extent.
   *
   * @param ctx the context to bind
   * @param body what to run
   */
  public static void run(Context ctx, Runnable body) {
    ScopedValue.where(CURRENT, ctx).run(body);
  }
}
