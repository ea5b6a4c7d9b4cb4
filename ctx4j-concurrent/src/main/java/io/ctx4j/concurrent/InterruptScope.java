package io.ctx4j.concurrent;

import io.ctx4j.Context;
import io.ctx4j.Registration;
import io.ctx4j.internal.CoreInternals;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;

/**
 * A region of code, opened with try-with-resources, inside which the end of a context interrupts the
 * thread that opened it. Blocking JDK calls that honour interruption ({@code Thread.sleep}, {@code
 * BlockingQueue.take}, {@code Lock.lockInterruptibly}, {@code Future.get}, interruptible channels...)
 * then return early with an {@link InterruptedException} or {@link
 * java.nio.channels.ClosedByInterruptException}, and {@link #interrupted()} tells the caller that the
 * context, not somebody else, caused it.
 *
 * <pre>{@code
 * try (InterruptScope scope = InterruptScope.open(ctx)) {
 *   return queue.take();
 * } catch (InterruptedException e) {
 *   ctx.throwIfDone();  // the context's error if it caused the interrupt
 *   throw e;            // a genuine interrupt from elsewhere
 * }
 * }</pre>
 *
 * <h2>No stray interrupt</h2>
 *
 * When {@link #close()} returns, the interrupt this scope may have delivered is gone, even if the
 * context ended at the same instant as the scope closed. Implementation notes: one state word moves
 * {@code OPEN -> INTERRUPTING -> INTERRUPTED} on the cancelling thread, or {@code OPEN -> CLOSED} on
 * the owner; both start with a CAS from {@code OPEN}, so exactly one side wins. If the owner wins,
 * the canceller's CAS fails and it never touches the thread. If the canceller wins, it calls {@link
 * Thread#interrupt()} and then publishes {@code INTERRUPTED}; the owner, whose CAS failed, waits for
 * {@code INTERRUPTED} (the canceller is at most one {@code interrupt()} call away) and then clears the
 * interrupt status. Works alike on platform and virtual threads.
 *
 * <p>The interrupt status is a single bit: an interrupt from another source that arrives while this
 * scope has also interrupted the thread cannot be told apart and is cleared with it. An interrupt
 * status already set when the scope opens is left as it was if the scope never fires. Scopes nest
 * on one thread (a {@link Blocking} call, or a task that a caller-runs executor runs, inside
 * another scope): when an enclosing scope that is still open has fired too, closing the inner one
 * leaves the interrupt set, since the code around it is owed the enclosing scope's interrupt.
 *
 * <p>Thread safety: {@link #open} and {@link #close} must be called by the same thread; {@link
 * #interrupted()} may be called from any thread. Memory consistency effects: actions before the
 * context ends happen-before the owner observes {@code interrupted() == true}.
 *
 * @since 0.1
 */
public final class InterruptScope implements AutoCloseable {
  private static final int OPEN = 0;
  private static final int INTERRUPTING = 1;
  private static final int INTERRUPTED = 2;
  private static final int CLOSED = 3;

  private static final VarHandle STATE;

  static {
    try {
      STATE = MethodHandles.lookup().findVarHandle(InterruptScope.class, "state", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /**
   * The innermost open scope of each thread, so that a scope that clears its interrupt can tell
   * whether an enclosing one has fired too (see {@link #settle}). Holds null outside any scope, as
   * CurrentContext's slot does, so a pooled thread keeps no scope once its scopes are closed.
   */
  private static final ThreadLocal<InterruptScope> INNERMOST = new ThreadLocal<>();

  private final Thread owner;
  private final InterruptScope outer; // the scope this one is nested in on its thread, or null
  private final Registration registration;
  @SuppressWarnings("unused") // accessed through STATE
  private volatile int state;
  private boolean closed; // owner thread only

  private InterruptScope(Context ctx) {
    this.owner = Thread.currentThread();
    this.outer = INNERMOST.get();
    // Registered last: the callback may run at once, on this thread, if ctx is already done.
    Registration r;
    try {
      // A custom context's null is refused now, not in close(), after the work.
      r = CoreInternals.register(ctx, this::fire);
    } catch (Throwable t) {
      // A custom context may keep the callback and still throw (or return null). The caller gets
      // no scope to close, so close it here: a later end of ctx must not interrupt a thread that
      // has moved on, and an interrupt already delivered belongs to this scope.
      settle();
      throw t;
    }
    this.registration = r;
    INNERMOST.set(this);
  }

  /**
   * Opens a scope on the calling thread: from now until {@link #close()}, the end of {@code ctx}
   * interrupts this thread once. If {@code ctx} is already done, the thread is interrupted before
   * this method returns.
   *
   * @param ctx the context to follow
   * @return the open scope; close it in the same thread, with try-with-resources
   * @throws NullPointerException if {@code ctx} is null, or if its {@code onDone} returns null (a
   *     context implemented outside ctx4j; the scope is then closed as below)
   * @throws RuntimeException (or {@code Error}) what {@code ctx.onDone} throws, for a context
   *     implemented outside ctx4j; the scope is then closed as if by {@link #close()}, so the end
   *     of {@code ctx} no longer interrupts this thread, even if {@code onDone} kept the callback
   */
  public static InterruptScope open(Context ctx) {
    return new InterruptScope(Objects.requireNonNull(ctx, "ctx"));
  }

  private void fire() {
    if (STATE.compareAndSet(this, OPEN, INTERRUPTING)) {
      try {
        owner.interrupt();
      } finally {
        STATE.setVolatile(this, INTERRUPTED);
      }
    }
  }

  /**
   * Tells whether this scope has interrupted (or is at this instant interrupting) its thread because
   * the context ended.
   *
   * @return {@code true} once the context's end has been turned into an interrupt
   */
  public boolean interrupted() {
    int s = (int) STATE.getVolatile(this);
    return s == INTERRUPTING || s == INTERRUPTED;
  }

  /**
   * Closes the scope: the context's end no longer interrupts the thread, and an interrupt this scope
   * delivered is cleared from the thread's status. Idempotent.
   *
   * @throws IllegalStateException if called from a thread other than the one that opened the scope
   */
  @Override
  public void close() {
    if (Thread.currentThread() != owner) {
      throw new IllegalStateException("an InterruptScope must be closed by the thread that opened it");
    }
    if (closed) {
      return;
    }
    closed = true;
    try {
      registration.stop();
    } finally {
      // Even if a custom context's stop() throws (and so may leave the callback registered), the
      // scope closes: the CAS below shuts out any later interrupt.
      InterruptScope open = outer; // the nearest still open: scopes closed out of order drop out
      while (open != null && open.closed) {
        open = open.outer;
      }
      INNERMOST.set(open);
      settle();
    }
  }

  /**
   * Takes the state to CLOSED, or waits out a firing and clears the interrupt it delivered, unless
   * an enclosing open scope on this thread has fired too: the status is one bit, and the code
   * around this scope is owed that one's interrupt (an outer task would block next, uninterrupted,
   * though its context has ended). Its own close clears it, so nothing is left behind either way.
   */
  private void settle() {
    if (STATE.compareAndSet(this, OPEN, CLOSED)) {
      return;
    }
    int spins = 0;
    while ((int) STATE.getVolatile(this) != INTERRUPTED) {
      // The canceller is between its CAS and the end of interrupt(); yield rather than burn a core
      // on this two-core-friendly path.
      if (++spins < 64) {
        Thread.onSpinWait();
      } else {
        Thread.yield();
      }
    }
    Thread.interrupted();
    // Read after the clear: an enclosing scope that fires later interrupts the thread itself.
    for (InterruptScope s = outer; s != null; s = s.outer) {
      if (!s.closed && s.interrupted()) {
        owner.interrupt();
        return;
      }
    }
  }
}
