package io.ctx4j.grpc;

import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Delayed;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The scheduler handed to {@code io.grpc.Context.withDeadline} for gRPC contexts that mirror a ctx4j
 * deadline: it accepts the expiry task and never runs it.
 *
 * <p>Why: such a gRPC context must report the deadline ({@code getDeadline()}, which gRPC sends as
 * {@code grpc-timeout} and uses instead of a call timer; the client interceptor's reports it earlier
 * by the transit allowance), but must expire only when the ctx4j context does, which then cancels it
 * with a {@code TimeoutException}. Two timers for one deadline would
 * race: a call could fail with {@code DEADLINE_EXCEEDED} while the ctx4j context still reads as
 * live for a millisecond, and code checking {@code ctx.err()} after the failure would be misled. With
 * one timer, the ctx4j context is done before anything running under it fails by a timer of this
 * process (gRPC still checks the deadline itself when a context is made and when a call starts: see
 * {@link GrpcContexts#fromCtx4j(io.ctx4j.Context, io.grpc.Context)}; and a call made while its
 * channel waits for its name to resolve is held in a delayed call with a timer of gRPC's own: see
 * {@link ContextClientInterceptor}). A server is another matter:
 * its deadline is the one sent, earlier by the transit allowance, so its {@code DEADLINE_EXCEEDED}
 * can reach the caller up to about the allowance before the ctx4j context ends (the module README,
 * "Things to know"). The task is simply
 * dropped: gRPC cancels the returned future when the context ends, and nothing else refers to it.
 *
 * <p>Only {@link #schedule(Runnable, long, TimeUnit)} is supported, which is all gRPC's {@code
 * Deadline.runOnExpiration} calls; everything else throws {@link UnsupportedOperationException}.
 * Stateless and thread-safe.
 */
final class MirroredDeadlines extends AbstractExecutorService implements ScheduledExecutorService {
  static final MirroredDeadlines INSTANCE = new MirroredDeadlines();

  private MirroredDeadlines() {}

  @Override
  public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
    return new Dropped();
  }

  @Override
  public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
    throw unsupported();
  }

  @Override
  public ScheduledFuture<?> scheduleAtFixedRate(
      Runnable command, long initialDelay, long period, TimeUnit unit) {
    throw unsupported();
  }

  @Override
  public ScheduledFuture<?> scheduleWithFixedDelay(
      Runnable command, long initialDelay, long delay, TimeUnit unit) {
    throw unsupported();
  }

  @Override
  public void execute(Runnable command) {
    throw unsupported();
  }

  @Override
  public void shutdown() {
    throw unsupported();
  }

  @Override
  public List<Runnable> shutdownNow() {
    throw unsupported();
  }

  @Override
  public boolean isShutdown() {
    return false;
  }

  @Override
  public boolean isTerminated() {
    return false;
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) {
    throw unsupported();
  }

  private static UnsupportedOperationException unsupported() {
    return new UnsupportedOperationException(
        "ctx4j's mirrored-deadline scheduler only accepts gRPC deadline tasks");
  }

  /** A task that will never run; cancelling it is all gRPC does with it. */
  private static final class Dropped extends CompletableFuture<Object>
      implements ScheduledFuture<Object> {
    @Override
    public long getDelay(TimeUnit unit) {
      return Long.MAX_VALUE;
    }

    @Override
    public int compareTo(Delayed other) {
      return Long.compare(getDelay(TimeUnit.NANOSECONDS), other.getDelay(TimeUnit.NANOSECONDS));
    }
  }
}
