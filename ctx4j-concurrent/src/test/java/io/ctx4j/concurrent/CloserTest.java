package io.ctx4j.concurrent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.Registration;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.channels.Pipe;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class CloserTest {
  /** A loopback connection whose server side accepts and then never writes. */
  private static final class SilentPeer implements AutoCloseable {
    final ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    final Socket client = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
    final Socket accepted = server.accept();

    SilentPeer() throws IOException {}

    @Override
    public void close() throws IOException {
      try (server;
          client;
          accepted) {
        // closing all three
      }
    }
  }

  @Test
  void aBlockedSocketReadReturnsWhenTheContextIsCancelled() throws Exception {
    try (SilentPeer peer = new SilentPeer()) {
      CancelableContext ctx = Context.withCancel(Context.background());
      Registration r = Closer.closeOnDone(ctx, peer.client);
      CompletableFuture<Throwable> readEnded = new CompletableFuture<>();
      CountDownLatch reading = new CountDownLatch(1);
      Thread reader =
          new Thread(
              () -> {
                try {
                  InputStream in = peer.client.getInputStream();
                  reading.countDown();
                  in.read(); // the peer never writes: blocks until the socket is closed
                  readEnded.complete(null);
                } catch (Throwable e) {
                  readEnded.complete(e);
                }
              });
      reader.start();
      assertTrue(reading.await(10, TimeUnit.SECONDS));
      long start = System.nanoTime();
      ctx.cancel();
      Throwable e = readEnded.get(10, TimeUnit.SECONDS);
      assertTrue(e instanceof SocketException, "read ended with " + e);
      assertTrue(System.nanoTime() - start < Duration.ofSeconds(10).toNanos());
      assertTrue(peer.client.isClosed());
      assertFalse(r.stop(), "the close already ran");
      reader.join();
    }
  }

  /**
   * The deadline passes once the body runs (a manual clock, advanced by another thread when the
   * body starts), not by wall time: a real 50 ms timeout could pass on a loaded machine before
   * call() starts, and call() then throws without running the body, so nothing is suppressed.
   */
  @Test
  @Timeout(60)
  void callTurnsTheClosedSocketIntoTheDeadline() throws Exception {
    ManualTimeSource clock = ManualTimeSource.startingAt(Instant.parse("2026-01-01T00:00:00Z"));
    CountDownLatch reading = new CountDownLatch(1);
    Thread advancer =
        new Thread(
            () -> {
              try {
                if (reading.await(30, TimeUnit.SECONDS)) {
                  clock.advance(Duration.ofSeconds(1));
                }
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    try (SilentPeer peer = new SilentPeer();
        CancelableContext ctx =
            Context.withTimeout(
                Context.withTimeSource(Context.background(), clock), Duration.ofSeconds(1))) {
      advancer.start();
      DeadlineExceededException e =
          assertThrows(
              DeadlineExceededException.class,
              () ->
                  Closer.call(
                      ctx,
                      peer.client,
                      () -> {
                        reading.countDown();
                        return peer.client.getInputStream().read();
                      }));
      assertEquals(1, e.getSuppressed().length, "the read's own failure, suppressed");
      assertTrue(e.getSuppressed()[0] instanceof SocketException, "suppressed: " + e.getSuppressed()[0]);
      assertTrue(peer.client.isClosed());
    } finally {
      advancer.join(30_000);
    }
  }

  @Test
  void aBlockedChannelReadReturnsWhenTheContextIsCancelled() throws Exception {
    Pipe pipe = Pipe.open();
    try (Pipe.SinkChannel sink = pipe.sink()) {
      CancelableContext ctx = Context.withCancel(Context.background());
      CountDownLatch reading = new CountDownLatch(1);
      CompletableFuture<Integer> read =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return Closer.call(
                      ctx,
                      pipe.source(),
                      () -> {
                        reading.countDown();
                        return pipe.source().read(ByteBuffer.allocate(1)); // nothing is ever written
                      });
                } catch (Exception e) {
                  throw new java.util.concurrent.CompletionException(e);
                }
              });
      assertTrue(reading.await(10, TimeUnit.SECONDS));
      ctx.cancel();
      Throwable e = read.handle((v, x) -> x).get(10, TimeUnit.SECONDS).getCause();
      assertTrue(e instanceof CanceledException, "got " + e);
      assertFalse(pipe.source().isOpen());
      // Closed while blocked (AsynchronousCloseException) or just before the read began.
      assertTrue(e.getSuppressed()[0] instanceof java.nio.channels.ClosedChannelException);
      assertTrue(sink.isOpen());
    }
  }

  @Test
  void callReturnsTheResultAndLeavesTheResourceOpen() throws Exception {
    AtomicInteger closes = new AtomicInteger();
    try (CancelableContext ctx = Context.withCancel(Context.background())) {
      assertEquals("ok", Closer.call(ctx, closes::incrementAndGet, () -> "ok"));
    }
    assertEquals(0, closes.get());
  }

  @Test
  void callRejectsADoneContextWithoutRunningTheBody() {
    CancelableContext ctx = Context.withCancel(Context.background());
    ctx.cancel();
    AtomicInteger ran = new AtomicInteger();
    assertThrows(
        CanceledException.class, () -> Closer.call(ctx, () -> {}, ran::incrementAndGet));
    assertEquals(0, ran.get());
  }

  @Test
  void callReportsTheBodysOwnFailureWhileTheContextIsLive() {
    IOException io = new IOException("disk");
    IOException thrown =
        assertThrows(
            IOException.class,
            () ->
                Closer.call(
                    Context.background(),
                    () -> {},
                    () -> {
                      throw io;
                    }));
    assertSame(io, thrown);
  }

  @Test
  void noCloseLandsAfterCallReturnsEvenWhenTheContextEndsAtTheSameTime() throws Exception {
    Races.run(
        Races.ITERATIONS,
        new Races.Round() {
          CancelableContext ctx;
          AtomicInteger closes;
          int closesWhenCallReturned;

          @Override
          public Races.Action setUp() {
            ctx = Context.withCancel(Context.background());
            closes = new AtomicInteger();
            return ctx::cancel;
          }

          @Override
          public void mine() throws Exception {
            try {
              Closer.call(ctx, closes::incrementAndGet, () -> "ok");
            } catch (CanceledException e) {
              // the context was already done at the call: an allowed outcome
            }
            closesWhenCallReturned = closes.get();
          }

          @Override
          public void check() throws Exception {
            ctx.await();
            // Give a stray close every chance to show up: a later afterFunc on the same context
            // runs after any that was already started.
            CompletableFuture<Void> later = new CompletableFuture<>();
            Context.afterFunc(ctx, () -> later.complete(null));
            later.get(10, TimeUnit.SECONDS);
            assertTrue(closesWhenCallReturned <= 1);
            assertEquals(closesWhenCallReturned, closes.get(), "a close landed after call returned");
          }
        });
  }

  @Test
  void badArgumentsAreNamed() {
    assertEquals(
        "resource",
        assertThrows(NullPointerException.class, () -> Closer.closeOnDone(Context.background(), null))
            .getMessage());
  }
}
