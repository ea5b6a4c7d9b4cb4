package io.ctx4j.bench;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.grpc.Context.CancellableContext;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import kotlinx.coroutines.Job;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Threads;

/**
 * CommonParentCancel without the dummy work: two threads create a cancellable child of one shared
 * open parent and cancel it at once. {@link #allocBaseline} allocates one object with the same
 * fields as ctx4j's cancellable context (so the same size), which is the floor for creating one;
 * the goal is ctx4j at most twice that. {@link #allocCasBaseline} adds the one compare-and-set that
 * any lock-free cancel needs to decide which cancellation came first: the floor for creating and
 * cancelling one.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Threads(2)
public class SharedParentChild {
  /**
   * Same instance fields as {@code io.ctx4j.CancelStateMachine} and its superclass (six references and an
   * int: 40 bytes with compressed references: env, values, parent, canceler, the lazily set link,
   * and one state field for stack-or-result). Keep in step with the core if its layout changes; the B/op
   * column shows the size.
   */
  static final class SameSizeAsCancelStateMachine {
    private static final VarHandle STATE;

    static {
      try {
        STATE =
            MethodHandles.lookup()
                .findVarHandle(SameSizeAsCancelStateMachine.class, "state", Object.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    final Object env;
    final Object values = null;
    final Object parent;
    final Object canceler;
    volatile Object link;
    volatile Object state;
    int sweepCountdown = 16;

    SameSizeAsCancelStateMachine(Object env, Object parent, Object canceler) {
      this.env = env;
      this.parent = parent;
      this.canceler = canceler;
    }
  }

  /**
   * ctx4j: create a child of the shared parent and cancel it.
   *
   * @param p the shared parents
   * @return the child, consumed by JMH
   */
  @Benchmark
  public Object ctx4j(OpenParents p) {
    CancelableContext c = Context.withCancel(p.ctx);
    c.cancel();
    return c;
  }

  /**
   * grpc-java: create a child of the shared parent and cancel it.
   *
   * @param p the shared parents
   * @return the child, consumed by JMH
   */
  @Benchmark
  public Object grpc(OpenParents p) {
    CancellableContext c = p.grpc.withCancellation();
    Peers.cancel(c);
    return c;
  }

  /**
   * Kotlin: create a child job of the shared parent and cancel it.
   *
   * @param p the shared parents
   * @return the child, consumed by JMH
   */
  @Benchmark
  public Object kotlinJob(OpenParents p) {
    Job c = Peers.job(p.job);
    Peers.cancel(c);
    return c;
  }

  /**
   * A bare allocation of an object the size of ctx4j's cancellable context.
   *
   * @param p the shared parents
   * @return the object, consumed by JMH (so it escapes and is really allocated)
   */
  @Benchmark
  public Object allocBaseline(OpenParents p) {
    return new SameSizeAsCancelStateMachine(p, p.ctx, p.ctx);
  }

  /**
   * A bare allocation of the same size plus one compare-and-set of its state, as a first-wins
   * cancel needs.
   *
   * @param p the shared parents (only passed on, to match the other bodies)
   * @return the object, consumed by JMH
   */
  @Benchmark
  public Object allocCasBaseline(OpenParents p) {
    SameSizeAsCancelStateMachine c = new SameSizeAsCancelStateMachine(p, p.ctx, p.ctx);
    SameSizeAsCancelStateMachine.STATE.compareAndSet(c, null, p);
    return c;
  }
}
