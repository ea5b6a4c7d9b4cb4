package io.ctx4j.testing;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import java.io.InterruptedIOException;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A user's interceptor (OkHttp) or exec handler (HttpClient 5) that fails with the end of ANOTHER
 * context, of the shape of ctx4j's own (an {@code InterruptedIOException} caused by a {@code
 * ContextException}), once the call's own context has ended: the other end comes from a nested
 * ctx4j call under a context of the user's, ended, or from the user's own wrapping of that context's
 * {@code err()}. The caller must get the call's own end, the user's failure suppressed on it.
 *
 * <p>Thread safety: {@link #endTheCallAndFail} may run on a client thread, the checks on the test's.
 */
public final class AnotherContextsEnd implements AutoCloseable {
  /** Where the other context's end comes from. */
  public enum Source {
    /** A nested ctx4j call under the other context, which ctx4j refuses with its end. */
    NESTED_CALL,
    /** An {@code InterruptedIOException} the user makes, caused by the other context's {@code err()}. */
    OWN_WRAPPING
  }

  /** A call through the client under test, which must fail with {@code other}'s end. */
  @FunctionalInterface
  public interface NestedCall {
    /**
     * Makes the nested call.
     *
     * @param other the other context, ended
     * @throws Exception what the call failed with
     */
    void run(Context other) throws Exception;
  }

  private final Source source;
  private final IllegalStateException why = new IllegalStateException("the call's cancel");
  private final CancelableContext ctx = Context.withCancel(Context.background());
  private final CancelableContext other = Context.withCancel(Context.background());
  private final AtomicReference<InterruptedIOException> thrown = new AtomicReference<>();

  /**
   * The call's context, live, and another one, ended with a cause of its own.
   *
   * @param source where the other end will come from
   * @throws NullPointerException if {@code source} is null
   */
  public AnotherContextsEnd(Source source) {
    this.source = Objects.requireNonNull(source, "source");
    other.cancel(new IllegalStateException("the other context's cancel"));
  }

  /**
   * The context to make the call under; the user's code ends it.
   *
   * @return the call's context
   */
  public Context callContext() {
    return ctx;
  }

  /**
   * What the user's code does once the exchange has come back: ends the call's context, and returns
   * the other context's end for it to throw.
   *
   * @param nested the nested call under the other context ({@link Source#NESTED_CALL} only)
   * @return the other context's end
   * @throws AssertionError if the nested call does not fail with an {@code InterruptedIOException}
   */
  public InterruptedIOException endTheCallAndFail(NestedCall nested) {
    ctx.cancel(why);
    InterruptedIOException end;
    if (source == Source.NESTED_CALL) {
      try {
        nested.run(other);
        throw new AssertionError("a nested call under an ended context succeeded");
      } catch (InterruptedIOException e) {
        end = e;
      } catch (Exception e) {
        throw new AssertionError("the nested call failed otherwise: " + e, e);
      }
    } else {
      end = new InterruptedIOException("gave up");
      end.initCause(other.err());
    }
    thrown.set(end);
    return end;
  }

  /**
   * Fails unless {@code e}, what the caller got, is the call's own end, made once, with the other
   * context's end that the user's code threw suppressed on it (and nothing else).
   *
   * @param e what the call failed with
   * @throws AssertionError if it is not
   */
  public void assertTheCallersEnd(Throwable e) {
    if (!(e instanceof InterruptedIOException)
        || !(e.getCause() instanceof CanceledException)
        || e.getCause().getCause() != why) {
      Throwable cause = e.getCause();
      throw new AssertionError(
          source + ": not the call's own end: " + e + ", caused by " + cause
              + (cause == null ? "" : " whose cause is " + cause.getCause()),
          e);
    }
    InterruptedIOException threw = thrown.get();
    if (threw == null) {
      throw new AssertionError("the user's code never ran", e);
    }
    if (!List.of(threw).equals(Arrays.asList(e.getSuppressed()))) {
      throw new AssertionError(
          "not the user's failure alone suppressed on it: " + Arrays.toString(e.getSuppressed()), e);
    }
    IoEnds.assertMadeOnce(e);
  }

  /** Cancels both contexts (the call's, for a test that failed before its user code ran). */
  @Override
  public void close() {
    ctx.cancel();
    other.cancel();
  }
}
