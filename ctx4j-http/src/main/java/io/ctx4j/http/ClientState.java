package io.ctx4j.http;

import java.io.IOException;
import java.net.http.HttpClient;

/**
 * What ctx4j can see of the lifecycle of a caller's {@link HttpClient}, for the copy of it that
 * {@link ContextHttp} follows redirects with. This is the Java 17 version: before JDK 21 a client
 * has no {@code close()} or {@code shutdown()}, so it always takes new requests, and a copy ends as
 * the caller's client does, its selector thread stopping once the copy is unreachable. The JDK 21+
 * version (META-INF/versions/21) replaces it.
 */
final class ClientState {
  private ClientState() {}

  /**
   * Returns the failure with which {@code client} refuses a new request now, or {@code null} if it
   * takes new requests.
   *
   * @param client a client of the JDK's own implementation
   * @return always {@code null} here: no client can be shut down before JDK 21
   */
  static IOException refusal(HttpClient client) {
    return null;
  }

  /**
   * Stops a copy that ctx4j no longer uses, letting the hops already sent through it end.
   *
   * @param copy a copy ctx4j made and has dropped from its cache
   */
  static void shutdown(HttpClient copy) {
    // Never called on JDK 17 (refusal is always null), and there is nothing to shut down with.
  }
}
