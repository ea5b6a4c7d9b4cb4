package io.ctx4j.spring.boot;

import io.ctx4j.ContextException;
import io.ctx4j.http.DeadlineHeader;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.transport.HttpConversation;
import org.eclipse.jetty.client.transport.HttpRequest;

/**
 * Lets {@link ContextClientHttpRequestInterceptor} abort the requests of a Jetty 12 {@link
 * HttpClient} behind Spring's {@code JettyClientHttpRequestFactory} when the context of the call
 * ends. Spring (7.0.8) does not abort Jetty's request when an interrupt ends its wait for the
 * response, and the interceptor has no handle on it: without this, the call returns at once with
 * the context's error but the exchange goes on, the server is not told, until the factory's read
 * timeout aborts it.
 *
 * <p>The auto-configuration installs it on every Jetty client Spring Boot builds for {@code
 * RestClient} ({@code spring.http.clients.imperative.factory=jetty}). A client the application
 * builds itself needs it too:
 *
 * <pre>{@code
 * HttpClient jetty = ContextJettyHttpClient.install(new HttpClient());
 * jetty.start();  // before the first call: see below
 * RestClient rest = restClientBuilder  // Spring Boot's, with the interceptor on it
 *     .requestFactory(new JettyClientHttpRequestFactory(jetty))
 *     .build();
 * }</pre>
 *
 * <p>Start such a client before its first call (or call the factory's {@code afterPropertiesSet},
 * which Spring calls when the factory is a bean). Spring's factory otherwise starts it lazily,
 * inside the first call's {@code createRequest}, under the interceptor's interrupt: a first call
 * whose context ends while Jetty's client starts interrupts the start, the call returns seconds
 * after its cancel, and Jetty's client is left {@code FAILED} while calls beside it wait on its
 * lifecycle lock. The auto-configuration starts the clients Spring Boot builds once their factory
 * is built.
 *
 * <h2>What it does</h2>
 *
 * It adds a {@link Request.Listener} to the client's request listeners. Jetty tells it of each
 * request as it is queued: on the calling thread for the request Spring sends, which then belongs
 * to the interceptor's call in progress on that thread, if any; on one of Jetty's threads for a
 * hop Jetty sends itself (a redirect it follows, an authentication round), which belongs to the
 * call of its first request. As Jetty begins to send the call's own request ({@link
 * Request.Listener#onBegin}, the last moment to change it, once it has a connection), its {@link
 * DeadlineHeader#NAME} is replaced with the time left of the call's context then ({@link
 * DeadlineHeader#valueFor}), or, if the context has ended or its deadline has passed though its
 * timer has not ended it yet, the request is aborted unsent with the context's error: the
 * interceptor's header is stale by the request's wait in Jetty's queue for a free connection (the
 * pool's limit reached), and a hop carries a copy of the first request's headers, stale by the
 * earlier hops' time. When the call's context ends, the request in flight is aborted ({@link
 * Request#abort}) with a fresh copy of the context's error, whose cause is the context's cause;
 * Jetty closes the connection (or resets the HTTP/2 stream) and the server sees the client leave.
 * A request sent outside such a call (no interceptor, or Jetty used directly) is left alone.
 *
 * <p>The call's own requests are the one the interceptor handed on, which carries the {@link
 * DeadlineHeader#NAME} value the interceptor stated (Spring copies it onto Jetty's request), and
 * the hops Jetty sends after it (each a copy of the one before, with the value stated on it). A
 * request the application sends itself through the same client on the calling thread during the
 * call (a token fetch in a later interceptor, with a {@code RestClient} without the interceptor,
 * or Jetty used directly) is tied to the call as it is queued, for the call's end only: it keeps
 * its own headers, goes out though the deadline has passed, and is aborted when the context ends
 * (as the interceptor's interrupt would stop it on another client; Spring's Jetty factory ignores
 * it), or unsent once it has ended. A call whose context has no deadline has no budget to state.
 *
 * <h2>Registrations</h2>
 *
 * None of its own beyond the call: the abort is registered on the context when the call's request
 * is queued and stopped when the factory returns the response or fails, so a long-lived context
 * keeps nothing once the call has returned. From then on the interceptor's body stream stops reads
 * when the context ends; closing Jetty's body stream aborts the exchange.
 *
 * <p>Thread safety: {@link #install} may be called from any thread; install before the client
 * sends its first request (Jetty's listener list is not made for changes while requests go out).
 *
 * @since 0.1
 */
public final class ContextJettyHttpClient {
  /**
   * The conversation attribute that carries a call to its requests: Spring's, as Jetty begins to
   * send it, and the hops Jetty sends itself.
   */
  private static final String CALL = ContextJettyHttpClient.class.getName() + ".call";

  /** The clients installed on, by identity (HttpClient does not override equals). */
  private static final Map<HttpClient, Boolean> INSTALLED =
      Collections.synchronizedMap(new WeakHashMap<>());

  private static final Request.Listener LISTENER =
      new Request.Listener() {
        @Override
        public void onQueued(Request request) {
          tie(request);
        }

        @Override
        public void onBegin(Request request) {
          // Jetty's last moment to change the request: its headers are written after onBegin, and
          // its wait in the queue for a connection is over by then. Read from the conversation,
          // whose attributes are thread-safe: Jetty may begin the request on another thread while
          // onQueued still runs (it is then sent with the interceptor's header, fresh).
          if (callOf(request) instanceof CallAbort call) {
            restate(request, call);
          }
        }
      };

  private ContextJettyHttpClient() {}

  /**
   * Adds ctx4j's request listener to {@code client}, once: installing again on the same client adds
   * nothing.
   *
   * @param client the client, started or not
   * @param <C> the client's type
   * @return {@code client}
   * @throws NullPointerException if {@code client} is null
   */
  public static <C extends HttpClient> C install(C client) {
    Objects.requireNonNull(client, "client");
    if (INSTALLED.putIfAbsent(client, Boolean.TRUE) == null) {
      client.getRequestListeners().addListener(LISTENER);
    }
    return client;
  }

  /** The conversation of {@code request}, or null. */
  private static HttpConversation conversationOf(Request request) {
    return request instanceof HttpRequest r ? r.getConversation() : null;
  }

  /** The call {@code request}'s conversation was tied to, or null. */
  private static Object callOf(Request request) {
    HttpConversation conversation = conversationOf(request);
    return conversation == null ? null : conversation.getAttribute(CALL);
  }

  private static void tie(Request request) {
    HttpConversation conversation = conversationOf(request);
    Object carried = callOf(request);
    CallAbort call;
    if (carried instanceof CallAbort c) {
      call = c; // a hop of a call tied before, sent from one of Jetty's threads
    } else {
      call = CallAbort.current(); // Spring's request, queued on the calling thread
      if (call == null) {
        return;
      }
      if (conversation != null) {
        conversation.setAttribute(CALL, call);
      }
    }
    call.tie(request::abort);
  }

  /**
   * States the time left of {@code ctx} on a request tied to its call as Jetty begins to send it:
   * the header the interceptor set is stale by the request's wait in Jetty's queue, and a hop Jetty
   * sends itself carries a copy of the first request's, stale by the earlier hops' time. Or aborts
   * the request, unsent, if {@code ctx} has ended or its deadline has passed though its timer has
   * not ended it yet (a request with a budget of 0 could succeed after the deadline), as the
   * interceptor does before it hands the request on.
   */
  private static void restate(Request request, CallAbort call) {
    ContextException end =
        call.leave(
            request.getHeaders().get(DeadlineHeader.NAME),
            edit -> request.headers(headers -> edit.apply(headers::remove, headers::put)));
    if (end != null) {
      request.abort(end);
    }
  }
}
