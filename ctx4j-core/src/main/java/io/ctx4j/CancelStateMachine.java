package io.ctx4j;

import io.ctx4j.internal.Callbacks;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.internal.TimerThread;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Objects;
import java.util.concurrent.locks.LockSupport;

/**
 * The cancel state machine: every {@link CancelableContext} is one ({@link DeadlineContext} adds a
 * timer). All of its state is one volatile field, {@code state}; everything else is final or set
 * once.
 *
 * <h2>States</h2>
 *
 * <pre>
 * state        | done? | who answers isDone/err/cause             | own stack of nodes
 * -------------+-------+------------------------------------------+----------------------------
 * UNREGISTERED | no(*) | the run of UNREGISTERED ancestors, up to | empty: nothing is pushed
 *              |       | the first that is not (authoritative)    | before registering (inv. 2)
 * EMPTY        | no    | this field                               | empty
 * Node         | no    | this field                               | the top of a Treiber stack
 * DoneState    | yes   | this field: the final error and cause    | sealed, taken by the canceller
 *
 * (*) unless an ancestor of that run is done: the first look that finds it makes its DoneState
 *     ours (transition 3) before answering.
 * Starts UNREGISTERED when the cancel source is a CancelStateMachine (registration is lazy), else
 * EMPTY (no cancel source, or a custom one, which the factory registers with at once).
 *
 *                (1) register           (2) push             (2) push
 *   UNREGISTERED -------------> EMPTY -------------> Node <-----------+
 *        |                        |                   |  |             |
 *        |                        |                   |  +-------------+
 *        | (3) cancel, or a look  | (4) cancel        | (4) cancel
 *        |  finds a done ancestor |                   |
 *        v                        v                   v
 *   +-------------------------------------------------------------+
 *   | DoneState (final error and cause): no transition leaves it  |
 *   +-------------------------------------------------------------+
 * </pre>
 *
 * <p>Each transition is one CAS of {@code state}, and that CAS is the moment the operation takes
 * effect. (1) register: our {@link ChildLink} is pushed on the cancel source's stack first, then
 * {@code UNREGISTERED -> EMPTY}; whoever wins that CAS owns the link, a loser clears its own. (2)
 * push (a child link, a waiter, a callback): {@code EMPTY|Node -> Node}. (3) and (4) complete:
 * {@code any -> DoneState}, which in the same step seals the stack and takes it.
 *
 * <h2>Invariants</h2>
 *
 * <ol>
 *   <li>A {@code DoneState} is final: every write of {@code state} is from a live value (a CAS,
 *       or a plain store while nobody else can see the context).
 *   <li>{@code UNREGISTERED} implies that the cancel source is a {@code CancelStateMachine} and
 *       that nothing was ever pushed on our stack (push registers first).
 *   <li>Registered means reachable: once our state has left {@code UNREGISTERED} with a ctx4j
 *       cancel source, our link is on that source's stack or the source is done (then we are, or
 *       take its state). So the cancel source of a registered context is never {@code
 *       UNREGISTERED} itself: the run above registers first, top-down.
 *   <li>Every pushed node is handled exactly once: by the canceller whose CAS to a {@code
 *       DoneState} takes it, or, when the push fails because the state already is one, by the
 *       pusher.
 *   <li>The {@code DoneState} is published before anything is notified: a woken waiter, a running
 *       callback and a notified child all see it; {@code err() != null} if and only if done.
 *   <li>An answer once given never changes, and a context ends with its own cancellation or with
 *       the one it inherits, whichever came first, never a third: a look that finds a done
 *       ancestor fixes its {@code DoneState} into every context of the run between, top-down,
 *       before anyone acts on it.
 *   <li>{@code link} is written once, by the winner of transition (1) or by the factory's
 *       registration with a custom source; a pushed link whose registration lost is dead.
 *   <li>Every value a {@link Node#next} field ever holds leads to every node below it that is still
 *       live (the proof is at the field), so no sweep loses a registration.
 * </ol>
 *
 * Each invariant is checked by an {@code assert} where it must hold (the tests run with {@code
 * -ea}; without it the checks cost nothing).
 *
 * <h2>Why it is built this way</h2>
 *
 * <p><b>Order of cancellation.</b> The canceller (1) CASes {@code state} from the stack it read to
 * the {@code DoneState}: in one step the context is done, sealed against new registrations and its
 * stack taken; (2) walks those nodes: children are CASed done the same way (their stacks queued),
 * waiters unparked, callbacks collected; (3) repeats for queued stacks with an explicit work list,
 * never recursion, so chains a million deep are fine; (4) runs the callbacks, each guarded, once
 * the whole subtree is marked done. When {@code cancel()} returns {@code true} the whole subtree is
 * done. {@code err()} is one volatile read and a comparison, with no lock.
 *
 * <p><b>Lazy registration.</b> A plain {@code withCancel} child of a ctx4j context starts {@code
 * UNREGISTERED}: creating it writes nothing to the parent, so children created and cancelled under
 * a shared parent never contend on it, and building a chain costs one allocation a link, as in
 * grpc-java. It registers when something is first pushed on its own stack (a waiter, a callback, a
 * child that registers). Until then a question walks up the run of unregistered ancestors, at most
 * {@link BaseContext#MAX_WALK} of them; a longer walk registers the context asked instead, so the
 * next question is one read. Timers and children of custom contexts register at once, so a
 * parent's cancellation stops their timers and custom contexts are asked only once.
 *
 * <p><b>Detaching and leaks.</b> Cancelling a child by hand clears {@code link.child}, which drops
 * the parent's only reference to it at once (no lock on the parent, no map: golang/go#47806). The
 * dead link stays in the parent's stack until swept: a push skips dead nodes at the top, and every
 * so many pushes (about as many as there were live nodes at the last sweep) a sweep unlinks dead
 * nodes deeper down, so dead links stay within a constant factor of the live ones, amortised O(1)
 * per push.
 *
 * <p><b>Custom sources that break.</b> A child of a custom source ends once the source runs its
 * callback, whatever the source's {@code err()} and {@code cause()} then do: if either throws, the
 * child ends canceled with no cause of its own. An exception is dropped; an {@code Error} is
 * rethrown once the child has ended ({@link #cancelFrom}). A source found done at creation is asked
 * before there is a child: its {@code Error} reaches the factory's caller, and no child is made.
 *
 * <p><b>Callbacks and threads.</b> Callbacks never run under a lock. User callbacks fired from the
 * timer thread are handed to ctx4j's callback threads instead ({@code internal.Async}: virtual
 * threads on JDK 21+, a bounded pool on 17), so a slow one cannot stall deadlines.
 */
sealed class CancelStateMachine extends CancelableContext permits DeadlineContext {
  private static final int MIN_SWEEP_INTERVAL = 16;

  /** {@code state}: live, not registered with its ctx4j cancel source; ask the ancestors. */
  private static final Object UNREGISTERED = new Marker("UNREGISTERED");

  /**
   * {@code state}: live, with an empty stack, and authoritative (registered, or nothing ctx4j
   * above to ask): checking it is one load and one comparison.
   */
  private static final Object EMPTY = new Marker("EMPTY");

  /** What {@link #complete} returns when another thread made the context done first. */
  private static final Object ALREADY_DONE = new Marker("ALREADY_DONE");

  private static final VarHandle STATE;

  static {
    try {
      STATE =
          MethodHandles.lookup().findVarHandle(CancelStateMachine.class, "state", Object.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** The context we were derived from, for {@code toString}. Set at construction. */
  private final Context parent;

  /**
   * Where our cancellation comes from: the nearest cancelable ctx4j ancestor, a custom ancestor, or
   * null when nothing can cancel us (a root-level context). Set at construction, never changes.
   */
  private final Context cancelSource;

  /**
   * Our entry in the cancel source's stack, or our registration with a custom source. Null while
   * {@code UNREGISTERED} and for a root-level context; written once (invariant 7) by the winner of
   * transition (1), or by the factory for a custom source; its {@code child} is cleared when we are
   * cancelled by hand, which lets the source drop us.
   */
  private volatile ChildLink link;

  /**
   * {@code UNREGISTERED}, {@code EMPTY}, the top {@link Node} or the {@link DoneState}: see the
   * table above. Written only by CAS after construction. The constructor's store is plain: nobody
   * else can see the context yet, and whoever gets it later normally gets it through a
   * happens-before edge (the factory's return, a volatile field); a reader that got it through a
   * data race and still sees null is answered as the initial state (see {@link #doneState}).
   */
  private volatile Object state;

  /**
   * Pushes left before the next sweep. Racy on purpose: a lost update only moves a sweep; starts at
   * {@link #MIN_SWEEP_INTERVAL}, reset after each sweep to the number of live nodes it found.
   */
  private int sweepCountdown = MIN_SWEEP_INTERVAL;

  CancelStateMachine(
      Context parent, InheritedSettings settings, ValueContext values, Context cancelSource) {
    super(settings, values);
    this.parent = parent;
    this.cancelSource = cancelSource;
    STATE.set(this, cancelSource instanceof CancelStateMachine ? UNREGISTERED : EMPTY);
  }

  // ------------------------------------------------------------------------------ Context

  @Override
  public final ContextException err() {
    Object s = state;
    if (s == DoneState.CANCELED) {
      return Context.CANCELED; // the usual outcome: answered without a second, dependent load
    }
    DoneState d = doneState(s);
    return d == null ? null : d.err;
  }

  @Override
  public final boolean isDone() {
    return doneState(state) != null;
  }

  @Override
  public final Throwable cause() {
    DoneState d = doneState(state);
    return d == null ? null : d.cause;
  }

  /**
   * The one question, "are we done, and how": our final state, own or inherited; null while live.
   * Takes the value of {@code state} the caller just read, so that a check costs one volatile read.
   */
  private DoneState doneState(Object s) {
    if (s == EMPTY) {
      return null;
    }
    if (s == UNREGISTERED) {
      DoneState inherited = doneAncestorState();
      if (inherited == null) {
        return null; // live, as of our read of s: every ancestor read after it was live too
      }
      // Make it ours before anyone acts on it (invariant 6): otherwise our own cancel, decided just
      // before the ancestor's and landing just after this look, could replace the answer given.
      cancel(inherited, false);
      Object now = state;
      assert now instanceof DoneState : "invariant 1: a context that took a state keeps one";
      return (DoneState) now;
    }
    if (s instanceof DoneState) {
      return (DoneState) s;
    }
    if (s == null) {
      // Only through a data race: this context reached the thread without a happens-before edge
      // and the constructor's plain store is not visible yet, though the final fields are. Answer
      // as the initial state would.
      return cancelSource instanceof CancelStateMachine ? doneState(UNREGISTERED) : null;
    }
    assert s instanceof Node : s;
    return null;
  }

  /**
   * For an {@code UNREGISTERED} context: the {@code DoneState} of the nearest done context up the
   * run of {@code UNREGISTERED} ones above, fixed into every context between (invariant 6); null if
   * the first context that is not {@code UNREGISTERED} is live. A run longer than {@link
   * BaseContext#MAX_WALK} registers us instead and answers from our own state.
   */
  private DoneState doneAncestorState() {
    CancelStateMachine c = (CancelStateMachine) cancelSource; // invariant 2
    int steps = 0;
    Object cs;
    for (; ; ) {
      cs = c.state;
      if (cs == EMPTY) {
        return null; // the usual case, a live parent with nothing registered: no type check
      }
      if (cs != UNREGISTERED) {
        break; // authoritative: a stack (live) or a DoneState
      }
      if (++steps > MAX_WALK) {
        ensureRegistered();
        Object own = state;
        assert own != UNREGISTERED : "transition 1 done";
        return doneState(own);
      }
      c = (CancelStateMachine) c.cancelSource;
    }
    if (!(cs instanceof DoneState)) {
      return null;
    }
    DoneState found = (DoneState) cs;
    if (steps > 0) {
      ArrayList<CancelStateMachine> between = new ArrayList<>(steps);
      for (CancelStateMachine x = (CancelStateMachine) cancelSource;
          x != c;
          x = (CancelStateMachine) x.cancelSource) {
        between.add(x);
      }
      for (int i = between.size() - 1; i >= 0; i--) {
        CancelStateMachine x = between.get(i);
        x.cancel(found, false); // its cancel source is done now, so this does not walk further
        Object xs = x.state;
        assert xs instanceof DoneState : "invariant 6: fixed top-down";
        found = (DoneState) xs;
      }
    }
    return found;
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
      doneWinsOverInterrupt(this);
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
          doneWinsOverInterrupt(this);
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

  @Override
  public final boolean await(Duration timeout) throws InterruptedException {
    Objects.requireNonNull(timeout, "timeout");
    if (isDone()) {
      return true;
    }
    if (Thread.interrupted()) {
      doneWinsOverInterrupt(this);
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
          doneWinsOverInterrupt(this);
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
    return cancel(DoneState.CANCELED, true);
  }

  @Override
  public final boolean cancel(Throwable cause) {
    return cancel(DoneState.canceled(cause), true);
  }

  @Override
  public final void close() {
    cancel(DoneState.CANCELED, true);
  }

  // ---------------------------------------------------------------------------- registration

  /**
   * Registers now if registration is due and not yet done: with a ctx4j cancel source, transition
   * (1) for us and, first, for the run of {@code UNREGISTERED} ancestors above (invariant 3); with
   * a custom one, its {@code onDone}. Called by the factories for contexts that must hear at once
   * (timers, children of custom contexts), and before anything is pushed on our stack. Cheap once
   * registered.
   */
  final void ensureRegistered() {
    if (state != UNREGISTERED) {
      Context up = cancelSource;
      if (up != null && !(up instanceof CancelStateMachine) && link == null
          && !(state instanceof DoneState)) {
        attachCustom(up); // only from the factory, before anyone else can see us
      }
      return;
    }
    CancelStateMachine p = (CancelStateMachine) cancelSource;
    if (p.state == UNREGISTERED) {
      ArrayList<CancelStateMachine> run = new ArrayList<>();
      for (CancelStateMachine x = p;
          x.state == UNREGISTERED;
          x = (CancelStateMachine) x.cancelSource) {
        run.add(x);
      }
      for (int i = run.size() - 1; i >= 0; i--) {
        CancelStateMachine x = run.get(i);
        x.registerWith((CancelStateMachine) x.cancelSource);
      }
    }
    registerWith(p);
    assert state != UNREGISTERED : "transition 1 is taken by us, another thread or a cancel";
  }

  /** Transition (1) with {@code p}, our cancel source, which is registered, root-level or done. */
  private void registerWith(CancelStateMachine p) {
    assert p.state != UNREGISTERED : "invariant 3: the run above registers first, top-down";
    if (state != UNREGISTERED) {
      return; // another thread registered us, or we are done
    }
    Object ps = p.state;
    if (ps instanceof DoneState) {
      takeState((DoneState) ps); // the source finished first: no link needed
      return;
    }
    ChildLink l = new ChildLink(this);
    if (!p.pushNode(l)) {
      l.child = null;
      cancel((DoneState) p.state, false); // the source finished first: take its state
      return;
    }
    // Our link is on p's stack: p notifies us from now on, so our own field is authoritative.
    if (STATE.compareAndSet(this, UNREGISTERED, EMPTY)) {
      assert link == null : "invariant 7: link is written once";
      link = l;
      if (state instanceof DoneState) {
        l.child = null; // cancelled by hand just now, perhaps before the detach could see the link
      }
    } else {
      l.child = null; // another thread registered us first, or we are done: this link is surplus
    }
  }

  /** An {@code UNREGISTERED} context takes a done ancestor's state; its stack is empty. */
  private void takeState(DoneState d) {
    if (STATE.compareAndSet(this, UNREGISTERED, d)) {
      afterDone();
    }
  }

  /** Registers with a custom cancel source, from the factory, before anyone else can see us. */
  private void attachCustom(Context custom) {
    ForeignLink fl = new ForeignLink(custom, this);
    link = fl;
    if (custom.isDone()) {
      fl.child = null;
      cancelFrom(custom); // an Error it rethrows reaches the factory's caller: no child returned
      return;
    }
    Registration r = custom.onDone(fl);
    if (r == null) {
      fl.child = null;
      throw CoreInternals.nullRegistration(custom);
    }
    fl.registration = r;
    if (fl.child == null) {
      stopQuietly(r); // cancelled while registering: withdraw
    }
  }

  /**
   * Transition (4) for a child of {@code custom}, its cancel source, which is done: takes the state
   * {@code custom} reports ({@link DoneState#from}). If its {@code err()} or {@code cause()} throws
   * an {@link Error}, this context ends anyway, canceled with no cause of its own, and then the
   * Error is rethrown: to the code that ran our callback, or through the factory to its caller.
   */
  private void cancelFrom(Context custom) {
    try {
      cancel(DoneState.from(custom), false);
    } catch (Error e) {
      // Not ours to keep (an AssertionError of a broken implementation, a StackOverflowError), so
      // it goes on; but it must not cost the cancellation, or this context and everything below it
      // would stay live forever. Caught here, where there is a child to end, not in from(): both
      // callers are cold, and a handler costs nothing until something is thrown. If the Error came
      // from cancel itself after its CAS, this second cancel finds the context done already.
      cancel(DoneState.CANCELED, false);
      throw e;
    }
  }

  // --------------------------------------------------------------------------- completion

  /** Made done before anyone else can see it (a deadline already past, a parent already done). */
  final void bornDone(DoneState d) {
    assert state == EMPTY && cancelSource == null : "born done only as a root-level context";
    STATE.set(this, d);
    afterDone();
  }

  /**
   * Transitions (3)/(4): moves this context to {@code d} unless already done, then notifies the
   * subtree.
   *
   * @param detach whether to drop the source's reference to us (true unless the source cancels us)
   * @return whether this call made the context done
   */
  final boolean cancel(DoneState d, boolean detach) {
    Object taken = complete(d);
    if (taken == ALREADY_DONE) {
      return false;
    }
    assert state instanceof DoneState : "invariant 1";
    if (detach) {
      detach();
    }
    afterDone();
    if (taken != null) {
      propagate((Node) taken, d); // most contexts end with nothing registered: skip the call
    }
    return true;
  }

  /**
   * Moves the state to {@code d}, sealing the stack.
   *
   * @return the stack taken (null if empty), or {@link #ALREADY_DONE} if another thread won
   */
  private Object complete(DoneState d) {
    for (; ; ) {
      Object s = state;
      if (s instanceof DoneState) {
        return ALREADY_DONE;
      }
      if (s == UNREGISTERED) {
        // If an ancestor is done we already are, by its cancellation, which came first and so
        // wins (invariant 6): record it and refuse this one.
        DoneState first = doneAncestorState();
        if (first != null) {
          takeState(first);
          continue;
        }
      }
      if (STATE.compareAndSet(this, s, d)) {
        return s instanceof Node ? s : null; // invariant 2: UNREGISTERED has an empty stack
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

  /**
   * Stops a registration (our entry with a custom source, a timer) in the middle of a cancellation:
   * one that throws is reported, never propagated, so the cancellation still reaches the children,
   * waiters and callbacks.
   */
  static void stopQuietly(Registration r) {
    try {
      r.stop();
    } catch (Throwable t) {
      Callbacks.report(t);
    }
  }

  /** Hook for subclasses, run once by the thread that made this context done. */
  void afterDone() {}

  /** Notifies every node of {@code stack} and, through child links, of the subtree below it. */
  private static void propagate(Node stack, DoneState d) {
    ArrayDeque<Node> work = null;
    ArrayList<Callback> callbacks = null;
    Node n = stack;
    for (; ; ) {
      for (; n != null; n = n.next) {
        if (n instanceof ChildLink) {
          CancelStateMachine child = ((ChildLink) n).child;
          if (child != null) {
            Object taken = child.complete(d);
            assert child.state instanceof DoneState : "invariant 5: children first, then the rest";
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

  // --------------------------------------------------------------------------------- the stack

  /**
   * Transition (2): pushes {@code n} unless this context is done, registering first.
   *
   * @return false if done before the push; the caller then handles {@code n} itself (invariant 4)
   */
  final boolean push(Node n) {
    ensureRegistered();
    return pushNode(n);
  }

  /** {@link #push} for a context known not to be {@code UNREGISTERED}. */
  private boolean pushNode(Node n) {
    int budget = sweepCountdown - 1;
    for (; ; ) {
      Object s = state;
      if (s instanceof DoneState) {
        return false;
      }
      assert s != UNREGISTERED : "invariant 2: nothing is pushed before registering";
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
        p.next = q.next; // see Node.next for why this plain write loses no live node
        assert !q.isLive() : "invariant 8 needs this: a dead node never comes back to life";
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

  /** The name of the current state in the table above, for tests of the state machine. */
  final String stateName() {
    Object s = state;
    return s instanceof Marker ? s.toString() : s instanceof Node ? "Node" : "DoneState";
  }

  // --------------------------------------------------------------------------------- BaseContext

  @Override
  final Context parent() {
    return parent;
  }

  @Override
  final Context cancelSourceForChildren() {
    return this;
  }

  @Override
  void appendLayer(StringBuilder sb) {
    sb.append(".WithCancel");
  }

  // --------------------------------------------------------------------------------- nodes

  /** A named marker value of {@code state}; the name is for debugging. */
  private static final class Marker {
    private final String name;

    Marker(String name) {
      this.name = name;
    }

    @Override
    public String toString() {
      return name;
    }
  }

  /** An entry in a context's notification stack. Once dead ({@link #isLive} false), always dead. */
  abstract static class Node {
    /**
     * The next older node. A plain field, and safe as one; the proof, in the terms of invariant 8.
     *
     * <p>Writes: (a) the pusher writes it before the CAS that publishes the node, so every reader
     * that finds the node through {@code state} sees it; (b) a sweep, racily, writes {@code p.next
     * = q.next} for a {@code q} it read from {@code p.next} and found dead. Reads: pushes (skipping
     * dead nodes at the top), sweeps, the canceller's walk and the counters, all racing with (b).
     *
     * <p>Claim: every value {@code p.next} ever holds reaches, by {@code next} links, every node
     * older than {@code p} that is live at any later time. By induction over writes: (a) holds
     * because the pusher starts from the top it read and skips only dead nodes through values
     * that, by induction, reach every live one. For (b), {@code q} was a value of {@code p.next},
     * so by induction it reaches every node older than {@code p} that was live then; links only go
     * to older nodes, so the nodes between {@code p} and {@code q} were dead then and stay dead
     * (liveness only goes from live to dead). So every node older than {@code p} that can still be
     * live is {@code q} (dead) or older than {@code q}, and {@code q.next} (any value, by
     * induction) reaches it. Concurrent sweeps may undo each other's unlinking (a dead node
     * reappears until the next sweep), never link past a live one.
     *
     * <p>Racy reads are safe too: a reference is read whole, and any node reached through a {@code
     * next} link is older than the top the reader got from {@code state}; every push CAS up to
     * that top happens-before the reader's volatile read of it, so the node's fields are seen as
     * written before it was pushed. A reader that sees an old value of a {@code next} field still
     * reaches every live node by the claim, and visits each node at most once since links only go
     * older. So a volatile field with CAS unlinking (the model of {@code ConcurrentLinkedQueue})
     * would only add a fence to every push and every walk. The jcstress test {@code
     * SweepVsCancelTest} races two sweeping pushes, a stop and a cancel and checks that every
     * callback runs exactly once or is stopped.
     */
    Node next;

    abstract boolean isLive();
  }

  /** A cancelable child registered with a ctx4j source; dead once {@code child} is cleared. */
  static class ChildLink extends Node {
    volatile CancelStateMachine child;

    ChildLink(CancelStateMachine child) {
      this.child = child;
    }

    @Override
    final boolean isLive() {
      return child != null;
    }
  }

  /**
   * A cancelable child registered with a custom source through its {@code onDone}.
   *
   * <p><b>Depth.</b> A custom source usually runs this callback inside the cancellation that ends
   * it (a wrapper of a ctx4j context hands it to that context's {@code onDone}), so in a chain that
   * alternates custom and ctx4j contexts each link's cancellation would nest inside the one above,
   * out of reach of the explicit work list of {@link #propagate}: a few thousand levels overflow
   * the stack, and the StackOverflowError was lost with the callback's report, leaving everything
   * below live. So these callbacks nest at most {@link #MAX_NESTED} deep on a thread; deeper ones
   * are queued and run, in order, by the outermost before it returns, so whoever ended the chain's
   * top still returns with everything below it done. Only children of custom contexts come here.
   */
  static final class ForeignLink extends ChildLink implements Runnable {
    /** How deep these callbacks nest on one thread before the next are queued. */
    static final int MAX_NESTED = 32;

    private static final ThreadLocal<Trampoline> TRAMPOLINE =
        ThreadLocal.withInitial(Trampoline::new);

    private final Context foreign;
    volatile Registration registration;

    ForeignLink(Context foreign, CancelStateMachine child) {
      super(child);
      this.foreign = foreign;
    }

    @Override
    public void run() {
      if (child == null) {
        return;
      }
      Trampoline t = TRAMPOLINE.get();
      if (t.depth >= MAX_NESTED) {
        t.queued.add(this);
        return;
      }
      boolean outermost = t.depth == 0 && !t.draining;
      t.depth++;
      Throwable failure = null;
      try {
        CancelStateMachine c = child;
        if (c != null) {
          c.cancelFrom(foreign);
        }
      } catch (RuntimeException | Error e) {
        failure = e;
      } finally {
        t.depth--;
      }
      if (outermost) {
        failure = t.drain(failure);
      }
      if (failure instanceof Error) {
        throw (Error) failure;
      }
      if (failure != null) {
        throw (RuntimeException) failure;
      }
    }
  }

  /** The callbacks of {@link ForeignLink} queued on one thread past its nesting bound. */
  private static final class Trampoline {
    final ArrayDeque<ForeignLink> queued = new ArrayDeque<>();
    int depth;
    boolean draining;

    /**
     * Runs the queued callbacks, and those they queue, until none is left; the first failure (what
     * {@code cancelFrom} rethrows after ending its child) is returned, the others suppressed on it.
     */
    Throwable drain(Throwable failure) {
      draining = true;
      try {
        for (ForeignLink next; (next = queued.poll()) != null; ) {
          try {
            next.run();
          } catch (RuntimeException | Error e) {
            if (failure == null) {
              failure = e;
            } else if (failure != e) {
              failure.addSuppressed(e);
            }
          }
        }
      } finally {
        draining = false;
      }
      return failure;
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
