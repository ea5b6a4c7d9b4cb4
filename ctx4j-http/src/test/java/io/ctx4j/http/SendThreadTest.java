package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The thread {@code ContextHttp.send} hands a request to: a virtual thread on JDK 21+, so that a
 * caller on a virtual thread holds no platform thread per call in flight; a daemon platform thread
 * on JDK 17. Seen from the caller's request, whose getters ctx4j reads on that thread as it adds
 * the deadline header.
 */
@Timeout(60)
class SendThreadTest {
  private static final HttpClient CLIENT =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  /** Records the threads that read its headers. */
  private static final class Recording extends ForwardingRequest {
    final Queue<Thread> readers = new ConcurrentLinkedQueue<>();

    Recording(HttpRequest real) {
      super(real);
    }

    @Override
    public HttpHeaders headers() {
      readers.add(Thread.currentThread());
      return real.headers();
    }
  }

  private static boolean isVirtual(Thread t) throws Exception {
    if (Runtime.version().feature() < 21) {
      return false;
    }
    return (Boolean) Thread.class.getMethod("isVirtual").invoke(t);
  }

  @Test
  void sendHandsTheRequestToAVirtualThreadOnJdk21AndLaterAndToADaemonOnJdk17() throws Exception {
    CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(5));
    try (LoopbackServer server =
        new LoopbackServer(
            ex -> {
              ex.getRequestBody().readAllBytes();
              ContextHttpTest.respond(ex, 200, "hello");
            })) {
      Recording request = new Recording(HttpRequest.newBuilder(server.uri().resolve("/")).build());
      HttpResponse<String> response = ContextHttp.send(ctx, CLIENT, request, BodyHandlers.ofString());
      assertEquals("hello", response.body());
      Thread sender =
          request.readers.stream()
              .filter(t -> t.getName().startsWith("ctx4j-http-send-"))
              .findFirst()
              .orElseThrow(() -> new AssertionError("no ctx4j sender read the request: " + request.readers));
      boolean expectVirtual = Runtime.version().feature() >= 21;
      assertEquals(expectVirtual, isVirtual(sender), "virtual: " + sender);
      assertTrue(sender.isDaemon(), "a daemon: " + sender);
      assertTrue(sender != Thread.currentThread(), "the caller's own thread");
    } finally {
      ctx.cancel();
    }
  }
}
