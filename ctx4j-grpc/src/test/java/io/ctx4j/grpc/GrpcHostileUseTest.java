package io.ctx4j.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Registration;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.testing.ForeignContext;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.ForwardingClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Code around ours that throws (an interceptor after ours on the channel, a foreign context's
 * registration) costs neither a cancellation nor a registration: an unchecked exception, an Error
 * and a checked exception thrown sneakily each reach the caller unchanged, and the cleanup ours owed
 * is done anyway.
 */
@Timeout(60)
class GrpcHostileUseTest {
  private static final ClientInterceptor PASS_THROUGH = ContextlessPassThrough.INSTANCE;

  static Stream<Throwable> failures() {
    return Stream.of(
        new IllegalStateException("boom"), new AssertionError("boom"), new IOException("boom"));
  }

  @SuppressWarnings("unchecked")
  private static <T extends Throwable> RuntimeException sneak(Throwable t) throws T {
    throw (T) t;
  }

  @ParameterizedTest
  @MethodSource("failures")
  void anInterceptorThrowingFromNewCallLeavesNothingOnTheContext(Throwable failure)
      throws Exception {
    ClientInterceptor throwing = new Throwing(failure, Where.NEW_CALL);
    CancelableContext ctx = Context.withCancel(Context.background());
    try (LoopbackGrpc g = new LoopbackGrpc(Context.background(), (req, resp) -> {}, PASS_THROUGH)) {
      Channel channel = ClientInterceptors.intercept(g.channel, throwing, GrpcContexts.clientInterceptor());
      CallOptions bound = GrpcContexts.withContext(CallOptions.DEFAULT, ctx);
      assertSame(failure, assertThrows(Throwable.class,
          () -> ClientCalls.blockingUnaryCall(channel, LoopbackGrpc.CALL, bound, "x")));
      assertEquals(0, CoreInternals.registrationCount(ctx), "the call's bridge stayed on the context");
      // A stub deadline earlier than the context's: a ctx4j child of its own, ended with the call.
      CallOptions stub = bound.withDeadlineAfter(1, TimeUnit.MINUTES);
      assertSame(failure, assertThrows(Throwable.class,
          () -> ClientCalls.blockingUnaryCall(channel, LoopbackGrpc.CALL, stub, "x")));
      assertEquals(0, CoreInternals.registrationCount(ctx), "the stub deadline's child stayed on the context");
    } finally {
      ctx.cancel();
    }
  }

  @ParameterizedTest
  @MethodSource("failures")
  void anInterceptorThrowingFromStartLeavesNothingOnTheContext(Throwable failure)
      throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    try (LoopbackGrpc g =
        new LoopbackGrpc(
            Context.background(),
            (req, resp) -> {
              resp.onNext(req);
              resp.onCompleted();
            },
            PASS_THROUGH)) {
      CallOptions bound = GrpcContexts.withContext(CallOptions.DEFAULT, ctx);
      Channel throwing =
          ClientInterceptors.intercept(g.channel, new Throwing(failure, Where.START), GrpcContexts.clientInterceptor());
      ClientCall<String, String> failed = throwing.newCall(LoopbackGrpc.CALL, bound);
      assertSame(failure, assertThrows(Throwable.class,
          () -> failed.start(new ClientCall.Listener<>() {}, new Metadata())));
      assertEquals(0, CoreInternals.registrationCount(ctx), "a call that failed to start stayed on the context");
      // A second start of a started call throws, and must not cost the call that runs.
      Channel channel = ClientInterceptors.intercept(g.channel, GrpcContexts.clientInterceptor());
      ClientCall<String, String> call = channel.newCall(LoopbackGrpc.CALL, bound);
      CompletableFuture<String> answer = new CompletableFuture<>();
      ClientCall.Listener<String> listener =
          new ClientCall.Listener<>() {
            @Override
            public void onMessage(String message) {
              answer.complete(message);
            }

            @Override
            public void onClose(Status status, Metadata trailers) {
              answer.completeExceptionally(status.asRuntimeException());
            }
          };
      call.start(listener, new Metadata());
      assertThrows(IllegalStateException.class, () -> call.start(listener, new Metadata()));
      call.request(1);
      call.sendMessage("x");
      call.halfClose();
      assertEquals("x", answer.get(10, TimeUnit.SECONDS));
    } finally {
      ctx.cancel();
    }
  }

  @ParameterizedTest
  @MethodSource("failures")
  void anInterceptorThrowingFromCancelStillGetsTheCallCancelled(Throwable failure)
      throws Exception {
    ClientInterceptor throwingCancel = new Throwing(failure, Where.CANCEL);
    CountDownLatch handlerStarted = new CountDownLatch(1);
    CountDownLatch handlerEnded = new CountDownLatch(1);
    CancelableContext ctx = Context.withCancel(Context.background());
    try (LoopbackGrpc g =
        new LoopbackGrpc(
            Context.background(),
            (req, resp) -> {
              GrpcContexts.current().onDone(handlerEnded::countDown);
              handlerStarted.countDown(); // and never answers
            },
            PASS_THROUGH)) {
      Channel channel = ClientInterceptors.intercept(g.channel, throwingCancel, GrpcContexts.clientInterceptor());
      ClientCall<String, String> call =
          channel.newCall(LoopbackGrpc.CALL, GrpcContexts.withContext(CallOptions.DEFAULT, ctx));
      CompletableFuture<Status> closed = new CompletableFuture<>();
      call.start(
          new ClientCall.Listener<>() {
            @Override
            public void onClose(Status status, Metadata trailers) {
              closed.complete(status);
            }
          },
          new Metadata());
      call.request(1);
      call.sendMessage("x");
      call.halfClose();
      assertTrue(handlerStarted.await(10, TimeUnit.SECONDS), "the handler never ran");
      assertSame(failure, assertThrows(Throwable.class, () -> call.cancel("stop", null)));
      assertEquals(Status.Code.CANCELLED, closed.get(10, TimeUnit.SECONDS).getCode());
      assertTrue(handlerEnded.await(10, TimeUnit.SECONDS), "the handler's context outlived the cancel");
      assertEquals(0, CoreInternals.registrationCount(ctx), "the call's bridge stayed on the context");
    } finally {
      ctx.cancel();
    }
  }

  /** A foreign context whose registrations throw {@code failure} when withdrawn. */
  private static Context throwingOnStop(Throwable failure) {
    return new ForeignContext() {
      @Override
      public Registration onDone(Runnable callback) {
        return () -> {
          throw sneak(failure);
        };
      }
    };
  }

  @ParameterizedTest
  @MethodSource("failures")
  void toCtx4jEndsWhenGrpcCancelsThoughTheParentRegistrationThrows(Throwable failure) {
    io.grpc.Context.CancellableContext grpc = io.grpc.Context.ROOT.withCancellation();
    CancelableContext ctx = GrpcContexts.toCtx4j(grpc, throwingOnStop(failure));
    grpc.cancel(null); // gRPC logs what its listener throws
    assertTrue(ctx.isDone(), "the gRPC cancellation was lost");
    assertSame(Context.CANCELED, ctx.err());
  }

  @ParameterizedTest
  @MethodSource("failures")
  void closedConversionsLeaveNoGrpcListenerThoughTheCtx4jRegistrationThrows(Throwable failure) {
    io.grpc.Context.CancellableContext grpc = io.grpc.Context.ROOT.withCancellation();
    try {
      Context foreign = throwingOnStop(failure);
      CancelableContext to = GrpcContexts.toCtx4j(grpc, foreign);
      try {
        to.close();
      } catch (Throwable t) {
        assertSame(failure, t);
      }
      assertEquals(0, GrpcRegistrationLeakTest.listenerCount(grpc), "toCtx4j left its listener");
      io.grpc.Context.CancellableContext from = GrpcContexts.fromCtx4j(foreign, grpc);
      from.close(); // gRPC logs what its listener throws
      assertTrue(from.isCancelled());
      assertEquals(0, GrpcRegistrationLeakTest.listenerCount(grpc), "fromCtx4j left its listener");
    } finally {
      grpc.cancel(null);
    }
  }

  /**
   * A foreign context that keeps the callbacks it is given, ends when {@link #end} runs them, and
   * then throws {@code failure} from {@code err()} (with {@code errThrows}) or from {@code cause()}.
   */
  private static final class Ending extends ForeignContext {
    private final Throwable failure;
    private final boolean errThrows;
    private final List<Runnable> callbacks = new CopyOnWriteArrayList<>();
    private volatile boolean done;

    Ending(Throwable failure, boolean errThrows) {
      this.failure = failure;
      this.errThrows = errThrows;
    }

    @Override
    public ContextException err() {
      if (done && errThrows) {
        throw sneak(failure);
      }
      return done ? Context.CANCELED : null;
    }

    @Override
    public Throwable cause() {
      if (done) {
        throw sneak(failure);
      }
      return null;
    }

    @Override
    public Registration onDone(Runnable callback) {
      callbacks.add(callback);
      return () -> callbacks.remove(callback);
    }

    /** Ends the context and runs its callbacks, as its own implementation would. */
    void end() {
      done = true;
      for (Runnable r : callbacks) {
        try {
          r.run();
        } catch (Throwable t) {
          assertSame(failure, t);
        }
      }
    }
  }

  @ParameterizedTest
  @MethodSource("failures")
  void fromCtx4jIsCancelledWhenTheContextEndsThoughItsCauseThrows(Throwable failure) {
    Ending ctx = new Ending(failure, false);
    io.grpc.Context.CancellableContext grpc = GrpcContexts.fromCtx4j(ctx, io.grpc.Context.ROOT);
    ctx.end();
    assertTrue(grpc.isCancelled(), "the ctx4j cancellation was lost");
  }

  @ParameterizedTest
  @MethodSource("failures")
  void toCtx4jEndsWhenTheParentEndsThoughItsErrThrows(Throwable failure) {
    io.grpc.Context.CancellableContext grpc = io.grpc.Context.ROOT.withCancellation();
    try {
      Ending parent = new Ending(failure, true);
      CancelableContext ctx = GrpcContexts.toCtx4j(grpc, parent);
      parent.end();
      assertTrue(ctx.isDone(), "the parent's cancellation was lost");
      assertEquals(0, GrpcRegistrationLeakTest.listenerCount(grpc), "toCtx4j left its listener");
    } finally {
      grpc.cancel(null);
    }
  }

  /**
   * A foreign context whose {@code onDone} returns null instead of a {@link Registration} is
   * refused with the core's exception, naming its class, as ctx4j refuses it wherever it registers
   * on one: before a call bound to it sends anything, and before a conversion is handed out; a
   * server with such a root refuses each call before its handler runs.
   */
  @Test
  void aForeignContextWhoseOnDoneReturnsNullIsRefusedBeforeAnythingIsSent() throws Exception {
    Context broken = ForeignContext.returningNullFromOnDone();
    String refused = ForeignContext.nullRegistrationMessage(broken);
    AtomicInteger handled = new AtomicInteger();
    ServerCalls.UnaryMethod<String, String> echo =
        (req, resp) -> {
          handled.incrementAndGet();
          resp.onNext(req);
          resp.onCompleted();
        };
    try (LoopbackGrpc g = new LoopbackGrpc(echo);
        LoopbackGrpc brokenRoot = new LoopbackGrpc(broken, echo)) {
      assertEquals(refused, assertThrows(NullPointerException.class, () -> g.call(broken, "x")).getMessage());
      assertEquals(0, handled.get(), "a call bound to the broken context was sent");
      assertEquals(refused, assertThrows(NullPointerException.class,
          () -> GrpcContexts.fromCtx4j(broken, io.grpc.Context.ROOT)).getMessage());
      io.grpc.Context.CancellableContext grpc = io.grpc.Context.ROOT.withCancellation();
      try {
        assertEquals(refused, assertThrows(NullPointerException.class,
            () -> GrpcContexts.toCtx4j(grpc, broken)).getMessage());
        assertEquals(0, GrpcRegistrationLeakTest.listenerCount(grpc), "a refused toCtx4j left its listener");
      } finally {
        grpc.cancel(null);
      }
      assertEquals(Status.Code.UNKNOWN, brokenRoot.callFails(Context.background()).getStatus().getCode());
      assertEquals(0, handled.get(), "a handler ran under the broken root");
    }
  }

  /**
   * A null listener or null headers are refused as gRPC's own call refuses them, and the call stays
   * as it was, startable: wrapped by ours, a null listener reached gRPC as a listener, and the call
   * went out with no one to hear it; and the bridge cancelled for a refused start failed the call's
   * next, proper start with {@code CANCELLED}.
   */
  @Test
  void aStartWithANullArgumentIsRefusedAndLeavesTheCallStartable() throws Exception {
    CancelableContext ctx = Context.withCancel(Context.background());
    try (LoopbackGrpc g =
        new LoopbackGrpc(
            (req, resp) -> {
              resp.onNext(req);
              resp.onCompleted();
            })) {
      CallOptions bound = GrpcContexts.withContext(CallOptions.DEFAULT, ctx);
      ClientCall<String, String> noListener = g.channel.newCall(LoopbackGrpc.CALL, bound);
      assertThrows(NullPointerException.class, () -> noListener.start(null, new Metadata()));
      assertEquals(0, CoreInternals.registrationCount(ctx), "a refused start stayed on the context");
      assertEquals("x", complete(noListener, "x"));
      ClientCall<String, String> noHeaders = g.channel.newCall(LoopbackGrpc.CALL, bound);
      assertThrows(NullPointerException.class, () -> noHeaders.start(new ClientCall.Listener<>() {}, null));
      assertEquals(0, CoreInternals.registrationCount(ctx), "a refused start stayed on the context");
      assertEquals("y", complete(noHeaders, "y"));
      assertEquals(0, CoreInternals.registrationCount(ctx), "a completed call stayed on the context");
    } finally {
      ctx.cancel();
    }
  }

  /**
   * Starts {@code call}, sends {@code request} and returns the answer once the call has closed
   * (when ours has withdrawn its bridge: it does so before passing {@code onClose} on).
   */
  private static String complete(ClientCall<String, String> call, String request) throws Exception {
    CompletableFuture<String> answer = new CompletableFuture<>();
    call.start(
        new ClientCall.Listener<>() {
          private String message;

          @Override
          public void onMessage(String message) {
            this.message = message;
          }

          @Override
          public void onClose(Status status, Metadata trailers) {
            if (status.isOk()) {
              answer.complete(message);
            } else {
              answer.completeExceptionally(status.asRuntimeException());
            }
          }
        },
        new Metadata());
    call.request(1);
    call.sendMessage(request);
    call.halfClose();
    return answer.get(10, TimeUnit.SECONDS);
  }

  private enum Where {
    NEW_CALL,
    START,
    CANCEL
  }

  /** Throws {@code failure} from {@code newCall}, or from the call's {@code start} or {@code cancel}. */
  private static final class Throwing implements ClientInterceptor {
    private final Throwable failure;
    private final Where where;

    Throwing(Throwable failure, Where where) {
      this.failure = failure;
      this.where = where;
    }

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(
        io.grpc.MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
      if (where == Where.NEW_CALL) {
        throw sneak(failure);
      }
      return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(method, options)) {
        @Override
        public void start(Listener<R> listener, Metadata headers) {
          if (where == Where.START) {
            throw sneak(failure); // before passing the start on
          }
          super.start(listener, headers);
        }

        @Override
        public void cancel(String message, Throwable cause) {
          throw sneak(failure); // before passing the cancellation on
        }
      };
    }
  }

  /** Passes every call on untouched: the channel's own interceptor, ours is added per test. */
  private enum ContextlessPassThrough implements ClientInterceptor {
    INSTANCE;

    @Override
    public <Q, R> ClientCall<Q, R> interceptCall(
        io.grpc.MethodDescriptor<Q, R> method, CallOptions options, Channel next) {
      return next.newCall(method, options);
    }
  }
}
