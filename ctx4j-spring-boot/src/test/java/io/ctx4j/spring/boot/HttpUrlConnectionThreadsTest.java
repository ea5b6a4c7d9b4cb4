package io.ctx4j.spring.boot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.concurrent.Tasks;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.servlet.RequestCanceledException;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.http.client.SimpleClientHttpRequestFactory;
import org.springframework.web.client.RestClient;

/**
 * RestClient on {@code SimpleClientHttpRequestFactory} ({@code HttpURLConnection}), cancelled while
 * it waits for the response, on the threads {@link Tasks#threadFactory} makes: virtual threads on
 * JDK 21+, where the JDK makes a socket read interruptible (the interrupt of the interceptor's
 * {@code InterruptScope} closes the socket, so the exchange is aborted at once, as with the other
 * factories), and platform threads on JDK 17, where the read ignores the interrupt and the call
 * returns only once the server answers (then with the context's error). The README's table gives
 * both rows.
 */
@Timeout(120)
class HttpUrlConnectionThreadsTest {
  @Test
  void aCancelWhileWaitingAbortsTheExchangeOnAVirtualThreadOnly() throws Exception {
    RestClient rest = Chains.get().tomcat.a().getBean(RestClient.Builder.class)
        .baseUrl(Chains.get().tomcat.url("C"))
        .requestFactory(new SimpleClientHttpRequestFactory())
        .build();
    ExecutorService callers = Executors.newCachedThreadPool(Tasks.threadFactory("url-connection-caller"));
    try {
      CancelableContext ctx = Context.withCancel(Context.background());
      String id = UUID.randomUUID().toString();
      Hops.Hop server = Chains.get().tomcat.hops.get(id);
      Future<String> call = callers.submit(() -> CurrentContext.call(ctx,
          () -> rest.get().uri("/hold?id=" + id).retrieve().body(String.class)));
      assertTrue(server.entered.await(30, TimeUnit.SECONDS), "request never reached the server");
      ctx.cancel();
      if (Tasks.virtualThreads()) {
        Throwable failure = assertThrows(ExecutionException.class, () -> call.get(30, TimeUnit.SECONDS)).getCause();
        assertInstanceOf(CanceledException.class, failure, () -> "the call failed otherwise: " + failure);
        server.release.countDown();
        assertTrue(server.ended.await(30, TimeUnit.SECONDS), "the server never saw the client leave");
        assertEquals(Reason.CLIENT_DISCONNECTED, ((RequestCanceledException) server.cause).reason(), String.valueOf(server.cause));
      } else {
        // Not aborted: a platform thread's socket read ignores the interrupt. (A bounded look: it
        // can only miss an abort slower than this, never fail a read that ignores the interrupt.)
        assertThrows(TimeoutException.class, () -> call.get(300, TimeUnit.MILLISECONDS),
            "the call returned before the server answered");
        server.release.countDown();
        Throwable failure = assertThrows(ExecutionException.class, () -> call.get(30, TimeUnit.SECONDS)).getCause();
        assertInstanceOf(CanceledException.class, failure, () -> "the call failed otherwise: " + failure);
      }
      assertEquals(0, CoreInternals.registrationCount(ctx), "the call left a registration on its context");
    } finally {
      callers.shutdownNow();
    }
  }
}
