package io.ctx4j.spring.boot;

import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Registration;
import io.ctx4j.http.DeadlineHeader;
import io.ctx4j.internal.CoreInternals;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * The exchange of a {@link ContextClientHttpRequestInterceptor} call in progress on this thread,
 * as far as the request factory's own request is concerned: a factory whose wait for the response
 * an interrupt ends without aborting the request below (Spring's {@code
 * JettyClientHttpRequestFactory}) has that request tied to the call ({@link ContextJettyHttpClient}
 * does it for Jetty's), and the call's context then aborts it when it ends. No Jetty type here: the
 * interceptor opens one for every call, whatever the factory, and registers nothing on the context
 * until a request is tied.
 *
 * <p>Lives from just before the interceptor hands the request on until the factory has returned
 * the response or thrown ({@link #close}): then the registration is stopped, so a long-lived
 * context keeps nothing; once the response is there, the interceptor's body stream stops reads
 * itself (closing Jetty's stream aborts its exchange). What {@link #onAbandon} registered outlives
 * the close: the interceptor runs it ({@link #abandoned}) when the factory throws, or later, when
 * it gives up the response it returned, the context having ended.
 *
 * <p>Thread safety: opened and closed on the calling thread; {@link #tie} and {@link #leave} may
 * also come from the client's own threads (a redirect hop Jetty sends
 * itself, Reactor Netty's event loop), the context's callback and {@link #abandoned} (a response
 * closed on another thread) from any thread.
 */
final class CallAbort {
  private static final ThreadLocal<CallAbort> CURRENT = new ThreadLocal<>();

  private final Context ctx;
  private final CallAbort outer;
  /** The {@code Ctx4j-Timeout-Ms} value the interceptor stated on the request, or null. */
  private final String budget;
  /** The value stated last on one of the call's requests as the client sent it, or null. */
  private volatile String restated;
  // All guarded by this.
  private Consumer<? super ContextException> latest;
  private boolean registering;
  private Registration registration;
  private ContextException ended;
  private boolean closed;
  /** What {@link #abandoned} runs, or null; guarded by this. */
  private List<Runnable> onAbandon;

  private CallAbort(Context ctx, CallAbort outer, String budget) {
    this.ctx = ctx;
    this.outer = outer;
    this.budget = budget;
  }

  /**
   * Opens the call's scope on this thread; {@link #close} it in a {@code finally}.
   *
   * @param budget the {@code Ctx4j-Timeout-Ms} value the interceptor stated on the request it
   *     hands on, or null if it stated none (the context has no deadline)
   */
  static CallAbort open(Context ctx, String budget) {
    CallAbort call = new CallAbort(ctx, CURRENT.get(), budget);
    CURRENT.set(call);
    return call;
  }

  /**
   * Whether a request tied to the call that carries {@code value} as its {@code Ctx4j-Timeout-Ms}
   * (null: none) is the call's own request: the one the interceptor handed on (Spring copies the
   * interceptor's value onto the client's request), or a hop the client sends after it (a copy of
   * that value, or of the one stated on the hop before). Not a request the application sends
   * itself on the calling thread during the call, through the same client (a token fetch in a
   * later interceptor, with a RestClient without the interceptor or the client used directly):
   * it carries headers of its own, usually none. Nor, since it has no budget to state, a request of
   * a call whose context has no deadline.
   */
  private boolean isOwn(String value) {
    return value != null && (value.equals(budget) || value.equals(restated));
  }

  /**
   * The error with which a request tied to the call is refused as it leaves, or null to send it:
   * the call's own request ({@link #isOwn}) once the context has ended or its deadline has passed
   * though its timer has not ended it yet ({@link CoreInternals#endOf}: with a budget of 0 it could
   * succeed after the deadline); any other once the context has ended (its end would abort it).
   */
  ContextException refusal(boolean own) {
    return own || ctx.err() != null ? CoreInternals.endOf(ctx) : null;
  }

  /**
   * An edit of a request's headers: {@code remove} takes a header name, {@code set} a name and a
   * value. Lets {@link #leave} work on any client's header type.
   */
  @FunctionalInterface
  interface HeaderEdit {
    void apply(Consumer<String> remove, BiConsumer<String, String> set);
  }

  /**
   * A request tied to the call, carrying {@code value} as its {@code Ctx4j-Timeout-Ms} (null:
   * none), is about to leave, at the last moment its client lets it be changed. Returns the error
   * to refuse it with ({@link #refusal}), and then changes nothing; or null to send it, having
   * stated the time left of the call's context on it ({@link DeadlineHeader#restate}) if it is one
   * of the call's own ({@link #isOwn}), the value stated kept so that a later hop, a copy of this
   * request, is known as the call's too. The stale header the interceptor set is replaced: the
   * request may have waited for a connection since, and a hop carries the earlier hop's.
   *
   * @param value the request's {@code Ctx4j-Timeout-Ms} as it is, or null
   * @param onRequest applies the edit it is given to the request's headers (Jetty hands its mutable
   *     headers only to a callback); called at most once, on this thread
   */
  ContextException leave(String value, Consumer<HeaderEdit> onRequest) {
    boolean own = isOwn(value);
    ContextException end = refusal(own);
    if (end != null) {
      return end;
    }
    if (own) {
      onRequest.accept(
          (remove, set) -> DeadlineHeader.restate(ctx, remove, set).ifPresent(v -> restated = v));
    }
    return null;
  }

  /** The call in progress on this thread, or null. */
  static CallAbort current() {
    return CURRENT.get();
  }

  /**
   * Makes {@code abort} what the context's end runs, in place of a request tied before (a
   * redirect's first hop is over when the next one is sent): with a fresh copy of the context's
   * error, at once if the context has ended already. Once the call is over without an end, nothing.
   */
  void tie(Consumer<? super ContextException> abort) {
    ContextException end;
    boolean register;
    synchronized (this) {
      if (closed && ended == null) {
        return;
      }
      latest = abort;
      end = ended;
      register = end == null && !registering;
      registering |= register;
    }
    if (end != null) {
      abort.accept(end);
      return;
    }
    if (register) {
      // Outside the lock: on a context that has ended, the callback may run at once, here.
      Registration r = CoreInternals.register(ctx, this::ended);
      boolean closedMeanwhile;
      synchronized (this) {
        registration = r;
        closedMeanwhile = closed;
      }
      if (closedMeanwhile) {
        release(r); // a hop tied from Jetty's thread as the call was closed
      }
    }
  }

  /** The context's callback: aborts the request tied last, once. */
  private void ended() {
    ContextException end = Errors.copyOf(ctx, null);
    Consumer<? super ContextException> abort;
    synchronized (this) {
      if (ended != null) {
        return;
      }
      ended = end;
      abort = latest;
    }
    abort.accept(end);
  }

  /**
   * Stops the registration. If that kept the callback from running though the context has ended
   * (the interrupt, registered apart, returned the call first), the abort runs here: a request the
   * context's end interrupted is never left running.
   */
  private void release(Registration r) {
    if (r.stop() && ctx.isDone()) {
      ended();
    }
  }

  /**
   * Has {@code action} run if the call gives its response up ({@link #abandoned}): the request
   * factory throws instead of returning it, or the interceptor gives up the response it returned,
   * the context having ended. A client whose response may exist though the factory's wait for it
   * failed (Reactor Netty's, when the interrupt makes {@code Mono.block()} throw as the response
   * comes) gives it up there, since nobody else has it; and one whose response body a close may
   * not reach (Spring's stream on Reactor Netty can lose the connection's subscription) lets its
   * connection go there. Not run for a response the caller is done with while the context lives.
   */
  synchronized void onAbandon(Runnable action) {
    if (onAbandon == null) {
      onAbandon = new ArrayList<>(1);
    }
    onAbandon.add(action);
  }

  /**
   * The request factory threw (or the call failed otherwise before it had a response), or the
   * interceptor gave the response up: runs what {@link #onAbandon} registered, once, on this
   * thread. Thread-safe: a response may be closed on another thread than the call's.
   */
  void abandoned() {
    List<Runnable> actions;
    synchronized (this) {
      actions = onAbandon;
      onAbandon = null;
    }
    if (actions != null) {
      actions.forEach(Runnable::run);
    }
  }

  /** Ends the call's scope on this thread and stops the registration, if there is one. */
  void close() {
    if (CURRENT.get() == this) {
      if (outer == null) {
        CURRENT.remove();
      } else {
        CURRENT.set(outer);
      }
    }
    Registration r;
    synchronized (this) {
      closed = true;
      r = registration;
    }
    if (r != null) {
      release(r);
    }
  }
}
