package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Registration;
import io.ctx4j.TimeSource;
import io.ctx4j.internal.CoreInternals;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * User code that throws a checked exception it does not declare (Kotlin, Groovy, a sneaky-throw
 * helper) ends a call as an unchecked one does: the same throwable reaches the caller, the
 * result completes, and no abort hook stays registered on the context.
 */
@Timeout(120)
class SneakyThrowTest {
  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .followRedirects(HttpClient.Redirect.NORMAL)
          .build();
  /** What the user code below throws, once set. */
  private final AtomicReference<Throwable> armed = new AtomicReference<>();
  /** Run by the server before it answers /redirect: arms the failure for the second hop. */
  private volatile Runnable beforeRedirect = () -> {};
  private LoopbackServer server;
  private CancelableContext ctx;

  @BeforeEach
  void start() {
    server =
        new LoopbackServer(
            ex -> {
              ex.getRequestBody().readAllBytes();
              if (ex.getRequestURI().getPath().equals("/redirect")) {
                beforeRedirect.run();
                ex.getResponseHeaders().set("Location", "/end");
                ex.sendResponseHeaders(302, -1);
                ex.close();
                return;
              }
              byte[] body = "hello".getBytes(StandardCharsets.US_ASCII);
              ex.sendResponseHeaders(200, body.length);
              try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
              }
            });
  }

  @AfterEach
  void stop() throws InterruptedException {
    if (ctx != null) {
      ctx.cancel();
    }
    server.close();
  }

  private URI uri(String path) {
    return server.uri().resolve(path);
  }

  /** The call's outcome within a generous bound: its failure, exactly as the future holds it. */
  private static Throwable failureOf(CompletableFuture<?> f) {
    ExecutionException e =
        assertThrows(ExecutionException.class, () -> f.get(10, TimeUnit.SECONDS), "must fail");
    return e.getCause();
  }

  private void assertNoHookLeft() {
    assertEquals(0, CoreInternals.registrationCount(ctx), "abort hook left on the context");
  }

  /**
   * Before the first hop, both calls throw what the request threw as it is, as the client's own
   * do; {@code send} too, though it hands each request to the client on a thread of ctx4j's.
   */
  @ParameterizedTest
  @ValueSource(strings = {"sendAsync", "send"})
  void aRequestThatThrowsBeforeTheFirstHopLeavesNoHook(String how) {
    ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(5));
    IOException failure = new IOException("request broken");
    armed.set(failure);
    HttpRequest request = new FailingRequest(uri("end"));
    Executable call =
        how.equals("send")
            ? () -> ContextHttp.send(ctx, http, request, BodyHandlers.ofString())
            : () -> ContextHttp.sendAsync(ctx, http, request, BodyHandlers.ofString());
    assertSame(failure, assertThrows(IOException.class, call));
    assertNoHookLeft();
  }

  /** When redirected: the future fails with it; {@code send} throws an IOException it caused. */
  @ParameterizedTest
  @ValueSource(strings = {"sendAsync", "send"})
  void aRequestThatThrowsWhenRedirectedFailsTheCallAndLeavesNoHook(String how) {
    ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(5));
    IOException failure = new IOException("request broken");
    beforeRedirect = () -> armed.set(failure);
    HttpRequest request = new FailingRequest(uri("redirect"));
    Throwable failed =
        how.equals("send")
            ? assertThrows(
                    IOException.class,
                    () -> ContextHttp.send(ctx, http, request, BodyHandlers.ofString()))
                .getCause()
            : failureOf(ContextHttp.sendAsync(ctx, http, request, BodyHandlers.ofString()));
    assertSame(failure, failed);
    assertNoHookLeft();
  }

  @Test
  void aClockThatThrowsBeforeTheSecondHopFailsTheCallAndLeavesNoHook() {
    Context clocked = Context.withTimeSource(Context.background(), new FailingClock());
    ctx = Context.withTimeout(clocked, Duration.ofMinutes(5));
    TimeoutException failure = new TimeoutException("clock unreachable");
    beforeRedirect = () -> armed.set(failure);
    HttpRequest request = HttpRequest.newBuilder(uri("redirect")).build();
    assertSame(failure, failureOf(ContextHttp.sendAsync(ctx, http, request, BodyHandlers.ofString())));
    assertNoHookLeft();
  }

  /**
   * The caller's handler, or its subscriber in onSubscribe or onNext. The client reports these
   * failures itself, so the call ends in any case; ctx4j releases its hook at once too.
   */
  @ParameterizedTest
  @ValueSource(strings = {"apply", "onSubscribe", "onNext"})
  void aHandlerOrSubscriberThatThrowsLeavesNoHook(String where) {
    ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(5));
    IOException failure = new IOException(where + " broken");
    armed.set(failure);
    HttpResponse.BodyHandler<Void> handler =
        info -> {
          if (where.equals("apply")) {
            throwIfArmed();
          }
          return new FailingSubscriber(where);
        };
    HttpRequest request = HttpRequest.newBuilder(uri("end")).build();
    assertSame(failure, failureOf(ContextHttp.sendAsync(ctx, http, request, handler)));
    assertNoHookLeft();
  }

  @SuppressWarnings("unchecked")
  private static <E extends Throwable> E sneaky(Throwable t) throws E {
    throw (E) t;
  }

  /** Throws the armed failure, if any, undeclared: as user code in Kotlin or Groovy may. */
  private void throwIfArmed() {
    Throwable t = armed.get();
    if (t != null) {
      throw SneakyThrowTest.<RuntimeException>sneaky(t);
    }
  }

  /** A user's BodySubscriber whose method {@code where} throws the armed failure. */
  private final class FailingSubscriber implements HttpResponse.BodySubscriber<Void> {
    private final CompletableFuture<Void> body = new CompletableFuture<>();
    private final String where;

    FailingSubscriber(String where) {
      this.where = where;
    }

    @Override
    public CompletionStage<Void> getBody() {
      return body;
    }

    @Override
    public void onSubscribe(Flow.Subscription s) {
      if (where.equals("onSubscribe")) {
        throwIfArmed();
      }
      s.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(List<ByteBuffer> item) {
      throwIfArmed();
    }

    @Override
    public void onError(Throwable t) {
      body.completeExceptionally(t);
    }

    @Override
    public void onComplete() {
      body.complete(null);
    }
  }

  /** A user's GET request whose method() throws the armed failure. */
  private final class FailingRequest extends HttpRequest {
    private final URI uri;

    FailingRequest(URI uri) {
      this.uri = uri;
    }

    @Override
    public Optional<BodyPublisher> bodyPublisher() {
      return Optional.empty();
    }

    @Override
    public String method() {
      throwIfArmed();
      return "GET";
    }

    @Override
    public Optional<Duration> timeout() {
      return Optional.empty();
    }

    @Override
    public HttpHeaders headers() {
      return HttpHeaders.of(Map.of(), (name, value) -> true);
    }

    @Override
    public boolean expectContinue() {
      return false;
    }

    @Override
    public URI uri() {
      return uri;
    }

    @Override
    public Optional<HttpClient.Version> version() {
      return Optional.empty();
    }
  }

  /** The system clock, but now() throws the armed failure. */
  private final class FailingClock implements TimeSource {
    @Override
    public Instant now() {
      throwIfArmed();
      return TimeSource.system().now();
    }

    @Override
    public Registration schedule(Instant deadline, Runnable action) {
      return TimeSource.system().schedule(deadline, action);
    }
  }
}
