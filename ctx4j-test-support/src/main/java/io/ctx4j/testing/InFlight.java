package io.ctx4j.testing;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import java.io.IOException;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The check the HTTP client integrations share for a context cancelled while its request is in
 * flight: the request fails promptly, with an I/O exception whose cause is the context's error,
 * itself caused by the cause given to {@code cancel}.
 *
 * <p>Thread safety: stateless; call from the test's thread.
 */
public final class InFlight {
  /** The longest a request may take to fail once its context is cancelled, on a loaded machine. */
  public static final long PROMPT_MILLIS = 10_000;

  private InFlight() {}

  /**
   * Waits (up to 20 s) until the server's handler has {@code entered}, cancels {@code ctx} with
   * {@code why}, waits (up to 20 s) for {@code call} to fail, and checks how: with an {@code
   * ioType} whose cause is a {@link CanceledException} whose cause is {@code why}, within {@link
   * #PROMPT_MILLIS} of the cancel.
   *
   * @param entered counted down by the server's handler when the request reached it
   * @param ctx the request's context
   * @param why the cause to cancel with
   * @param call the request, running in another thread
   * @param ioType the exception the client fails the request with
   * @param <E> its type
   * @return how long the request took to fail after the cancel, in milliseconds
   * @throws AssertionError if any of these does not hold
   * @throws InterruptedException if the thread is interrupted meanwhile
   */
  public static <E extends IOException> long cancelFailsTheRequest(
      CountDownLatch entered, CancelableContext ctx, Throwable why, Future<?> call, Class<E> ioType)
      throws InterruptedException {
    Objects.requireNonNull(ioType, "ioType");
    if (!entered.await(20, TimeUnit.SECONDS)) {
      throw new AssertionError("the request never reached the handler");
    }
    long t0 = System.nanoTime();
    ctx.cancel(why);
    Throwable failure;
    try {
      Object value = call.get(20, TimeUnit.SECONDS);
      throw new AssertionError("the request succeeded after its context was cancelled: " + value);
    } catch (ExecutionException e) {
      failure = e.getCause();
    } catch (TimeoutException e) {
      throw new AssertionError("the request had not failed 20 s after its context was cancelled", e);
    }
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    if (!ioType.isInstance(failure) || !(failure.getCause() instanceof CanceledException)) {
      throw new AssertionError(
          "expected " + ioType.getName() + " caused by the context's CanceledException, got " + failure, failure);
    }
    if (failure.getCause().getCause() != why) {
      throw new AssertionError("the context's error lost the cancel's cause: " + failure.getCause(), failure);
    }
    // Prompt: the handler is still blocked (it would answer only at the end of the test).
    if (ms >= PROMPT_MILLIS) {
      throw new AssertionError("abort took " + ms + " ms");
    }
    return ms;
  }
}
