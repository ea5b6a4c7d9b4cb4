package io.ctx4j.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.Key;
import io.ctx4j.Registration;
import io.ctx4j.concurrent.Blocking;
import io.ctx4j.concurrent.Closer;
import io.ctx4j.concurrent.ContextExecutorService;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.concurrent.Futures;
import io.ctx4j.concurrent.InterruptScope;
import io.ctx4j.concurrent.Tasks;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.Pipe;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The snippets of ctx4j-concurrent/README.md, run. */
@Timeout(120)
class ConcurrentReadmeTest {
  record Job(String name) {
    void run() {}
  }

  record Reply(String text) {}

  record Report(String title) {}

  record Page(String url) {}

  record Request(String path) {}

  interface Client {
    CompletableFuture<Reply> sendAsync(Request request);
  }

  interface LegacyClient {
    Reply blockingCall() throws InterruptedException;
  }

  interface Worker {
    void run(Context ctx) throws Exception;
  }

  interface Handler {
    void handle(Request request);
  }

  final BlockingQueue<Job> jobs = new LinkedBlockingQueue<>();
  final Lock lock = new ReentrantLock();
  final Semaphore semaphore = new Semaphore(1);
  final CompletableFuture<Reply> future = CompletableFuture.completedFuture(new Reply("done"));

  Reply blocking(Context ctx) throws Exception {
    // snippet:start blocking
    Blocking.sleep(ctx, Duration.ofSeconds(1));      // or DeadlineExceededException, early
    Job job = Blocking.take(ctx, jobs);              // BlockingQueue.take; also poll(ctx, q, timeout), put
    Blocking.lock(ctx, lock);                        // Lock.lockInterruptibly; you hold it on return
    try {
      job.run();
    } finally {
      lock.unlock();
    }
    Blocking.acquire(ctx, semaphore);                // or acquire(ctx, semaphore, permits)
    Reply r = Blocking.get(ctx, future);             // Future.get; await(ctx, stage) for a CompletionStage
    // snippet:end blocking
    return r;
  }

  @Test
  void blockingHelpersWaitOrEndWithTheContext() throws Exception {
    jobs.add(new Job("a"));
    assertEquals(new Reply("done"), blocking(Context.background()));
    // The semaphore's one permit is taken now: the next run waits in acquire until the deadline.
    jobs.add(new Job("b"));
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofSeconds(2))) {
      assertThrows(DeadlineExceededException.class, () -> blocking(ctx));
    }
  }

  LegacyClient legacyClient;

  @SuppressWarnings("try") // the scope works by being open
  Reply interruptScope(Context ctx) throws InterruptedException {
    // snippet:start interrupt-scope
    try (InterruptScope scope = InterruptScope.open(ctx)) {
      return legacyClient.blockingCall();           // anything that honours interrupts
    } catch (InterruptedException e) {
      ctx.throwIfDone();                            // the context's error, if it caused the interrupt
      throw e;                                      // otherwise a genuine interrupt
    }
    // snippet:end interrupt-scope
  }

  @Test
  void interruptScopeTurnsTheInterruptIntoTheContextsError() throws Exception {
    legacyClient = () -> {
      Thread.sleep(TimeUnit.MINUTES.toMillis(5));
      return new Reply("late");
    };
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMillis(100))) {
      assertThrows(DeadlineExceededException.class, () -> interruptScope(ctx));
    }
    assertTrue(!Thread.interrupted(), "no stray interrupt after the scope");
  }

  Client client = r -> new CompletableFuture<>();
  Request request = new Request("/");
  final CompletableFuture<Void> shutdownSignal = new CompletableFuture<>();
  Worker worker;

  CompletableFuture<Reply> futures(Context ctx) throws Exception {
    // snippet:start futures
    CompletableFuture<Reply> reply = client.sendAsync(request);
    Futures.cancelWhenDone(ctx, reply);             // ctx ends -> reply fails with ctx's error (isCancelled() is true)

    try (CancelableContext sub = Futures.contextOf(ctx, shutdownSignal)) {
      worker.run(sub);                              // cancelled when shutdownSignal completes; a failure becomes the cause
    }
    // snippet:end futures
    return reply;
  }

  @Test
  void futuresFollowTheContextAndContextsFollowFutures() throws Exception {
    AtomicReference<Throwable> seen = new AtomicReference<>();
    worker = sub -> {
      shutdownSignal.complete(null);
      sub.await();
      seen.set(sub.err());
    };
    CompletableFuture<Reply> reply;
    try (CancelableContext ctx = Context.withCancel(Context.background())) {
      reply = futures(ctx);
      assertTrue(seen.get() != null, "the sub-context ended when the signal completed");
      ctx.cancel();
      assertTrue(reply.isCancelled(), "the reply was cancelled with the context");
    }
  }

  Context requestCtx = Context.background();
  Context ctx = Context.background();
  String url = "https://example.invalid/";

  Report buildReport() {
    return new Report(CurrentContext.get() == requestCtx ? "report" : "wrong context");
  }

  Page fetch(String url) {
    return new Page(url);
  }

  Page executors() throws Exception {
    // snippet:start executors
    try (ContextExecutorService pool = ContextExecutorService.wrap(Executors.newFixedThreadPool(8))) {
      CompletableFuture<Report> f = pool.submit(requestCtx, () -> buildReport());
    }

    CompletableFuture<Page> page = Tasks.start(ctx, () -> fetch(url));   // virtual thread on 21+, platform on 17
    // snippet:end executors
    return page.get(60, TimeUnit.SECONDS);
  }

  @Test
  void executorsRunTasksUnderAContext() throws Exception {
    assertEquals(new Page(url), executors());
  }

  String host;
  int port;
  final Pipe.SourceChannel channel;

  ConcurrentReadmeTest() throws IOException {
    channel = Pipe.open().source();
  }

  Registration closer(Context ctx) throws Exception {
    // snippet:start closer
    try (Socket socket = new Socket(host, port)) {
      byte[] reply = Closer.call(ctx, socket, () -> socket.getInputStream().readNBytes(512));
    }   // DeadlineExceededException (the SocketException attached as suppressed) if ctx ended the read

    Registration r = Closer.closeOnDone(ctx, channel); // the bare arrangement; stop it when the I/O is over
    // snippet:end closer
    return r;
  }

  @Test
  void closerEndsABlockedSocketRead() throws Exception {
    try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      host = silent.getInetAddress().getHostAddress();
      port = silent.getLocalPort();
      try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMillis(200))) {
        assertThrows(DeadlineExceededException.class, () -> closer(ctx));
      }
    }
    try (CancelableContext ctx = Context.withCancel(Context.background())) {
      Closer.closeOnDone(ctx, channel);
      ctx.cancel();
      // A read blocks until the channel is closed: the context's end is what closes it.
      assertThrows(ClosedChannelException.class, () -> channel.read(ByteBuffer.allocate(1)));
    }
  }

  Handler handler;
  Runnable task;
  Executor executor;

  String lookupUser() {
    return CurrentContext.get().value(USER);
  }

  static final Key<String> USER = Key.named("user");

  Context currentContext() throws Exception {
    // snippet:start current-context
    CurrentContext.run(requestCtx, () -> handler.handle(request));
    String user = CurrentContext.call(requestCtx, () -> lookupUser());
    Context ctx = CurrentContext.get();                      // background() when nothing is bound

    executor.execute(CurrentContext.wrap(task));             // carries the context into the task
    Executor carrying = CurrentContext.wrap(executor);       // ... for every task
    // snippet:end current-context
    assertEquals("ann", user);
    assertTrue(carrying != null);
    return ctx;
  }

  @Test
  void currentContextIsCarriedIntoTasks() throws Exception {
    requestCtx = Context.withValue(Context.background(), USER, "ann");
    AtomicReference<Context> inHandler = new AtomicReference<>();
    CountDownLatch ran = new CountDownLatch(1);
    handler = r -> inHandler.set(CurrentContext.get());
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      executor = pool;
      task = ran::countDown;
      assertSame(Context.background(), currentContext());   // nothing is bound on this thread
      assertSame(requestCtx, inHandler.get());
      assertTrue(ran.await(60, TimeUnit.SECONDS));
    } finally {
      pool.shutdownNow();
    }
  }
}
