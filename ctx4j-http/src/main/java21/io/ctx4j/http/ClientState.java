package io.ctx4j.http;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * What ctx4j can see of the lifecycle of a caller's {@link HttpClient}, for the copy of it that
 * {@link ContextHttp} follows redirects with. This is the JDK 21+ version: a client can be closed
 * ({@code close}, {@code shutdown}, {@code shutdownNow}), after which it takes no new request, and
 * the copy must not take them in its place.
 *
 * <p>{@code isTerminated()} alone comes too late: it turns true when the client's selector thread
 * has ended, which after {@code shutdown()} waits for the client's own exchanges in flight (for
 * ever, if a streamed body is never read), while the client already refuses new requests. So the
 * client is asked directly: a request is offered to its {@code sendAsync} that throws from every
 * getter. A client that has been shut down refuses it before reading it, with the failure it gives
 * every new request (JDK 21 to 25: a failed future, {@code IOException("closed")}); one that takes
 * requests reads it, and the getter's exception comes back instead. Nothing can be sent: the
 * request has no method, URI or headers to send.
 */
final class ClientState {
  private ClientState() {}

  /** Thrown by the probe's getters; no stack trace: a client that takes requests throws it often. */
  private static final class Unread extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Unread() {
      super("ctx4j: probe of a client's state, never to be read", null, false, false);
    }
  }

  private static final Unread UNREAD = new Unread();

  /** The request offered to a client to learn whether it takes new requests. */
  private static final HttpRequest PROBE =
      new HttpRequest() {
        @Override
        public Optional<BodyPublisher> bodyPublisher() {
          throw UNREAD;
        }

        @Override
        public String method() {
          throw UNREAD;
        }

        @Override
        public Optional<Duration> timeout() {
          throw UNREAD;
        }

        @Override
        public boolean expectContinue() {
          throw UNREAD;
        }

        @Override
        public URI uri() {
          throw UNREAD;
        }

        @Override
        public Optional<HttpClient.Version> version() {
          throw UNREAD;
        }

        @Override
        public HttpHeaders headers() {
          throw UNREAD;
        }
      };

  /**
   * Returns the failure with which {@code client} refuses a new request now, or {@code null} if it
   * takes new requests: the failure of the probe if the client refused it unread, else, if the
   * client has terminated all the same, an {@code IOException("closed")} as JDK 21 to 25 give.
   *
   * @param client a client of the JDK's own implementation
   * @return the failure a new request would get, or {@code null}
   */
  static IOException refusal(HttpClient client) {
    IOException refused = probe(client);
    if (refused == null && client.isTerminated()) {
      // A JDK that reads the request before looking at its own state: termination still tells.
      refused = new IOException("closed");
    }
    return refused;
  }

  private static IOException probe(HttpClient client) {
    CompletableFuture<HttpResponse<Void>> answer;
    try {
      answer = client.sendAsync(PROBE, HttpResponse.BodyHandlers.discarding());
    } catch (RuntimeException e) { // it read the request, so it takes new ones (or cannot tell)
      return null;
    }
    if (!answer.isDone()) {
      // Taken to be read later (not the JDK 21-25 way): it will fail unsent; nothing can be told.
      answer.cancel(true);
      return null;
    }
    Throwable failure = answer.handle((response, f) -> f).join();
    while ((failure instanceof CompletionException || failure instanceof ExecutionException)
        && failure.getCause() != null) {
      failure = failure.getCause();
    }
    return failure instanceof IOException && !readTheProbe(failure) ? (IOException) failure : null;
  }

  /** Whether the probe's getter threw somewhere in this failure: the client read the request. */
  private static boolean readTheProbe(Throwable failure) {
    Throwable t = failure;
    for (int depth = 0; t != null && depth < 32; t = t.getCause(), depth++) { // causes may loop
      if (t == UNREAD) {
        return true;
      }
    }
    return false;
  }

  /**
   * Stops a copy that ctx4j no longer uses: an orderly {@code shutdown()}, as the caller's own, so
   * hops already sent through it end as theirs do, then its selector thread stops.
   *
   * @param copy a copy ctx4j made and has dropped from its cache
   */
  static void shutdown(HttpClient copy) {
    copy.shutdown();
  }
}
