package io.ctx4j;

import io.ctx4j.internal.Callbacks;
import io.ctx4j.internal.TimerWheel;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Objects;
import java.util.concurrent.locks.LockSupport;

/**
 * A context that can be cancelled: the core of ctx4j.
 *
 * <h2>Implementation notes</h2>
 *
 * <p><b>State.</b> {@code result} is null while live and the {@link Done} (error + cause) once done;
 * it changes once, by CAS, so the first cancellation wins and {@code err()} is one volatile read
 * with no lock and nothing shared between contexts. {@code head} is a Treiber stack of {@link Node}s
 * to notify when done: links to cancelable children, parked waiters and callbacks. When done it is
 * swapped to {@link #TOMBSTONE}, after which nothing can be pushed.
 *
 * <p><b>Order of cancellation.</b> The canceller (1) CASes {@code result}, (2) swaps {@code head}
 * for the tombstone and walks what it got: children are CASed done and queued, waiters unparked,
 * callbacks collected; (3) repeats for queued children with an explicit work list, never recursion,
 * so chains a million deep are fine; (4) runs the callbacks, each guarded, once the whole subtree is
 * marked done. Since {@code result} is set before anything is notified, a non-null {@code err()}
 * always means "done" and a woken waiter always sees it.
 *
 * <p><b>No lost registration.</b> A pusher CASes {@code head} (failing on the tombstone, which means
 * done) and then re-reads {@code result}; the canceller writes {@code result} and then swaps {@code
 * head}. Both are volatile, so at least one of them sees the other: a pusher that sees {@code result}
 * set after its push drains the stack itself ({@link #drain}). Every node is therefore handled
 * exactly once by whoever swaps it out.
 *
 * <p><b>Detaching and leaks.</b> A child holds its {@link ChildLink}; cancelling the child by hand
 * clears {@code link.child}, which drops the parent's only reference to it at once (no lock on the
 * parent, no map: golang/go#47806). The empty link stays in the parent's stack until swept: a push
 * skips dead nodes at the top of the stack, and every so many pushes (about as many as there were
 * live nodes at the last sweep) a sweep unlinks dead nodes deeper down, so dead links stay within a
 * constant factor of the live ones, amortised O(1) per push. Sweeps may overlap each other and the
 * canceller's walk: they only ever bypass dead nodes, and every value a {@code next} field ever held
 * leads to all live nodes after it, so no live node can be lost.
 *
 * <p><b>Callbacks and threads.</b> Callbacks never run under a lock. User callbacks fired from the
 * timer thread are handed to the callback pool instead, so a slow one cannot stall deadlines.
 */
sealed class CancelCtx extends Ctx implements CancelableContext permits TimerCtx {
  static final Node TOMBSTONE = new Callback(null, true);
  private static final int MIN_SWEEP_INTERVAL = 16;

  private static final VarHandle RESULT;
  private static final VarHandle HEAD;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      RESULT = l.findVarHandle(CancelCtx.class, "result", Done.class);
      HEAD = l.findVarHandle(CancelCtx.class, "head", Node.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final Context parent;
  /** Our entry in the canceler's stack (or registration with a custom one); null if none needed. */
  final ChildLink link;

  private volatile Done result;
  private volatile Node head;
  /** Pushes left before the next sweep. Racy on purpose: a lost update only moves a sweep. */
  private int sweepCountdown = MIN_SWEEP_INTERVAL;

  CancelCtx(Context parent, Env env, ChildLink link) {
    super(env);
    this.parent = parent;
    this.link = link;
    if (link != null) {
      link.child = this;
    }
  }

  // ------------------------------------------------------------------------------ Context

  @Override
  public final ContextException err() {
    Done d = result;
    return d == null ? null : d.err;
  }

  @Override
  public final boolean isDone() {
    return result != null;
  }

  @Override
  public final Throwable cause() {
    Done d = result;
    return d == null ? null : d.cause;
  }

  @Override
  public final Registration onDone(Runnable callback) {
    Callback n = new Callback(Objects.requireNonNull(callback, "callback"), false);
    if (result != null || !push(n)) {
      n.fire(false);
    }
    return n;
  }

  /** Internal registration whose action runs inline even on the timer thread (it must not block). */
  final Registration onDoneInline(Runnable action) {
    Callback n = new Callback(action, true);
    if (result != null || !push(n)) {
      n.fire(false);
    }
    return n;
  }

  @Override
  public final void await() throws InterruptedException {
    if (result != null) {
      return;
    }
    if (Thread.interrupted()) {
      throw new InterruptedException();
    }
    Waiter w = new Waiter(Thread.currentThread());
    if (!push(w)) {
      return;
    }
    try {
      while (result == null) {
        LockSupport.park(this);
        if (Thread.interrupted()) {
          throw new InterruptedException();
        }
      }
    } finally {
      w.thread = null;
    }
  }

  @Override
  public final boolean await(Duration timeout) throws InterruptedException {
    Objects.requireNonNull(timeout, "timeout");
    if (result != null) {
      return true;
    }
    if (Thread.interrupted()) {
      throw new InterruptedException();
    }
    long nanos = Durations.saturatedNanos(timeout);
    if (nanos <= 0) {
      return false;
    }
    long deadline = System.nanoTime() + nanos;
    Waiter w = new Waiter(Thread.currentThread());
    if (!push(w)) {
      return true;
    }
    try {
      while (result == null) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        LockSupport.parkNanos(this, left);
        if (Thread.interrupted()) {
          throw new InterruptedException();
        }
      }
      return true;
    } finally {
      w.thread = null;
    }
  }

  // ------------------------------------------------------------------------ CancelableContext

  @Override
  public final boolean cancel() {
    return cancel(Done.CANCELED, true);
  }

  @Override
  public final boolean cancel(Throwable cause) {
    return cancel(Done.canceled(cause), true);
  }

  @Override
  public final void close() {
    cancel(Done.CANCELED, true);
  }

  // ---------------------------------------------------------------------------- the machinery

  /** Registers with the canceler; called by the factory once the object is fully built. */
  final void attach(Context canceler) {
    if (canceler instanceof CancelCtx) {
      CancelCtx p = (CancelCtx) canceler;
      Done pd = p.result;
      if (pd != null || !p.push(link)) {
        link.child = null;
        inherit(pd != null ? pd : p.result);
      }
    } else if (canceler != null) {
      attachForeign(canceler);
    }
  }

  private void attachForeign(Context foreign) {
    if (foreign.isDone()) {
      link.child = null;
      inherit(Done.from(foreign));
      return;
    }
    ForeignLink fl = (ForeignLink) link;
    Registration r = foreign.onDone(fl);
    if (r == null) {
      fl.child = null;
      throw new NullPointerException(
          "onDone of " + foreign.getClass().getName() + " returned null instead of a Registration");
    }
    fl.registration = r;
    if (fl.child == null) {
      stopQuietly(r); // cancelled while registering: withdraw
    }
  }

  /** Born done because the parent already was: no registration, nothing to notify yet. */
  private void inherit(Done d) {
    if (RESULT.compareAndSet(this, null, d)) {
      afterDone();
    }
  }

  /** Made done before anyone else can see it (a deadline already past). */
  final void bornDone(Done d) {
    if (link != null) {
      link.child = null;
    }
    inherit(d);
  }

  /** The raw terminal state, so a child of a done ctx4j parent copies error and cause at once. */
  final Done result() {
    return result;
  }

  /**
   * Moves this context to {@code d} unless already done, then notifies the subtree.
   *
   * @param detach whether to drop the parent's reference to us (true unless the parent cancels us)
   */
  final boolean cancel(Done d, boolean detach) {
    if (!RESULT.compareAndSet(this, null, d)) {
      return false;
    }
    if (detach) {
      detach();
    }
    afterDone();
    propagate(this, d);
    return true;
  }

  private void detach() {
    ChildLink l = link;
    if (l != null) {
      l.child = null;
      if (l instanceof ForeignLink) {
        Registration r = ((ForeignLink) l).registration;
        if (r != null) {
          stopQuietly(r);
        }
      }
    }
  }

  private static void stopQuietly(Registration r) {
    try {
      r.stop();
    } catch (Throwable t) {
      Callbacks.report(t);
    }
  }

  /** Hook for subclasses, run once by the thread that made this context done. */
  void afterDone() {}

  /** Notifies everything registered under {@code root}, which is already done with {@code d}. */
  private static void propagate(CancelCtx root, Done d) {
    ArrayDeque<CancelCtx> work = null;
    ArrayList<Callback> callbacks = null;
    CancelCtx c = root;
    for (; ; ) {
      Node n = (Node) HEAD.getAndSet(c, TOMBSTONE);
      for (; n != null && n != TOMBSTONE; n = n.next) {
        if (n instanceof ChildLink) {
          CancelCtx child = ((ChildLink) n).child;
          if (child != null && RESULT.compareAndSet(child, null, d)) {
            child.afterDone();
            if (child.head != null) {
              if (work == null) {
                work = new ArrayDeque<>();
              }
              work.push(child);
            }
            // A child with an empty stack has nothing to notify; a late pusher drains for itself.
          }
        } else if (n instanceof Waiter) {
          Thread t = ((Waiter) n).thread;
          if (t != null) {
            LockSupport.unpark(t);
          }
        } else {
          if (callbacks == null) {
            callbacks = new ArrayList<>();
          }
          callbacks.add((Callback) n);
        }
      }
      if (work == null || work.isEmpty()) {
        break;
      }
      c = work.pop();
    }
    if (callbacks != null) {
      boolean onTimer = TimerWheel.isTimerThread();
      for (int i = 0; i < callbacks.size(); i++) {
        callbacks.get(i).fire(onTimer);
      }
    }
  }

  /** Handles nodes pushed after the canceller's swap: called by a pusher that finds us done. */
  private void drain() {
    propagate(this, result);
  }

  /**
   * Pushes {@code n} unless this context is done.
   *
   * @return false if done before the push; the caller then handles {@code n} itself
   */
  final boolean push(Node n) {
    int budget = sweepCountdown - 1;
    for (; ; ) {
      Node h = head;
      if (h == TOMBSTONE) {
        return false;
      }
      Node first = h;
      while (first != null && !first.isLive()) {
        first = first.next;
      }
      n.next = first;
      if (HEAD.compareAndSet(this, h, n)) {
        break;
      }
    }
    if (result != null) {
      drain();
    } else if (budget <= 0) {
      sweep(n);
    } else {
      sweepCountdown = budget;
    }
    return true;
  }

  /** Unlinks dead nodes below {@code from}; sets the next sweep after about as many live nodes. */
  private void sweep(Node from) {
    int live = 1;
    Node p = from;
    for (Node q = p.next; q != null; q = p.next) {
      if (q.isLive()) {
        live++;
        p = q;
      } else {
        p.next = q.next;
      }
    }
    sweepCountdown = Math.max(MIN_SWEEP_INTERVAL, live);
  }

  /** Counts live registrations: children, waiters and callbacks. For tests and diagnostics. */
  final int registrationCount() {
    int n = 0;
    for (Node x = head; x != null && x != TOMBSTONE; x = x.next) {
      if (x.isLive()) {
        n++;
      }
    }
    return n;
  }

  /** Counts every node in the stack, dead ones too: the memory a parent holds for its children. */
  final int nodeCount() {
    int n = 0;
    for (Node x = head; x != null && x != TOMBSTONE; x = x.next) {
      n++;
    }
    return n;
  }

  // --------------------------------------------------------------------------------- Ctx

  @Override
  final Context parent() {
    return parent;
  }

  @Override
  final Context canceler() {
    return this;
  }

  @Override
  void appendLayer(StringBuilder sb) {
    sb.append(".WithCancel");
  }

  // --------------------------------------------------------------------------------- nodes

  /** An entry in a context's notification stack. */
  abstract static class Node {
    /** Written before publication and by sweeps; see the class notes for why races are benign. */
    Node next;

    abstract boolean isLive();
  }

  /** A cancelable child registered with a ctx4j parent. */
  static class ChildLink extends Node {
    volatile CancelCtx child;

    @Override
    final boolean isLive() {
      return child != null;
    }
  }

  /** A cancelable child registered with a custom parent through its {@code onDone}. */
  static final class ForeignLink extends ChildLink implements Runnable {
    private final Context foreign;
    volatile Registration registration;

    ForeignLink(Context foreign) {
      this.foreign = foreign;
    }

    @Override
    public void run() {
      CancelCtx c = child;
      if (c != null) {
        c.cancel(Done.from(foreign), false);
      }
    }
  }

  /** A thread parked in {@code await}; cleared when it leaves. */
  static final class Waiter extends Node {
    volatile Thread thread;

    Waiter(Thread thread) {
      this.thread = thread;
    }

    @Override
    boolean isLive() {
      return thread != null;
    }
  }

  /**
   * A callback; {@code action} is taken by exactly one of fire and stop, which is what makes
   * {@link Registration#stop()} an exact arbiter, and releases the callback either way.
   */
  static final class Callback extends Node implements Registration {
    private static final VarHandle ACTION;

    static {
      try {
        ACTION =
            MethodHandles.lookup().findVarHandle(Callback.class, "action", Runnable.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    private volatile Runnable action;
    private final boolean inline;

    Callback(Runnable action, boolean inline) {
      this.action = action;
      this.inline = inline;
    }

    @Override
    boolean isLive() {
      return action != null;
    }

    void fire(boolean onTimerThread) {
      Runnable a = (Runnable) ACTION.getAndSet(this, null);
      if (a == null) {
        return;
      }
      if (onTimerThread && !inline) {
        Callbacks.runAsync(a);
      } else {
        Callbacks.runReporting(a);
      }
    }

    @Override
    public boolean stop() {
      return action != null && ACTION.getAndSet(this, null) != null;
    }
  }
}
