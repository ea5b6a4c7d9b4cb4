package io.ctx4j.spring.boot;

import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.Registration;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.http.DeadlineHeader;
import io.ctx4j.internal.CoreInternals;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.reactivestreams.Subscription;
import org.springframework.core.io.buffer.DataBuffer;
import org.springframework.core.io.buffer.DataBufferUtils;
import org.springframework.http.HttpHeaders;
import org.springframework.web.reactive.function.client.ClientRequest;
import org.springframework.web.reactive.function.client.ClientResponse;
import org.springframework.web.reactive.function.client.ExchangeFilterFunction;
import org.springframework.web.reactive.function.client.ExchangeFunction;
import reactor.core.CoreSubscriber;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Operators;
import reactor.core.publisher.Sinks;

/**
 * An {@link ExchangeFilterFunction} for {@code WebClient} that runs every exchange under a ctx4j
 * context: the request carries the time left in {@link DeadlineHeader#NAME} (any such header already
 * there is replaced or removed), and the exchange, then the response body, is cancelled when the
 * context ends. The header is computed when the connector writes the request, after any wait for a
 * pooled connection (a {@code ClientRequest.httpRequest} consumer), so that wait is not added to the
 * receiver's budget; filters nearer the connector see the value at subscription.
 *
 * <p><b>Which context.</b> A {@code WebClient} call does nothing until it is subscribed to, so the
 * context is read at subscription: the {@link Context} stored in the subscriber's Reactor context
 * under the key {@link #REACTOR_KEY} ({@code Context.class}) if there is one, else {@link
 * CurrentContext#get()} in the subscribing thread. {@code block()}, or returning the {@code Mono}
 * from a Spring MVC handler, subscribes in the request's thread, where {@code ContextServletFilter}
 * bound the request context; a pipeline subscribed on another thread should put the context in its
 * Reactor context: {@code .contextWrite(c -> c.put(Context.class, ctx))}. That includes a
 * resubscription on a scheduler's thread ({@code retryWhen} with a backoff, {@code
 * delaySubscription}): each subscription reads the context again, and the current context there
 * is usually none.
 *
 * <p><b>When the context ends</b> (or is already done at subscription), the exchange's {@code Mono}
 * fails with a fresh copy of the context's error ({@code CanceledException} or {@code
 * DeadlineExceededException}, with the context's cause) and its subscription to the connector is
 * cancelled (Reactor Netty then closes the HTTP/1.1 connection or resets the HTTP/2 stream; as it
 * does so from the cancelling thread, a moment later, the filter first marks the connection not
 * persistent, so that an event loop that reads the whole response meanwhile does not pool it under
 * that close, and has the exchange given up on that event loop as well, for a response whose head
 * came just as the cancel went up, which neither Reactor Netty nor Spring then gives up); once the
 * response is there, its body {@code Flux} fails and is cancelled the same way (Reactor Netty closes
 * the connection; Spring's {@code JdkClientHttpConnector} leaves an HTTP/1.1 connection open, the
 * body still coming), and a buffer of the body on its way as the context ends is either handed
 * over before the failure or released. A response reaching
 * the filter after the context has ended (the end racing the response's arrival) is not handed
 * over: the exchange fails with the context's error, and the body is given up. A deadline that has
 * passed at subscription counts as an end even before ctx4j's timer has ended the context (a tick
 * after the deadline, longer on a loaded timer thread, for ever with a custom context that lags):
 * nothing is sent, and the exchange fails with a {@code DeadlineExceededException} without a cause
 * (the context has none yet), rather than go out with a budget of 0 and perhaps succeed after its
 * deadline. The same holds when the request is written: one that waited in the connector's pool
 * past its deadline, the timer lagging, fails with that exception unsent (the connector sees it
 * thrown by the write; Reactor Netty logs it as "The connection observed an error").
 *
 * <p>The end is watched from a phase's first request for data, not from its subscription: a
 * subscriber that has the body but never asks for any of it keeps it until it cancels. A read of the
 * body after the context has ended (Spring's {@code retrieve()} reads it again to build its {@code
 * WebClientResponseException}) fails at once with the context's error without reading the
 * connector's body again.
 *
 * <p><b>Resources.</b> Each phase (the exchange; the body, when it is asked for data) holds one
 * registration on the context from its first request until it completes, fails or is cancelled, and
 * removes it then; a long-lived context keeps nothing from finished calls.
 *
 * <p>Thread safety: stateless and thread-safe. Memory consistency effects: ending the context
 * happens-before the subscriber receives the error.
 *
 * @since 0.1
 */
public final class ContextExchangeFilterFunction implements ExchangeFilterFunction {

  /** The Reactor context key under which a subscriber may put the ctx4j {@link Context} to use. */
  public static final Class<Context> REACTOR_KEY = Context.class;

  /** Creates the filter. */
  public ContextExchangeFilterFunction() {}

  /**
   * Sends the request under the context; see the class documentation.
   *
   * @param request the request
   * @param next the rest of the chain
   * @return the response, failing with the context's error if the context ends first (unsent if
   *     it has ended, or its deadline has passed, at subscription)
   */
  @Override
  public Mono<ClientResponse> filter(ClientRequest request, ExchangeFunction next) {
    return Mono.deferContextual(
        view -> {
          Context ctx = view.getOrDefault(REACTOR_KEY, null);
          Context c = ctx != null ? ctx : CurrentContext.get();
          // Not err() alone: past its deadline a context may not have been ended by its timer yet
          // (a tick, a loaded timer thread, a custom context that lags), and a request sent then
          // would carry a budget of 0 and could succeed after its deadline.
          ContextException end = CoreInternals.endOf(c);
          if (end != null) {
            return Mono.error(end);
          }
          // Set here for the filters nearer the connector, and again when the request is written:
          // a request may wait in the connector's pool for a connection first, and that wait
          // must neither be added to the receiver's budget nor let it out past its deadline.
          // The request as the connector writes it, for the cancel below (Reactor Netty's).
          AtomicReference<Object> written = new AtomicReference<>();
          ClientRequest withHeader =
              ClientRequest.from(request)
                  .headers(h -> setDeadlineHeader(c, h))
                  .httpRequest(
                      http -> {
                        // Kept before the check: a cancel that finds none comes after an end
                        // that this check then sees.
                        Object nativeRequest = http.getNativeRequest();
                        written.set(nativeRequest);
                        ContextException late = CoreInternals.endOf(c);
                        if (late != null) {
                          // Unsent: the connector fails the exchange (Spring wraps it in a
                          // WebClientRequestException), which pastTheDeadline maps back below.
                          // On Reactor Netty the connection is closed first: the end signal below
                          // cancels the exchange from another thread, and Reactor Netty's cancel
                          // closes the exchange's connection later, by then back in the pool.
                          if (isReactorNetty(nativeRequest)) {
                            ContextReactorHttpClient.closeRefused(nativeRequest);
                          }
                          throw late;
                        }
                        setDeadlineHeader(c, http.getHeaders());
                      })
                  .build();
          // takeUntilOther cancels its source only when the other side emits (an error from the
          // other side is passed on with the source left running: Reactor 3.8's
          // FluxTakeUntilOther), so ended() emits a token and the end becomes the error here.
          AtomicBoolean cut = new AtomicBoolean();
          AtomicBoolean responded = new AtomicBoolean();
          return untilEnded(
                  Flux.from(next.exchange(withHeader))
              .doOnNext(r -> responded.set(true))
              .doOnCancel(
                  () -> {
                    cut.set(true);
                    // Before Reactor Netty's cancel, which closes the connection from this
                    // thread, later: an event loop that reads the whole response first would
                    // pool the connection, under that close. Not persistent, its exchange's end
                    // closes it instead. And given up on the event loop: a cancel as the
                    // connector emits the head reaches neither Reactor Netty's give-up nor
                    // Spring's, and the body would stay queued for nobody. Not once the response
                    // is out: an operator after it (a next()) may cancel as it takes it, and the
                    // connection is to be pooled.
                    Object nativeRequest = written.get();
                    if (!responded.get() && isReactorNetty(nativeRequest)) {
                      ContextReactorHttpClient.letGoBeforeResponse(nativeRequest);
                    }
                  }),
                  c,
                  // A response that reaches the gate once the end has come is given up as
                  // handOver gives up a late one. Not left to the connector: the end closes the
                  // gate before takeUntilOther cancels the exchange, and a response emitted in
                  // between completes the exchange first, so no cancel ever reaches the connector
                  // (traced in WEBCLIENT_H2C: at the filter 57 us after the end, its buffers never
                  // released). The error handOver ends with is the caller's already.
                  late -> handOver(late, c, cut.get()).subscribe(r -> {}, e -> {}))
              .singleOrEmpty()
              .switchIfEmpty(errorIfDone(c))
              .onErrorMap(e -> pastTheDeadline(c, e))
              .flatMap(r -> handOver(r, c, cut.get()));
        });
  }

  /** Replaces any deadline header in {@code headers} with the time {@code ctx} has left now. */
  private static void setDeadlineHeader(Context ctx, HttpHeaders headers) {
    DeadlineHeader.restate(ctx, headers::remove, headers::set);
  }

  /**
   * The response as the caller gets it: its body fails, and is cancelled, when the context ends.
   * Or, if the context has already ended, the context's error instead, the body given up; the
   * caller never gets a response after its context has ended. Two ways lead here. The end signal
   * cancels the exchange ({@code cut}) just as the connector emits its response, and an operator
   * in between (a filter's {@code map}, Spring's own {@code doOnNext}) still forwards it past
   * {@code takeUntilOther}: the body is then the connector's, as for any cancelled exchange
   * (Reactor Netty's drains it; a read would fail with Spring's "released already due to
   * cancellation", and a second subscription would only make Reactor Netty log its refusal). Or the
   * context has ended but its end signal, emitted from another thread, has not cut the exchange
   * yet: nobody gives the body up then but this, and cancelling it closes the connection rather
   * than drain a body nobody will read.
   *
   * <p>A later subscription to the body once the context has ended fails at once with the
   * context's error, without subscribing to the connector's body again: Spring's {@code retrieve()}
   * does subscribe again, to build its {@code WebClientResponseException} once the first read
   * failed with that error, and the connector's body can be read once only (Reactor Netty refuses a
   * second reader: "Rejecting additional inbound receiver", logged). So the body is read once, and
   * the second read gets the error it would get in the end, with nothing on the connector. (That
   * second read, refused on the event loop as the end signal completed the first from a ctx4j
   * thread, was one of the two ways a call hung before {@link #untilEnded} armed its end signal at
   * the first request; {@code WebClientBodyReadAgainTest} checks both.)
   */
  private static Mono<ClientResponse> handOver(ClientResponse response, Context c, boolean cut) {
    AtomicBoolean read = new AtomicBoolean();
    ClientResponse r =
        response
            .mutate()
            .body(
                body ->
                    Flux.defer(
                            () ->
                                read.getAndSet(true) && c.isDone()
                                    ? Flux.<DataBuffer>error(Errors.copyOf(c, null))
                                    : untilEnded(body, c, DataBufferUtils::release)
                                        .concatWith(errorIfDone(c)))
                        .onErrorMap(e -> pastTheDeadline(c, e)))
            .build();
    if (!c.isDone()) {
      return Mono.just(r);
    }
    Mono<ClientResponse> failure = errorIfDone(c);
    return cut ? failure : r.releaseBody().onErrorResume(e -> Mono.empty()).then(failure);
  }

  /**
   * {@code source} until {@code ctx} ends: then the subscription to {@code source} is cancelled and
   * the result completes (callers follow it with {@link #errorIfDone}). Built on Reactor's {@code
   * takeUntilOther}, which keeps the source's subscription before it hands it down: an end signal
   * from another thread in between completes the subscribers below before they have their
   * subscription, and some of them then never signal again (a WebClient call over h2c, its context
   * ended as its body's read was being subscribed, never returned). So the end signal is armed only
   * once the source is first asked for data, which comes from below once every subscriber there
   * has its subscription. A subscriber that never asks for data is not ended by the context.
   *
   * <p>An item on its way down as the end comes (the source emits on its event loop, the end comes
   * from a ctx4j thread) is either handed down before the end completes the subscribers below, or
   * given to {@code release}, through an {@link EndGate}: {@code takeUntilOther} drops an item that
   * reaches it once it has completed, unreleased and without Reactor's discard hook (its {@code
   * SerializedSubscriber}), and a body's buffer dropped so was never released ({@code
   * WebClientH2cLateResponseTest}: one buffer per call, every call, on the old code).
   */
  private static <T> Flux<T> untilEnded(Flux<T> source, Context ctx, Consumer<? super T> release) {
    return Flux.defer(
        () -> {
          Sinks.Empty<Void> asked = Sinks.empty();
          AtomicBoolean once = new AtomicBoolean();
          EndGate gate = new EndGate();
          return source
              .doOnRequest(
                  n -> {
                    if (once.compareAndSet(false, true)) {
                      asked.tryEmitEmpty();
                    }
                  })
              .transform(Operators.<T, T>lift((scanned, below) -> gate.<T>guard(below, release)))
              .takeUntilOther(
                  ended(ctx)
                      .delaySubscription(asked.asMono())
                      .flatMap(
                          e -> {
                            gate.end();
                            return gate.ended.asMono();
                          }));
        });
  }

  /**
   * Orders the items a source hands down and the end of {@link #untilEnded}: the end lets the
   * subscribers below complete ({@link #ended} emits) only while no item is on its way down to
   * them, else once that item has been handed down, by the thread that hands it; an item that comes
   * after the end is given to a release action instead of the subscribers below. Thread-safe: one
   * state, changed by compare-and-set from the source's thread and the end's.
   *
   * <pre>
   * IDLE        --item enters-->  PASSING      (source's thread)
   * PASSING     --item passed-->  IDLE         (source's thread)
   * IDLE        --end-->          ENDED        (end's thread, emits)
   * PASSING     --end-->          END_WAITING  (end's thread)
   * END_WAITING --item passed-->  ENDED        (source's thread, emits)
   * </pre>
   *
   * Invariants: (1) ENDED is final, and {@link #ended} emits once, on the way into it; (2) an item
   * reaches the subscribers below only from PASSING, or nested in such a hand-down on its thread;
   * (3) only the source's thread leaves PASSING or END_WAITING, so the end never completes the
   * subscribers below while an item is on its way to them.
   */
  private static final class EndGate {
    private static final int IDLE = 0;
    private static final int PASSING = 1;
    private static final int END_WAITING = 2;
    private static final int ENDED = 3;

    private final AtomicInteger state = new AtomicInteger(IDLE);
    /** Emits once the end may complete the subscribers below. */
    final Sinks.One<Boolean> ended = Sinks.one();

    /** The context has ended: the subscribers below complete now, or once an item has passed. */
    void end() {
      for (; ; ) {
        int s = state.get();
        if (s == IDLE && state.compareAndSet(IDLE, ENDED)) {
          ended.tryEmitValue(Boolean.TRUE);
          return;
        }
        if (s == PASSING && state.compareAndSet(PASSING, END_WAITING)) {
          return; // the thread handing the item down ends after it
        }
        if (s == END_WAITING || s == ENDED) {
          return;
        }
      }
    }

    /** Whether an item may pass; false once the end has come. */
    private boolean enter() {
      return state.compareAndSet(IDLE, PASSING);
    }

    /** An item has passed; ends now if the end came meanwhile. */
    private void leave() {
      if (!state.compareAndSet(PASSING, IDLE)) {
        assert state.get() == END_WAITING : state.get(); // (3): no one else leaves PASSING
        state.set(ENDED);
        ended.tryEmitValue(Boolean.TRUE);
      }
    }

    /** The subscriber that hands the source's items to {@code below} through this gate. */
    <T> CoreSubscriber<T> guard(CoreSubscriber<? super T> below, Consumer<? super T> release) {
      return new CoreSubscriber<T>() {
        /**
         * Items handed down from within an item's hand-down, on its thread (a source that emits
         * again as it is asked for more): they pass as that item did.
         */
        private int depth;

        @Override
        public reactor.util.context.Context currentContext() {
          return below.currentContext();
        }

        @Override
        public void onSubscribe(Subscription s) {
          below.onSubscribe(s);
        }

        @Override
        public void onNext(T item) {
          if (depth > 0) {
            below.onNext(item);
            return;
          }
          if (!enter()) {
            release.accept(item);
            return;
          }
          depth++;
          try {
            below.onNext(item);
          } finally {
            depth--;
            leave();
          }
        }

        @Override
        public void onError(Throwable t) {
          below.onError(t);
        }

        @Override
        public void onComplete() {
          below.onComplete();
        }
      };
    }
  }

  /**
   * A publisher that emits once when the context ends, and otherwise never signals; its
   * registration on the context is removed when it is cancelled. It emits from a thread of {@link
   * Context#afterFunc}, not inside the {@code cancel()} that ends the context: the emission runs the
   * caller's pipeline (decoders, {@code onErrorResume}) synchronously, which is no work for a short
   * {@code onDone} callback and must not block whoever cancels.
   */
  private static Mono<Boolean> ended(Context ctx) {
    return Mono.create(
        sink -> {
          Registration r = Context.afterFunc(ctx, () -> sink.success(Boolean.TRUE));
          sink.onDispose(r::stop);
        });
  }

  /**
   * The error for an exchange or body that failed with {@code e}: the context's own error, and an
   * {@code Error}, pass as they are; any other failure once the context has ended, or its deadline has passed though its
   * timer has not ended it yet, becomes a fresh copy of the context's error (a {@code
   * DeadlineExceededException} without a cause before the timer), {@code e} suppressed on it: the
   * failure is most likely the end's doing, and one cause gets one error. Otherwise {@code e}.
   */
  private static Throwable pastTheDeadline(Context ctx, Throwable e) {
    if (e instanceof ContextException || e instanceof Error) {
      return e;
    }
    ContextException ended = CoreInternals.endWith(ctx, e);
    return ended != null ? ended : e;
  }

  /**
   * Empty, or the context's error if the context is done: what follows a source that {@link
   * #ended} may have cut short. A body that ends at the same instant as the context may thus fail
   * with the context's error after its last chunk.
   */
  private static <T> Mono<T> errorIfDone(Context ctx) {
    return Mono.defer(() -> ctx.isDone() ? Mono.error(Errors.copyOf(ctx, null)) : Mono.empty());
  }

  /**
   * Whether {@code nativeRequest} (a Spring request's native one, or null) is Reactor Netty's:
   * told by class name, not type, since Reactor Netty is optional here and {@link
   * ContextReactorHttpClient} must not be loaded without it.
   */
  private static boolean isReactorNetty(Object nativeRequest) {
    return nativeRequest != null && nativeRequest.getClass().getName().startsWith("reactor.netty.");
  }
}
