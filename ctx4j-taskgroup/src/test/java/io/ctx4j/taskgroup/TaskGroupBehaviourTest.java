package io.ctx4j.taskgroup;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.concurrent.ContextExecutorService;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.concurrent.Futures;
import io.ctx4j.testing.Quietly;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.Pipe;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** What the group adds to Go's errgroup: cancellation, interruption, close, errors, limits. */
// In a separate thread: a hang in the uninterruptible close() then fails the test, not the build.
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class TaskGroupBehaviourTest {

  /** A task that blocks until it is interrupted, counting how it ended. */
  private static Task<Void> blockUntilInterrupted(CountDownLatch started, AtomicInteger ended) {
    return ctx -> {
      started.countDown();
      try {
        new CountDownLatch(1).await();
        throw new AssertionError("unreachable: the latch is never released");
      } finally {
        ended.incrementAndGet();
      }
    };
  }

  /**
   * Waits for the group's context to end. The group interrupts its tasks when it cancels, so a
   * task blocked in {@code ctx.await()} may see that interrupt rather than a normal return.
   */
  private static void awaitCancellation(Context ctx) {
    try {
      ctx.await();
    } catch (InterruptedException expected) {
      // the group's interrupt, delivered only after the context is done
    }
    assertTrue(ctx.isDone(), "interrupted before the context was done");
  }

  /**
   * Fails {@code g} with {@code first} from one task while another, already running, throws {@code
   * later} only once {@code first} has cancelled the group.
   */
  private static void failWithLaterFailure(TaskGroup g, Exception first, Throwable later)
      throws InterruptedException {
    CountDownLatch started = new CountDownLatch(1);
    g.go(
        ctx -> {
          started.countDown();
          awaitCancellation(ctx); // fails only after the first failure has cancelled the group
          if (later instanceof Error error) {
            throw error;
          }
          throw (Exception) later;
        });
    // A task not yet started when the group is cancelled would be skipped; this one must run.
    assertTrue(started.await(10, TimeUnit.SECONDS));
    g.go(
        ctx -> {
          throw first;
        });
  }

  /** The exception a future was completed with, as stored (get() rewraps it on newer JDKs). */
  /**
   * Ends the group's context, cancelling the parent with {@code why} (non-null) or starting a task
   * that fails with {@code failure}, and returns what await() then throws.
   */
  static TaskGroupException endAndAwait(
      TaskGroup g, CancelableContext parent, Throwable why, RuntimeException failure) {
    if (why != null) {
      parent.cancel(why);
    } else {
      g.go(
          ctx -> {
            throw failure;
          });
    }
    return assertThrows(TaskGroupException.class, g::await);
  }

  /**
   * Checks what await() threw after the parent was cancelled with {@code why} (non-null), or a
   * task failed with {@code failure}: the context's error with that cause, or the failure, and no
   * echo suppressed on it.
   */
  static void assertReported(
      TaskGroupException e, Throwable why, Throwable failure, String what) {
    if (why != null) {
      CanceledException c = assertInstanceOf(CanceledException.class, e.getCause(), what);
      assertSame(why, c.getCause(), what);
    } else {
      assertSame(failure, e.getCause(), what);
    }
    assertEquals(List.of(), Arrays.asList(e.getSuppressed()), what + "suppressed");
  }

  private static Throwable failureOf(CompletableFuture<?> f) {
    return f.handle((v, e) -> e).join();
  }

  /**
   * Spins until {@code t} blocks (or ends); used only to make a test meaningful, never for
   * correctness.
   */
  private static void awaitBlocked(Thread t) {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (t.getState() != Thread.State.WAITING
        && t.getState() != Thread.State.TERMINATED
        && System.nanoTime() < end) {
      Thread.onSpinWait();
    }
  }

  private static final Pattern ACTIVE = Pattern.compile("active=(-?\\d+)");

  /** The group's count of active tasks, as its toString() shows it (the only public view). */
  private static int active(TaskGroup g) {
    Matcher m = ACTIVE.matcher(g.toString());
    assertTrue(m.find(), g.toString());
    return Integer.parseInt(m.group(1));
  }

  @Test
  void firstFailureWinsAndLaterOnesAreSuppressed() throws Exception {
    IOException first = new IOException("first");
    IllegalStateException second = new IllegalStateException("second");
    try (TaskGroup g = TaskGroup.open(Context.background())) {
      failWithLaterFailure(g, first, second);
      TaskGroupException e = assertThrows(TaskGroupException.class, g::await);
      assertSame(first, e.getCause());
      // On the group's exception, not on the task's: the tasks' exceptions are never modified.
      assertEquals(List.of(second), Arrays.asList(e.getSuppressed()));
      assertEquals(0, first.getSuppressed().length);
      assertEquals(List.of(first, second), g.failures());
      assertEquals(0, e.droppedFailures());
      assertSame(first, g.context().cause());
    }
  }

  @Test
  void contextIsCancelledByFirstFailureBeforeAwait() throws Exception {
    IOException boom = new IOException("boom");
    AtomicReference<Throwable> seen = new AtomicReference<>();
    CountDownLatch observed = new CountDownLatch(1);
    try (TaskGroup g = TaskGroup.open(Context.background())) {
      CountDownLatch started = new CountDownLatch(1);
      g.go(
          ctx -> {
            started.countDown();
            awaitCancellation(ctx);
            seen.set(ctx.cause());
            observed.countDown();
            return null;
          });
      assertTrue(started.await(10, TimeUnit.SECONDS));
      g.go(
          ctx -> {
            throw boom;
          });
      assertTrue(observed.await(10, TimeUnit.SECONDS), "sibling never saw the cancellation");
      assertSame(boom, seen.get());
      assertSame(Context.CANCELED, g.context().err());
      TaskGroupException e = assertThrows(TaskGroupException.class, g::await);
      assertSame(boom, e.getCause());
    }
  }

  @Test
  void awaitWithoutFailureCancelsTheContextWithCanceled() throws Exception {
    try (TaskGroup g = TaskGroup.open(Context.background())) {
      CompletableFuture<Integer> f = g.go(ctx -> 42);
      g.await();
      assertEquals(42, f.join());
      assertSame(Context.CANCELED, g.context().err());
      assertSame(Context.CANCELED, g.context().cause());
    }
  }

  @Test
  void parentCancellationInterruptsAndStopsEveryTask() throws Exception {
    IllegalStateException why = new IllegalStateException("shutting down");
    int n = 20;
    CountDownLatch started = new CountDownLatch(n);
    AtomicInteger ended = new AtomicInteger();
    try (CancelableContext parent = Context.withCancel(Context.background());
        TaskGroup g = TaskGroup.open(parent)) {
      for (int i = 0; i < n / 2; i++) {
        g.go(blockUntilInterrupted(started, ended));
        g.go(
            ctx -> {
              started.countDown();
              try {
                ctx.await(); // a task that blocks on the context instead
                ctx.throwIfDone();
                return null;
              } finally {
                ended.incrementAndGet();
              }
            });
      }
      assertTrue(started.await(10, TimeUnit.SECONDS));
      parent.cancel(why);
      TaskGroupException e = assertThrows(TaskGroupException.class, g::await);
      assertEquals(n, ended.get());
      // The first failure is an echo of the cancellation: reported as the context's error.
      CanceledException c = assertInstanceOf(CanceledException.class, e.getCause());
      assertSame(why, c.getCause());
      assertTrue(c.getSuppressed().length <= 1, "echoes are not piled up");
      assertSame(why, g.context().cause());
    }
  }

  /**
   * An interruptible channel answers the group's interrupt with ClosedByInterruptException, not
   * InterruptedException: it is as much an echo of the cancellation, so a parent's cancel is
   * reported as the context's error and a sibling's failure does not collect it.
   */
  @Test
  void aTaskBlockedInAnInterruptibleChannelEchoesTheCancellation() throws Exception {
    IllegalStateException why = new IllegalStateException("shutting down");
    IllegalArgumentException failure = new IllegalArgumentException("bad input");
    for (boolean parentCancels : new boolean[] {true, false}) {
      Pipe pipe = Pipe.open(); // nobody writes: a read blocks until the interrupt closes it
      CountDownLatch started = new CountDownLatch(1);
      AtomicReference<Throwable> thrown = new AtomicReference<>();
      try (CancelableContext parent = Context.withCancel(Context.background());
          TaskGroup g = TaskGroup.open(parent);
          Pipe.SourceChannel source = pipe.source();
          Pipe.SinkChannel sink = pipe.sink()) {
        g.go(
            ctx -> {
              started.countDown();
              try {
                return source.read(ByteBuffer.allocate(1));
              } catch (Throwable t) {
                thrown.set(t);
                throw t;
              }
            });
        assertTrue(started.await(10, TimeUnit.SECONDS));
        TaskGroupException e = endAndAwait(g, parent, parentCancels ? why : null, failure);
        assertInstanceOf(ClosedByInterruptException.class, thrown.get(), "what the read threw");
        String what = parentCancels ? "parent cancelled: " : "a sibling failed: ";
        assertReported(e, parentCancels ? why : null, failure, what);
      }
    }
  }

  /**
   * The ctx4j idiom for a future (Futures.cancelWhenDone on the group's context, then join or
   * get) echoes the cancellation on every JDK. On JDK 17 join() rethrows the context's error
   * itself; newer JDKs (seen on 25) throw a new CancellationException with the context's error as
   * its cause. A stage that depends on the future (thenApply, a reply mapped) holds the error in a
   * CompletionException on every JDK: its join() throws that, its get() an ExecutionException of
   * the error. Each is as much an echo: a parent's cancel is reported as the context's error, and a
   * sibling's failure does not collect it.
   */
  @Test
  void aFutureEndedWithTheContextEchoesTheCancellationOnEveryJdk() throws Exception {
    IllegalStateException why = new IllegalStateException("shutting down");
    IllegalArgumentException failure = new IllegalArgumentException("bad input");
    Map<String, Class<? extends Exception>> thrownBy =
        Map.of(
            "the future's join()", CancellationException.class,
            "a dependent stage's join()", CompletionException.class,
            "a dependent stage's get()", ExecutionException.class);
    for (Map.Entry<String, Class<? extends Exception>> wait : thrownBy.entrySet()) {
      for (boolean parentCancels : new boolean[] {true, false}) {
        CountDownLatch started = new CountDownLatch(1);
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        try (CancelableContext parent = Context.withCancel(Context.background());
            TaskGroup g = TaskGroup.open(parent)) {
          g.go(
              ctx -> {
                CompletableFuture<String> reply = new CompletableFuture<>(); // never answered
                Futures.cancelWhenDone(ctx, reply);
                CompletableFuture<Integer> length = reply.thenApply(String::length);
                started.countDown();
                try {
                  // join() is not interruptible: it ends when the context's end fails reply.
                  if (wait.getKey().startsWith("the future")) {
                    return reply.join();
                  }
                  if (wait.getKey().endsWith("get()")) {
                    // get() is: the group's interrupt could end it first. Waited for with join(),
                    // the stage is done, and get() reports its failure whatever the interrupt.
                    try {
                      length.join();
                    } catch (CompletionException failedAsExpected) {
                      // what get() then reports, wrapped its own way
                    }
                    return length.get();
                  }
                  return length.join();
                } catch (Throwable t) {
                  thrown.set(t);
                  throw t;
                }
              });
          assertTrue(started.await(10, TimeUnit.SECONDS));
          TaskGroupException e = endAndAwait(g, parent, parentCancels ? why : null, failure);
          String what =
              wait.getKey()
                  + (parentCancels ? ", parent cancelled: " : ", a sibling failed: ")
                  + thrown.get()
                  + ": ";
          assertInstanceOf(wait.getValue(), thrown.get(), what);
          if (!wait.getKey().startsWith("the future")) {
            assertInstanceOf(CanceledException.class, thrown.get().getCause(), what);
          }
          assertReported(e, parentCancels ? why : null, failure, what);
        }
      }
    }
  }

  /**
   * The rule for an IOException, on any JDK: an InterruptedIOException (or a SocketException, what
   * a virtual thread's socket read throws, see SocketReadEchoJdk21Test) thrown after the group's
   * interrupt with the thread's interrupt status still set, the idiom of restoring it, echoes the
   * cancellation; thrown with the status cleared, or any other IOException with our interrupt
   * merely pending, it is a failure of its own.
   */
  @Test
  void anInterruptedIOExceptionThrownWithTheGroupsInterruptSetEchoesTheCancellation()
      throws Exception {
    IllegalStateException why = new IllegalStateException("shutting down");
    for (int row = 0; row < 3; row++) {
      boolean keepsInterrupt = row != 2;
      IOException thrown =
          row == 1 ? new IOException("own failure") : new InterruptedIOException("interrupted");
      String what = thrown + (keepsInterrupt ? ", status kept: " : ", status cleared: ");
      CountDownLatch started = new CountDownLatch(1);
      try (CancelableContext parent = Context.withCancel(Context.background());
          TaskGroup g = TaskGroup.open(parent)) {
        g.go(
            ctx -> {
              started.countDown();
              try {
                new CountDownLatch(1).await(); // until the group's interrupt
              } catch (InterruptedException e) {
                if (keepsInterrupt) {
                  Thread.currentThread().interrupt();
                }
                throw thrown;
              }
              return null;
            });
        assertTrue(started.await(10, TimeUnit.SECONDS));
        parent.cancel(why);
        TaskGroupException e = assertThrows(TaskGroupException.class, g::await);
        if (row == 0) {
          assertReported(e, why, null, what);
          assertEquals(List.of(thrown), Arrays.asList(e.getCause().getSuppressed()), what);
        } else {
          assertSame(thrown, e.getCause(), what);
        }
      }
    }
  }

  @Test
  void queuedTasksAreNotRunOnceTheContextIsDone() throws Exception {
    ExecutorService single = Executors.newSingleThreadExecutor();
    try (CancelableContext parent = Context.withCancel(Context.background())) {
      TaskGroup g = TaskGroup.builder(parent).executor(single).build();
      CountDownLatch started = new CountDownLatch(1);
      AtomicInteger ended = new AtomicInteger();
      AtomicInteger queuedRan = new AtomicInteger();
      g.go(blockUntilInterrupted(started, ended));
      List<CompletableFuture<Integer>> queued = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        queued.add(g.go(ctx -> queuedRan.incrementAndGet()));
      }
      assertTrue(started.await(10, TimeUnit.SECONDS));
      parent.cancel();
      assertThrows(TaskGroupException.class, g::await);
      g.close();
      assertEquals(0, queuedRan.get(), "a queued task ran after the cancellation");
      for (CompletableFuture<Integer> f : queued) {
        // The context's error is a CancellationException, so the future reads as cancelled.
        assertTrue(f.isCancelled());
        assertInstanceOf(CanceledException.class, failureOf(f));
      }
      // The executor's thread must not keep the group's interrupt.
      assertFalse(single.submit(() -> Thread.currentThread().isInterrupted()).get());
    } finally {
      single.shutdownNow();
    }
  }

  /**
   * A go() that has taken its slot when close() runs gets the answer of a task that close()
   * skipped: its future, failed with the context's error; the task never runs. On the group's own
   * pool (JDK 17's default) close() skipped the task, and shut the pool down, before the go() handed
   * the task over, and go() threw the pool's RejectedExecutionException, which its Javadoc promises
   * only of an executor of the caller's. The go() is held inside the pool's execute, where the pool
   * makes its first worker (the group's pool with a factory of the test's, on any JDK), while
   * close() runs on another thread to its end.
   */
  @Test
  void aGoThatTookItsSlotBeforeCloseGetsTheSkippedTaskNotTheOwnPoolsRefusal() throws Exception {
    CountDownLatch inFactory = new CountDownLatch(1);
    CountDownLatch closed = new CountDownLatch(1);
    ThreadFactory held =
        r -> {
          if (inFactory.getCount() > 0) { // the first worker only: the one go() makes
            inFactory.countDown();
            assertTrue(Quietly.awaitIgnoringInterrupts(closed, Duration.ofSeconds(20)));
          }
          Thread t = new Thread(r, "held-pool");
          t.setDaemon(true);
          return t;
        };
    TaskGroup g = TaskGroup.builder(Context.background()).poolThreads(held).build();
    AtomicBoolean ran = new AtomicBoolean();
    AtomicReference<Object> outcome = new AtomicReference<>();
    Thread caller =
        new Thread(
            () -> {
              try {
                outcome.set(
                    g.go(
                        c -> {
                          ran.set(true);
                          return "ran";
                        }));
              } catch (Throwable t) {
                outcome.set(t);
              }
            },
            "go");
    caller.start();
    try {
      assertTrue(inFactory.await(20, TimeUnit.SECONDS), "go() never reached the pool");
      g.close();
    } finally {
      closed.countDown();
      caller.join(TimeUnit.SECONDS.toMillis(20));
    }
    assertFalse(caller.isAlive(), "go() still running");
    Object answer = outcome.get();
    if (answer instanceof Throwable) {
      throw new AssertionError("go() racing close() threw " + answer, (Throwable) answer);
    }
    CompletableFuture<?> f = (CompletableFuture<?>) answer;
    assertInstanceOf(CanceledException.class, failureOf(f));
    assertFalse(ran.get(), "the task ran after close()");
    assertThrows(IllegalStateException.class, () -> g.go(c -> "after close"));
  }

  @Test
  void closeCancelsWaitsAndThenRefusesTasks() throws Exception {
    int n = 8;
    CountDownLatch started = new CountDownLatch(n);
    AtomicInteger ended = new AtomicInteger();
    TaskGroup g = TaskGroup.open(Context.background());
    for (int i = 0; i < n; i++) {
      g.go(blockUntilInterrupted(started, ended));
    }
    assertTrue(started.await(10, TimeUnit.SECONDS));
    g.close();
    assertEquals(n, ended.get(), "close returned before every task ended");
    assertSame(Context.CANCELED, g.context().err());
    assertThrows(IllegalStateException.class, () -> g.go(ctx -> 1));
    assertThrows(IllegalStateException.class, () -> g.tryGo(ctx -> 1));
    g.close(); // idempotent
  }

  @Test
  void tryWithResourcesNeverLeavesATaskRunning() throws Exception {
    AtomicInteger ended = new AtomicInteger();
    CountDownLatch started = new CountDownLatch(1);
    assertThrows(
        IllegalArgumentException.class,
        () -> {
          try (TaskGroup g = TaskGroup.open(Context.background())) {
            g.go(blockUntilInterrupted(started, ended));
            started.await();
            throw new IllegalArgumentException("the caller gives up");
          }
        });
    assertEquals(1, ended.get());
  }

  @Test
  void errorIsRethrownAsIsAheadOfEarlierExceptions() throws Exception {
    IOException early = new IOException("early");
    StackOverflowError error = new StackOverflowError("boom");
    try (TaskGroup g = TaskGroup.open(Context.background())) {
      failWithLaterFailure(g, early, error);
      StackOverflowError thrown = assertThrows(StackOverflowError.class, g::await);
      assertSame(error, thrown);
      assertTrue(Arrays.asList(thrown.getSuppressed()).contains(early));
    }
  }

  @Test
  void closeThrowsAnErrorThatAwaitNeverDelivered() throws Exception {
    AssertionError error = new AssertionError("task broke an invariant");
    CountDownLatch started = new CountDownLatch(1);
    TaskGroup g = TaskGroup.open(Context.background());
    g.go(
        ctx -> {
          started.countDown();
          throw error;
        });
    // Closing before the task starts would skip it; the point here is a task that did fail.
    assertTrue(started.await(10, TimeUnit.SECONDS));
    assertSame(error, assertThrows(AssertionError.class, g::close));
    g.close(); // delivered once, not twice
  }

  @Test
  void checkedExceptionIsTheCauseAndFailsTheFuture() throws Exception {
    IOException io = new IOException("disk");
    try (TaskGroup g = TaskGroup.open(Context.background())) {
      CompletableFuture<String> f =
          g.go(
              ctx -> {
                throw io;
              });
      TaskGroupException e = assertThrows(TaskGroupException.class, g::await);
      assertSame(io, e.getCause());
      assertSame(io, assertThrows(ExecutionException.class, f::get).getCause());
    }
  }

  @Test
  void goWaitingOnTheLimitStopsWaitingWhenTheContextEnds() throws Exception {
    try (CancelableContext parent = Context.withCancel(Context.background());
        TaskGroup g = TaskGroup.builder(parent).limit(1).build()) {
      CountDownLatch started = new CountDownLatch(1);
      AtomicInteger ended = new AtomicInteger();
      AtomicInteger secondRan = new AtomicInteger();
      g.go(blockUntilInterrupted(started, ended));
      assertTrue(started.await(10, TimeUnit.SECONDS));
      CompletableFuture<CompletableFuture<Integer>> submitted = new CompletableFuture<>();
      Thread submitter =
          new Thread(() -> submitted.complete(g.go(ctx -> secondRan.incrementAndGet())));
      submitter.start();
      awaitBlocked(submitter);
      assertFalse(submitted.isDone(), "go() must wait while the limit is reached");
      parent.cancel();
      CompletableFuture<Integer> second = submitted.get(10, TimeUnit.SECONDS);
      assertTrue(second.isCancelled());
      assertInstanceOf(CanceledException.class, failureOf(second));
      assertThrows(TaskGroupException.class, g::await);
      assertEquals(0, secondRan.get());
    }
  }

  @Test
  void goWaitingOnLimitZeroIsReleasedByClose() throws Exception {
    TaskGroup g = TaskGroup.open();
    g.setLimit(0);
    CompletableFuture<Throwable> outcome = new CompletableFuture<>();
    Thread submitter =
        new Thread(
            () -> {
              try {
                g.go(ctx -> 1);
                outcome.complete(null);
              } catch (Throwable t) {
                outcome.complete(t);
              }
            });
    submitter.start();
    awaitBlocked(submitter);
    assertFalse(outcome.isDone(), "limit 0 must block go()");
    g.close();
    assertInstanceOf(IllegalStateException.class, outcome.get(10, TimeUnit.SECONDS));
  }

  @Test
  void awaitOrCloseFromAnOwnTaskFailsInsteadOfDeadlocking() throws Exception {
    AtomicReference<TaskGroup> self = new AtomicReference<>();
    try (TaskGroup g = TaskGroup.open(Context.background())) {
      self.set(g);
      g.go(
          ctx -> {
            self.get().close();
            return null;
          });
      TaskGroupException e = assertThrows(TaskGroupException.class, g::await);
      assertInstanceOf(IllegalStateException.class, e.getCause());
    }
  }

  /**
   * On a caller-runs executor a task of another group, started from one of this group's tasks, runs
   * on that task's thread, inside it: awaiting or closing this group there waits for itself too.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("selfWaits")
  void awaitOrCloseFromANestedGroupsTaskInsideAnOwnTaskFailsInsteadOfDeadlocking(
      String which, Task<Void> selfWait, AtomicReference<TaskGroup> self) throws Exception {
    Executor callerRuns = Runnable::run;
    try (TaskGroup outer = TaskGroup.builder(Context.background()).executor(callerRuns).build()) {
      self.set(outer);
      outer.go(
          ctx -> {
            try (TaskGroup inner = TaskGroup.builder(ctx).executor(callerRuns).build()) {
              inner.go(selfWait);
              inner.await();
              return null;
            }
          });
      TaskGroupException e = assertThrows(TaskGroupException.class, outer::await, which);
      TaskGroupException fromInner = assertInstanceOf(TaskGroupException.class, e.getCause(), which);
      assertInstanceOf(IllegalStateException.class, fromInner.getCause(), which);
    }
  }

  static Stream<Arguments> selfWaits() {
    AtomicReference<TaskGroup> forAwait = new AtomicReference<>();
    AtomicReference<TaskGroup> forClose = new AtomicReference<>();
    return Stream.of(
        Arguments.of(
            "await",
            (Task<Void>)
                ctx -> {
                  forAwait.get().await();
                  return null;
                },
            forAwait),
        Arguments.of(
            "close",
            (Task<Void>)
                ctx -> {
                  forClose.get().close();
                  return null;
                },
            forClose));
  }

  /**
   * An application that shuts its executor down with shutdownNow() gets the queued tasks back and
   * never runs them: the group's close() must still return (those tasks would be skipped anyway,
   * the context being done), not wait for them for good.
   */
  @Test
  void closeReturnsWhenTheExecutorDroppedQueuedTasks() throws Exception {
    ExecutorService single = Executors.newSingleThreadExecutor();
    CountDownLatch started = new CountDownLatch(1);
    AtomicInteger ended = new AtomicInteger();
    AtomicInteger queuedRan = new AtomicInteger();
    TaskGroup g = TaskGroup.builder(Context.background()).executor(single).build();
    g.go(blockUntilInterrupted(started, ended));
    List<CompletableFuture<Integer>> queued = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      queued.add(g.go(ctx -> queuedRan.incrementAndGet()));
    }
    assertTrue(started.await(10, TimeUnit.SECONDS));
    assertEquals(3, single.shutdownNow().size(), "the queued tasks, handed back, never to run");
    CompletableFuture<Void> closed = CompletableFuture.runAsync(g::close);
    Throwable notClosed = null;
    try {
      closed.get(10, TimeUnit.SECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      notClosed = e;
    }
    assertEquals(null, notClosed, "close() still waiting 10 s on: " + g);
    assertEquals(1, ended.get());
    assertEquals(0, queuedRan.get());
    for (CompletableFuture<Integer> f : queued) {
      assertTrue(f.isCancelled(), "skipped as a queued task is once the context is done");
      assertInstanceOf(CanceledException.class, failureOf(f));
    }
  }

  /**
   * Once the group's context is done, await() skips the tasks the executor dropped (a discarding
   * policy here; shutdownNow() hands them back likewise), as close() does: they would only be
   * skipped if run. Rows: the parent cancelled while a task blocks; a task failed (fail-fast).
   */
  @Test
  void awaitReturnsWhenTheExecutorDroppedQueuedTasksOnceTheContextIsDone() throws Exception {
    IllegalStateException why = new IllegalStateException("shutting down");
    IllegalArgumentException failure = new IllegalArgumentException("bad input");
    for (boolean parentCancels : new boolean[] {true, false}) {
      String what = parentCancels ? "parent cancelled: " : "a task failed: ";
      // One thread, no queue: while it runs a task, the others are discarded without a word.
      ThreadPoolExecutor discarding =
          new ThreadPoolExecutor(
              1,
              1,
              0,
              TimeUnit.SECONDS,
              new SynchronousQueue<>(),
              new ThreadPoolExecutor.DiscardPolicy());
      CountDownLatch started = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      AtomicInteger droppedRan = new AtomicInteger();
      try (CancelableContext parent = Context.withCancel(Context.background())) {
        TaskGroup g = TaskGroup.builder(parent).executor(discarding).build();
        g.go(
            ctx -> {
              started.countDown();
              release.await(); // interrupted when the parent is cancelled
              throw failure;
            });
        assertTrue(started.await(10, TimeUnit.SECONDS));
        List<CompletableFuture<Integer>> dropped = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
          dropped.add(g.go(ctx -> droppedRan.incrementAndGet()));
        }
        if (parentCancels) {
          parent.cancel(why);
        } else {
          release.countDown();
        }
        CompletableFuture<Throwable> awaited =
            CompletableFuture.supplyAsync(
                () -> {
                  try {
                    g.await();
                    return null;
                  } catch (Throwable t) {
                    return t;
                  }
                });
        Throwable outcome = null;
        Throwable notReturned = null;
        try {
          outcome = awaited.get(10, TimeUnit.SECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
          notReturned = e;
        }
        assertEquals(null, notReturned, what + "await() still waiting 10 s on: " + g);
        TaskGroupException e = assertInstanceOf(TaskGroupException.class, outcome, what);
        assertReported(e, parentCancels ? why : null, failure, what);
        assertEquals(0, droppedRan.get(), what);
        for (CompletableFuture<Integer> f : dropped) {
          assertInstanceOf(CanceledException.class, failureOf(f), what + "a dropped task's future");
        }
        g.close();
      } finally {
        discarding.shutdownNow();
      }
    }
  }

  @Test
  void rejectedSubmissionLeavesTheGroupUntouched() throws Exception {
    try (TaskGroup g =
        TaskGroup.builder(Context.background())
            .executor(
                r -> {
                  throw new RejectedExecutionException("full");
                })
            .limit(1)
            .build()) {
      assertThrows(RejectedExecutionException.class, () -> g.go(ctx -> 1));
      assertThrows(RejectedExecutionException.class, () -> g.tryGo(ctx -> 1));
      g.await(); // nothing is active, nothing failed
      assertEquals(0, active(g), g.toString());
    }
  }

  /**
   * An executor may throw a checked exception it does not declare (Kotlin, Groovy, a sneaky-throw
   * helper): the slot is given back as for a rejection, else await() and close() never return.
   */
  @Test
  void anExecutorThrowingACheckedExceptionSneakilyGivesTheSlotBack() throws Exception {
    IOException refused = new IOException("refused, undeclared");
    TaskGroup g =
        TaskGroup.builder(Context.background())
            .executor(
                r -> {
                  throw TaskGroupBehaviourTest.<RuntimeException>sneaky(refused);
                })
            .limit(1)
            .build();
    assertSame(refused, assertThrows(IOException.class, () -> g.go(ctx -> 1)));
    assertSame(
        refused,
        assertThrows(IOException.class, () -> g.tryGo(ctx -> 1), "the slot must be free: " + g));
    ExecutorService waiter = // a daemon, left blocked if the slot leaked
        Executors.newSingleThreadExecutor(
            r -> {
              Thread t = new Thread(r);
              t.setDaemon(true);
              return t;
            });
    try {
      Future<Void> awaited =
          waiter.submit(
              () -> {
                g.await();
                return null;
              });
      assertDoesNotThrow(() -> awaited.get(10, TimeUnit.SECONDS), "await() must return: " + g);
    } finally {
      waiter.shutdown();
    }
    g.close();
    assertEquals(0, active(g), g.toString());
  }

  @SuppressWarnings("unchecked")
  private static <E extends Throwable> E sneaky(Throwable t) throws E {
    throw (E) t;
  }

  /** What an executor may throw after it has accepted a task: unchecked, checked undeclared, Error. */
  static Stream<Throwable> executorFailures() {
    return Stream.of(
        new RejectedExecutionException("ran it, then refused"),
        new IOException("ran it, then threw, undeclared"),
        new OutOfMemoryError("ran it, then could not record it"));
  }

  /** Runs the task in the caller (a caller-runs policy), then throws: it accepted and refused. */
  private static Executor runsThenThrows(Throwable thrown) {
    return r -> {
      r.run();
      throw TaskGroupBehaviourTest.<RuntimeException>sneaky(thrown);
    };
  }

  /**
   * An executor that ran the task and then threw: the task's own run gave the slot back, so go()
   * and tryGo() must not give it back a second time, which drove `active` below zero.
   */
  @ParameterizedTest
  @MethodSource("executorFailures")
  void anExecutorThatRanTheTaskAndThenThrewGetsItsSlotBackOnce(Throwable thrown) throws Exception {
    AtomicInteger ran = new AtomicInteger();
    try (TaskGroup g =
        TaskGroup.builder(Context.background()).executor(runsThenThrows(thrown)).limit(1).build()) {
      assertSame(thrown, assertThrows(Throwable.class, () -> g.go(ctx -> ran.incrementAndGet())));
      assertEquals(1, ran.get());
      assertEquals(0, active(g), "the slot was given back twice: " + g);
      assertSame(
          thrown, assertThrows(Throwable.class, () -> g.tryGo(ctx -> ran.incrementAndGet())));
      assertEquals(2, ran.get());
      assertEquals(0, active(g), "the slot was given back twice: " + g);
      g.await(); // the tasks succeeded: nothing to report
    }
  }

  /**
   * go() reports the executor's exception even when the task ran (the executor said it failed);
   * the task's own outcome is the group's as for any task, so its failure is not lost.
   */
  @Test
  void aTaskThatRanBeforeItsExecutorThrewStillHasItsFailureRecorded() throws Exception {
    RejectedExecutionException refused = new RejectedExecutionException("ran it, then refused");
    IOException boom = new IOException("boom");
    try (TaskGroup g =
        TaskGroup.builder(Context.background()).executor(runsThenThrows(refused)).build()) {
      assertSame(
          refused,
          assertThrows(
              RejectedExecutionException.class,
              () ->
                  g.go(
                      ctx -> {
                        throw boom;
                      })));
      assertSame(boom, assertThrows(TaskGroupException.class, g::await).getCause());
      assertSame(boom, g.context().cause());
      assertEquals(0, active(g), g.toString());
    }
  }

  /** A slot given back twice let one task too many through the limit. */
  @Test
  void aLimitAdmitsNoExtraTaskAfterAnExecutorRanATaskAndThrew() throws Exception {
    ExecutorService pool = Executors.newCachedThreadPool();
    AtomicBoolean firstCall = new AtomicBoolean(true);
    Executor executor =
        r -> {
          if (firstCall.getAndSet(false)) {
            runsThenThrows(new RejectedExecutionException("ran it, then refused")).execute(r);
          } else {
            pool.execute(r);
          }
        };
    CountDownLatch release = new CountDownLatch(1);
    try (TaskGroup g = TaskGroup.builder(Context.background()).executor(executor).limit(1).build()) {
      assertThrows(RejectedExecutionException.class, () -> g.go(ctx -> 1));
      assertTrue(
          g.tryGo(
              ctx -> {
                release.await();
                return null;
              }));
      assertFalse(g.tryGo(ctx -> 2), "a second task got past a limit of 1: " + g);
      release.countDown();
      g.await();
    } finally {
      release.countDown();
      pool.shutdown();
    }
  }

  /**
   * An executor that handed the task to another thread, which started it, and then threw: the
   * group must still count the task, so await() (and close()) wait until it has really ended.
   */
  @Test
  void awaitWaitsForATaskThatStartedBeforeItsExecutorThrew() throws Exception {
    ExecutorService pool = Executors.newSingleThreadExecutor();
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean ended = new AtomicBoolean();
    Executor executor =
        r -> {
          pool.execute(r);
          if (!Quietly.awaitIgnoringInterrupts(started, Duration.ofSeconds(10))) {
            throw new AssertionError("the task never started");
          }
          throw new RejectedExecutionException("handed it over, then refused");
        };
    TaskGroup g = TaskGroup.builder(Context.background()).executor(executor).build();
    try {
      assertThrows(
          RejectedExecutionException.class,
          () ->
              g.go(
                  ctx -> {
                    started.countDown();
                    release.await();
                    ended.set(true);
                    return null;
                  }));
      CompletableFuture<Boolean> endedWhenAwaitReturned = new CompletableFuture<>();
      Thread waiter =
          new Thread(
              () -> {
                try {
                  g.await();
                  endedWhenAwaitReturned.complete(ended.get());
                } catch (Throwable t) {
                  endedWhenAwaitReturned.completeExceptionally(t);
                }
              });
      waiter.start();
      awaitBlocked(waiter);
      assertTrue(waiter.isAlive(), "await() returned while the task was still running: " + g);
      assertEquals(1, active(g), g.toString());
      release.countDown();
      assertTrue(endedWhenAwaitReturned.get(10, TimeUnit.SECONDS));
      assertEquals(0, active(g), g.toString());
    } finally {
      release.countDown();
      g.close();
      pool.shutdown();
    }
  }

  /**
   * An executor that queued the task and then threw before it started: submit() gives the slot
   * back, so the task must never run, even when the executor runs it later.
   */
  @Test
  void aTaskQueuedByAnExecutorThatThenThrewNeverRuns() throws Exception {
    IOException refused = new IOException("queued it, then threw, undeclared");
    List<Runnable> queued = new ArrayList<>();
    AtomicInteger ran = new AtomicInteger();
    try (TaskGroup g =
        TaskGroup.builder(Context.background())
            .executor(
                r -> {
                  queued.add(r);
                  throw TaskGroupBehaviourTest.<RuntimeException>sneaky(refused);
                })
            .limit(1)
            .build()) {
      assertSame(refused, assertThrows(IOException.class, () -> g.go(ctx -> ran.incrementAndGet())));
      assertEquals(0, active(g), g.toString());
      Thread late = new Thread(queued.get(0)); // the executor gets round to it after all
      late.start();
      late.join();
      assertEquals(0, ran.get(), "a task whose submission failed ran");
      assertEquals(0, active(g), "the slot was given back twice: " + g);
      g.await();
    }
  }

  /** A faulty executor that runs a task twice: the group runs it, and gives its slot back, once. */
  @Test
  void anExecutorThatRunsATaskTwiceRunsItOnce() throws Exception {
    AtomicInteger ran = new AtomicInteger();
    try (TaskGroup g =
        TaskGroup.builder(Context.background())
            .executor(
                r -> {
                  r.run();
                  r.run();
                })
            .build()) {
      assertEquals(1, g.go(ctx -> ran.incrementAndGet()).join());
      assertEquals(1, ran.get());
      assertEquals(0, active(g), "the slot was given back twice: " + g);
      g.await();
    }
  }

  /**
   * The task starting on a pool thread races submit()'s catch when the executor throws right after
   * handing it over: whichever wins, the slot is given back once and the limit holds.
   */
  @Test
  void aTaskRacingItsExecutorsThrowGivesItsSlotBackOnce() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    Executor executor =
        r -> {
          pool.execute(r);
          throw new RejectedExecutionException("handed it over, then refused");
        };
    AtomicInteger running = new AtomicInteger();
    AtomicBoolean overlapped = new AtomicBoolean();
    int rounds = 2_000;
    try (TaskGroup g = TaskGroup.builder(Context.background()).executor(executor).limit(1).build()) {
      for (int i = 0; i < rounds; i++) {
        assertThrows(
            RejectedExecutionException.class,
            () ->
                g.go(
                    ctx -> {
                      if (running.incrementAndGet() > 1) {
                        overlapped.set(true);
                      }
                      running.decrementAndGet();
                      return null;
                    }));
      }
      g.await();
      pool.shutdown();
      assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
      assertEquals(0, active(g), "slots given back twice: " + g);
      assertFalse(overlapped.get(), "two tasks ran at once under a limit of 1");
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * Like {@code Future.get} on a completed future, and like the project's rule for waits that end
   * with a context: once nothing is left to wait for, await() reports the outcome even if the
   * thread is interrupted, and leaves the interrupt set.
   */
  @Test
  void awaitOnADrainedGroupReportsTheOutcomeDespiteAnInterrupt() throws Exception {
    IOException boom = new IOException("boom");
    try (TaskGroup g = TaskGroup.open(Context.background())) {
      g.go(
          ctx -> {
            throw boom;
          });
      TaskGroupException first = assertThrows(TaskGroupException.class, g::await);
      Thread.currentThread().interrupt();
      try {
        TaskGroupException again = assertThrows(TaskGroupException.class, g::await);
        assertSame(boom, again.getCause());
        assertSame(first.getCause(), again.getCause(), "await twice: the same first failure");
        assertSame(boom, g.context().cause());
        assertTrue(Thread.currentThread().isInterrupted(), "the interrupt must stay set");
      } finally {
        Thread.interrupted();
      }
    }
    try (TaskGroup ok = TaskGroup.open()) {
      ok.go(ctx -> 1);
      ok.await();
      Thread.currentThread().interrupt();
      try {
        ok.await(); // nothing failed: returns
        assertTrue(Thread.currentThread().isInterrupted());
      } finally {
        Thread.interrupted();
      }
    }
  }

  /**
   * Go leaves a Go call blocked on the old semaphore for good after SetLimit(-1); here removing the
   * limit lets it through.
   */
  @Test
  void aGoWaitingOnTheLimitIsReleasedWhenTheLimitIsRemoved() throws Exception {
    try (TaskGroup g = TaskGroup.open()) {
      g.setLimit(0);
      CompletableFuture<CompletableFuture<Integer>> submitted = new CompletableFuture<>();
      Thread submitter = new Thread(() -> submitted.complete(g.go(ctx -> 7)));
      submitter.start();
      awaitBlocked(submitter);
      assertFalse(submitted.isDone(), "limit 0 must block go()");
      g.setLimit(-1);
      assertEquals(7, submitted.get(10, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS));
      g.await();
    }
  }

  /** close() cannot stop a task that ignores its context and interrupts; it waits for it. */
  @Test
  void closeWaitsForATaskThatIgnoresCancellation() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger interruptsSeen = new AtomicInteger();
    TaskGroup g = TaskGroup.open(Context.background());
    g.go(
        ctx -> {
          started.countDown();
          while (true) {
            try {
              release.await();
              return null;
            } catch (InterruptedException ignored) {
              interruptsSeen.incrementAndGet();
            }
          }
        });
    assertTrue(started.await(10, TimeUnit.SECONDS));
    CompletableFuture<Void> closed = CompletableFuture.runAsync(g::close);
    while (interruptsSeen.get() == 0) {
      Thread.onSpinWait(); // close() cancels, and the group interrupts the task once
    }
    assertTrue(g.context().isDone());
    assertFalse(closed.isDone(), "close() returned while a task was still running");
    release.countDown();
    closed.get(10, TimeUnit.SECONDS);
    assertEquals(1, interruptsSeen.get());
  }

  /**
   * On a direct executor the task runs on the caller's thread: the group must neither interrupt the
   * caller for its own failure nor clear an interrupt the caller had.
   */
  @Test
  void aDirectExecutorLeavesTheCallersInterruptStatusAlone() throws Exception {
    IOException boom = new IOException("boom");
    try (TaskGroup g = TaskGroup.builder(Context.background()).executor(Runnable::run).build()) {
      CompletableFuture<Object> f =
          g.go(
              ctx -> {
                throw boom;
              });
      assertTrue(f.isCompletedExceptionally());
      assertFalse(Thread.currentThread().isInterrupted(), "interrupted by its own group");
      Thread.currentThread().interrupt();
      try {
        g.go(ctx -> 1); // skipped: the context is done
        assertTrue(Thread.currentThread().isInterrupted(), "the caller's interrupt was cleared");
      } finally {
        Thread.interrupted();
      }
      assertSame(boom, assertThrows(TaskGroupException.class, g::await).getCause());
    }
  }

  /**
   * A group nested in a task runs its tasks, on a caller-runs executor, on the outer task's thread.
   * When the outer group's context ends, both groups interrupt that thread (the status is one bit);
   * the inner task's end must not take the outer task's interrupt with it, or the outer task's next
   * blocking call (sleep, take) never returns and the outer group's close() waits for it for good.
   */
  @Test
  void aNestedGroupsTaskOnTheSameThreadLeavesTheOuterTasksInterrupt() throws Exception {
    CountDownLatch innerStarted = new CountDownLatch(1);
    CountDownLatch cancelled = new CountDownLatch(1);
    AtomicBoolean interruptedAfterInner = new AtomicBoolean();
    try (CancelableContext parent = Context.withCancel(Context.background());
        TaskGroup g = TaskGroup.open(parent)) {
      g.go(
          ctx -> {
            try (TaskGroup inner = TaskGroup.builder(ctx).executor(Runnable::run).build()) {
              inner.go(
                  c -> {
                    innerStarted.countDown();
                    try {
                      new CountDownLatch(1).await(); // until the interrupt
                    } finally {
                      // Both groups' interrupts are delivered before this task ends.
                      while (cancelled.getCount() > 0) {
                        Thread.onSpinWait();
                      }
                    }
                    return null;
                  });
            }
            interruptedAfterInner.set(Thread.currentThread().isInterrupted());
            return null;
          });
      assertTrue(innerStarted.await(10, TimeUnit.SECONDS));
      parent.cancel(); // runs every callback, both groups' interrupts among them, on this thread
      cancelled.countDown();
      g.await(); // the outer task returns: nothing failed
    }
    assertTrue(
        interruptedAfterInner.get(),
        "the outer task runs on, its group's context ended, and its thread is not interrupted");
  }

  @Test
  void badArgumentsAreRejectedEarly() {
    assertThrows(NullPointerException.class, () -> TaskGroup.open(null));
    assertThrows(NullPointerException.class, () -> TaskGroup.builder(null));
    assertThrows(
        IllegalArgumentException.class,
        () -> TaskGroup.builder(Context.background()).platformThreads(0));
    assertThrows(
        NullPointerException.class, () -> TaskGroup.builder(Context.background()).executor(null));
    try (TaskGroup g = TaskGroup.open()) {
      assertThrows(NullPointerException.class, () -> g.go(null));
      assertThrows(NullPointerException.class, () -> g.tryGo(null));
    }
    assertThrows(NullPointerException.class, () -> new TaskGroupException(null));
  }

  @Test
  void toStringShowsTheState() throws Exception {
    try (TaskGroup g = TaskGroup.builder(Context.background()).limit(3).build()) {
      String s = g.toString();
      assertTrue(s.startsWith("TaskGroup[active=0, limit=3, failures=0"), s);
      g.await();
      assertTrue(g.toString().contains("context="), g.toString());
    }
  }
  /**
   * A pipeline under a limit of one: a stage chained on a task's future starts the next task. The
   * stage runs on the finished task's thread as the future completes, while that task still held
   * its slot, and go() waited for that slot for ever (tryGo() refused it); the slot now passes to
   * the new task.
   */
  @Test
  void aStageChainedOnATaskCanStartTheNextUnderALimitOfOne() throws Exception {
    try (TaskGroup g = TaskGroup.builder(Context.background()).limit(1).build()) {
      CountDownLatch chained = new CountDownLatch(1);
      CompletableFuture<Integer> first =
          g.go(
              c -> {
                chained.await(); // ends once the next steps are chained: they run on this thread
                return 1;
              });
      CompletableFuture<Integer> second = first.thenCompose(v -> g.go(c -> v + 1));
      AtomicBoolean tookIt = new AtomicBoolean();
      CompletableFuture<Void> third = second.thenAccept(v -> tookIt.set(g.tryGo(c -> v)));
      chained.countDown();
      assertEquals(2, second.get(20, TimeUnit.SECONDS));
      third.get(20, TimeUnit.SECONDS);
      assertTrue(tookIt.get(), "tryGo() from the stage of a finished task refused its slot");
      g.await();
      assertTrue(g.toString().startsWith("TaskGroup[active=0,"), g::toString);
    }
  }

  /**
   * A group on ctx4j's {@code ContextExecutorService}, which runs a plain task under the context
   * current where it was submitted: go() from a thread whose current context had ended (a request
   * thread after its request was cancelled) had the task skipped unseen, its slot held for ever
   * and await() waiting with it. The group submits under its own context.
   */
  @Test
  void aGroupOnAContextExecutorServiceRunsItsTasksWhateverTheCallersContext() throws Exception {
    CancelableContext request = Context.withCancel(Context.background());
    request.cancel();
    ExecutorService threads = Executors.newFixedThreadPool(2);
    try (ContextExecutorService pool =
            ContextExecutorService.wrap(threads);
        TaskGroup g = TaskGroup.builder(Context.background()).executor(pool).build()) {
      AtomicReference<CompletableFuture<String>> f = new AtomicReference<>();
      CurrentContext.run(request, () -> f.set(g.go(c -> "ran")));
      assertEquals("ran", f.get().get(20, TimeUnit.SECONDS));
      g.await();
    } finally {
      threads.shutdownNow();
    }
  }
}
