package io.ctx4j.demo;

import com.sun.net.httpserver.HttpServer;
import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.grpc.GrpcContexts;
import io.ctx4j.http.ContextFilter;
import io.ctx4j.http.ContextHttp;
import io.ctx4j.http.DeadlineHeader;
import io.grpc.BindableService;
import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * A request's deadline and cancellation crossing process boundaries: three services A &rarr; B
 * &rarr; C on loopback, over gRPC ({@code grpcChain}) and over plain HTTP ({@code httpChain}). Each
 * hop prints the time it has left, which shrinks from hop to hop, and how its context ended.
 *
 * <p>These scenarios talk over real sockets and therefore run in real time, whatever {@link
 * DemoTime} the registry was built with. Not instantiable.
 */
public final class CrossServiceExamples {
  /** The caller's budget. */
  static final Duration BUDGET = Duration.ofMillis(300);

  /**
   * What each gRPC hop takes off the budget it sends, for transit: more than the default 10 ms, so
   * that each hop's own deadline, not its caller's reset at the caller's deadline, ends its context
   * even when a loaded machine fires the timer late (a CI run beside two builds saw hop A's timer
   * more than 10 ms late, and A cancelled instead).
   */
  static final Duration TRANSIT_ALLOWANCE = Duration.ofMillis(50);

  /** When the caller gives up by hand in the cancellation part of {@code grpcChain}. */
  static final Duration CANCEL_AFTER = Duration.ofMillis(100);

  private static final MethodDescriptor<String, String> HOP =
      MethodDescriptor.<String, String>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName(MethodDescriptor.generateFullMethodName("demo.Hop", "Call"))
          .setRequestMarshaller(Utf8.INSTANCE)
          .setResponseMarshaller(Utf8.INSTANCE)
          .build();

  private CrossServiceExamples() {}

  /**
   * Returns the scenarios.
   *
   * @param time the demo's clock; unused, see the class comment
   * @return {@code grpcChain} and {@code httpChain}
   */
  public static List<Scenario> all(DemoTime time) {
    return List.of(
        Scenario.of(
            "grpcChain",
            "A -> B -> C over gRPC: a 300 ms deadline shrinks at each hop; a cancel reaches C",
            CrossServiceExamples::grpcChain),
        Scenario.of(
            "httpChain",
            "A -> B -> C over HTTP with the Ctx4j-Timeout-Ms header: a 300 ms deadline at each hop",
            CrossServiceExamples::httpChain));
  }

  // -------------------------------------------------------------------------------------- gRPC

  private static void grpcChain(PrintStream out) throws Exception {
    out.println("== grpcChain: deadline and cancellation across three gRPC services ==");
    List<AutoCloseable> resources = new ArrayList<>();
    try {
      Chain chain = new Chain(out);
      ManagedChannel toC = grpcService(chain.hop("C", null), resources);
      ManagedChannel toB = grpcService(chain.hop("B", ctx -> grpcCall(toC, ctx)), resources);
      ManagedChannel toA = grpcService(chain.hop("A", ctx -> grpcCall(toB, ctx)), resources);
      for (ManagedChannel channel : List.of(toA, toB, toC)) {
        chain.warmUp(() -> grpcCall(channel, Context.background(), "ping"));
      }

      out.println("-- the caller allows " + BUDGET.toMillis() + " ms");
      Instant start = Instant.now();
      try (CancelableContext ctx = Context.withTimeout(Context.background(), BUDGET)) {
        grpcCall(toA, ctx);
      } catch (StatusRuntimeException e) {
        out.println("caller: " + e.getStatus().getCode() + " after " + since(start) + " ms");
      }
      chain.awaitAllEnded();

      out.println("-- the caller gives up after " + CANCEL_AFTER.toMillis() + " ms, no deadline");
      chain.reset();
      CancelableContext ctx = Context.withCancel(Context.background());
      Future<String> reply =
          ClientCalls.futureUnaryCall(
              toA.newCall(HOP, GrpcContexts.withContext(CallOptions.DEFAULT, ctx)), "go");
      chain.awaitCEntered();
      Context.afterFunc(Context.withTimeout(Context.background(), CANCEL_AFTER), ctx::cancel);
      start = Instant.now();
      try {
        reply.get(10, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException e) {
        out.println("caller: " + Status.fromThrowable(e.getCause()).getCode() + " after " + since(start) + " ms");
      }
      chain.awaitAllEnded();
    } finally {
      closeAll(resources);
    }
  }

  private static ManagedChannel grpcService(Hop hop, List<AutoCloseable> resources)
      throws IOException {
    ServerServiceDefinition def =
        ServerServiceDefinition.builder("demo.Hop")
            .addMethod(
                HOP,
                ServerCalls.asyncUnaryCall(
                    (request, response) -> {
                      if (!request.equals("ping")) {
                        hop.handle(GrpcContexts.current());
                      }
                      try {
                        response.onNext(request);
                        response.onCompleted();
                      } catch (StatusRuntimeException cancelled) {
                        // the caller is gone: there is nobody to answer
                      }
                    }))
            .build();
    BindableService service = () -> def;
    Server server =
        NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .addService(ServerInterceptors.intercept(service, GrpcContexts.serverInterceptor()))
            .build()
            .start();
    resources.add(
        () -> {
          server.shutdown();
          server.awaitTermination(10, TimeUnit.SECONDS);
        });
    ManagedChannel channel =
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1", server.getPort(), InsecureChannelCredentials.create())
            .intercept(GrpcContexts.clientInterceptor(TRANSIT_ALLOWANCE))
            .build();
    resources.add(
        () -> {
          channel.shutdownNow();
          channel.awaitTermination(10, TimeUnit.SECONDS);
        });
    return channel;
  }

  private static void grpcCall(ManagedChannel channel, Context ctx) {
    grpcCall(channel, ctx, "go");
  }

  private static void grpcCall(ManagedChannel channel, Context ctx, String request) {
    ClientCalls.blockingUnaryCall(
        channel, HOP, GrpcContexts.withContext(CallOptions.DEFAULT, ctx), request);
  }

  // -------------------------------------------------------------------------------------- HTTP

  private static void httpChain(PrintStream out) throws Exception {
    out.println("== httpChain: the deadline across three HTTP services (" + DeadlineHeader.NAME + ") ==");
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    List<AutoCloseable> resources = new ArrayList<>();
    try {
      Chain chain = new Chain(out);
      URI c = httpService(chain.hop("C", null), resources);
      URI b = httpService(chain.hop("B", ctx -> httpCall(client, c, ctx)), resources);
      URI a = httpService(chain.hop("A", ctx -> httpCall(client, b, ctx)), resources);
      chain.warmUp(
          () ->
              client.send(HttpRequest.newBuilder(a.resolve("/?ping")).build(), BodyHandlers.discarding()));

      out.println("-- the caller allows " + BUDGET.toMillis() + " ms");
      Instant start = Instant.now();
      try (CancelableContext ctx = Context.withTimeout(Context.background(), BUDGET)) {
        httpCall(client, a, ctx);
        // A's budget is the caller's less DeadlineHeader.TRANSIT_ALLOWANCE, so A usually gives up
        // and answers a few milliseconds before the caller's own deadline fires.
        ctx.await(Duration.ofSeconds(5));
        ctx.throwIfDone();
      } catch (io.ctx4j.DeadlineExceededException e) {
        out.println("caller: " + e.getMessage() + " after " + since(start) + " ms");
      }
      chain.awaitAllEnded();
    } finally {
      closeAll(resources);
    }
  }

  private static URI httpService(Hop hop, List<AutoCloseable> resources) throws IOException {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    ExecutorService pool = Executors.newCachedThreadPool();
    server.setExecutor(pool);
    server
        .createContext(
            "/",
            exchange -> {
              if (!"ping".equals(exchange.getRequestURI().getQuery())) {
                hop.handle(ContextFilter.current());
              }
              exchange.sendResponseHeaders(204, -1);
              exchange.close();
            })
        .getFilters()
        .add(ContextFilter.create());
    server.start();
    resources.add(
        () -> {
          server.stop(0);
          pool.shutdown();
          pool.awaitTermination(10, TimeUnit.SECONDS);
        });
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/");
  }

  private static void httpCall(HttpClient client, URI uri, Context ctx) throws Exception {
    ContextHttp.send(ctx, client, HttpRequest.newBuilder(uri).build(), BodyHandlers.discarding());
  }

  // ------------------------------------------------------------------------------ shared parts

  /** What a hop does next with its request context: call the next service, or nothing for C. */
  @FunctionalInterface
  private interface Downstream {
    void call(Context ctx) throws Exception;
  }

  /** A service's handler body, given the request context its server built. */
  @FunctionalInterface
  private interface Hop {
    void handle(Context ctx);
  }

  /** Something to do once before the timed runs; it may throw. */
  @FunctionalInterface
  private interface Action {
    void run() throws Exception;
  }

  /** The three hops of one scenario, and latches to wait for them. */
  private static final class Chain {
    private final PrintStream out;
    private volatile CountDownLatch ended = new CountDownLatch(3);
    private volatile CountDownLatch cEntered = new CountDownLatch(1);

    Chain(PrintStream out) {
      this.out = out;
    }

    Hop hop(String name, Downstream next) {
      return ctx -> {
        Instant entered = Instant.now();
        out.println(name + ": " + left(ctx));
        try {
          if (next == null) {
            cEntered.countDown();
            ctx.await(); // C is slow: it works until its context ends
          } else {
            next.call(ctx);
          }
        } catch (Exception e) {
          // the downstream call failed because the request ended; reported below
        }
        try {
          // The next hop's budget is rounded down, so its failure can come back a few
          // milliseconds before this hop's own deadline.
          ctx.await(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        out.println(name + ": context ended (" + ctx.err() + ") after " + since(entered) + " ms");
        ended.countDown();
      };
    }

    void warmUp(Action call) throws Exception {
      // Class loading and the first connections would otherwise eat into the budget.
      call.run();
    }

    void reset() {
      ended = new CountDownLatch(3);
      cEntered = new CountDownLatch(1);
    }

    void awaitCEntered() throws InterruptedException {
      if (!cEntered.await(10, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the request never reached C");
      }
    }

    void awaitAllEnded() throws InterruptedException {
      if (!ended.await(10, TimeUnit.SECONDS)) {
        throw new IllegalStateException("a service kept working after the request ended");
      }
    }
  }

  static String left(Context ctx) {
    return ctx.remaining()
        .map(
            d ->
                d.isNegative()
                    ? String.format(Locale.ROOT, "no time left (the deadline passed %d ms ago)", -d.toMillis())
                    : String.format(Locale.ROOT, "%d ms left", d.toMillis()))
        .orElse("no deadline");
  }

  private static long since(Instant start) {
    return Duration.between(start, Instant.now()).toMillis();
  }

  private static void closeAll(List<AutoCloseable> resources) throws Exception {
    Exception first = null;
    for (int i = resources.size() - 1; i >= 0; i--) {
      try {
        resources.get(i).close();
      } catch (Exception e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  private enum Utf8 implements MethodDescriptor.Marshaller<String> {
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
