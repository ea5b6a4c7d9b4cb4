package io.ctx4j;

import io.ctx4j.internal.CoreInternals;
import java.time.Duration;
import java.time.Instant;

/**
 * The package-private side of {@link CoreInternals}: what the other ctx4j modules may reach of this
 * package, installed there when this class is initialised (the first time {@link
 * CoreInternals#packageAccess()} is called). Not API; see {@link CoreInternals} for why it exists.
 */
final class CorePackageAccess implements CoreInternals.PackageAccess {
  static {
    CoreInternals.install(new CorePackageAccess());
  }

  private CorePackageAccess() {}

  @Override
  public ContextException errorOf(Context ctx) {
    return Waits.errorOf(ctx);
  }

  @Override
  public long saturatedNanos(Duration d) {
    return Durations.saturatedNanos(d);
  }

  @Override
  public long saturatedNanos(Instant from, Instant to) {
    return Durations.saturatedNanos(from, to);
  }

  @Override
  public Instant saturatedPlus(Instant t, Duration d) {
    return Durations.saturatedPlus(t, d);
  }

  @Override
  public int registrationCount(Context ctx) {
    return cancelable(ctx).registrationCount();
  }

  @Override
  public int nodeCount(Context ctx) {
    return cancelable(ctx).nodeCount();
  }

  @Override
  public void register(Context ctx) {
    cancelable(ctx).ensureRegistered();
  }

  @Override
  public int maxUnregisteredWalk() {
    return BaseContext.MAX_WALK;
  }

  private static CancelStateMachine cancelable(Context ctx) {
    if (!(ctx instanceof CancelStateMachine)) {
      throw new IllegalArgumentException(
          "not a cancelable ctx4j context: " + (ctx == null ? "null" : ctx.getClass().getName()));
    }
    return (CancelStateMachine) ctx;
  }
}
