package io.ctx4j.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.docs.QuoteGrpc.QuoteBlockingStub;
import io.ctx4j.docs.QuoteGrpc.QuoteReply;
import io.ctx4j.docs.QuoteGrpc.QuoteRequest;
import io.ctx4j.grpc.GrpcContexts;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The snippets of ctx4j-grpc/README.md, run on loopback servers. */
@Timeout(120)
class GrpcReadmeTest {
  String host = "127.0.0.1";
  int port;
  ChannelCredentials creds = InsecureChannelCredentials.create();
  Context parent = Context.background();
  QuoteRequest request = new QuoteRequest("ACME");
  final AtomicReference<QuoteReply> last = new AtomicReference<>();

  ManagedChannel client() {
    // snippet:start client
    ManagedChannel channel = Grpc.newChannelBuilderForAddress(host, port, creds)
        .intercept(GrpcContexts.clientInterceptor())
        .build();

    try (CancelableContext ctx = Context.withTimeout(parent, Duration.ofSeconds(5))) {
      QuoteReply r = GrpcContexts.bind(QuoteGrpc.newBlockingStub(channel), ctx).quote(request);
      last.set(r);
    }
    // or, for hand-made calls: GrpcContexts.withContext(CallOptions.DEFAULT, ctx)
    // snippet:end client
    return channel;
  }

  QuoteBlockingStub nextStub;

  // snippet:start server
  Server start(int port, Context serverRoot) throws IOException {
    return NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", port))
        .addService(ServerInterceptors.intercept(QuoteGrpc.bindService(this::quote),
            GrpcContexts.serverInterceptor(serverRoot)))
        .build().start();
  }

  QuoteReply quote(QuoteRequest request) {                  // a handler: one hop of a chain
    Context ctx = GrpcContexts.current();                   // deadline from the caller's grpc-timeout
    return GrpcContexts.bind(nextStub, ctx).quote(request); // the budget goes on, minus what we used
  }
  // snippet:end server

  @Test
  void deadlineCrossesTwoHops() throws Exception {
    // C: the last hop answers with whether it got a deadline.
    Server c = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(
            QuoteGrpc.bindService(r -> new QuoteReply(
                r.getSymbol() + " deadline=" + GrpcContexts.current().deadline().isPresent())),
            GrpcContexts.serverInterceptor()))
        .build().start();
    ManagedChannel toC = Grpc.newChannelBuilderForAddress("127.0.0.1", c.getPort(), creds)
        .intercept(GrpcContexts.clientInterceptor()).build();
    nextStub = QuoteGrpc.newBlockingStub(toC);
    // B: the snippet's server, calling C.
    Server b = start(0, Context.background());
    port = b.getPort();
    ManagedChannel toB = client();
    try {
      assertEquals("ACME deadline=true", last.get().getText());
    } finally {
      toB.shutdownNow().awaitTermination(30, TimeUnit.SECONDS);
      toC.shutdownNow().awaitTermination(30, TimeUnit.SECONDS);
      b.shutdownNow().awaitTermination(30, TimeUnit.SECONDS);
      c.shutdownNow().awaitTermination(30, TimeUnit.SECONDS);
    }
  }
}
