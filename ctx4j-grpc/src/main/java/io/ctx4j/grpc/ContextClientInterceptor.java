package io.ctx4j.grpc;

import io.ctx4j.Context;
import io.ctx4j.TimeSource;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.Deadline;
import io.grpc.ForwardingClientCall;
import io.grpc.ForwardingClientCallListener;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * Ties each outgoing call to the ctx4j context named in its call options; see {@link
 * GrpcContexts#clientInterceptor()}.
 *
 * <p>Implementation notes. The call is created, as gRPC does for its own contexts, inside a gRPC
 * context that follows the ctx4j one ({@link GrpcContexts#fromCtx4j}, with a deadline earlier by
 * the transit allowance): gRPC's call implementation
 * captures {@code io.grpc.Context.current()} when the call is made and cancels its stream, from any
 * thread and safely, when that context is cancelled; this is the path gRPC itself uses for
 * cancellation, so no {@code ClientCall} method is ever called from a foreign thread here. gRPC
 * sends the earlier of the options' deadline and that context's as {@code grpc-timeout}, and when
 * the context's is the earlier it schedules no timer of its own: the ctx4j timer is the only one
 * (see {@link MirroredDeadlines}), so the ctx4j context is done before the call fails locally for
 * its deadline. Not so for a call made while the channel waits for its name to resolve: gRPC holds
 * it in a delayed call that reads this context's deadline when the call is made, has a timer of its
 * own for it, and listens to no context, so such a call fails by that timer at the deadline sent,
 * and a cancel reaches it only once the name is resolved (the module README, "Things to know").
 * The server's own deadline, the one sent, is earlier by the allowance, so a {@code
 * DEADLINE_EXCEEDED} from the server can arrive up to about the allowance before the context ends
 * (the module README, "Things to know"). The bridge
 * is made when the call is (gRPC takes the call's context then, and its deadline when the call
 * starts) but registers on the ctx4j context and on the current gRPC context only when the call
 * starts, as gRPC's call does on its context: a call that is never started (an interceptor above
 * this one that answers locally, a circuit breaker) is never closed, and leaves nothing behind. A
 * context that ends between {@code newCall} and {@code start} cancels the bridge as it registers,
 * before gRPC's {@code start} looks at it, so the call fails at once as for a context done before
 * the call. The bridge is cancelled when the call closes, which withdraws those registrations.
 * What the interceptors below this one throw does not cost that cleanup: a {@code newCall} that
 * throws cancels the bridge before the throwable goes on, and so does a {@code cancel} that
 * throws, which also cancels the call through its gRPC context, and so does the first {@code
 * start} that throws (a call that never started never closes); a null listener or headers are
 * refused before that, as gRPC's call refuses them, so the call can still be started. A deadline
 * in the call options that is earlier than the context's is handled the same way, through a ctx4j
 * child with that deadline, made when the call starts (a child with a deadline registers on its
 * parent as it is made) and ended with the call. So is the current gRPC context's (a handler's), which gRPC would
 * otherwise send whole: the bridge reports it less the allowance, and the current context's own
 * timer cancels the bridge, and so the call, at the deadline itself.
 */
final class ContextClientInterceptor implements ClientInterceptor {
  static final ContextClientInterceptor DEFAULT =
      new ContextClientInterceptor(GrpcContexts.DEFAULT_TRANSIT_ALLOWANCE.toNanos());

  /** Taken off the budget sent; see {@link GrpcContexts#DEFAULT_TRANSIT_ALLOWANCE}. */
  private final long allowanceNanos;

  ContextClientInterceptor(long allowanceNanos) {
    this.allowanceNanos = allowanceNanos;
  }

  @Override
  public <ReqT, RespT> ClientCall<ReqT, RespT> interceptCall(
      MethodDescriptor<ReqT, RespT> method, CallOptions options, Channel next) {
    Context ctx = options.getOption(GrpcContexts.CONTEXT_OPTION);
    if (ctx == null) {
      return next.newCall(method, options);
    }
    GrpcContexts.Bridge following =
        GrpcContexts.bridge(
            ctx, ownDeadline(ctx, options.getDeadline()), io.grpc.Context.current(), allowanceNanos);
    io.grpc.Context.CancellableContext bridge = following.grpc;
    ClientCall<ReqT, RespT> call;
    io.grpc.Context previous = bridge.attach();
    try {
      call = next.newCall(method, options);
    } catch (Throwable t) {
      bridge.cancel(null); // no call will ever close it: withdraw it from ctx now
      throw t;
    } finally {
      bridge.detach(previous);
    }
    return new ForwardingClientCall.SimpleForwardingClientCall<>(call) {
      /** Not volatile: a ClientCall is not thread-safe, its caller orders start before the rest. */
      private boolean startCalled;

      @Override
      public void start(Listener<RespT> listener, Metadata headers) {
        // Refused first, as gRPC's call refuses them, leaving the call startable: wrapped in ours, a
        // null listener would reach gRPC as a listener and the call go out with no one to hear it;
        // and a start refused below us, counted as the first, would cancel the bridge, and so fail
        // the call's next, proper start.
        Objects.requireNonNull(listener, "listener");
        Objects.requireNonNull(headers, "headers");
        boolean first = !startCalled;
        startCalled = true;
        try {
          if (first) {
            // Only now: a call never started is never closed, and must leave nothing on ctx. A
            // context that ended since newCall cancels the bridge here, before gRPC's start looks.
            following.listen();
          }
          startBelow(listener, headers);
        } catch (Throwable t) {
          if (first) {
            // Never started, so never closed. A second start throws on a call that runs: keep it.
            bridge.cancel(null);
          }
          throw t;
        }
      }

      private void startBelow(Listener<RespT> listener, Metadata headers) {
        super.start(
            new ForwardingClientCallListener.SimpleForwardingClientCallListener<>(listener) {
              @Override
              public void onClose(Status status, Metadata trailers) {
                bridge.cancel(null);
                super.onClose(status, trailers);
              }
            },
            headers);
      }

      @Override
      public void cancel(String message, Throwable cause) {
        try {
          super.cancel(message, cause);
        } finally {
          bridge.cancel(null); // also cancels the call, should what is below us have thrown
        }
      }
    };
  }

  /**
   * The call options' deadline, if that is the earlier, for the bridge to follow through a child
   * of {@code ctx} with it, so that it too is sent less the allowance and fired by one (ctx4j)
   * timer: left to gRPC, its timer would reset the stream at the very deadline that the server,
   * counting from the request's arrival, reaches only a transit time later. Null if the options'
   * deadline is not the earlier, or if {@code ctx} runs on a clock of its own (a test clock must
   * not drive a real-time deadline).
   */
  private static Instant ownDeadline(Context ctx, Deadline deadline) {
    if (deadline == null || Context.timeSourceOf(ctx) != TimeSource.system()) {
      return null;
    }
    Instant at = GrpcContexts.toInstant(deadline);
    Optional<Instant> inherited = ctx.deadline();
    if (inherited.isPresent() && !at.isBefore(inherited.get())) {
      return null;
    }
    return at;
  }
}
