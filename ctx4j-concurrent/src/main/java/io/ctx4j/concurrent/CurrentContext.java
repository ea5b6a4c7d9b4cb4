package io.ctx4j.concurrent;

import io.ctx4j.Context;
import io.ctx4j.concurrent.internal.Binding;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.Executor;

/**
 * The context of the code now running, for code that cannot take a {@link Context} parameter
 * (callbacks of a framework, logging, deep library code). Bind a context for the extent of a call
 * with {@link #run} or {@link #call}; read it with {@link #get()}.
 *
 * <pre>{@code
 * CurrentContext.run(requestCtx, () -> service.handle(request));
 * // deep inside service.handle:
 * Blocking.take(CurrentContext.get(), queue);
 * }</pre>
 *
 * <p>Passing the context explicitly, as Go does, remains the better design; this class is the bridge
 * for the places where that is impossible.
 *
 * <h2>Scope and inheritance</h2>
 *
 * A binding lasts exactly as long as the {@code run}/{@code call} that made it and is then undone,
 * even if the body throws; bindings nest. On JDK 25 and later the binding is a {@code ScopedValue},
 * so the subtasks forked by a {@code StructuredTaskScope} opened inside the body see it; on JDK 17 to
 * 24 it is a {@code ThreadLocal}, set and restored around the body. On every JDK, other threads do
 * not see it unless the task is handed over with {@link #wrap(Runnable)}, {@link #wrap(Callable)} or
 * {@link #wrap(Executor)}, which capture the current context when the task is submitted.
 *
 * <p>Thread safety: all methods are static and thread-safe; a binding is visible only to the thread
 * that made it (and, on JDK 25, its structured forks). Memory consistency effects: binding a context
 * happens-before the body reads it; submitting a wrapped task happens-before it reads its captured
 * context.
 *
 * @since 0.1
 */
public final class CurrentContext {
  private CurrentContext() {}

  /**
   * Returns the context bound by the innermost enclosing {@link #run}/{@link #call} on this thread,
   * or {@link Context#background()} if there is none.
   *
   * @return the current context; never null
   */
  public static Context get() {
    Context c = Binding.get();
    return c == null ? Context.background() : c;
  }

  /**
   * Tells whether a context is bound, that is whether {@link #get()} is not just the background
   * default.
   *
   * @return {@code true} inside {@link #run} or {@link #call}
   */
  public static boolean isBound() {
    return Binding.get() != null;
  }

  /**
   * Runs {@code body} with {@code ctx} as the current context, then restores the previous one.
   *
   * @param ctx the context to bind
   * @param body what to run
   * @throws NullPointerException if an argument is null
   */
  public static void run(Context ctx, Runnable body) {
    Objects.requireNonNull(ctx, "ctx");
    Objects.requireNonNull(body, "body");
    Binding.run(ctx, body);
  }

  /**
   * Calls {@code body} with {@code ctx} as the current context, then restores the previous one.
   *
   * @param ctx the context to bind
   * @param body what to call
   * @param <T> the result type
   * @return what {@code body} returns
   * @throws Exception whatever {@code body} throws
   * @throws NullPointerException if an argument is null
   */
  public static <T> T call(Context ctx, Callable<T> body) throws Exception {
    Objects.requireNonNull(ctx, "ctx");
    Objects.requireNonNull(body, "body");
    return Binding.call(ctx, body);
  }

  /**
   * Returns a task that runs {@code task} with the context current now (at the call of {@code wrap})
   * bound, wherever and whenever it runs.
   *
   * @param task the task
   * @return the wrapped task
   * @throws NullPointerException if {@code task} is null
   */
  public static Runnable wrap(Runnable task) {
    Objects.requireNonNull(task, "task");
    Context captured = get();
    return () -> Binding.run(captured, task);
  }

  /**
   * Returns a task that calls {@code task} with the context current now bound.
   *
   * @param task the task
   * @param <T> the result type
   * @return the wrapped task
   * @throws NullPointerException if {@code task} is null
   */
  public static <T> Callable<T> wrap(Callable<T> task) {
    Objects.requireNonNull(task, "task");
    Context captured = get();
    return () -> Binding.call(captured, task);
  }

  /**
   * Returns an executor that hands each task to {@code executor} with the context that was current
   * when the task was submitted. The returned executor is as thread-safe as {@code executor}.
   *
   * @param executor the executor to submit to
   * @return the wrapping executor
   * @throws NullPointerException if {@code executor} is null
   */
  public static Executor wrap(Executor executor) {
    Objects.requireNonNull(executor, "executor");
    return task -> executor.execute(wrap(task));
  }
}
