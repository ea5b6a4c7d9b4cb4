package io.ctx4j.signal;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Key;
import io.ctx4j.Registration;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.StringJoiner;
import sun.misc.Signal;

/**
 * The context returned by {@link Signals#notifyContext}: done when a listed signal arrives, when
 * {@link #stop()} (or {@link #close()}) is called, or when its parent is done. Its {@code toString()}
 * follows Go's, e.g. {@code signal.NotifyContext(context.Background, [interrupt terminated])}.
 *
 * <p>It is a {@link Context} that delegates to a {@linkplain Context#withCancel cancelable child} of
 * the parent; contexts derived from it are ordinary ctx4j contexts, with one exception: the core
 * cannot see through a {@code Context} implemented outside it, this class included, so the
 * deadlines of contexts derived from a signal context are measured on the system clock even below
 * a {@link Context#withTimeSource} (its own {@link #deadline()} and {@link #remaining()} follow the
 * parent's). In tests with a {@link io.ctx4j.ManualTimeSource}, derive the timed contexts from a
 * {@code withTimeSource} below the signal context. Thread-safe; {@code stop()} may be
 * called any number of times from any thread. Memory consistency effects: actions of the thread
 * that calls {@code stop()}, and of the JVM before it delivers a signal, happen-before a thread
 * observes the context done.
 *
 * @since 0.1
 */
public final class SignalContext implements Context, AutoCloseable {
  private final CancelableContext inner;
  private final Context parent;
  private final List<Signal> signals;
  private final List<SignalHub> hubs;

  SignalContext(Context parent, List<Signal> signals) {
    this.parent = parent;
    this.inner = Context.withCancel(parent);
    this.signals = List.copyOf(signals);
    List<SignalHub> distinct = new ArrayList<>(signals.size());
    for (Signal s : this.signals) {
      SignalHub hub = SignalHub.of(s);
      if (!distinct.contains(hub)) {
        distinct.add(hub);
      }
    }
    this.hubs = List.copyOf(distinct);
    if (inner.isDone()) {
      return; // Go registers nothing for a parent that is already done
    }
    try {
      for (SignalHub hub : hubs) {
        hub.add(this);
      }
    } catch (Throwable e) { // an Error too: a context nobody holds must not keep taking signals
      detach();
      if (!inner.cancel(e)) {
        try {
          handOnSignalTaken();
        } catch (Throwable t) { // a custom parent's cause(): the caller still gets the refusal
          e.addSuppressed(t);
        }
      }
      throw e;
    }
    // After registering: if the parent ended meanwhile, this runs at once and unregisters. Runs on
    // the parent's cancelling thread; unregistering is a short critical section and a JVM call.
    inner.onDone(this::detach);
  }

  /**
   * After a failed registration: if a signal that arrived meanwhile ended this context, which the
   * caller never gets, hands it on ({@link SignalHub#handOn}) to whatever handler is installed now
   * (we are detached), so that it is not swallowed. A cause inherited from the parent was not ours
   * to take.
   */
  private void handOnSignalTaken() {
    Throwable cause = inner.cause();
    if (cause instanceof SignalReceivedException && !(parent.isDone() && parent.cause() == cause)) {
      SignalHub.handOn(new Signal(((SignalReceivedException) cause).signalName()));
    }
  }

  /** Unregisters from every signal; idempotent, safe from any thread, the signal's among them. */
  void detach() {
    for (SignalHub hub : hubs) {
      hub.remove(this);
    }
  }

  /**
   * Called by a hub after {@link #detach()}: the signal ends this context, its cause naming the
   * signal as this context was asked for it. {@code CHLD} and {@code CLD} (and {@code IO} and
   * {@code POLL}) are one signal with one hub, and the JDK hands the hub the name the handler was
   * last filed under, which may be the other one.
   *
   * @return whether the signal ended it; {@code false} if something else had ended it first
   */
  boolean signalled(Signal s) {
    String name = s.getName();
    for (Signal mine : signals) {
      if (mine.getNumber() == s.getNumber()) {
        name = mine.getName();
        break;
      }
    }
    return inner.cancel(new SignalReceivedException(name, s.getNumber()));
  }

  /**
   * Stops diverting the signals to this context and cancels it: Go's {@code stop()}. Once no live
   * context listens for a signal any more, the handler that was in place before the first of them
   * (normally the JVM's) is back before this method returns, whatever order the contexts end in.
   * Idempotent; may be called from any thread, also from a callback running on the JVM's signal
   * thread.
   *
   * @return {@code true} if this call ended the context
   */
  public boolean stop() {
    detach();
    return inner.cancel();
  }

  /** Same as {@link #stop()}; for try-with-resources. Throws nothing. */
  @Override
  public void close() {
    stop();
  }

  /**
   * Returns the JVM names of the signals this context listens for.
   *
   * @return an unmodifiable list, e.g. {@code [INT, TERM]}
   */
  public List<String> signals() {
    List<String> names = new ArrayList<>(signals.size());
    for (Signal s : signals) {
      names.add(s.getName());
    }
    return List.copyOf(names);
  }

  /** {@inheritDoc} */
  @Override
  public ContextException err() {
    return inner.err();
  }

  /** {@inheritDoc} */
  @Override
  public boolean isDone() {
    return inner.isDone();
  }

  /**
   * {@inheritDoc} A {@link SignalReceivedException} when a signal ended the context.
   */
  @Override
  public Throwable cause() {
    return inner.cause();
  }

  /** {@inheritDoc} */
  @Override
  public Optional<Instant> deadline() {
    return inner.deadline();
  }

  /** {@inheritDoc} Measured on the parent's time source, as the deadline is. */
  @Override
  public Optional<Duration> remaining() {
    return inner.remaining();
  }

  /** {@inheritDoc} */
  @Override
  public <T> T value(Key<T> key) {
    return inner.value(key);
  }

  /** {@inheritDoc} */
  @Override
  public Registration onDone(Runnable callback) {
    return inner.onDone(callback);
  }

  /** Go's form: {@code signal.NotifyContext(<parent>, [<signal names>])}. */
  @Override
  public String toString() {
    StringJoiner names = new StringJoiner(" ", "[", "]");
    for (Signal s : signals) {
      names.add(Signals.goName(s.getName()));
    }
    return "signal.NotifyContext(" + parent + ", " + names + ")";
  }
}
