package io.ctx4j.bench;

import io.grpc.Context.CancellableContext;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.logging.Level;
import java.util.logging.Logger;
import kotlinx.coroutines.CompletableJob;
import kotlinx.coroutines.Job;
import kotlinx.coroutines.JobKt;

/**
 * The peers' calls as the benchmarks use them, so that every benchmark class spells a peer's
 * operation the same way and the Kotlin interop noise lives in one place.
 *
 * <p>All methods are thread-safe in the sense that the peers' own objects are; this class keeps no
 * state of its own apart from the timer pool returned by {@link #grpcTimer()}.
 */
public final class Peers {
  /**
   * grpc-java's {@code Context} logger, held strongly (loggers are weakly referenced) so that the
   * level set by {@link #quietGrpcDepthWarning()} sticks.
   */
  private static final Logger GRPC_LOG = Logger.getLogger("io.grpc.Context");

  private Peers() {}

  /**
   * Turns off grpc-java's SEVERE "Context ancestry chain length is abnormally long" message, which it
   * logs, with a stack trace, for every context created at exactly 1,000 levels: in a benchmark that
   * builds a 1,000-deep chain per operation, grpc-java's time would otherwise include formatting and
   * writing a stack trace to the console once per operation (its code still creates the exception:
   * that cost stays counted). Idempotent; call it from a static initialiser of a benchmark class.
   */
  public static void quietGrpcDepthWarning() {
    GRPC_LOG.setLevel(Level.OFF);
  }

  /**
   * Creates a kotlinx.coroutines {@code Job(parent)}, the Kotlin analogue of {@code
   * WithCancel(parent)}: cancelling the parent cancels it, cancelling it leaves the parent alone.
   *
   * @param parent the parent job, or {@code null} for a root job
   * @return a new active job
   */
  public static CompletableJob job(Job parent) {
    return JobKt.Job(parent);
  }

  /**
   * Cancels a Kotlin job with the default cancellation cause, like calling {@code job.cancel()} in
   * Kotlin.
   *
   * @param job the job to cancel; must not be {@code null}
   */
  public static void cancel(Job job) {
    job.cancel((CancellationException) null);
  }

  /**
   * Cancels a grpc-java context without a cause, the analogue of Go's {@code cancel()}.
   *
   * @param ctx the context to cancel; must not be {@code null}
   */
  public static void cancel(CancellableContext ctx) {
    ctx.cancel(null);
  }

  /**
   * Creates the scheduler grpc-java's deadlines run on, configured as grpc-java configures its own
   * shared timer service: one daemon thread, cancelled tasks removed from the queue at once (so that
   * cancelled timeouts do not pile up).
   *
   * @return a new single-threaded scheduler; the caller shuts it down
   */
  public static ScheduledThreadPoolExecutor grpcTimer() {
    ScheduledThreadPoolExecutor s =
        new ScheduledThreadPoolExecutor(
            1,
            r -> {
              Thread t = new Thread(r, "grpc-bench-timer");
              t.setDaemon(true);
              return t;
            });
    s.setRemoveOnCancelPolicy(true);
    return s;
  }
}
