package io.ctx4j.spring.boot;

import io.ctx4j.ContextException;
import io.ctx4j.http.DeadlineHeader;
import io.ctx4j.internal.CoreInternals;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;
import reactor.core.publisher.Mono;
import reactor.netty.Connection;
import reactor.netty.channel.ChannelOperations;
import reactor.netty.http.client.HttpClient;
import reactor.netty.http.client.HttpClientRequest;

/**
 * Makes a Reactor Netty {@link HttpClient} behind Spring's {@code ReactorClientHttpRequestFactory}
 * state the time left of a {@link ContextClientHttpRequestInterceptor} call on each of its requests
 * as the request is written, after any wait for a pooled connection. The interceptor's {@link
 * DeadlineHeader#NAME} is computed before the request is handed to the factory; Reactor Netty then
 * waits for a connection of its pool (its {@code ConnectionProvider}'s limit reached, 500 by
 * default), and Spring copies its headers onto Reactor Netty's request only once it has one. So the
 * wait was not taken off the budget the server saw, and a request whose deadline passed meanwhile
 * (the context's timer lagging) went out with the interceptor's budget.
 *
 * <p>{@link #install} returns a client that, when Spring's factory subscribes to an exchange (on
 * the calling thread, within the interceptor's call), carries that call in the exchange's Reactor
 * context; once Reactor Netty has a connection for a request of the exchange ({@code doOnRequest},
 * the first request and every redirect hop it follows itself), a Netty handler on the connection
 * replaces the request's {@link DeadlineHeader#NAME} as the request is written with the time left
 * of the call's context then ({@link DeadlineHeader#valueFor}). Reactor Netty runs no callback of
 * its own between Spring's copy of the headers and their write, so a handler in the connection's
 * pipeline is the latest point at which the request can be changed. If the call's context has ended
 * when Reactor Netty has the connection, the request is not sent: the exchange, and so the call,
 * fails with the context's error. The handler refuses the write the same way if the context has
 * ended by then or its deadline has passed though its timer has not ended it yet ({@link
 * CoreInternals#endOf}): a request sent with a budget of {@code 0} could succeed after its
 * deadline, and the deadline may pass while Spring copies the body; the close of the connection
 * ends the exchange (a write failed with a {@code CancellationException} is a cancelled one to
 * Netty, and Reactor Netty would wait for a response). A write that fails in the handler (that
 * refusal, or a custom context's {@code remaining()} throwing) releases the message, as Netty does
 * not: a {@code FullHttpRequest} holds the body's buffers. Both refusals close the connection
 * before the request fails, so that Reactor Netty never takes it back into its pool: the context's
 * end also interrupts the calling thread, whose cancel of the exchange closes the connection a
 * moment later, which would hit the next call to take it from the pool.
 *
 * <p>The same close comes when the context ends in the middle of an exchange: the exchange's
 * cancel, on the cancelling thread, marks the connection not persistent before Reactor Netty's
 * cancel queues that close, so that an event loop that reads the whole response first closes the
 * connection rather than pool it. And a response that came as the interrupt made {@code
 * Mono.block()} throw, which Reactor then drops, is given up when the interceptor's factory call
 * fails ({@link CallAbort#onAbandon}): its unread body would hold the connection, and its buffers,
 * for nobody. So is every response the interceptor gives up once its context has ended: closing
 * Spring's body stream cancels the subscription the stream holds, which a race can have made
 * another than the connection's.
 *
 * <p>Only the call's own requests have their budget stated, and are refused past the deadline:
 * the one the interceptor handed on, which carries the {@link DeadlineHeader#NAME} value the
 * interceptor stated (Spring copies it onto Reactor Netty's request), and the hops Reactor Netty
 * sends after it. A request the application sends itself through the same client on the calling
 * thread during the call (a token fetch in a later interceptor, with a {@code RestClient} without
 * the interceptor, or the client used directly) is subscribed within the call too: it keeps its own
 * headers and goes out unless the context has ended (the interceptor's interrupt stops it when the
 * context ends). A call whose context has no deadline has no budget to state. A request outside
 * such a call (no interceptor, or the client used directly) is left alone.
 *
 * <p>The auto-configuration installs it on every Reactor Netty client Spring Boot builds for
 * {@code ReactorClientHttpRequestFactory} ({@code spring.http.clients.imperative.factory=reactor},
 * or Reactor Netty being the first factory Spring Boot finds); a client built otherwise needs
 * {@code ContextReactorHttpClient.install(httpClient)} before it is given to the factory.
 *
 * <p>Thread-safe: {@link #install} may be called from any thread; the handler is stateless and
 * shared, each request's call travels on its connection's channel.
 *
 * @since 0.1
 */
public final class ContextReactorHttpClient {

  /** The Reactor context key of the interceptor's call an exchange belongs to. */
  private static final Object CALL = ContextReactorHttpClient.class.getName() + ".call";

  /** The Reactor context key of the exchange's {@link Exchange}. */
  private static final Object EXCHANGE = ContextReactorHttpClient.class.getName() + ".exchange";

  /** The channel attribute carrying the call of the request the connection is about to write. */
  private static final AttributeKey<CallAbort> REQUEST_CALL =
      AttributeKey.valueOf(ContextReactorHttpClient.class.getName() + ".request");

  /** The name of the handler in a connection's pipeline. */
  private static final String HANDLER = "ctx4j.deadline";

  private static final ChannelHandler RESTATE = new Restate();

  /**
   * For tests: told what each exchange does, with the channel it concerns (null when it has none
   * yet). Null, and read once per step, outside tests.
   */
  static volatile BiConsumer<Channel, String> trace;

  private static void trace(Object connection, String what) {
    BiConsumer<Channel, String> t = trace;
    if (t != null) {
      t.accept(connection instanceof Connection c ? c.channel() : null, what);
    }
  }

  private ContextReactorHttpClient() {}

  /**
   * Returns {@code client} with the time left stated as each request tied to an interceptor's call
   * is written; see the class documentation. {@code HttpClient} is immutable: use the client
   * returned. Installing on a client returned here again states the budget once more, to the same
   * effect.
   *
   * @param client the client
   * @return a new client like {@code client}, which states the time left
   * @throws NullPointerException if {@code client} is null
   */
  public static HttpClient install(HttpClient client) {
    Objects.requireNonNull(client, "client");
    return client
        // At subscription: Spring's factory subscribes (block()) on the calling thread, where the
        // interceptor's call is open; the exchange's connections see the call in their context.
        .mapConnect(
            connect ->
                Mono.defer(
                    () -> {
                      CallAbort call = CallAbort.current();
                      if (call == null) {
                        return connect;
                      }
                      // One per subscription, that is per exchange: the connect Mono emits once
                      // the response's head is in.
                      Exchange exchange = new Exchange();
                      call.onAbandon(exchange::abandoned);
                      return connect
                          .doOnNext(exchange::responded)
                          .doOnCancel(exchange::cancelled)
                          .contextWrite(c -> c.put(CALL, call).put(EXCHANGE, exchange));
                    }))
        .doOnRequest(ContextReactorHttpClient::prepare);
  }

  /**
   * An exchange of an interceptor's call, subscribed on the calling thread: keeps its connection
   * from going back into Reactor Netty's pool open when the exchange is cancelled before its
   * response's head reached it.
   *
   * <p>The context's end interrupts the calling thread, whose {@code Mono.block()} cancels the
   * exchange, and Reactor Netty's cancel closes the connection from that thread: a close queued on
   * the connection's event loop. If the event loop reads the whole response before it runs that
   * close (a response that arrives with the cancel), Reactor Netty takes the exchange for a clean
   * one and gives the connection back to its pool, or straight to a call waiting for it, and the
   * close then hits that call ("Connection prematurely closed BEFORE response"). So the cancel,
   * on the cancelling thread and before Reactor Netty's own, marks the connection not persistent
   * ({@link Connection#markPersistent}, a channel attribute): the event loop then closes it at the
   * exchange's end instead of pooling it. A cancel that comes before the connection is there
   * leaves the request to be refused and its connection closed when it is ({@link #prepare}); a
   * response whose head comes as the cancel has gone up, which nobody takes any more, has its
   * connection closed on the event loop ({@link #responded}). A cancel after the head reached the
   * caller (Spring's {@code next()} cancels as it takes the response) changes nothing.
   *
   * <p>Thread-safe: one state, changed by compare-and-set from the event loop and the cancelling
   * thread.
   */
  private static final class Exchange {
    private static final Object CANCELLED = new Object();
    private static final Object RESPONDED = new Object();

    /** Null, then the connection of the request being sent, then CANCELLED or RESPONDED. */
    private final AtomicReference<Object> state = new AtomicReference<>();

    /**
     * A request of the exchange has its connection (each redirect hop its own); false if the
     * exchange was cancelled before.
     */
    boolean sending(Connection connection) {
      for (; ; ) {
        Object s = state.get();
        if (s == CANCELLED || s == RESPONDED) {
          return s != CANCELLED;
        }
        if (state.compareAndSet(s, connection)) {
          return true;
        }
      }
    }

    /** The connection whose response's head came, or null. */
    private volatile Connection responded;

    /**
     * Its event loop, taken on that loop: {@code Channel.eventLoop()} throws once the channel is
     * closed and deregistered.
     */
    private volatile EventLoop loop;

    /** The response's head is in; on the connection's event loop. */
    void responded(Connection connection) {
      loop = connection.channel().eventLoop();
      responded = connection;
      Object was = state.getAndSet(RESPONDED);
      trace(connection, was == CANCELLED ? "exchange responded after its cancel" : "exchange responded");
      if (was == CANCELLED) {
        // Cancelled as the head came: nobody takes this response, and Reactor Netty's cancel,
        // which its sink had no more, disposes nothing. Disposed here as that cancel would have
        // (the body's buffers released, the connection closed), on the event loop, at once.
        connection.dispose();
      }
    }

    /**
     * The factory threw, or the interceptor gave the response up (its context ended): a response
     * that came (emitted as the interrupt made {@code Mono.block()} throw, which drops it; or given
     * up by a close that cancelled a subscription Spring's stream held in place of the
     * connection's) reaches nobody, and its body, never asked for, holds the connection for as
     * long as the server keeps it open (Reactor Netty reads on demand), and the buffers of it that
     * came stay queued for nobody. At once, on this thread, an exchange still on its connection
     * has the connection marked not persistent ({@link #keepOutOfPool}), so that, should it end
     * before the task below runs, Reactor Netty closes the connection rather than pool it with
     * buffers queued for nobody. On the event loop: an exchange still on its connection is
     * disposed, as Reactor Netty's cancel would (buffers released, connection closed); one that is
     * over (a small body, all in) and whose body nobody subscribed to (the factory threw) has what
     * it queued read and so released. Spring's body stream, once it subscribed, is the body's one
     * reader (Reactor Netty refuses a second), and its close released what reached it.
     */
    void abandoned() {
      Connection c = responded;
      if (c == null) {
        trace(state.get(), "exchange abandoned before any response");
        return;
      }
      trace(c, "exchange abandoned");
      letGo(c, loop, "abandoned", () -> readWhatItQueued(c));
    }

    /**
     * On the connection's event loop, for an exchange that is over (the whole body in, the
     * connection back in the pool, maybe another call's now, so neither closed nor cancelled:
     * Reactor Netty's cancel of an inbound with content left closes the channel) and whose body
     * nobody reads: its buffers wait for a reader that never comes, and one reads them here, which
     * releases each. A body that has a reader already refuses this one, with an error it ignores.
     */
    private static void readWhatItQueued(Connection c) {
      if (c instanceof ChannelOperations<?, ?> ops && !ops.isInboundDisposed()) {
        trace(c, "abandoned exchange's buffers read");
        ops.receiveObject().subscribe(content -> {}, failure -> {});
      }
    }

    /**
     * Cancelled, on the cancelling thread, before Reactor Netty's cancel runs. Reactor Netty's
     * cancel closes the connection of an exchange whose response has not come, as a rule; but a
     * CancelAnywhereTest run once saw such a connection left open, held for a minute by a response
     * that came after the cancel and that nobody read (the calls waiting for the pool failed). So
     * the exchange, still on its connection, is also disposed on the connection's event loop.
     */
    void cancelled() {
      for (; ; ) {
        Object s = state.get();
        if (s == CANCELLED || s == RESPONDED) {
          trace(responded, s == CANCELLED ? "exchange cancelled again" : "exchange cancelled after its response");
          return;
        }
        if (state.compareAndSet(s, CANCELLED)) {
          trace(s, "exchange cancelled before its response");
          // Only while the request's exchange is still the one on the connection: a redirect's
          // earlier hop may have given its connection back to the pool, to another call.
          if (s instanceof Connection c) {
            letGo(c, null, "cancelled", () -> {});
          }
          return;
        }
      }
    }

    /**
     * Lets an exchange's connection go: at once, on this thread, marks it not persistent if the
     * exchange is still on it ({@link #keepOutOfPool}); then, on {@code loop}, disposes of it if
     * the exchange still is (buffers released, connection closed, as Reactor Netty's cancel
     * would), else runs {@code over}. {@code loop} null: the channel's own, taken now.
     */
    private static void letGo(Connection c, EventLoop loop, String how, Runnable over) {
      keepOutOfPool(c);
      Channel ch = c.channel();
      try {
        (loop != null ? loop : ch.eventLoop()).execute(
            () -> {
              if (ChannelOperations.get(ch) == c) {
                trace(c, how + " exchange disposed");
                c.dispose();
              } else {
                over.run();
              }
            });
      } catch (RuntimeException e) {
        // The loop is shutting down (RejectedExecutionException), and closes its connections with
        // it; or the channel is closed and deregistered, has no event loop, and needs nothing.
      }
    }
  }

  /**
   * Lets the exchange of {@code nativeRequest} go, if it is Reactor Netty's (which is its
   * connection), for a WebClient exchange cancelled before its response reached ctx4j's filter;
   * else does nothing. Reactor Netty's cancel gives the exchange up only until its connector has
   * emitted the response's head, and Spring's connector gives up the body of a response it has
   * already made; in between (a few instructions on the event loop, the cancel coming from another
   * thread) neither does, the response reaches nobody, and its body's buffers stay queued for
   * nobody ({@code WebClientH2cLateResponseTest}, a cancel held in that window: every call with a
   * body). So, as for an interceptor's abandoned exchange: at once, the connection marked not
   * persistent if the exchange is still on it; on its event loop, after whatever that loop is
   * doing with the response, the exchange disposed if still on its connection (buffers released,
   * the HTTP/2 stream reset or the HTTP/1.1 connection closed, as Reactor Netty's cancel would),
   * else what it queued read and so released.
   *
   * @param nativeRequest the native request of a Spring {@code ClientHttpRequest}
   */
  static void letGoBeforeResponse(Object nativeRequest) {
    if (nativeRequest instanceof Connection c) {
      Exchange.letGo(c, null, "cancelled", () -> Exchange.readWhatItQueued(c));
    }
  }

  /**
   * Closes the connection of a request that ctx4j refuses as it is written, before the refusal is
   * thrown, if {@code nativeRequest} is Reactor Netty's (which is its connection); else does
   * nothing. A refused connection left open goes back into Reactor Netty's pool as clean, nothing
   * having been sent, while the context's end cancels the exchange from another thread, and Reactor
   * Netty's cancel closes the exchange's connection a moment later: under the next call that took
   * it. Called on the connection's event loop, where the close is immediate.
   *
   * @param nativeRequest the native request of a Spring {@code ClientHttpRequest}
   */
  static void closeRefused(Object nativeRequest) {
    if (nativeRequest instanceof Connection c) {
      c.channel().close();
    }
  }

  /**
   * Marks the connection of exchange {@code c}, if the exchange is still the one on it, not
   * persistent, so that the exchange's end closes it rather than pool it; else does nothing. For a
   * cancel of the exchange from another thread, before Reactor Netty's own, which closes the
   * connection a moment later (see {@link Exchange}).
   */
  private static void keepOutOfPool(Connection c) {
    if (ChannelOperations.get(c.channel()) == c) {
      c.markPersistent(false);
    }
  }

  /**
   * Reactor Netty has a connection for {@code request}, after any wait for one, and has prepared
   * it; Spring's headers are copied onto it after this, so the handler, not this, states the
   * budget. Throws the context's error if the context has ended or its deadline has passed: Reactor
   * Netty fails the exchange with it, unsent.
   */
  private static void prepare(HttpClientRequest request, Connection connection) {
    Object call = request.currentContextView().getOrDefault(CALL, null);
    if (call instanceof CallAbort c) {
      if (request.currentContextView().getOrDefault(EXCHANGE, null) instanceof Exchange e
          && !e.sending(connection)) {
        // Cancelled before its request is sent: Reactor Netty's cancel closes the connection
        // from the cancelling thread, later, which could hit the next call if Reactor Netty
        // pooled it in between. Closed now, on the event loop; the exchange has no subscriber.
        closeRefused(connection);
        ContextException end = c.refusal(false);
        throw end != null ? end : new CancellationException("the exchange was cancelled");
      }
      // An ended context only: whether the request is the call's own, refused past its deadline
      // as well (a budget of 0 could succeed after it), shows at the write, once Spring has copied
      // its headers onto it.
      ContextException end = c.refusal(false);
      if (end != null) {
        // Closed, though nothing was sent: the context's end also interrupts the calling thread,
        // whose Mono.block() then cancels the exchange, and Reactor Netty's cancel closes the
        // exchange's connection from that thread, later. Left open, Reactor Netty would take it
        // back into the pool as clean, where the close could hit the next call that takes it.
        closeRefused(connection);
        throw end; // inside Reactor Netty's preparation of the request, which fails the exchange
      }
      connection.channel().attr(REQUEST_CALL).set(c);
      // Reactor Netty removes it from a pooled connection when the exchange is over.
      connection.addHandlerFirst(HANDLER, RESTATE);
    }
  }

  /**
   * Restates the budget of a request as it is written, or refuses the write, and closes the
   * connection, if the call's context has ended or its deadline has passed since {@link #prepare}
   * checked it.
   */
  @ChannelHandler.Sharable
  private static final class Restate extends ChannelOutboundHandlerAdapter {
    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise)
        throws Exception {
      if (msg instanceof HttpRequest request) {
        // Taken, once: a handler left on a connection reused without ctx4j changes nothing.
        CallAbort call = ctx.channel().attr(REQUEST_CALL).getAndSet(null);
        if (call != null) {
          try {
            // The deadline may have passed since prepare() (Spring's body being copied in between),
            // and the call's own request written now would go out with a budget of 0.
            HttpHeaders headers = request.headers();
            ContextException end =
                call.leave(
                    headers.get(DeadlineHeader.NAME),
                    edit -> edit.apply(headers::remove, headers::set));
            if (end != null) {
              throw end; // the write fails with it, below, and so the exchange: unsent
            }
          } catch (RuntimeException | Error e) {
            // The write fails with it (the refusal above, a custom context's remaining()). Netty
            // leaves the message to the handler: a FullHttpRequest (a body sent in one message)
            // holds buffers of the client's. And a write failed with a CancellationException, as
            // every ContextException is, is a cancelled one to Netty (DefaultPromise.isCancelled),
            // for which Reactor Netty does not end the exchange: it waits for a response that
            // cannot come. Closing the connection ends it ("prematurely closed"); the connection,
            // its request's head sent as far as Reactor Netty knows, is fit for no other. Closed
            // before the write fails: a failure Reactor Netty takes as one ends the exchange at
            // once and lets the connection go, and an open one goes back to the pool, where
            // another call may take it just before a later close.
            ReferenceCountUtil.safeRelease(msg);
            ctx.channel().close();
            promise.tryFailure(e);
            return;
          }
        }
      }
      super.write(ctx, msg, promise);
    }
  }
}
