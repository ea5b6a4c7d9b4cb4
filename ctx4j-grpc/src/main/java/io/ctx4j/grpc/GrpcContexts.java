package io.ctx4j.grpc;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Registration;
import io.ctx4j.TimeSource;
import io.ctx4j.internal.CoreInternals;
import io.grpc.CallOptions;
import io.grpc.ClientInterceptor;
import io.grpc.Deadline;
import io.grpc.ServerInterceptor;
import io.grpc.stub.AbstractStub;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Bridges ctx4j and grpc-java: deadlines and cancellation flow from a ctx4j {@link Context} into
 * outgoing gRPC calls, and from incoming gRPC calls into a ctx4j context for the handler, so a
 * request's budget follows it through every service it crosses. gRPC carries the deadline on the
 * wire (its {@code grpc-timeout} header) and the cancellation (a stream reset); ctx4j adds no
 * protocol of its own.
 *
 * <h2>Client side</h2>
 *
 * Install {@link #clientInterceptor()} on the channel, and tell each call which ctx4j context
 * governs it with {@link #bind(AbstractStub, Context)} (or {@link #withContext(CallOptions,
 * Context)} for hand-made calls). The context is taken from the call options only, never from a
 * thread-local: a call without one is left alone. For a call with one, the interceptor
 *
 * <ul>
 *   <li>gives the call the context's deadline (gRPC keeps the earliest of it, any deadline in the
 *       options and that of the current {@code io.grpc.Context}: in a handler, the handler's), so
 *       the server receives the remaining time as {@code grpc-timeout}, less a {@linkplain
 *       #DEFAULT_TRANSIT_ALLOWANCE transit allowance} so that the server's deadline is earlier than
 *       the caller's, whichever of the three it is;
 *   <li>cancels the call as soon as the context ends: status {@code DEADLINE_EXCEEDED} if its
 *       deadline passed, else {@code CANCELLED} with the context's cause (a cause that gRPC would
 *       read as another status, a {@link TimeoutException} or a status exception in its cause chain,
 *       is wrapped in a {@code StatusRuntimeException} of status {@code CANCELLED}, so that the
 *       status stays {@code CANCELLED}); a call started on a context that is already done fails
 *       at once and sends nothing. A call made while its channel waits for its name to resolve is
 *       held by gRPC in a delayed call that follows no context: it fails by a timer of gRPC's own
 *       at the deadline sent (the transit allowance before the context ends), and the context's
 *       cancel reaches it only once the name is resolved;
 *   <li>refuses a custom context whose {@code onDone} returns null instead of a {@code
 *       Registration}: the call's {@code start} throws a {@code NullPointerException} that names
 *       its class, and nothing is sent.
 * </ul>
 *
 * <pre>{@code
 * ManagedChannel channel = ManagedChannelBuilder.forTarget(target)
 *     .intercept(GrpcContexts.clientInterceptor()).build();
 * try (CancelableContext ctx = Context.withTimeout(parent, Duration.ofMillis(300))) {
 *   Reply r = GrpcContexts.bind(QuoteGrpc.newBlockingStub(channel), ctx).quote(request);
 * }
 * }</pre>
 *
 * <h2>Server side</h2>
 *
 * Install {@link #serverInterceptor()} (or {@link #serverInterceptor(Context)} with a server root
 * context) on the services. Each call's handler then finds, through {@link #current()}, a ctx4j
 * context that has the deadline the client sent and is cancelled when gRPC cancels the call: when
 * the client cancels, disconnects or runs out of time, and when the call completes. Pass it on to
 * downstream calls with {@code bind}, and the chain is complete.
 *
 * <h2>Conversions</h2>
 *
 * {@link #toCtx4j(io.grpc.Context, Context)} and {@link #fromCtx4j(Context, io.grpc.Context)} make
 * a context of one kind that follows one of the other kind (deadline, cancellation and cause;
 * values are not carried, since the two key types differ); {@link #toInstant(Deadline, TimeSource)}
 * and {@link #toDeadline(Instant, TimeSource)} convert deadlines. Every conversion of a deadline
 * measures the time left on the clock the deadline belongs to (a ctx4j context's own {@linkplain
 * Context#timeSourceOf time source}) and is never later than what it converts. A cancellation
 * caused by a deadline maps to a deadline on the other side: gRPC reports a passed deadline as a
 * {@link TimeoutException} cause, which is what {@code io.grpc.Contexts.statusFromCancelled} turns
 * into {@code DEADLINE_EXCEEDED}; the ctx4j cause rides along as its {@code getCause()}.
 *
 * <p>All methods are thread-safe. Cancellation on one side happens-before the other side is
 * observed cancelled, by the guarantees of both libraries' listeners.
 *
 * @since 0.1
 */
public final class GrpcContexts {

  /**
   * The call option that names the ctx4j context governing a call; read by {@link
   * #clientInterceptor()}. Usually set through {@link #bind} or {@link #withContext}.
   */
  public static final CallOptions.Key<Context> CONTEXT_OPTION =
      CallOptions.Key.create("io.ctx4j.context");

  /** The gRPC context key under which {@link #serverInterceptor()} stores the handler's context. */
  static final io.grpc.Context.Key<Context> SERVER_CONTEXT = io.grpc.Context.key("io.ctx4j.context");

  private static final Executor DIRECT = Runnable::run;

  private GrpcContexts() {}

  // ------------------------------------------------------------------------------- client helpers

  /**
   * The time {@link #clientInterceptor()} takes off each call's budget for transit: 10 ms.
   *
   * <p>Why: gRPC sends the time left ({@code grpc-timeout}), measured when the call starts, and the
   * server counts it from when the request arrives, so every hop's deadline would be later than the
   * caller's by the transit time (0.4 to 6 ms on loopback on a loaded machine, tens of ms for a
   * first call that opens the connection). Then the caller's reset, sent when its own deadline
   * passes, can reach the server before the server's deadline, and the handler sees a cancellation
   * instead of its deadline. Sending the budget minus this allowance makes the server's deadline
   * earlier than the caller's whenever the request arrives within it.
   */
  public static final Duration DEFAULT_TRANSIT_ALLOWANCE = Duration.ofMillis(10);

  /**
   * Returns the interceptor that ties outgoing calls to the ctx4j context in their options, sending
   * each call's budget minus {@link #DEFAULT_TRANSIT_ALLOWANCE}; one shared, stateless instance.
   *
   * @return the client interceptor
   */
  public static ClientInterceptor clientInterceptor() {
    return ContextClientInterceptor.DEFAULT;
  }

  /**
   * Returns an interceptor like {@link #clientInterceptor()} that takes {@code transitAllowance}
   * off each call's budget: about the longest a request takes to reach the server on this channel
   * (zero sends the whole budget, and the server's deadline is then later than the caller's by the
   * transit time). A call whose context has less time left than the allowance fails at once with
   * {@code DEADLINE_EXCEEDED} and sends nothing, as one whose deadline has passed; so does one made
   * where the current {@code io.grpc.Context} (in a handler, the handler's) has less time left.
   *
   * @param transitAllowance the time to take off
   * @return a new client interceptor
   * @throws NullPointerException if {@code transitAllowance} is null
   * @throws IllegalArgumentException if {@code transitAllowance} is negative
   */
  public static ClientInterceptor clientInterceptor(Duration transitAllowance) {
    Objects.requireNonNull(transitAllowance, "transitAllowance");
    if (transitAllowance.isNegative()) {
      throw new IllegalArgumentException("transitAllowance is negative: " + transitAllowance);
    }
    return new ContextClientInterceptor(CoreInternals.saturatedNanos(transitAllowance));
  }

  /**
   * Returns a copy of {@code stub} whose calls are governed by {@code ctx}, for channels that have
   * the {@link #clientInterceptor()}.
   *
   * @param stub any generated or hand-made stub
   * @param ctx the context
   * @param <S> the stub type
   * @return a new stub
   * @throws NullPointerException if an argument is null
   */
  public static <S extends AbstractStub<S>> S bind(S stub, Context ctx) {
    Objects.requireNonNull(stub, "stub");
    return stub.withOption(CONTEXT_OPTION, Objects.requireNonNull(ctx, "ctx"));
  }

  /**
   * Returns a copy of {@code options} that names {@code ctx} as the context governing the call.
   *
   * @param options the call options
   * @param ctx the context
   * @return new call options
   * @throws NullPointerException if an argument is null
   */
  public static CallOptions withContext(CallOptions options, Context ctx) {
    Objects.requireNonNull(options, "options");
    return options.withOption(CONTEXT_OPTION, Objects.requireNonNull(ctx, "ctx"));
  }

  // ------------------------------------------------------------------------------- server helpers

  /**
   * Returns a server interceptor whose handler contexts are children of {@link
   * Context#background()}.
   *
   * @return a new server interceptor
   */
  public static ServerInterceptor serverInterceptor() {
    return new ContextServerInterceptor(Context.background());
  }

  /**
   * Returns a server interceptor whose handler contexts are children of {@code root}: cancelling the
   * root ends every call in flight (the calls are cancelled too if their handlers pass the context on
   * or check it), and the root's values are visible to every handler. A custom root whose {@code
   * onDone} returns null instead of a {@code Registration} fails every call before its handler runs
   * ({@code UNKNOWN}; gRPC logs the {@code NullPointerException}, which names its class).
   *
   * @param root the server's root context
   * @return a new server interceptor
   * @throws NullPointerException if {@code root} is null
   */
  public static ServerInterceptor serverInterceptor(Context root) {
    return new ContextServerInterceptor(Objects.requireNonNull(root, "root"));
  }

  /**
   * Returns the ctx4j context of the gRPC call being handled: valid in the handler's methods and in
   * any code that runs with the call's {@code io.grpc.Context} attached.
   *
   * @return the call's ctx4j context
   * @throws IllegalStateException if no call behind {@link #serverInterceptor()} is being handled
   *     here; in a thread the handler started, pass the context explicitly or wrap the task with
   *     {@code io.grpc.Context.current().wrap(...)}
   */
  public static Context current() {
    Context ctx = SERVER_CONTEXT.get();
    if (ctx == null) {
      throw new IllegalStateException(
          "no ctx4j context: GrpcContexts.current() called outside a gRPC handler behind"
              + " GrpcContexts.serverInterceptor()");
    }
    return ctx;
  }

  // ---------------------------------------------------------------------------------- conversions

  /**
   * Converts a gRPC deadline to an instant on the system clock: the current time plus the time
   * remaining. gRPC measures deadlines with {@code System.nanoTime()}; the clock is read before the
   * time remaining, so the instant is never later than the deadline.
   *
   * @param deadline the gRPC deadline
   * @return the instant it expires
   * @throws NullPointerException if {@code deadline} is null
   */
  public static Instant toInstant(Deadline deadline) {
    return toInstant(deadline, TimeSource.system());
  }

  /**
   * Converts a gRPC deadline to an instant on {@code clock}: {@code clock.now()} plus the time the
   * deadline has left, so a budget of five seconds stays five seconds on a {@link
   * io.ctx4j.ManualTimeSource}. The clock is read before the time remaining, so the instant is never
   * later than the deadline. Saturates at {@link Instant#MIN} and {@link Instant#MAX}.
   *
   * @param deadline the gRPC deadline
   * @param clock the clock the instant is meant for, usually {@code Context.timeSourceOf(ctx)}
   * @return the instant it expires
   * @throws NullPointerException if an argument is null
   */
  public static Instant toInstant(Deadline deadline, TimeSource clock) {
    Objects.requireNonNull(deadline, "deadline");
    Objects.requireNonNull(clock, "clock");
    Instant now = clock.now();
    long left = deadline.timeRemaining(TimeUnit.NANOSECONDS);
    return CoreInternals.saturatedPlus(now, Duration.ofNanos(left));
  }

  /**
   * Converts an instant on the system clock to a gRPC deadline, never later than the instant. gRPC
   * clamps deadlines to about a hundred years either way, so far instants (including {@link
   * Instant#MAX}) become that.
   *
   * @param instant when the deadline expires
   * @return the gRPC deadline
   * @throws NullPointerException if {@code instant} is null
   */
  public static Deadline toDeadline(Instant instant) {
    return toDeadline(instant, TimeSource.system());
  }

  /**
   * Converts an instant on {@code clock} to a gRPC deadline: the time from {@code clock.now()} to
   * the instant, counted from the moment just before the clock is read, so the gRPC deadline is
   * never later than the instant.
   *
   * @param instant when the deadline expires, on {@code clock}
   * @param clock the clock the instant is on, usually {@code Context.timeSourceOf(ctx)}
   * @return the gRPC deadline
   * @throws NullPointerException if an argument is null
   */
  public static Deadline toDeadline(Instant instant, TimeSource clock) {
    Objects.requireNonNull(instant, "instant");
    Objects.requireNonNull(clock, "clock");
    long before = System.nanoTime();
    return deadlineAfter(before, CoreInternals.saturatedNanos(clock.now(), instant));
  }

  /**
   * Returns {@code ctx}'s deadline as a gRPC deadline: its {@link Context#remaining() time left},
   * measured on its own time source, from the moment just before that clock is read, so never later
   * than the context's deadline. gRPC counts it on the system clock: for a context on a test clock,
   * the time left on that clock now, counted in real time from now.
   *
   * @param ctx the context
   * @return its deadline, or empty if it has none
   * @throws NullPointerException if {@code ctx} is null
   */
  public static Optional<Deadline> deadlineOf(Context ctx) {
    Objects.requireNonNull(ctx, "ctx");
    long before = System.nanoTime();
    return ctx.remaining().map(left -> deadlineAfter(before, CoreInternals.saturatedNanos(left)));
  }

  /**
   * Returns a ctx4j context, child of {@code parent}, that follows {@code grpcContext}: it has the
   * gRPC context's deadline (if earlier than the parent's), converted onto the parent's time source,
   * and it ends when the gRPC context is cancelled or when the parent ends.
   *
   * <p>gRPC's timer is the only timer for the gRPC deadline: the ctx4j context has none of its own
   * for it, so that the two can never race. When gRPC cancels, the context ends with {@link
   * Context#DEADLINE_EXCEEDED} if gRPC's cause is a {@link TimeoutException} (gRPC's convention for
   * a deadline) or if the gRPC deadline has already passed (for example a caller's stream reset that
   * arrives after this side's own, earlier, deadline); its cause is then the ctx4j cause carried
   * across by {@link #fromCtx4j}, if any, else {@code DEADLINE_EXCEEDED}. Otherwise it ends with
   * {@link Context#CANCELED} and gRPC's cause (the ctx4j cause, for one that {@link #fromCtx4j}
   * wrapped because gRPC would have read it as another status). A parent with a time source other than the system's
   * (a test clock) also fires the deadline by that source. Callbacks of the context run in the
   * thread that cancels the gRPC context (for a deadline, gRPC's timer thread): keep them short, as
   * always.
   *
   * <p>Cancel (close) the result when done with it: that withdraws its listener from the gRPC
   * context and its registration from the parent. Both are withdrawn by themselves when either side
   * ends.
   *
   * @param grpcContext the gRPC context to follow
   * @param parent the ctx4j parent
   * @return a new cancelable ctx4j context
   * @throws NullPointerException if an argument is null, or if {@code parent} is a custom context
   *     whose {@code onDone} returns null instead of a {@code Registration} (the message names its
   *     class): nothing stays registered on the gRPC context then
   */
  public static CancelableContext toCtx4j(io.grpc.Context grpcContext, Context parent) {
    Objects.requireNonNull(grpcContext, "grpcContext");
    Objects.requireNonNull(parent, "parent");
    Deadline deadline = grpcContext.getDeadline();
    TimeSource clock = Context.timeSourceOf(parent);
    Instant at = deadline == null ? null : toInstant(deadline, clock);
    GrpcFollower follower = new GrpcFollower(grpcContext, deadline, parent, at);
    if (clock == TimeSource.system()) {
      return Context.withCancel(follower);
    }
    Context onClock = Context.withTimeSource(follower, clock);
    return at == null ? Context.withCancel(onClock) : Context.withDeadline(onClock, at);
  }

  /**
   * Same as {@link #toCtx4j(io.grpc.Context, Context)} with {@link Context#background()} as parent.
   *
   * @param grpcContext the gRPC context to follow
   * @return a new cancelable ctx4j context
   * @throws NullPointerException if {@code grpcContext} is null
   */
  public static CancelableContext toCtx4j(io.grpc.Context grpcContext) {
    return toCtx4j(grpcContext, Context.background());
  }

  /**
   * Returns a gRPC context that follows {@code ctx} and {@code parent}: it has {@code parent}'s
   * values, the earlier of the two deadlines (the ctx4j one converted by {@link #deadlineOf}, never
   * later than it), and is cancelled when {@code ctx} ends, with a {@link TimeoutException} cause if
   * its deadline passed (gRPC's convention, mapped to {@code DEADLINE_EXCEEDED}; its {@code
   * getCause()} is the ctx4j deadline's cause, if any) and the ctx4j cause otherwise, or when {@code
   * parent} is cancelled, with the parent's cause. A ctx4j cause that {@code
   * Contexts.statusFromCancelled} would read as another status than {@code CANCELLED} (a {@link
   * TimeoutException}, or a {@code StatusException} or {@code StatusRuntimeException} of another
   * code in its cause chain) is handed over wrapped in a {@code StatusRuntimeException} of status
   * {@code CANCELLED} whose cause it is; {@link #toCtx4j} unwraps it.
   *
   * <p>The gRPC context reports the deadline but has no timer of its own: it expires when {@code
   * ctx} does, so that whatever it governs never fails for a deadline while {@code ctx} still reads
   * as live (on the system clock; for a test clock, see below). Where gRPC checks the deadline
   * itself, on its own clock, it can be first: a gRPC call started in the context after its
   * deadline (the converted one, never later than {@code ctx}'s) fails at once with {@code
   * DEADLINE_EXCEEDED}, even if {@code ctx}'s timer has not fired yet (a busy timer thread, a test
   * clock). A context that is already done gives a gRPC context that is already cancelled, with the
   * cause above; so does a context whose deadline has passed although its timer has not fired yet
   * (as grpc-go fails such a call at once), and one whose deadline passes while it is converted
   * (gRPC checks it again when it makes its context); the cause is then a {@link TimeoutException}
   * that reads the ctx4j cause once the timer has fired.
   *
   * <p>A {@code ctx} on a time source other than the system's (a test clock) gives the gRPC context
   * the time left on that clock at the conversion, and gRPC counts it in real time from then, as a
   * server given it as {@code grpc-timeout} does: no real-time deadline can follow a clock that a
   * test holds still or moves by hand. So while the clock is held, the gRPC deadline passes after
   * that much real time: calls made in the context then fail with {@code DEADLINE_EXCEEDED} (a call
   * running then, by the server's deadline) while {@code ctx} still reads as live, and the gRPC
   * context reports its deadline passed but is not cancelled. Advancing the clock past the deadline
   * ends {@code ctx}, which cancels the gRPC context as above.
   *
   * <p>It is not a gRPC child of {@code parent} but of {@code parent.fork()}, and follows the
   * parent's cancellation through a listener that it withdraws when it ends: grpc-java 1.85.1 never
   * withdraws what a listening child adds to its parent, which would leave one listener on a
   * long-lived parent per conversion. Close the result when done with it: that withdraws its
   * registrations on {@code ctx} and {@code parent}.
   *
   * @param ctx the ctx4j context to follow
   * @param parent the gRPC parent, usually {@code io.grpc.Context.current()}
   * @return a new cancellable gRPC context
   * @throws NullPointerException if an argument is null, or if {@code ctx} is a custom context
   *     whose {@code onDone} returns null instead of a {@code Registration} (the message names its
   *     class): nothing stays registered on the gRPC parent then
   */
  public static io.grpc.Context.CancellableContext fromCtx4j(Context ctx, io.grpc.Context parent) {
    Objects.requireNonNull(ctx, "ctx");
    Objects.requireNonNull(parent, "parent");
    return follow(ctx, parent, 0);
  }

  /**
   * Same as {@link #fromCtx4j(Context, io.grpc.Context)} with {@code io.grpc.Context.current()} as
   * parent.
   *
   * @param ctx the ctx4j context to follow
   * @return a new cancellable gRPC context
   * @throws NullPointerException if {@code ctx} is null, or a custom context whose {@code onDone}
   *     returns null instead of a {@code Registration}
   */
  public static io.grpc.Context.CancellableContext fromCtx4j(Context ctx) {
    return fromCtx4j(ctx, io.grpc.Context.current());
  }

  /**
   * {@link #fromCtx4j(Context, io.grpc.Context)}, with a deadline {@code allowanceNanos} earlier
   * than the ctx4j one and than the gRPC parent's (the client interceptor's allowance for transit
   * time); a deadline within the allowance counts as passed.
   */
  static io.grpc.Context.CancellableContext follow(
      Context ctx, io.grpc.Context parent, long allowanceNanos) {
    Bridge bridge = bridge(ctx, null, parent, allowanceNanos);
    bridge.listen();
    return bridge.grpc;
  }

  /**
   * A gRPC context made by {@link #follow} that does not listen to {@code ctx} or the gRPC parent
   * yet: until {@link #listen()}, it holds nothing on either, and is garbage once dropped. The client
   * interceptor makes it when the call is made (gRPC takes the call's context then) and has it
   * listen when the call starts, so that a call never started leaves nothing behind. Not
   * thread-safe: {@code listen} is called once, by the thread that made it or after a
   * happens-before edge. gRPC lets a call start on another thread than the one that made it, but a
   * {@code ClientCall} is not thread-safe, so its caller orders {@code start} after {@code newCall},
   * which is that edge; the bridge keeps the gRPC context current at {@code newCall} as its parent,
   * as gRPC's call keeps the context current then, whatever is current where the call starts.
   */
  static final class Bridge {
    final io.grpc.Context.CancellableContext grpc;
    private final Context ctx;
    private final Instant ownDeadline;
    private final io.grpc.Context parent;

    /** A bridge that will listen to {@code ctx} and {@code parent}; both null: nothing to follow. */
    private Bridge(
        io.grpc.Context.CancellableContext grpc,
        Context ctx,
        Instant ownDeadline,
        io.grpc.Context parent) {
      this.grpc = grpc;
      this.ctx = ctx;
      this.ownDeadline = ownDeadline;
      this.parent = parent;
    }

    /**
     * Registers on {@code ctx} (on a child of it with the earlier deadline given to {@link
     * #bridge}, made now: a child with a deadline registers on {@code ctx} as it is made) and on
     * the gRPC parent, so that either's end cancels the bridge, and withdraws both (and ends the
     * child) when the bridge is cancelled. Either side already ended cancels it at once; a bridge
     * already cancelled withdraws them at once.
     */
    void listen() {
      if (ctx == null) {
        return; // born cancelled: nothing to follow
      }
      CancelableContext own = ownDeadline == null ? null : Context.withDeadline(ctx, ownDeadline);
      Context followed = own == null ? ctx : own;
      // A foreign ctx whose onDone returns null is refused here, naming its class, before the call
      // goes out, as ctx4j refuses one wherever it registers (own is ctx4j's, and never does).
      Registration reg = CoreInternals.register(followed, () -> cancelFrom(grpc, followed));
      io.grpc.Context.CancellationListener followParent =
          cancelled -> grpc.cancel(cancelled.cancellationCause());
      parent.addListener(followParent, DIRECT);
      grpc.addListener(
          cancelled -> {
            try {
              reg.stop();
            } finally {
              try {
                parent.removeListener(followParent);
              } finally {
                if (own != null) {
                  own.cancel();
                }
              }
            }
          },
          DIRECT);
    }
  }

  /**
   * The gRPC context of {@link #follow}, not yet listening to either side. With {@code ownDeadline}
   * (on the system clock, which must be {@code ctx}'s, and earlier than {@code ctx}'s deadline), it
   * follows a child of {@code ctx} with that deadline instead, which {@link Bridge#listen} makes.
   */
  static Bridge bridge(
      Context ctx, Instant ownDeadline, io.grpc.Context parent, long allowanceNanos) {
    io.grpc.Context base = parent.fork();
    if (ctx.isDone()) {
      return cancelled(base, grpcCause(ctx));
    }
    long before = System.nanoTime();
    Optional<Duration> left =
        ownDeadline == null
            ? ctx.remaining()
            : Optional.of(
                Duration.ofNanos(
                    CoreInternals.saturatedNanos(TimeSource.system().now(), ownDeadline)));
    Deadline deadline = null;
    if (left.isPresent()) {
      long nanos = CoreInternals.saturatedNanos(left.get());
      nanos = nanos < Long.MIN_VALUE + allowanceNanos ? Long.MIN_VALUE : nanos - allowanceNanos;
      deadline = nanos <= 0 ? null : deadlineAfter(before, nanos);
      if (deadline == null || deadline.isExpired()) {
        // gRPC would cancel a context born past its deadline at once with its own cause; ours
        // tells the ctx4j cause instead, once there is one.
        return cancelled(base, passed(ctx, ownDeadline));
      }
    }
    boolean ours = deadline != null;
    Deadline inherited = parent.getDeadline();
    if (inherited != null) {
      // The parent's deadline (in a handler, the handler's) governs too: gRPC sends the earlier.
      // It is sent less the allowance as well, and the parent's own timer ends it at the deadline
      // itself, through the listener Bridge.listen adds, as ctx's timer does for ctx's.
      Deadline sent =
          allowanceNanos == 0 ? inherited : inherited.offset(-allowanceNanos, TimeUnit.NANOSECONDS);
      if (deadline == null || sent.isBefore(deadline)) {
        deadline = sent; // within the allowance, gRPC cancels it at once, as for ours below
        ours = false;
      }
    }
    io.grpc.Context.CancellableContext grpc =
        deadline == null
            ? base.withCancellation()
            : base.withDeadline(deadline, MirroredDeadlines.INSTANCE);
    if (ours && grpc.isCancelled()) {
      // Our deadline passed after the check above: gRPC checks it again and cancels the new
      // context at once, with a cause of its own. Nothing has seen that one: as if our check had
      // found the deadline passed.
      return cancelled(base, passed(ctx, ownDeadline));
    }
    return new Bridge(grpc, ctx, ownDeadline, parent);
  }

  /**
   * The cause for a bridge born past its deadline: {@code ctx}'s, read once its timer fires; for a
   * deadline of the bridge's own, the bare error, as its child would end by that deadline. Made
   * only when needed: a throwable is slow to make, and the deadline is counted from before.
   */
  private static Throwable passed(Context ctx, Instant ownDeadline) {
    return ownDeadline == null ? DeadlineCause.pending(ctx) : DeadlineCause.of(null);
  }

  private static Bridge cancelled(io.grpc.Context base, Throwable why) {
    io.grpc.Context.CancellableContext grpc = base.withCancellation();
    grpc.cancel(why);
    return new Bridge(grpc, null, null, null);
  }

  /**
   * Cancels {@code grpc} with {@code ctx}'s cause; if asking a (foreign) {@code ctx} for it throws,
   * cancels it with no cause and rethrows, so the cancellation is not lost.
   */
  private static void cancelFrom(io.grpc.Context.CancellableContext grpc, Context ctx) {
    Throwable why;
    try {
      why = grpcCause(ctx);
    } catch (Throwable t) {
      grpc.cancel(null);
      throw t;
    }
    grpc.cancel(why);
  }

  /**
   * The cause to hand gRPC for a done ctx4j context, in gRPC's conventions: for a cancel, the ctx4j
   * cause, wrapped if gRPC would read it as another status than {@code CANCELLED} ({@link
   * CancelCause}).
   */
  static Throwable grpcCause(Context ctx) {
    if (ctx.err() == Context.DEADLINE_EXCEEDED) {
      return DeadlineCause.of(ctx.cause());
    }
    return CancelCause.of(ctx.cause());
  }

  /**
   * A gRPC deadline {@code nanos} after {@code before} (a {@code System.nanoTime()} reading): gRPC
   * counts from its own, later reading, so the lag since {@code before} is taken off again.
   */
  private static Deadline deadlineAfter(long before, long nanos) {
    Deadline d = Deadline.after(nanos, TimeUnit.NANOSECONDS);
    long lag = System.nanoTime() - before;
    return lag > 0 ? d.offset(-lag, TimeUnit.NANOSECONDS) : d;
  }

}
