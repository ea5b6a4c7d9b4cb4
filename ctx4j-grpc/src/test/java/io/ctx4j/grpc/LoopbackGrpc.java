package io.ctx4j.grpc;

import static org.junit.jupiter.api.Assertions.assertThrows;

import io.grpc.BindableService;
import io.grpc.CallOptions;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * A gRPC server on 127.0.0.1 with one unary method taking and returning UTF-8 strings, defined by
 * hand (no protoc), behind {@link GrpcContexts#serverInterceptor()}; plus a channel to it with the
 * client interceptor.
 */
final class LoopbackGrpc implements AutoCloseable {
  static final MethodDescriptor<String, String> CALL = method(MethodDescriptor.MethodType.UNARY, "Call");

  /** A server-streaming method: the handler given to the streaming constructor answers it. */
  static final MethodDescriptor<String, String> STREAM =
      method(MethodDescriptor.MethodType.SERVER_STREAMING, "Stream");

  private static MethodDescriptor<String, String> method(MethodDescriptor.MethodType type, String name) {
    return MethodDescriptor.<String, String>newBuilder()
        .setType(type)
        .setFullMethodName(MethodDescriptor.generateFullMethodName("ctx4j.test.Hop", name))
        .setRequestMarshaller(Utf8.INSTANCE)
        .setResponseMarshaller(Utf8.INSTANCE)
        .build();
  }

  final Server server;
  final ManagedChannel channel;

  LoopbackGrpc(ServerCalls.UnaryMethod<String, String> method) {
    this(io.ctx4j.Context.background(), method);
  }

  LoopbackGrpc(io.ctx4j.Context root, ServerCalls.UnaryMethod<String, String> method) {
    this(root, method, GrpcContexts.clientInterceptor());
  }

  LoopbackGrpc(
      io.ctx4j.Context root,
      ServerCalls.UnaryMethod<String, String> method,
      ClientInterceptor clientInterceptor) {
    this(root, method, (req, resp) -> resp.onCompleted(), clientInterceptor);
  }

  LoopbackGrpc(
      ServerCalls.UnaryMethod<String, String> method,
      ServerCalls.ServerStreamingMethod<String, String> stream) {
    this(io.ctx4j.Context.background(), method, stream, GrpcContexts.clientInterceptor());
  }

  LoopbackGrpc(
      ServerCalls.UnaryMethod<String, String> method,
      ServerCalls.ServerStreamingMethod<String, String> stream,
      ClientInterceptor clientInterceptor) {
    this(io.ctx4j.Context.background(), method, stream, clientInterceptor);
  }

  private LoopbackGrpc(
      io.ctx4j.Context root,
      ServerCalls.UnaryMethod<String, String> method,
      ServerCalls.ServerStreamingMethod<String, String> stream,
      ClientInterceptor clientInterceptor) {
    this(root, method, stream, clientInterceptor, null);
  }

  /**
   * A server whose calls also pass {@code inner}, which runs after the ctx4j interceptor (so it sees
   * {@link GrpcContexts#current()}) for every call, also those whose handler never runs.
   */
  LoopbackGrpc(
      ServerCalls.UnaryMethod<String, String> method,
      ServerInterceptor inner,
      ClientInterceptor clientInterceptor) {
    this(
        io.ctx4j.Context.background(),
        method,
        (req, resp) -> resp.onCompleted(),
        clientInterceptor,
        inner);
  }

  private LoopbackGrpc(
      io.ctx4j.Context root,
      ServerCalls.UnaryMethod<String, String> method,
      ServerCalls.ServerStreamingMethod<String, String> stream,
      ClientInterceptor clientInterceptor,
      ServerInterceptor inner) {
    ServerServiceDefinition service =
        ServerServiceDefinition.builder("ctx4j.test.Hop")
            .addMethod(CALL, ServerCalls.asyncUnaryCall(method))
            .addMethod(STREAM, ServerCalls.asyncServerStreamingCall(stream))
            .build();
    BindableService bindable = () -> service;
    try {
      server =
          NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
              .addService(
                  inner == null
                      ? ServerInterceptors.intercept(bindable, GrpcContexts.serverInterceptor(root))
                      : ServerInterceptors.intercept(bindable, inner, GrpcContexts.serverInterceptor(root)))
              .build()
              .start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    channel =
        NettyChannelBuilder.forAddress("127.0.0.1", server.getPort())
            .usePlaintext()
            .intercept(clientInterceptor)
            .build();
  }

  /** Calls {@link #CALL} with no context. */
  String call(String request) {
    return ClientCalls.blockingUnaryCall(channel, CALL, CallOptions.DEFAULT, request);
  }

  /** Calls {@link #CALL} in {@code ctx}, through {@link GrpcContexts#withContext}. */
  String call(io.ctx4j.Context ctx, String request) {
    return ClientCalls.blockingUnaryCall(channel, CALL, GrpcContexts.withContext(CallOptions.DEFAULT, ctx), request);
  }

  /** Calls {@link #CALL} in {@code ctx} and returns how it failed; fails the test if it did not. */
  StatusRuntimeException callFails(io.ctx4j.Context ctx) {
    return assertThrows(StatusRuntimeException.class, () -> call(ctx, "x"));
  }

  /** Shuts down channel and server; fails if a call is still running after a few seconds. */
  @Override
  public void close() throws InterruptedException {
    channel.shutdownNow();
    server.shutdown();
    if (!server.awaitTermination(10, TimeUnit.SECONDS)) {
      server.shutdownNow();
      throw new AssertionError("a call was still running 10 s after shutdown");
    }
    channel.awaitTermination(10, TimeUnit.SECONDS);
  }

  enum Utf8 implements MethodDescriptor.Marshaller<String> {
    INSTANCE;

    @Override
    public InputStream stream(String value) {
      return new ByteArrayInputStream(value.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String parse(InputStream stream) {
      try {
        return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
