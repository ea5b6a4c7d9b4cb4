package io.ctx4j.grpc;

import io.ctx4j.Context;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.stub.ServerCalls;

/** Lets tests in other packages start a {@link LoopbackGrpc} server. */
public final class LoopbackAccess {
  /** The test method. */
  public static final MethodDescriptor<String, String> CALL = LoopbackGrpc.CALL;

  private LoopbackAccess() {}

  /** A running server and its channel. */
  public interface Server extends AutoCloseable {
    /** The channel to the server, with the client interceptor. */
    ManagedChannel channel();

    @Override
    void close() throws InterruptedException;
  }

  /** Starts a server whose handler contexts are children of {@code root}. */
  public static Server start(Context root, ServerCalls.UnaryMethod<String, String> method) {
    LoopbackGrpc g = new LoopbackGrpc(root, method);
    return new Server() {
      @Override
      public ManagedChannel channel() {
        return g.channel;
      }

      @Override
      public void close() throws InterruptedException {
        g.close();
      }
    };
  }
}
