package io.ctx4j.signal;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/**
 * The one handler of ctx4j for one signal, shared by every live {@link SignalContext} that lists it:
 * the Java form of Go's {@code os/signal} registry, which delivers a signal to every channel that
 * {@code Notify} registered for it.
 *
 * <p>Implementation notes. A signal's handler is process-global and {@code Signal.handle} swaps it
 * as a whole, so each context installing its own handler and restoring "the one it found" breaks as
 * soon as two contexts share a signal and end in another order than the reverse of their creation
 * (a stale handler of a dead context is then put back and swallows the signal for good). Instead:
 *
 * <ul>
 *   <li>State, guarded by {@code lock}: {@code live}, the contexts registered for the signal, and
 *       {@code original}, the handler found when {@code live} last went from empty to non-empty.
 *   <li>Invariant: our {@code dispatcher} is the installed handler if and only if {@code live} is
 *       not empty, and then {@code original} is what to put back. Both change together, under the
 *       lock, in {@link #add} (install on the first) and {@link #remove} (restore on the last), so
 *       contexts may end in any order, any number of times.
 *   <li>A signal takes a snapshot of {@code live} under the lock and then, outside it (the
 *       contexts' callbacks run then, and must never run under a lock), first detaches every
 *       receiver from all of its signals and only then cancels them. So when the last receiver is
 *       seen done the original handler is already back, and a second Ctrl-C ends the JVM.
 *   <li>The JDK does not pick a handler when a signal arrives: HotSpot's native handler only counts
 *       it, and the JDK's signal thread later looks the Java handler up and starts a thread to run
 *       it. So the dispatcher can run after the last context left and the original came back; and
 *       a receiver in the snapshot can be ended by a racing {@code stop()} (or its parent) before
 *       the signal cancels it. If the signal ended no receiver, it is raised again ({@link
 *       #handOn}), which hands it to whatever is installed now (normally the original) instead of
 *       dropping it: a SIGTERM racing the last {@code stop()} still ends the JVM (a native original
 *       cannot be handed a signal from Java: see {@link #handOn}). No loop: a pass hands the
 *       signal on only if something else ended every receiver of its snapshot, and it detached them
 *       all first, so a later pass sees only contexts registered since. Code outside the hub can
 *       break the invariant by putting back a dispatcher it found installed, after the last
 *       context left: a pass that finds no context then first puts back the handler the dispatcher
 *       stands for ({@link #unstick}), or the signal would come back to it for ever.
 *   <li>{@code CHLD}/{@code CLD} and {@code IO}/{@code POLL} are two names of one signal, and the
 *       JDK keeps a Java handler under the name it was registered with: every swap goes through
 *       {@link #swap}, which finds a handler filed under the other name, and every restore through
 *       {@link #putBack}, which files it under both, so none is lost and no entry keeps naming the
 *       dispatcher.
 *   <li>The JDK starts a thread per signal, so two quick signals can be dispatched at once over
 *       the same snapshot: the first to cancel a context takes the signal, the other finds every
 *       receiver already ended and hands its signal on; a second Ctrl-C then exits as usual.
 *   <li>Which contexts a signal ends is settled late, never at its arrival: at the JDK's look-up,
 *       at the snapshot, and for a signal handed on at the look-up of the copy raised. So a
 *       context registered after a signal arrived may be ended by it, and that is not a race to
 *       fix. The case that looks like one: the last context A stops as a signal arrives, and a new
 *       context B is registered at once. If the JDK looked the dispatcher up while A was live, a
 *       snapshot taken after B's registration holds B, and one taken before it holds A, which
 *       {@code stop()} ended, so the copy handed on reaches B's dispatcher if B is registered by
 *       then (else the original); if the look-up came
 *       after B's registration, the JDK itself gave the signal to B (a plain {@code Signal.handle}
 *       swap does the same). B ends with the signal in all three, and nothing a caller can observe
 *       tells them apart, nor from a signal sent just after B was registered: keeping B out would
 *       take the signal's arrival time, which the JDK does not give. What holds, and {@code
 *       SignalsTest.aSignalRacingTheLastStopAndANewContextIsTakenExactlyOnce} checks over
 *       thousands of rounds: the signal is taken exactly once, by A ({@code stop()} returns {@code
 *       false}), by B or by the original, and a B it did not end is listening. A context
 *       registered after a pass's snapshot is not ended by that pass (only, maybe, by the copy it
 *       hands on).
 * </ul>
 */
final class SignalHub {
  private static final ConcurrentHashMap<Integer, SignalHub> HUBS = new ConcurrentHashMap<>();

  private final Signal signal;

  /**
   * The JVM's other name of this signal ({@code CLD} for {@code CHLD}, {@code POLL} for {@code
   * IO}), or null.
   */
  private final Signal alias;

  private final SignalHandler dispatcher = this::dispatch;
  private final Object lock = new Object();
  private final Set<SignalContext> live = new LinkedHashSet<>(); // guarded by lock
  private Filed original; // guarded by lock; non-null iff live is not empty

  /**
   * The handler the last restore put back, guarded by {@code lock}: what our dispatcher stands for
   * if someone who found it installed puts it back after that restore (see {@link #unstick}).
   */
  private Filed restored;

  /**
   * A handler, and whether {@link #swap} found it filed under {@link #alias} (so that {@link
   * #putBack} files it there too).
   */
  private record Filed(SignalHandler handler, boolean underAlias) {}

  private SignalHub(Signal signal) {
    this.signal = signal;
    this.alias = aliasOf(signal);
  }

  private static final Map<String, String> ALIASES =
      Map.of("CHLD", "CLD", "CLD", "CHLD", "IO", "POLL", "POLL", "IO");

  private static Signal aliasOf(Signal s) {
    String other = ALIASES.get(s.getName());
    if (other == null) {
      return null;
    }
    try {
      Signal a = new Signal(other);
      return a.getNumber() == s.getNumber() ? a : null;
    } catch (IllegalArgumentException notOnThisPlatform) {
      return null;
    }
  }

  /**
   * Installs {@code h} and returns the handler it replaced, wherever the JDK filed it. The JDK
   * keeps a Java handler under the name it was registered with; swapped under the signal's other
   * name, it replaces that handler all the same but finds no entry under the name asked, and
   * returns an empty wrapper ({@link #wrapsNothing}): a handler another library registered as
   * {@code CLD} is invisible to a swap as {@code CHLD}, and putting the wrapper back throws the
   * JDK's {@code NullPointerException}. So an empty wrapper is asked again under the alias, which
   * returns the library's handler and files {@code h} there too (the result's {@code underAlias}
   * says so, for {@link #putBack}). So is the handler our last restore filed under both names
   * ({@link #restored}), when it is still what our name holds: the entry under the alias may have
   * changed since (the library replaced its handler there, or put back a dispatcher it had found
   * there), and the JDK runs the entry of the name it was handed last, so the alias's answer,
   * unless empty, is the one installed.
   */
  private Filed swap(SignalHandler h) {
    assert Thread.holdsLock(lock);
    SignalHandler found = Signals.install(signal, h);
    boolean askAlias =
        alias != null
            && (wrapsNothing(found)
                || (restored != null && found == restored.handler() && restored.underAlias()));
    if (askAlias) {
      SignalHandler underAlias = Signal.handle(alias, h);
      if (!wrapsNothing(underAlias)) {
        found = underAlias;
      }
    }
    assert !wrapsNothing(found) : "a Java handler filed under neither name of " + signal;
    return new Filed(found, askAlias);
  }

  /**
   * Whether {@code h} is what {@code sun.misc.Signal.handle} returns for a Java handler it has no
   * entry for: its wrapper of a JDK-internal handler, holding none. Such a wrapper throws {@code
   * NullPointerException} from {@code toString()}, {@code handle()} and when put back; no other
   * handler the JDK returns does (its wrappers hold a native or a JDK handler).
   */
  static boolean wrapsNothing(SignalHandler h) {
    if (h == null) {
      return true;
    }
    if (!h.getClass().getName().equals("sun.misc.Signal$SunMiscHandler")) {
      return false; // SIG_DFL, SIG_IGN, or a handler some code registered: returned as it was
    }
    try {
      h.toString();
      return false;
    } catch (NullPointerException holdsNothing) {
      return true;
    }
  }

  /**
   * Puts {@code f}'s handler back: under the signal's name and, if {@link #swap} found it under the
   * alias, under the alias last, so that both entries of the JDK's table name it (none is left
   * naming the dispatcher) and the library that filed it there gets it back from its next swap.
   */
  private void putBack(Filed f) {
    assert Thread.holdsLock(lock);
    Signal.handle(signal, f.handler());
    if (f.underAlias()) {
      Signal.handle(alias, f.handler());
    }
  }

  /** The name this hub was created under: the first one it was asked for. */
  Signal signal() {
    return signal;
  }

  /** The hub of {@code s}, keyed by number so that two names of one signal share it. */
  static SignalHub of(Signal s) {
    return HUBS.computeIfAbsent(s.getNumber(), n -> new SignalHub(s));
  }

  /**
   * Registers {@code c}; the first registration installs the dispatcher.
   *
   * @throws IllegalArgumentException if the JVM refuses a handler for the signal (nothing changes)
   */
  void add(SignalContext c) {
    synchronized (lock) {
      if (live.isEmpty()) {
        original = standIn(swap(dispatcher));
      }
      live.add(c);
      assert original != null;
    }
  }

  /**
   * What to put back for {@code installed}, the handler a swap found: the handler the dispatcher
   * stands for ({@link #restored}) if it is our own dispatcher, put back by someone else since the
   * last restore (restoring it would leave it installed with no context behind it), filed under
   * the alias too if either was there, so that no entry keeps naming the dispatcher; else {@code
   * installed} itself. One rule for {@link #add} and {@link #unstick}.
   */
  private Filed standIn(Filed installed) {
    assert Thread.holdsLock(lock);
    if (installed.handler() != dispatcher || restored == null) {
      return installed;
    }
    return new Filed(restored.handler(), restored.underAlias() || installed.underAlias());
  }

  /** Unregisters {@code c} if it is registered; the last one out restores the original. */
  void remove(SignalContext c) {
    synchronized (lock) {
      if (live.remove(c) && live.isEmpty()) {
        putBack(original);
        restored = original;
        original = null;
      }
    }
  }

  private void dispatch(Signal received) {
    List<SignalContext> receivers;
    synchronized (lock) {
      receivers = new ArrayList<>(live);
    }
    for (SignalContext c : receivers) {
      c.detach();
    }
    boolean taken = false;
    for (SignalContext c : receivers) {
      taken |= c.signalled(received);
    }
    if (!taken) {
      unstick();
      handOn(signal);
    }
  }

  /**
   * Called when a signal reached the dispatcher and no context took it: if no context listens and
   * the dispatcher is still the installed handler, puts back the handler it stands for ({@link
   * #restored}). That happens when a library that found our dispatcher installed (JLine's terminals
   * save and put back the handlers of INT and WINCH, say) puts it back after the last context
   * stopped; {@link #handOn} would then raise the signal to the dispatcher again, forever, a new
   * thread each time, and the signal would never reach the JVM's handler. The only way to see the
   * installed handler is to swap it: a signal meeting the dispatcher meanwhile waits for the lock
   * and comes here too (unless the handler put back is native: the JDK may then drop it, as in the
   * races of {@link #handOn}; this runs only for a signal that no context took).
   */
  private void unstick() {
    synchronized (lock) {
      if (!live.isEmpty() || restored == null) {
        return; // live: the dispatcher belongs there, and the signal's next pass meets a context
      }
      putBack(standIn(swap(dispatcher)));
    }
  }

  /**
   * Raises {@code s} again for whatever handler is installed now, so that a signal no context took
   * is not swallowed. The JDK raises only a signal that has a Java handler: when the handler put
   * back is native (the default action, as for SIGUSR1 or SIGWINCH, or ignored) it refuses, and the
   * signal is dropped here, quietly, on the JDK's handler thread, as the JDK itself drops a signal
   * whose Java handler was removed before its signal thread got to it. Nothing in Java can hand a
   * signal to a native handler; the JVM's handlers of INT, TERM and HUP are Java ones. The JDK
   * looks for that handler under the name raised, and one filed under the signal's other name
   * ({@code CLD} for {@code CHLD}) serves all the same, since a raised signal is dispatched by
   * number: so the other name is tried when the first has none.
   */
  static void handOn(Signal s) {
    try {
      Signal.raise(s);
    } catch (IllegalArgumentException unhandled) {
      Signal other = aliasOf(s);
      if (other != null) {
        try {
          Signal.raise(other);
        } catch (IllegalArgumentException nativeHandlerNow) {
          // "Unhandled signal" under both names: see above.
        }
      }
      // Otherwise see above; thrown on, it would reach the default uncaught handler.
    }
  }
}
