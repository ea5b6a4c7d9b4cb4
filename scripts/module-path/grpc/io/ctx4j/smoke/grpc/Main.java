package io.ctx4j.smoke.grpc;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.grpc.GrpcContexts;

/** Module-path smoke test of io.ctx4j.grpc, with grpc-java's automatic modules. */
public final class Main {
  public static void main(String[] args) throws Exception {
    try (CancelableContext ctx = Context.withCancel(Context.background())) {
      io.grpc.Context.CancellableContext grpc = GrpcContexts.fromCtx4j(ctx);
      ctx.cancel();
      if (!grpc.isCancelled()) throw new AssertionError("io.grpc.Context not cancelled");
    }
    System.out.println("io.ctx4j.grpc ok");
  }
}
