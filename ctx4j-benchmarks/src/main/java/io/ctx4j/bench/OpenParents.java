package io.ctx4j.bench;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Key;
import io.grpc.Context.CancellableContext;
import kotlinx.coroutines.CompletableJob;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * One open cancellable parent per library, shared by all benchmark threads: Go's {@code shared}
 * context of BenchmarkCommonParentCancel, which is a cancellable child of a context holding {@code
 * "key" -> "value"}. Kotlin's job holds no value. Created in the trial set-up (which happens-before
 * the measured calls) and cancelled in the tear-down, as Go's deferred cancel.
 */
@State(Scope.Benchmark)
public class OpenParents {
  /** The ctx4j key of the value under the parent. */
  public static final Key<String> KEY = Key.named("key");

  /** The grpc-java key of the value under the parent. */
  public static final io.grpc.Context.Key<String> GRPC_KEY = io.grpc.Context.key("key");

  /** The ctx4j parent. */
  public CancelableContext ctx;

  /** The grpc-java parent. */
  public CancellableContext grpc;

  /** The Kotlin parent job. */
  public CompletableJob job;

  /** A shared object with one volatile field: the floor for checking a shared done signal. */
  public final Flag flag = new Flag();

  /** Holder of one volatile boolean, reached through a reference as a context is. */
  public static final class Flag {
    /** Never set; read by the baseline. */
    public volatile boolean set;
  }

  /** Creates the parents. */
  @Setup
  public void setup() {
    ctx = Context.withCancel(Context.withValue(Context.background(), KEY, "value"));
    grpc = io.grpc.Context.ROOT.withValue(GRPC_KEY, "value").withCancellation();
    job = Peers.job(null);
  }

  /** Cancels the parents. */
  @TearDown
  public void tearDown() {
    ctx.cancel();
    Peers.cancel(grpc);
    Peers.cancel(job);
  }
}
