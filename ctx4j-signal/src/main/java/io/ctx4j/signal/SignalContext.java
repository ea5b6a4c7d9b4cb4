package io.ctx4j.signal;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Key;
import io.ctx4j.Registration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.StringJoiner;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * The context returned by {@link Signals#notifyContext}: done when a listed signal arrives, when
 * {@link #stop()} (or {@link #close()}) is called, or when its parent is done. Its {@code toString()}
 * follows Go's, e.g. {@code signal.NotifyContext(context.Background, [interrupt terminated])}.
 *
 * <p>It is a {@link Context} that delegates to a {@linkplain Context#withCancel cancelable child} of
 * the parent; contexts derived from it are ordinary ctx4j contexts. Thread-safe; {@code stop()} may be
 * called any number of times from any thread.
 *
 * @since 0.1
 */
public final class SignalContext implements Context, AutoCloseable {
  private final CancelableContext inner;
  private final Context parent;
  private final List<Signal> signals;
  private final List<SignalHandler> previous = new ArrayList<>();

  SignalContext(Context parent, List<Signal> signals) {
    this.parent = parent;
    this.inner = Context.withCancel(parent);
    this.signals = List.copyOf(signals);
    if (inner.isDone()) {
      return; // Go registers nothing for a parent that is already done
    }
    // Handlers are put back before the context is marked done, so whoever sees it done also sees
    // the previous handlers in place (a second Ctrl-C then ends the JVM as usual).
    SignalHandler handler =
        s -> {
          restore();
          inner.cancel(new SignalReceivedException(s.getName(), s.getNumber()));
        };
    synchronized (previous) {
      try {
        for (Signal s : this.signals) {
          previous.add(Signals.install(s, handler));
        }
      } catch (RuntimeException e) {
        restore();
        inner.cancel(e);
        throw e;
      }
    }
    // For the parent's end: runs on the parent's cancelling thread; restoring is a quick JVM call.
    inner.onDone(this::restore);
  }

  /** Puts back the handlers found at creation; idempotent, safe from any thread. */
  private void restore() {
    synchronized (previous) {
      for (int i = previous.size() - 1; i >= 0; i--) {
        Signal.handle(signals.get(i), previous.get(i));
      }
      previous.clear();
    }
  }

  /**
   * Stops diverting the signals and cancels this context: Go's {@code stop()}. Afterwards the
   * signals reach the handlers that were in place before. Idempotent.
   *
   * @return {@code true} if this call ended the context
   */
  public boolean stop() {
    restore();
    return inner.cancel();
  }

  /** Same as {@link #stop()}; for try-with-resources. Never throws. */
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
  public Optional<java.time.Instant> deadline() {
    return inner.deadline();
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
