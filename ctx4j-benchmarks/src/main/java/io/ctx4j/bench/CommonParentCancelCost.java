package io.ctx4j.bench;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.grpc.Context.CancellableContext;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;

/**
 * Why {@link CommonParentCancel} costs ctx4j more than grpc-java once the busy loop is around it,
 * while {@link SharedParentChild} (the same create and cancel, without the loop) costs ctx4j half
 * as much. Not part of the results table: run by hand, see the README's "Where ctx4j does not win".
 *
 * <p>The question is whether the difference is one atomic instruction in the middle of the
 * division chain. ctx4j's cancel is a compare-and-set of the child's state, which the JIT must
 * keep. grpc-java's cancel takes the child's monitor, whose operations C2 may remove or merge
 * ({@code -XX:+EliminateLocks}, on by default). So the rows are:
 *
 * <ul>
 *   <li>{@link #baseline} and {@link #baselineCas}: the busy loop alone, and with one
 *       compare-and-set of a thread-local object between its two halves;
 *   <li>{@link #ctx4j} and {@link #grpc}: {@link CommonParentCancel}'s bodies, inherited (so is
 *       its {@link #kotlinJob}, which the run leaves out);
 *   <li>{@link #ctx4jPublished} and {@link #grpcPublished}: the same, but the child is stored in a
 *       per-thread field first, as a real program hands a context on, so it escapes the method.
 * </ul>
 *
 * The grpc-java rows and {@link #baselineCas} are run a second time with {@code -jvmArgsAppend
 * -XX:-EliminateLocks}. The answers (the README and {@code
 * results/2026-12-01-common-parent-cancel-cost/}): on JDK 25 the compare-and-set costs about 40 ns
 * there, none on JDK 17; grpc-java pays it only without lock elimination, escaping child or not.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Threads(2)
public class CommonParentCancelCost extends CommonParentCancel {
  /** Per-thread extras: a compare-and-set target and a slot that publishes a child. */
  @State(Scope.Thread)
  public static class Extra {
    volatile Object state;
    Object published;

    static final VarHandle STATE;

    static {
      try {
        STATE = MethodHandles.lookup().findVarHandle(Extra.class, "state", Object.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }
  }

  /**
   * The busy loop with one compare-and-set of a thread-local field between its halves.
   *
   * @param w per-thread dummy-work state
   * @param e per-thread extras
   * @return the dummy value
   */
  @Benchmark
  public int baselineCas(Work w, Extra e) {
    int x = Busy.hundredDivisions(w.x);
    Object s = e.state;
    Extra.STATE.compareAndSet(e, s, s == null ? e : null);
    x = Busy.hundredDivisions(x);
    w.x = x;
    return x;
  }

  /**
   * {@link #ctx4j} with the child stored in a per-thread field.
   *
   * @param p the shared parents
   * @param w per-thread dummy-work state
   * @param e per-thread extras
   * @return the dummy value
   */
  @Benchmark
  public int ctx4jPublished(OpenParents p, Work w, Extra e) {
    CancelableContext ctx = Context.withCancel(p.ctx);
    e.published = ctx;
    if (!"value".equals(ctx.value(OpenParents.KEY))) {
      throw new AssertionError("should not be reached");
    }
    int x = Busy.hundredDivisions(w.x);
    ctx.cancel();
    x = Busy.hundredDivisions(x);
    w.x = x;
    return x;
  }

  /**
   * {@link #grpc} with the child stored in a per-thread field.
   *
   * @param p the shared parents
   * @param w per-thread dummy-work state
   * @param e per-thread extras
   * @return the dummy value
   */
  @Benchmark
  public int grpcPublished(OpenParents p, Work w, Extra e) {
    CancellableContext ctx = p.grpc.withCancellation();
    e.published = ctx;
    if (!"value".equals(OpenParents.GRPC_KEY.get(ctx))) {
      throw new AssertionError("should not be reached");
    }
    int x = Busy.hundredDivisions(w.x);
    Peers.cancel(ctx);
    x = Busy.hundredDivisions(x);
    w.x = x;
    return x;
  }
}
