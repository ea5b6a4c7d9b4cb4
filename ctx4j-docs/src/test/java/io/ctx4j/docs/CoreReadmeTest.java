package io.ctx4j.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.Registration;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The snippets of ctx4j-core/README.md, run. */
@Timeout(60)
class CoreReadmeTest {

  // snippet:start throw-a-copy
  void step(Context ctx, java.io.Closeable resource) throws java.io.IOException {
    try (resource) {
      ctx.throwIfDone();                      // a fresh CanceledException: stack trace, cause, and
    }                                         // room for a failing close() as a suppressed exception
  }

  void stepGoStyle(Context ctx) {
    if (ctx.err() != null) {
      throw ctx.err().copy(ctx.cause());      // the same, spelled out
    }
  }
  // snippet:end throw-a-copy

  // snippet:start done-wins
  void worker(Context ctx) throws InterruptedException {
    ctx.await();                                  // returns once ctx is done, even if interrupted
    if (Thread.currentThread().isInterrupted()) { // the interrupt is still there for the caller
      return;
    }
  }
  // snippet:end done-wins

  // snippet:start after-func-executor
  static final java.util.concurrent.ExecutorService CLEANUP =
      java.util.concurrent.Executors.newFixedThreadPool(2);

  Registration closeOnDone(Context ctx, java.net.Socket socket) {
    return Context.afterFunc(ctx, () -> {
      try {
        socket.close();
      } catch (java.io.IOException ignored) {
        // already closed
      }
    }, CLEANUP);
  }
  // snippet:end after-func-executor

  @Test
  void aFailingCloseLandsOnAFreshCopyNeverOnTheSentinel() {
    CancelableContext ctx = Context.withCancel(Context.background());
    ctx.cancel();
    IOException closeFailure = new IOException("close failed");
    CanceledException thrown =
        assertThrows(CanceledException.class, () -> step(ctx, () -> { throw closeFailure; }));
    assertNotSame(Context.CANCELED, thrown);
    assertSame(closeFailure, thrown.getSuppressed()[0]);
    assertEquals(0, Context.CANCELED.getSuppressed().length);
    CanceledException spelledOut = assertThrows(CanceledException.class, () -> stepGoStyle(ctx));
    assertNotSame(Context.CANCELED, spelledOut);
  }

  @Test
  void awaitReturnsOnADoneContextAndKeepsTheInterrupt() throws InterruptedException {
    CancelableContext ctx = Context.withCancel(Context.background());
    ctx.cancel();
    Thread.currentThread().interrupt();
    try {
      worker(ctx);
      assertTrue(Thread.currentThread().isInterrupted());
    } finally {
      Thread.interrupted();
    }
  }

  @Test
  void theSocketIsClosedOnTheGivenExecutorWhenTheContextEnds() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
        Socket socket = new Socket(server.getInetAddress(), server.getLocalPort())) {
      CancelableContext ctx = Context.withCancel(Context.background());
      Registration r = closeOnDone(ctx, socket);
      CountDownLatch ran = new CountDownLatch(1);
      Context.afterFunc(ctx, ran::countDown, CLEANUP);
      ctx.cancel();
      assertTrue(ran.await(30, TimeUnit.SECONDS));
      // Both pool threads meet at a barrier: the close task, queued before, has then finished.
      java.util.concurrent.CyclicBarrier drained = new java.util.concurrent.CyclicBarrier(2);
      java.util.concurrent.Callable<Integer> meet = () -> drained.await(30, TimeUnit.SECONDS);
      for (java.util.concurrent.Future<Integer> f : CLEANUP.invokeAll(java.util.List.of(meet, meet))) {
        f.get(30, TimeUnit.SECONDS);
      }
      assertTrue(socket.isClosed(), "closed by the function afterFunc ran on CLEANUP");
      assertEquals(false, r.stop(), "stop() after the run prevents nothing");
    }
  }
}
