package io.ctx4j.grpc;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Registration;
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
 *   <li>gives the call the context's deadline (gRPC keeps the earlier of it and any deadline in the
 *       options), so the server receives the remaining time as {@code grpc-timeout};
 *   <li>cancels the call as soon as the context ends: status {@code DEADLINE_EXCEEDED} if its
 *       deadline passed, else {@code CANCELLED} with the context's cause; a call started on a
 *       context that is already done fails at once and sends nothing.
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
 * a context of one kind that follows one of the other kind (deadline and cancellation; values are
 * not carried, since the two key types differ); {@link #toInstant(Deadline)} and {@link
 * #toDeadline(Instant)} convert deadlines. A cancellation caused by a deadline maps to a deadline on
 * the other side: gRPC reports a passed deadline as a {@link TimeoutException} cause, which is what
 * {@code io.grpc.Contexts.statusFromCancelled} turns into {@code DEADLINE_EXCEEDED}.
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

  /** How far apart gRPC's and ctx4j's timers for the same deadline may fire. */
  private static final Duration TIMER_SLACK = Duration.ofMillis(50);

  private GrpcContexts() {}

  // ------------------------------------------------------------------------------- client helpers

  /**
   * Returns the interceptor that ties outgoing calls to the ctx4j context in their options; one
   * shared, stateless instance.
   *
   * @return the client interceptor
   */
  public static ClientInterceptor clientInterceptor() {
    return ContextClientInterceptor.INSTANCE;
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
   * or check it), and the root's values are visible to every handler.
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
   * Converts a gRPC deadline to an instant, by the system clock. gRPC deadlines are measured with
   * {@code System.nanoTime()}, so the result is the current time plus the time remaining.
   *
   * @param deadline the gRPC deadline
   * @return the instant it expires
   * @throws NullPointerException if {@code deadline} is null
   */
  public static Instant toInstant(Deadline deadline) {
    Objects.requireNonNull(deadline, "deadline");
    return Instant.now().plusNanos(deadline.timeRemaining(TimeUnit.NANOSECONDS));
  }

  /**
   * Converts an instant to a gRPC deadline, by the system clock. gRPC clamps deadlines to about a
   * hundred years either way, so far instants (including {@link Instant#MAX}) become that.
   *
   * @param instant when the deadline expires
   * @return the gRPC deadline
   * @throws NullPointerException if {@code instant} is null
   */
  public static Deadline toDeadline(Instant instant) {
    Objects.requireNonNull(instant, "instant");
    Duration left = Duration.between(Instant.now(), instant);
    return Deadline.after(saturatedNanos(left), TimeUnit.NANOSECONDS);
  }

  /**
   * Returns {@code ctx}'s deadline as a gRPC deadline.
   *
   * @param ctx the context
   * @return its deadline, or empty if it has none
   * @throws NullPointerException if {@code ctx} is null
   */
  public static Optional<Deadline> deadlineOf(Context ctx) {
    return Objects.requireNonNull(ctx, "ctx").deadline().map(GrpcContexts::toDeadline);
  }

  /**
   * Returns a ctx4j context, child of {@code parent}, that follows {@code grpcContext}: it has the
   * gRPC context's deadline (if earlier than the parent's), and it is cancelled when the gRPC context
   * is, with the gRPC cancellation cause. A gRPC cancellation that comes when the deadline has
   * passed, or for a {@link TimeoutException} (gRPC's deadline) when it is about to, is left to the
   * ctx4j deadline, which fires at the same instant give or take the timers' lateness, so that the
   * ctx4j context reports {@link Context#DEADLINE_EXCEEDED}.
   *
   * <p>Cancel (close) the result when done with it: that detaches it from both parents. It detaches
   * by itself when either parent ends.
   *
   * @param grpcContext the gRPC context to follow
   * @param parent the ctx4j parent
   * @return a new cancelable ctx4j context
   * @throws NullPointerException if an argument is null
   */
  public static CancelableContext toCtx4j(io.grpc.Context grpcContext, Context parent) {
    Objects.requireNonNull(grpcContext, "grpcContext");
    Objects.requireNonNull(parent, "parent");
    Deadline deadline = grpcContext.getDeadline();
    CancelableContext ctx =
        deadline == null
            ? Context.withCancel(parent)
            : Context.withDeadline(parent, toInstant(deadline));
    io.grpc.Context.CancellationListener follow =
        cancelled -> {
          Throwable cause = cancelled.cancellationCause();
          // When ctx's own deadline has passed, or is about to for a gRPC timeout, its timer
          // (perhaps a little late on a busy machine) will end it with the truthful
          // DEADLINE_EXCEEDED; a cancellation arriving first would report CANCELED instead.
          Duration slack = cause instanceof TimeoutException ? TIMER_SLACK : Duration.ZERO;
          if (!deadlineWithin(ctx, slack)) {
            ctx.cancel(cause);
          }
        };
    grpcContext.addListener(follow, DIRECT);
    // Runs at once if the gRPC side already cancelled ctx during addListener.
    ctx.onDone(() -> grpcContext.removeListener(follow));
    return ctx;
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
   * Returns a gRPC context, child of {@code parent}, that follows {@code ctx}: it has the ctx4j
   * context's deadline (so gRPC calls made with it attached send it as {@code grpc-timeout}) and is
   * cancelled when the ctx4j context ends, with a {@link TimeoutException} cause if the deadline
   * passed (gRPC's convention, mapped to {@code DEADLINE_EXCEEDED}) and the ctx4j cause otherwise.
   *
   * <p>The gRPC context reports the deadline but has no timer of its own: it expires when {@code
   * ctx} does, so that whatever it governs never fails for a deadline while {@code ctx} still
   * reads as live. Close the result when done with it: that withdraws its registration on {@code
   * ctx}.
   *
   * @param ctx the ctx4j context to follow
   * @param parent the gRPC parent, usually {@code io.grpc.Context.current()}
   * @return a new cancellable gRPC context
   * @throws NullPointerException if an argument is null
   */
  public static io.grpc.Context.CancellableContext fromCtx4j(Context ctx, io.grpc.Context parent) {
    Objects.requireNonNull(ctx, "ctx");
    Objects.requireNonNull(parent, "parent");
    Optional<Instant> deadline = ctx.deadline();
    io.grpc.Context.CancellableContext grpc =
        deadline.isEmpty()
            ? parent.withCancellation()
            : parent.withDeadline(toDeadline(deadline.get()), MirroredDeadlines.INSTANCE);
    Registration reg = ctx.onDone(() -> grpc.cancel(grpcCause(ctx)));
    grpc.addListener(cancelled -> reg.stop(), DIRECT);
    return grpc;
  }

  /**
   * Same as {@link #fromCtx4j(Context, io.grpc.Context)} with {@code io.grpc.Context.current()} as
   * parent.
   *
   * @param ctx the ctx4j context to follow
   * @return a new cancellable gRPC context
   * @throws NullPointerException if {@code ctx} is null
   */
  public static io.grpc.Context.CancellableContext fromCtx4j(Context ctx) {
    return fromCtx4j(ctx, io.grpc.Context.current());
  }

  /** The cause to hand gRPC for a done ctx4j context, in gRPC's conventions. */
  static Throwable grpcCause(Context ctx) {
    if (ctx.err() == Context.DEADLINE_EXCEEDED) {
      TimeoutException t = new TimeoutException("ctx4j context deadline exceeded");
      Throwable cause = ctx.cause();
      if (cause != Context.DEADLINE_EXCEEDED) {
        t.initCause(cause);
      }
      return t;
    }
    return ctx.cause();
  }

  /** Whether ctx has a deadline that has passed or will within {@code slack}. */
  private static boolean deadlineWithin(Context ctx, Duration slack) {
    Instant limit = Instant.now().plus(slack);
    return ctx.deadline().map(d -> !d.isAfter(limit)).orElse(false);
  }

  private static long saturatedNanos(Duration d) {
    try {
      return d.toNanos();
    } catch (ArithmeticException e) {
      return d.isNegative() ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
  }
}
