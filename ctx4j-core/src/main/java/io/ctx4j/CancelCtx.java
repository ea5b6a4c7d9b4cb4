package io.ctx4j;

import io.ctx4j.internal.Callbacks;
import io.ctx4j.internal.TimerThread;
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
 * <p><b>State.</b> One volatile field, {@code state}, holds everything: {@code null} or the top
 * {@link Node} of a Treiber stack while the context is live (links to cancelable children, parked
 * waiters, callbacks), and the {@link Done} (error + cause) once it is done. It changes to a {@code
 * Done} exactly once, by CAS, so the first cancellation wins, and {@code err()} is one volatile read
 * and a type check, with no lock and nothing shared between contexts.
 *
 * <p><b>Order of cancellation.</b> The canceller (1) CASes {@code state} from the stack it read to
 * the {@code Done}: in one step it makes the context done, seals it against new registrations and
 * takes every node registered so far; (2) walks those nodes: children are CASed done the same way
 * (their stacks queued), waiters unparked, callbacks collected; (3) repeats for queued stacks with an
 * explicit work list, never recursion, so chains a million deep are fine; (4) runs the callbacks,
 * each guarded, once the whole subtree is marked done. When {@code cancel()} returns {@code true} the
 * whole subtree is done. Since the error is published before anything is notified, a non-null {@code
 * err()} always means "done" and a woken waiter always sees it.
 *
 * <p><b>No lost registration.</b> A registration is a CAS of {@code state} from a stack to a longer
 * stack; it fails once the state is a {@code Done}, and the registrant then handles its own node (a
 * callback runs at once, a child is born done). A node pushed before the canceller's CAS is in the
 * stack the canceller takes. Either way every node is handled exactly once.
 *
 * <p><b>Lazy registration.</b> A plain {@code withCancel} child does not register with its canceler
 * when created, and creating it reads nothing: until something is pushed on its own stack (a waiter,
 * a callback, a live timer below it) it answers questions from its own state and then its
 * ancestors', walking up the run of unregistered contexts to the first one that is registered or
 * root-level (whose own state is authoritative). So children created and cancelled under a shared
 * parent never write to the parent, and building a chain costs one allocation a link, as in
 * grpc-java, while a check stays a read or two. Invariant: a registered context's canceler is
 * registered (or root-level, or done); {@link #ensureRegistered} keeps it by registering the run
 * above first, top-down, iteratively. A walk longer than {@link #MAX_WALK} registers the context
 * asked instead, so the next question is one read. When a walk finds a done ancestor, it fixes that
 * state into every context between, top-down, by the same CAS their own cancels use, before
 * anyone acts on it: an answer once given never changes, and a context never ends with another
 * cause than the parent it inherited from. Timers and children of custom contexts register at
 * once, so a parent's cancellation stops their timers and custom contexts are asked only once.
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
 * timer thread are handed to ctx4j's callback threads instead ({@code internal.Async}: virtual
 * threads on JDK 21+, a bounded pool on 17), so a slow one cannot stall deadlines.
 */
sealed class CancelCtx extends CancelableContext permits TimerCtx {
  private static final int MIN_SWEEP_INTERVAL = 16;
  /** How far a question walks up unregistered ancestors before it registers instead. */
  static final int MAX_WALK = 8;

  private static final VarHandle STATE;
  private static final VarHandle LINK;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      STATE = l.findVarHandle(CancelCtx.class, "state", Object.class);
      LINK = l.findVarHandle(CancelCtx.class, "link", ChildLink.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final Context parent;
  /** Where cancellation comes from: a ctx4j context, a custom one, or null when nothing can cancel. */
  final Context canceler;
  /**
   * Our entry in the canceler's stack (or our registration with a custom canceler), set once by CAS
   * when we register; null while unregistered. See "Lazy registration" in the class notes.
   */
  private volatile ChildLink link;

  /** Null or the top {@link Node} while live; the {@link Done} once done. See the class notes. */
  private volatile Object state;
  /** Pushes left before the next sweep. Racy on purpose: a lost update only moves a sweep. */
  private int sweepCountdown = MIN_SWEEP_INTERVAL;

  CancelCtx(Context parent, Env env, ValueCtx values, Context canceler) {
    super(env, values);
    this.parent = parent;
    this.canceler = canceler;
    if (!(canceler instanceof CancelCtx)) {
      // A plain store: a thread that still sees null takes the slow path and finds the same answer.
      STATE.set(this, EMPTY);
    }
  }

  /**
   * The state of a live context with an empty stack whose done-ness is its own (no ctx4j canceler
   * to consult): checking it is one load and one comparison, the cost of a plain volatile read.
   */
  private static final Object EMPTY = new Object();

  // ------------------------------------------------------------------------------ Context

  @Override
  public final ContextException err() {
    Object s = state;
    if (s == Done.CANCELED) {
      return Context.CANCELED; // the usual outcome: answered without a second, dependent load
    }
    Done d = doneState(s);
    return d == null ? null : d.err;
  }

  @Override
  public final boolean isDone() {
    return doneState() != null;
  }

  @Override
  public final Throwable cause() {
    Done d = doneState();
    return d == null ? null : d.cause;
  }

  /**
   * Our terminal state, own or, while unregistered, the canceler's: an unregistered context's
   * canceler is registered (or a root-level context), so its state is authoritative for both.
   */
  private Done doneState() {
    return doneState(state);
  }

  /** {@link #doneState()} given the value of {@code state} just read. */
  private Done doneState(Object s) {
    if (s == EMPTY) {
      return null;
    }
    if (s instanceof Done) {
      return (Done) s;
    }
    Context up = canceler; // final: no second volatile read for a context with no ctx4j canceler
    if (!(up instanceof CancelCtx) || link != null) {
      return null; // nothing can cancel us, or we are registered and the canceler tells us
    }
    Done inherited = inherited();
    if (inherited == null) {
      return ownDone(); // still live, or we registered (or were cancelled) meanwhile
    }
    // Make it ours before anyone acts on it: otherwise our own cancel, decided just before the
    // canceler's and landing just after this read, could replace the answer a caller already saw.
    cancel(inherited, false);
    return ownDone();
  }

  /**
   * For an unregistered context: the done state of the nearest done context up the run of
   * unregistered ones above it, fixed into every context of the run below that one (top-down, so
   * each takes the final state of the one above: everyone who looks agrees, whatever races with
   * the look); null if none is done before a registered or root-level context, which is
   * authoritative. A run longer than {@link #MAX_WALK} registers us instead (and returns null), so
   * that the next question costs one read.
   */
  private Done inherited() {
    CancelCtx c = (CancelCtx) canceler;
    int steps = 0;
    Object cs;
    for (; ; ) {
      cs = c.state;
      if (cs == EMPTY) {
        return null; // the usual case, a live parent with nothing registered: no type check needed
      }
      if (cs instanceof Done) {
        break;
      }
      if (c.link != null || !(c.canceler instanceof CancelCtx)) {
        return null;
      }
      if (++steps > MAX_WALK) {
        ensureRegistered();
        return null;
      }
      c = (CancelCtx) c.canceler;
    }
    Done found = (Done) cs;
    if (steps > 0) {
      ArrayList<CancelCtx> between = new ArrayList<>(steps);
      for (CancelCtx x = (CancelCtx) canceler; x != c; x = (CancelCtx) x.canceler) {
        between.add(x);
      }
      for (int i = between.size() - 1; i >= 0; i--) {
        CancelCtx x = between.get(i);
        x.cancel(found, false); // its canceler is done now, so this cannot walk further
        found = x.ownDone();
      }
    }
    return found;
  }

  /** Only our own field: what a registered (or root-level) context knows. */
  private Done ownDone() {
    Object s = state;
    return s instanceof Done ? (Done) s : null;
  }

  @Override
  public final Registration onDone(Runnable callback) {
    Callback n = new Callback(Objects.requireNonNull(callback, "callback"), false);
    if (!push(n)) {
      n.fire(false);
    }
    return n;
  }

  /** Internal registration whose action runs inline even on the timer thread (it must not block). */
  final Registration onDoneInline(Runnable action) {
    Callback n = new Callback(action, true);
    if (!push(n)) {
      n.fire(false);
    }
    return n;
  }

  @Override
  public final void await() throws InterruptedException {
    if (isDone()) {
      return;
    }
    if (Thread.interrupted()) {
      doneWinsOverInterrupt();
      return;
    }
    Waiter w = new Waiter(Thread.currentThread());
    if (!push(w)) {
      return;
    }
    try {
      while (!isDone()) {
        LockSupport.park(this);
        if (Thread.interrupted()) {
          doneWinsOverInterrupt();
          return;
        }
      }
    } finally {
      w.thread = null;
    }
  }

  /**
   * Decides a wait whose thread was interrupted, the status just consumed: if the context is done
   * (the cancel may have landed between the wake-up and the check), done wins: the status is set
   * again and the caller returns the context's outcome; otherwise {@code InterruptedException}.
   */
  static void doneWinsOverInterrupt(Context ctx) throws InterruptedException {
    if (!ctx.isDone()) {
      throw new InterruptedException();
    }
    Thread.currentThread().interrupt();
  }

  private void doneWinsOverInterrupt() throws InterruptedException {
    doneWinsOverInterrupt(this);
  }

  @Override
  public final boolean await(Duration timeout) throws InterruptedException {
    Objects.requireNonNull(timeout, "timeout");
    if (isDone()) {
      return true;
    }
    if (Thread.interrupted()) {
      doneWinsOverInterrupt();
      return true;
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
      while (!isDone()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        LockSupport.parkNanos(this, left);
        if (Thread.interrupted()) {
          doneWinsOverInterrupt();
          return true;
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

  /**
   * Makes sure the canceler will notify us, registering if we have not yet; needed before anything
   * is pushed on our own stack. Cheap once registered. Called by the factory for contexts that must
   * be told at once (timers, children of custom contexts) and for the parent of every new child.
   */
  final void ensureRegistered() {
    Context up = canceler;
    if (up == null || link != null || state instanceof Done) {
      return;
    }
    if (!(up instanceof CancelCtx)) {
      attachForeign(up);
      return;
    }
    CancelCtx p = (CancelCtx) up;
    if (p.needsRegistration()) {
      // Keep the invariant (a registered context's canceler is registered) by registering the run
      // of unregistered ancestors first, top-down, with a list rather than recursion.
      ArrayList<CancelCtx> run = new ArrayList<>();
      for (CancelCtx x = p; x.needsRegistration(); x = (CancelCtx) x.canceler) {
        run.add(x);
      }
      for (int i = run.size() - 1; i >= 0; i--) {
        CancelCtx x = run.get(i);
        x.registerWith((CancelCtx) x.canceler);
      }
    }
    registerWith(p);
  }

  private boolean needsRegistration() {
    return link == null && canceler instanceof CancelCtx && !(state instanceof Done);
  }

  /** Registers with {@code p}, which is registered, root-level or done (or being registered). */
  private void registerWith(CancelCtx p) {
    if (link != null || state instanceof Done) {
      return;
    }
    Done first = p.ownDone();
    if (first != null) {
      cancel(first, false); // the canceler finished first: take its state, no link needed
      return;
    }
    ChildLink l = new ChildLink();
    l.child = this;
    if (!LINK.compareAndSet(this, null, l)) {
      return; // another thread registers us; whatever it pushes next is handled either way
    }
    if (!p.pushNode(l)) {
      l.child = null;
      cancel(p.ownDone(), false); // the canceler finished first: take its state, notify ours
    } else if (state instanceof Done) {
      l.child = null; // cancelled while registering: let the canceler drop the link
    }
  }

  private void attachForeign(Context foreign) {
    ForeignLink fl = new ForeignLink(foreign);
    fl.child = this;
    if (!LINK.compareAndSet(this, null, fl)) {
      return;
    }
    if (foreign.isDone()) {
      fl.child = null;
      cancel(Done.from(foreign), false);
      return;
    }
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
    // Nobody else can see us yet, so the state is still null.
    Object s = state; // null or EMPTY: nobody else can see us yet
    if (!(s instanceof Done) && STATE.compareAndSet(this, s, d)) {
      afterDone();
    }
  }

  /** Made done before anyone else can see it (a deadline already past, a parent already done). */
  final void bornDone(Done d) {
    inherit(d);
  }

  /** The terminal state (own or derived), so a child of a done context copies error and cause. */
  final Done result() {
    return doneState();
  }

  /**
   * Moves this context to {@code d} unless already done, then notifies the subtree.
   *
   * @param detach whether to drop the parent's reference to us (true unless the parent cancels us)
   */
  final boolean cancel(Done d, boolean detach) {
    Object taken = complete(d);
    if (taken == ALREADY_DONE) {
      return false;
    }
    if (detach) {
      detach();
    }
    afterDone();
    if (taken != null) {
      propagate((Node) taken, d); // most contexts end with nothing registered: skip the call
    }
    return true;
  }

  private static final Object ALREADY_DONE = new Object();

  /**
   * Moves the state to {@code d}, sealing the stack.
   *
   * @return the stack taken (possibly null), or {@link #ALREADY_DONE} if another thread won
   */
  private Object complete(Done d) {
    for (; ; ) {
      Object s = state;
      if (s instanceof Done) {
        return ALREADY_DONE;
      }
      if (s == null && link == null && canceler instanceof CancelCtx) {
        // Unregistered: if an ancestor is done we already are, by its cancellation, which came
        // first and so wins; record it and refuse this one.
        Done first = inherited();
        if (first != null) {
          if (STATE.compareAndSet(this, null, first)) {
            afterDone();
          }
          continue;
        }
      }
      if (STATE.compareAndSet(this, s, d)) {
        return s == EMPTY ? null : s;
      }
    }
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

  /** Notifies every node of {@code stack} and, through child links, of the subtree below it. */
  private static void propagate(Node stack, Done d) {
    ArrayDeque<Node> work = null;
    ArrayList<Callback> callbacks = null;
    Node n = stack;
    for (; ; ) {
      for (; n != null; n = n.next) {
        if (n instanceof ChildLink) {
          CancelCtx child = ((ChildLink) n).child;
          if (child != null) {
            Object taken = child.complete(d);
            if (taken != ALREADY_DONE) {
              child.afterDone();
              if (taken != null) {
                if (work == null) {
                  work = new ArrayDeque<>();
                }
                work.push((Node) taken);
              }
            }
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
      n = work.pop();
    }
    if (callbacks != null) {
      boolean onTimer = TimerThread.isTimerThread();
      for (int i = 0; i < callbacks.size(); i++) {
        callbacks.get(i).fire(onTimer);
      }
    }
  }

  /**
   * Pushes {@code n} unless this context is done.
   *
   * @return false if done before the push; the caller then handles {@code n} itself
   */
  final boolean push(Node n) {
    ensureRegistered();
    return pushNode(n);
  }

  /** {@link #push} for a context known to be registered, root-level or done. */
  private boolean pushNode(Node n) {
    int budget = sweepCountdown - 1;
    for (; ; ) {
      Object s = state;
      if (s instanceof Done) {
        return false;
      }
      Node first = s instanceof Node ? (Node) s : null;
      while (first != null && !first.isLive()) {
        first = first.next;
      }
      n.next = first;
      if (STATE.compareAndSet(this, s, n)) {
        break;
      }
    }
    if (budget <= 0) {
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

  private Node top() {
    Object s = state;
    return s instanceof Node ? (Node) s : null;
  }

  /** Counts live registrations: children, waiters and callbacks. For tests and diagnostics. */
  final int registrationCount() {
    int n = 0;
    for (Node x = top(); x != null; x = x.next) {
      if (x.isLive()) {
        n++;
      }
    }
    return n;
  }

  /** Counts every node in the stack, dead ones too: the memory a parent holds for its children. */
  final int nodeCount() {
    int n = 0;
    for (Node x = top(); x != null; x = x.next) {
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
