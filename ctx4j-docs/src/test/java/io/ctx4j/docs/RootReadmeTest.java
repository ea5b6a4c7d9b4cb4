package io.ctx4j.docs;

import static io.ctx4j.docs.Shop.render;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.docs.Shop.Order;
import io.ctx4j.docs.Shop.OrderService;
import io.ctx4j.docs.Shop.Page;
import io.ctx4j.docs.Shop.User;
import io.ctx4j.docs.Shop.UserService;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.concurrent.Blocking;
import io.ctx4j.concurrent.ContextExecutorService;
import io.ctx4j.grpc.GrpcContexts;
import io.ctx4j.signal.SignalContext;
import io.ctx4j.signal.Signals;
import io.ctx4j.taskgroup.TaskGroup;
import io.ctx4j.taskgroup.TaskGroupException;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The snippets of the root README.md, run. */
@Timeout(120)
class RootReadmeTest {
  record Job(int n) {}

  final BlockingQueue<Job> jobs = new LinkedBlockingQueue<>();
  final BlockingQueue<Job> handled = new LinkedBlockingQueue<>();
  UserService userService = (c, id) -> new User(id);
  OrderService orderService = (c, id) -> List.of(new Order(7));

  void handle(Job job) {
    handled.add(job);
  }

  @Test
  void quickStartReturnsTheReplyOrTheDeadline() throws Exception {
    Service ok = new Service(req -> CompletableFuture.completedFuture("hello " + req.user()));
    assertEquals("hello ann", ok.handle(new Request("ann", "q")));
    Service slow = new Service(req -> new CompletableFuture<>());
    assertThrows(DeadlineExceededException.class, () -> slow.handle(new Request("ann", "q")));
  }

  @Test
  void quickStartWorkerStopsWhenCancelled() throws Exception {
    try (CancelableContext ctx = Context.withCancel(Context.background())) {
      Thread worker = new Thread(() -> new Service(null).worker(ctx));
      worker.start();
      ctx.cancel();
      worker.join(TimeUnit.SECONDS.toMillis(60));
      assertTrue(!worker.isAlive());
    }
  }

  void serveUntilSignal() throws Exception {
    // snippet:start shutdown
    try (SignalContext shutdown = Signals.notifyContext(Context.background(), "INT", "TERM");
         ContextExecutorService pool = ContextExecutorService.wrap(Executors.newFixedThreadPool(4))) {
      pool.submit(shutdown, () -> { while (true) handle(Blocking.take(shutdown, jobs)); });
      shutdown.await();                 // Ctrl-C: cause "interrupt signal received"
    }                                   // close() waits for the workers to drain
    // snippet:end shutdown
  }

  @Test
  void shutdownServesUntilSigintThenDrains() throws Exception {
    Background server = new Background(this::serveUntilSignal);
    jobs.add(new Job(1));
    assertEquals(new Job(1), handled.poll(60, TimeUnit.SECONDS), "the pool handles jobs");
    // A real SIGINT to this JVM: the handler notifyContext installed turns it into a cancel.
    Background.signalSelf("INT");
    server.joinCleanly();           // close() returned: the workers drained
  }

  Page page(Context ctx, long id) throws Exception {
    // snippet:start task-group
    try (TaskGroup group = TaskGroup.open(ctx)) {
      CompletableFuture<User> user = group.go(c -> userService.fetch(c, id));
      CompletableFuture<List<Order>> orders = group.go(c -> orderService.fetch(c, id));
      group.await();        // TaskGroupException: cause = first failure, the rest suppressed
      return render(user.join(), orders.join());
    }
    // snippet:end task-group
  }

  @Test
  void taskGroupRendersOrReportsTheFirstFailure() throws Exception {
    assertEquals(new Page(new User(42), List.of(new Order(7))), page(Context.background(), 42));
    IllegalStateException down = new IllegalStateException("orders down");
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch cancelled = new CountDownLatch(1);
    userService = (c, id) -> {
      started.countDown();
      try {
        c.await();                        // until the failure cancels the group
      } finally {
        cancelled.countDown();
      }
      return null;
    };
    orderService = (c, id) -> {
      // Fail only once the other task runs: a task whose group has already failed is skipped, not
      // started (TaskGroup.go), and then nothing would count `cancelled` down.
      assertTrue(started.await(60, TimeUnit.SECONDS));
      throw down;
    };
    TaskGroupException e = assertThrows(TaskGroupException.class, () -> page(Context.background(), 1));
    assertSame(down, e.getCause());
    assertTrue(cancelled.await(60, TimeUnit.SECONDS));
  }

  String quote(QuoteGrpc.QuoteBlockingStub stub, QuoteGrpc.QuoteRequest request) {
    // snippet:start grpc
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMillis(300))) {
      return GrpcContexts.bind(stub, ctx).quote(request).getText();   // A -> B -> C
    }
    // snippet:end grpc
  }

  @Test
  void grpcCallCarriesTheDeadline() throws Exception {
    Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
        .addService(ServerInterceptors.intercept(
            QuoteGrpc.bindService(r -> new QuoteGrpc.QuoteReply(
                r.getSymbol() + " deadline=" + GrpcContexts.current().deadline().isPresent())),
            GrpcContexts.serverInterceptor()))
        .build().start();
    ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort())
        .usePlaintext().intercept(GrpcContexts.clientInterceptor()).build();
    try {
      String reply = null;
      // The 300 ms budget covers a cold first call on a loaded machine only sometimes: warm up.
      for (int i = 0; i < 50 && reply == null; i++) {
        try {
          reply = quote(QuoteGrpc.newBlockingStub(channel), new QuoteGrpc.QuoteRequest("ACME"));
        } catch (io.grpc.StatusRuntimeException e) {
          assertEquals(io.grpc.Status.Code.DEADLINE_EXCEEDED, e.getStatus().getCode());
        }
      }
      assertNotNull(reply);
      assertEquals("ACME deadline=true", reply);
    } finally {
      channel.shutdownNow().awaitTermination(30, TimeUnit.SECONDS);
      server.shutdownNow().awaitTermination(30, TimeUnit.SECONDS);
    }
  }
}
