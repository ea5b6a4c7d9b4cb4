package io.ctx4j.grpc;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;

/**
 * Gives each incoming call a ctx4j context that follows the call's gRPC context; see {@link
 * GrpcContexts#serverInterceptor()}.
 *
 * <p>Implementation notes. gRPC runs {@code interceptCall} with the call's own {@code
 * io.grpc.Context} current: it carries the deadline read from {@code grpc-timeout} and is cancelled
 * by gRPC when the client cancels, when the transport breaks and when the call completes. The ctx4j
 * context built from it ({@link GrpcContexts#toCtx4j}) therefore ends in all those cases, which also
 * releases its listener; nothing here needs its own cleanup. The ctx4j context is stored as a value
 * of a gRPC context that {@link Contexts#interceptCall} attaches around every listener method, which
 * is where the handler runs.
 */
final class ContextServerInterceptor implements ServerInterceptor {
  private final Context root;

  ContextServerInterceptor(Context root) {
    this.root = root;
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    io.grpc.Context grpc = io.grpc.Context.current();
    CancelableContext ctx = GrpcContexts.toCtx4j(grpc, root);
    return Contexts.interceptCall(grpc.withValue(GrpcContexts.SERVER_CONTEXT, ctx), call, headers, next);
  }
}
