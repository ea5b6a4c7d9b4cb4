package io.ctx4j.http;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.Optional;

/**
 * A request that answers every getter from a real one, for tests to override one getter: {@code
 * headers()}, which ctx4j reads when it copies the request to add the deadline header (on the
 * thread that hands the request to the client), to see that thread or act on it. The client never
 * sees this object, only ctx4j's copy.
 */
class ForwardingRequest extends HttpRequest {
  final HttpRequest real;

  ForwardingRequest(HttpRequest real) {
    this.real = real;
  }

  @Override
  public HttpHeaders headers() {
    return real.headers();
  }

  @Override
  public Optional<BodyPublisher> bodyPublisher() {
    return real.bodyPublisher();
  }

  @Override
  public String method() {
    return real.method();
  }

  @Override
  public Optional<Duration> timeout() {
    return real.timeout();
  }

  @Override
  public boolean expectContinue() {
    return real.expectContinue();
  }

  @Override
  public URI uri() {
    return real.uri();
  }

  @Override
  public Optional<HttpClient.Version> version() {
    return real.version();
  }
}
