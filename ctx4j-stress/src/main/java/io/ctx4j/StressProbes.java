package io.ctx4j;

/**
 * Reads the core's package-private structure counters from outside the core, for the stress tests
 * and the soak runner. It sits in package {@code io.ctx4j} on the class path (this module has no
 * module descriptor), so it only works when ctx4j-core is loaded from the class path too.
 *
 * <p>Thread-safe in the sense that every method may be called at any time; the counts are a racy
 * snapshot, exact only when nothing is registering or cancelling concurrently.
 */
public final class StressProbes {
  private StressProbes() {}

  /**
   * How many unregistered ancestors a question about done-ness walks past before it registers the
   * context it was asked of instead; models of the registration counts need it.
   *
   * @return the walk limit of the core
   */
  public static int maxUnregisteredWalk() {
    return BaseContext.MAX_WALK;
  }

  /**
   * Counts the live registrations (cancelable children, waiters, callbacks) held by {@code ctx}.
   *
   * @param ctx a context made by {@link Context#withCancel} or a deadline/timeout factory
   * @return the number of live registrations; 0 once {@code ctx} is done
   * @throws IllegalArgumentException if {@code ctx} is not a cancelable ctx4j context
   */
  public static int registrationCount(Context ctx) {
    return cancelCtx(ctx).registrationCount();
  }

  /**
   * Counts every node in the notification stack of {@code ctx}, dead ones not yet swept included:
   * the memory {@code ctx} holds on behalf of its children and callbacks.
   *
   * @param ctx a cancelable ctx4j context
   * @return the number of nodes
   * @throws IllegalArgumentException if {@code ctx} is not a cancelable ctx4j context
   */
  public static int nodeCount(Context ctx) {
    return cancelCtx(ctx).nodeCount();
  }

  private static CancelStateMachine cancelCtx(Context ctx) {
    if (!(ctx instanceof CancelStateMachine)) {
      throw new IllegalArgumentException(
          "ctx is not a cancelable ctx4j context: " + (ctx == null ? "null" : ctx.getClass()));
    }
    return (CancelStateMachine) ctx;
  }

  /**
   * Registers a plain cancelable context with its parent now, as a waiter, a callback or a child
   * of its own would; plain children otherwise register lazily.
   *
   * @param ctx a context made by {@code Context.withCancel}
   * @throws ClassCastException if {@code ctx} is not a ctx4j cancelable context
   */
  public static void register(Context ctx) {
    ((CancelStateMachine) ctx).ensureRegistered();
  }
}
