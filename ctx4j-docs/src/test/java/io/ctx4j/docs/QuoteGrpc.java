package io.ctx4j.docs;

import io.grpc.BindableService;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.AbstractBlockingStub;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * The snippets' gRPC service, written by hand in the shape protoc generates (QuoteGrpc,
 * newBlockingStub, a blocking stub with one unary method), with UTF-8 strings on the wire.
 */
final class QuoteGrpc {
  private QuoteGrpc() {}

  /** The request message. */
  record QuoteRequest(String symbol) {
    String getSymbol() {
      return symbol;
    }
  }

  /** The reply message. */
  record QuoteReply(String text) {
    String getText() {
      return text;
    }
  }

  /** The server side: what a service implements. */
  interface Quote {
    QuoteReply quote(QuoteRequest request) throws Exception;
  }

  static final MethodDescriptor<QuoteRequest, QuoteReply> QUOTE =
      MethodDescriptor.<QuoteRequest, QuoteReply>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName(MethodDescriptor.generateFullMethodName("docs.Quote", "Quote"))
          .setRequestMarshaller(new Utf8<>(QuoteRequest::symbol, QuoteRequest::new))
          .setResponseMarshaller(new Utf8<>(QuoteReply::text, QuoteReply::new))
          .build();

  static QuoteBlockingStub newBlockingStub(Channel channel) {
    return new QuoteBlockingStub(channel, CallOptions.DEFAULT);
  }

  static BindableService bindService(Quote impl) {
    ServerServiceDefinition def = ServerServiceDefinition.builder("docs.Quote")
        .addMethod(QUOTE, ServerCalls.asyncUnaryCall(
            (QuoteRequest request, StreamObserver<QuoteReply> out) -> {
              try {
                out.onNext(impl.quote(request));
                out.onCompleted();
              } catch (Exception e) {
                out.onError(io.grpc.Status.fromThrowable(e).asRuntimeException());
              }
            }))
        .build();
    return () -> def;
  }

  /** The blocking stub. */
  static final class QuoteBlockingStub extends AbstractBlockingStub<QuoteBlockingStub> {
    QuoteBlockingStub(Channel channel, CallOptions options) {
      super(channel, options);
    }

    @Override
    protected QuoteBlockingStub build(Channel channel, CallOptions options) {
      return new QuoteBlockingStub(channel, options);
    }

    QuoteReply quote(QuoteRequest request) {
      return ClientCalls.blockingUnaryCall(getChannel(), QUOTE, getCallOptions(), request);
    }
  }

  private static final class Utf8<T> implements MethodDescriptor.Marshaller<T> {
    private final java.util.function.Function<T, String> text;
    private final java.util.function.Function<String, T> make;

    Utf8(java.util.function.Function<T, String> text, java.util.function.Function<String, T> make) {
      this.text = text;
      this.make = make;
    }

    @Override
    public InputStream stream(T value) {
      return new ByteArrayInputStream(text.apply(value).getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public T parse(InputStream stream) {
      try {
        return make.apply(new String(stream.readAllBytes(), StandardCharsets.UTF_8));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
