package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.testing.Quietly;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@code ContextHttp.send} is synchronous and needs no worker of the common {@code ForkJoinPool}:
 * the JDK's client completes every public {@code sendAsync} future through {@code
 * CompletableFuture}'s default executor, which on JDK 25 is the common pool even at parallelism 1
 * (JDK 17 starts a thread per task there), so a send that waited on that future answered only once
 * other code freed a worker. Here every worker is held on a latch (released in a {@code finally},
 * so that later tests in this JVM are not starved) while the call answers, ends with its context,
 * or ends with its caller's interrupt.
 */
@Timeout(120)
class CommonPoolBlockedTest {
  /** Generous: a loopback call answers in milliseconds. */
  private static final long BOUND_SECONDS = 10;

  private static final HttpClient CLIENT =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private static final HttpClient FOLLOWING =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .followRedirects(HttpClient.Redirect.NORMAL)
          .build();

  /**
   * Holds every worker the common pool has, and at least as many as its parallelism, on a latch
   * until closed. A worker the pool does not have yet is started by the submission; one more task
   * than there are workers would only queue, and so would any task the JDK hands the pool
   * meanwhile.
   */
  private static final class BlockedCommonPool implements AutoCloseable {
    private final CountDownLatch release = new CountDownLatch(1);
    final int workers;

    BlockedCommonPool() {
      ForkJoinPool pool = ForkJoinPool.commonPool();
      int parallelism = Math.max(1, pool.getParallelism());
      int tasks = Math.max(parallelism, pool.getPoolSize());
      CountDownLatch started = new CountDownLatch(tasks);
      try {
        for (int i = 0; i < tasks; i++) {
          pool.execute(
              () -> {
                started.countDown();
                Quietly.awaitIgnoringInterrupts(release, Duration.ofMinutes(2));
              });
        }
        // All of them, unless a spare worker (one the pool added beyond its parallelism for an
        // earlier blocked task) retired meanwhile: its task then queues, behind no free worker.
        if (!Quietly.await(started, Duration.ofSeconds(30))
            && tasks - started.getCount() < parallelism) {
          throw new AssertionError(
              "only " + (tasks - started.getCount()) + " of " + tasks
                  + " blockers started in 30 s: the common pool is busy with something else");
        }
        workers = (int) (tasks - started.getCount());
      } catch (Throwable e) {
        release.countDown();
        throw e;
      }
    }

    @Override
    public void close() {
      release.countDown();
    }
  }

  /**
   * A send run on a thread of its own (not the common pool's), so that a hang can be timed. Its
   * outcome is kept as thrown: a CompletableFuture would turn the context's error, which is a
   * CancellationException, into a cancellation of its own.
   */
  private static final class Caller<T> {
    private final CountDownLatch done = new CountDownLatch(1);
    private final CompletableFuture<Thread> thread = new CompletableFuture<>();
    private volatile T value;
    private volatile Throwable failure;
    private volatile boolean interruptedAfter;

    Caller(Callable<T> send) {
      Thread t =
          new Thread(
              () -> {
                thread.complete(Thread.currentThread());
                try {
                  value = send.call();
                } catch (Throwable e) {
                  failure = e;
                } finally {
                  interruptedAfter = Thread.currentThread().isInterrupted();
                  done.countDown();
                }
              },
              "common-pool-blocked-caller");
      t.setDaemon(true);
      t.start();
    }

    /** Whether the send returned or threw within the bound. */
    boolean ended() throws InterruptedException {
      return done.await(BOUND_SECONDS, TimeUnit.SECONDS);
    }
  }

  private interface Callable<T> {
    T call() throws Exception;
  }

  @ParameterizedTest
  @ValueSource(strings = {"one hop", "a redirect ctx4j follows"})
  void sendAnswersWhileEveryWorkerOfTheCommonPoolIsBusy(String how) throws Exception {
    boolean redirected = how.startsWith("a redirect");
    CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(5));
    try (LoopbackServer server =
            new LoopbackServer(
                ex -> {
                  ex.getRequestBody().readAllBytes();
                  if (ex.getRequestURI().getPath().equals("/from")) {
                    ex.getResponseHeaders().set("Location", "/to");
                    ContextHttpTest.respond(ex, 302, "");
                  } else {
                    ContextHttpTest.respond(ex, 200, "hello");
                  }
                });
        BlockedCommonPool blocked = new BlockedCommonPool()) {
      HttpRequest request =
          HttpRequest.newBuilder(server.uri().resolve(redirected ? "/from" : "/to")).build();
      HttpClient client = redirected ? FOLLOWING : CLIENT;
      Caller<HttpResponse<String>> call =
          new Caller<>(() -> ContextHttp.send(ctx, client, request, BodyHandlers.ofString()));
      if (!call.ended()) {
        throw new AssertionError(
            "ContextHttp.send (" + how + "): no answer in " + BOUND_SECONDS + " s while the "
                + blocked.workers + " worker(s) of the common pool are busy");
      }
      if (call.failure != null) {
        throw new AssertionError("ContextHttp.send (" + how + ") failed", call.failure);
      }
      HttpResponse<String> response = call.value;
      assertEquals(200, response.statusCode());
      assertEquals("hello", response.body());
      assertEquals(redirected, response.previousResponse().isPresent(), "the redirect's chain");
      assertEquals(0, CoreInternals.registrationCount(ctx), "abort hook left on the context");
    } finally {
      ctx.cancel();
    }
  }

  /** A server that answers once {@code answer} is released, or 30 s after the request arrived. */
  private static LoopbackServer holding(CountDownLatch arrived, CountDownLatch answer) {
    return new LoopbackServer(
        ex -> {
          arrived.countDown();
          Quietly.await(answer, Duration.ofSeconds(30));
          ContextHttpTest.respond(ex, 200, "late");
        });
  }

  /** The server holds the response; the context ends; the caller gets its error at once. */
  @Test
  void aContextThatEndsWhileSendWaitsEndsItWhileEveryWorkerOfTheCommonPoolIsBusy()
      throws Exception {
    CountDownLatch arrived = new CountDownLatch(1);
    CountDownLatch answer = new CountDownLatch(1);
    CancelableContext ctx = Context.withCancel(Context.background());
    try (LoopbackServer server = holding(arrived, answer);
        AutoCloseable answerNow = answer::countDown; // closed before the server: no handler left
        BlockedCommonPool blocked = new BlockedCommonPool()) {
      HttpRequest request = HttpRequest.newBuilder(server.uri()).build();
      Caller<HttpResponse<String>> call =
          new Caller<>(() -> ContextHttp.send(ctx, CLIENT, request, BodyHandlers.ofString()));
      assertTrue(Quietly.await(arrived, Duration.ofSeconds(BOUND_SECONDS)), "no request arrived");
      IllegalStateException cause = new IllegalStateException("stop");
      ctx.cancel(cause);
      Throwable thrown = failureWithin(call, "the context's end", blocked);
      CanceledException end = assertInstanceOf(CanceledException.class, thrown);
      assertEquals(cause, end.getCause(), "the context's cause");
      assertEquals(0, CoreInternals.registrationCount(ctx), "abort hook left on the context");
    } finally {
      ctx.cancel();
    }
  }

  /**
   * The server holds the response; the caller is interrupted; it gets the InterruptedException at
   * once, its interrupt consumed as by {@code HttpClient.send}, and the call's hook is gone.
   */
  @Test
  void anInterruptedCallerReturnsWhileEveryWorkerOfTheCommonPoolIsBusy() throws Exception {
    CountDownLatch arrived = new CountDownLatch(1);
    CountDownLatch answer = new CountDownLatch(1);
    CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(5));
    try (LoopbackServer server = holding(arrived, answer);
        AutoCloseable answerNow = answer::countDown;
        BlockedCommonPool blocked = new BlockedCommonPool()) {
      HttpRequest request = HttpRequest.newBuilder(server.uri()).build();
      Caller<HttpResponse<String>> call =
          new Caller<>(() -> ContextHttp.send(ctx, CLIENT, request, BodyHandlers.ofString()));
      assertTrue(Quietly.await(arrived, Duration.ofSeconds(BOUND_SECONDS)), "no request arrived");
      call.thread.get(BOUND_SECONDS, TimeUnit.SECONDS).interrupt();
      assertInstanceOf(
          InterruptedException.class, failureWithin(call, "the caller's interrupt", blocked));
      assertFalse(call.interruptedAfter, "the interrupt is consumed, as by send");
      assertEquals(0, CoreInternals.registrationCount(ctx), "abort hook left on the context");
      assertFalse(ctx.isDone(), "the call's context goes on");
    } finally {
      ctx.cancel();
    }
  }

  private static Throwable failureWithin(Caller<?> call, String what, BlockedCommonPool blocked)
      throws InterruptedException {
    if (!call.ended()) {
      throw new AssertionError(
          "ContextHttp.send: still waiting " + BOUND_SECONDS + " s after " + what + " while the "
              + blocked.workers + " worker(s) of the common pool are busy");
    }
    if (call.failure == null) {
      return fail("send answered " + call.value + " after " + what);
    }
    return call.failure;
  }
}
