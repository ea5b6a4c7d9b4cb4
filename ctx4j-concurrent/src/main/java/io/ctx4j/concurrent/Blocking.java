package io.ctx4j.concurrent;

import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.internal.CoreInternals;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Lock;

/**
 * Blocking calls that give up as soon as a context is done: sleep, wait for a future, take from a
 * queue, acquire a lock or a semaphore. The Java form of Go's {@code select} between an operation and
 * {@code <-ctx.Done()}.
 *
 * <pre>{@code
 * Job job = Blocking.take(ctx, jobs);           // or a fresh CanceledException / DeadlineExceededException
 * Blocking.lock(ctx, lock);
 * try { ... } finally { lock.unlock(); }
 * }</pre>
 *
 * <p>Every method checks the context first: a context already done throws at once, without touching
 * the queue, lock or semaphore. While waiting, the end of the context interrupts the waiting thread
 * through an {@link InterruptScope}, which is removed (and its interrupt cleared) before the method
 * returns. When the operation succeeds at the same instant as the context ends, the success wins: the
 * method returns normally (the permit or lock is held, the element is taken) and no interrupt is left
 * on the thread, so nothing is lost; check the context afterwards if that matters.
 *
 * <p>Errors: the context's end is reported as a fresh {@link ContextException} (a {@link
 * io.ctx4j.CanceledException} or {@link io.ctx4j.DeadlineExceededException}) carrying the context's
 * cause, as {@link Context#throwIfDone()} throws it. An interrupt from anywhere else is reported as
 * {@link InterruptedException}, as the plain JDK call would; a thread already interrupted on entry
 * gets one at once.
 *
 * <p>Done wins over an interrupt. Once the context is done, on entry or when the wait wakes up, the
 * method throws the context's error even if the thread is also interrupted (a task group, for
 * instance, cancels its context and interrupts its threads at once), and leaves that interrupt set
 * for whoever sent it. Only while the context is live does an interrupt end the wait with {@code
 * InterruptedException}. The interrupt this class delivers itself to wake the wait is never left
 * behind; an interrupt from elsewhere that lands in the instant between it and the end of the wait
 * cannot be told apart from it (the interrupt status is one bit; see {@link InterruptScope}).
 *
 * <p>{@link #await} checks the context before it attaches anything to the stage, and waits on a
 * stage that is a {@code Future} (a {@code CompletableFuture}) through its own {@code get()}, which
 * leaves nothing behind on it however the wait ends.
 *
 * <p>Thread safety: all methods are static and thread-safe. Memory consistency effects: those of the
 * underlying JDK operation, plus: actions before the context ends happen-before the thrown {@code
 * ContextException} is caught.
 *
 * @since 0.1
 */
public final class Blocking {
  private Blocking() {}

  /** A blocking call that responds to interruption. */
  @FunctionalInterface
  private interface Interruptible<T> {
    T call() throws InterruptedException, ExecutionException;
  }

  /**
   * Sleeps for {@code duration}, or until {@code ctx} is done, whichever first: Go's {@code select}
   * on {@code time.After} and {@code ctx.Done()}.
   *
   * @param ctx the context
   * @param duration how long to sleep; zero returns at once (after checking the context)
   * @throws ContextException if the context is done before the time is up
   * @throws InterruptedException if the thread is interrupted from elsewhere
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code duration} is negative
   */
  public static void sleep(Context ctx, Duration duration) throws InterruptedException {
    Objects.requireNonNull(ctx, "ctx");
    long nanos = nanos(duration, "duration");
    checkEntry(ctx);
    boolean done;
    try {
      done = ctx.await(Duration.ofNanos(nanos));
    } catch (InterruptedException e) {
      if (!ctx.isDone()) {
        throw e;
      }
      // Done wins: the context's error, with the interrupt kept for whoever sent it.
      Thread.currentThread().interrupt();
      done = true;
    }
    if (done) {
      ctx.throwIfDone();
    }
  }

  /**
   * Waits for {@code future}, or until {@code ctx} is done, whichever first. The future is not
   * cancelled when the context wins; use {@link Futures#cancelWhenDone} for that.
   *
   * @param ctx the context
   * @param future the future to wait for
   * @param <T> the result type
   * @return the future's result
   * @throws ContextException if the context is done first
   * @throws ExecutionException if the future failed
   * @throws java.util.concurrent.CancellationException if the future was cancelled while the
   *     context was live (once it has ended, as when {@link Futures#cancelWhenDone} cancelled the
   *     future, the context's error instead)
   * @throws InterruptedException if the thread is interrupted from elsewhere
   * @throws NullPointerException if an argument is null
   */
  public static <T> T get(Context ctx, Future<T> future)
      throws InterruptedException, ExecutionException {
    Objects.requireNonNull(future, "future");
    return interruptibly(ctx, future::get);
  }

  /**
   * Waits for {@code stage} to complete, or until {@code ctx} is done, whichever first. A stage that
   * failed with a {@link java.util.concurrent.CompletionException} is reported with its cause
   * unwrapped, as {@link CompletableFuture#get()} does.
   *
   * @param ctx the context
   * @param stage the stage to wait for
   * @param <T> the result type
   * @return the stage's result
   * @throws ContextException if the context is done first
   * @throws ExecutionException if the stage failed
   * @throws java.util.concurrent.CancellationException if the stage was cancelled while the context
   *     was live (once it has ended, the context's error instead)
   * @throws InterruptedException if the thread is interrupted from elsewhere
   * @throws NullPointerException if an argument is null
   */
  public static <T> T await(Context ctx, CompletionStage<T> stage)
      throws InterruptedException, ExecutionException {
    Objects.requireNonNull(stage, "stage");
    Objects.requireNonNull(ctx, "ctx");
    checkEntry(ctx); // before attaching anything to the stage
    if (stage instanceof Future && waitable((Future<?>) stage)) {
      // A future's own get() leaves nothing behind on it, however the wait ends.
      @SuppressWarnings("unchecked")
      Future<T> future = (Future<T>) stage;
      return interruptibly(ctx, future::get);
    }
    // Any other stage: a dependent is the only way to hear of it, and a CompletionStage offers no
    // way to remove one. The dependent holds the mirror through a slot emptied on exit, so what stays
    // on a long-lived stage per call is the small dependent alone, not the mirror and its waiter.
    CompletableFuture<T> mirror = new CompletableFuture<>();
    AtomicReference<CompletableFuture<T>> slot = new AtomicReference<>(mirror);
    stage.whenComplete(
        (v, e) -> {
          CompletableFuture<T> m = slot.getAndSet(null);
          if (m == null) {
            return;
          }
          if (e == null) {
            m.complete(v);
          } else {
            m.completeExceptionally(e);
          }
        });
    try {
      return interruptibly(ctx, mirror::get);
    } finally {
      slot.set(null);
    }
  }

  /** False for stages that are futures in name only ({@code minimalCompletionStage()}). */
  private static boolean waitable(Future<?> future) {
    try {
      future.isDone();
      return true;
    } catch (UnsupportedOperationException e) {
      return false;
    }
  }

  /**
   * Takes the head of {@code queue}, waiting for one if needed, or until {@code ctx} is done.
   *
   * @param ctx the context
   * @param queue the queue
   * @param <E> the element type
   * @return the element taken
   * @throws ContextException if the context is done first; nothing was taken
   * @throws InterruptedException if the thread is interrupted from elsewhere
   * @throws NullPointerException if an argument is null
   */
  public static <E> E take(Context ctx, BlockingQueue<E> queue) throws InterruptedException {
    Objects.requireNonNull(queue, "queue");
    return uninterruptedExecution(ctx, queue::take);
  }

  /**
   * Takes the head of {@code queue}, waiting up to {@code timeout}, or until {@code ctx} is done.
   *
   * @param ctx the context
   * @param queue the queue
   * @param timeout the longest wait
   * @param <E> the element type
   * @return the element taken, or {@code null} if the timeout elapsed first
   * @throws ContextException if the context is done first; nothing was taken
   * @throws InterruptedException if the thread is interrupted from elsewhere
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code timeout} is negative
   */
  public static <E> E poll(Context ctx, BlockingQueue<E> queue, Duration timeout)
      throws InterruptedException {
    Objects.requireNonNull(queue, "queue");
    long nanos = nanos(timeout, "timeout");
    return uninterruptedExecution(ctx, () -> queue.poll(nanos, TimeUnit.NANOSECONDS));
  }

  /**
   * Puts {@code element} into {@code queue}, waiting for room if needed, or until {@code ctx} is
   * done.
   *
   * @param ctx the context
   * @param queue the queue
   * @param element the element
   * @param <E> the element type
   * @throws ContextException if the context is done first; nothing was added
   * @throws InterruptedException if the thread is interrupted from elsewhere
   * @throws NullPointerException if an argument is null
   */
  public static <E> void put(Context ctx, BlockingQueue<E> queue, E element)
      throws InterruptedException {
    Objects.requireNonNull(queue, "queue");
    Objects.requireNonNull(element, "element");
    uninterruptedExecution(
        ctx,
        () -> {
          queue.put(element);
          return null;
        });
  }

  /**
   * Acquires {@code lock}, or gives up when {@code ctx} is done. On a normal return the caller holds
   * the lock and must unlock it.
   *
   * @param ctx the context
   * @param lock the lock
   * @throws ContextException if the context is done first; the lock is not held
   * @throws InterruptedException if the thread is interrupted from elsewhere
   * @throws NullPointerException if an argument is null
   */
  public static void lock(Context ctx, Lock lock) throws InterruptedException {
    Objects.requireNonNull(lock, "lock");
    uninterruptedExecution(
        ctx,
        () -> {
          lock.lockInterruptibly();
          return null;
        });
  }

  /**
   * Acquires one permit of {@code semaphore}, or gives up when {@code ctx} is done.
   *
   * @param ctx the context
   * @param semaphore the semaphore
   * @throws ContextException if the context is done first; no permit is held
   * @throws InterruptedException if the thread is interrupted from elsewhere
   * @throws NullPointerException if an argument is null
   */
  public static void acquire(Context ctx, Semaphore semaphore) throws InterruptedException {
    acquire(ctx, semaphore, 1);
  }

  /**
   * Acquires {@code permits} permits of {@code semaphore} at once, or gives up when {@code ctx} is
   * done.
   *
   * @param ctx the context
   * @param semaphore the semaphore
   * @param permits how many permits
   * @throws ContextException if the context is done first; no permit is held
   * @throws InterruptedException if the thread is interrupted from elsewhere
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code permits} is negative
   */
  public static void acquire(Context ctx, Semaphore semaphore, int permits)
      throws InterruptedException {
    Objects.requireNonNull(semaphore, "semaphore");
    if (permits < 0) {
      throw new IllegalArgumentException("permits must not be negative: " + permits);
    }
    uninterruptedExecution(
        ctx,
        () -> {
          semaphore.acquire(permits);
          return null;
        });
  }

  private static <T> T uninterruptedExecution(Context ctx, Interruptible<T> call)
      throws InterruptedException {
    try {
      return interruptibly(ctx, call);
    } catch (ExecutionException e) {
      throw new AssertionError("queue, lock and semaphore calls do not throw it", e);
    }
  }

  private static <T> T interruptibly(Context ctx, Interruptible<T> call)
      throws InterruptedException, ExecutionException {
    Objects.requireNonNull(ctx, "ctx");
    checkEntry(ctx);
    InterruptedException interruption;
    boolean foreign;
    try (InterruptScope scope = InterruptScope.open(ctx)) {
      try {
        return call.call();
      } catch (InterruptedException e) {
        interruption = e;
        // The scope had not fired when the call woke: the interrupt came from somebody else.
        foreign = !scope.interrupted();
      }
    } catch (CancellationException e) {
      // The future was cancelled while we waited. If the context ended meanwhile, that is most
      // likely why (Futures.cancelWhenDone; a CompletableFuture's get() on newer JDKs wraps the copy
      // of the context's error in a new CancellationException): done wins, as over an interrupt.
      ContextException err = CoreInternals.errorCopy(ctx);
      if (err == null) {
        throw e;
      }
      throw err;
    }
    ContextException err = CoreInternals.errorCopy(ctx);
    if (err != null) {
      // Done wins over an interrupt; one that was not ours is kept for whoever sent it.
      if (foreign) {
        Thread.currentThread().interrupt();
      }
      throw err;
    }
    // The scope fires only once ctx is done, so a live ctx means the interrupt was foreign.
    throw interruption;
  }

  private static void checkEntry(Context ctx) throws InterruptedException {
    ctx.throwIfDone();
    if (Thread.interrupted()) {
      // Looked at again: the context may have ended, and interrupted us, since the check above.
      ContextException err = CoreInternals.errorCopy(ctx);
      if (err != null) {
        Thread.currentThread().interrupt();
        throw err;
      }
      throw new InterruptedException();
    }
  }

  /** {@code d} in nanoseconds, saturated; rejects null and negative durations by name. */
  static long nanos(Duration d, String name) {
    Objects.requireNonNull(d, name);
    if (d.isNegative()) {
      throw new IllegalArgumentException(name + " must not be negative: " + d);
    }
    return CoreInternals.saturatedNanos(d);
  }
}
