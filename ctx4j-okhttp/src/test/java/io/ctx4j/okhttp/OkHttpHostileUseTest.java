package io.ctx4j.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.Registration;
import io.ctx4j.TimeSource;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.testing.ForeignContext;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.ref.Reference;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import okhttp3.Call;
import okhttp3.Connection;
import okhttp3.EventListener;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Contexts in unusual states, and contexts implemented outside ctx4j, against a loopback server. */
@Timeout(60)
class OkHttpHostileUseTest {
  private static final byte[] HELLO = "hello".getBytes(StandardCharsets.US_ASCII);

  private final OkHttpClient client = ContextOkHttp.install(new OkHttpClient.Builder()).build();

  @AfterEach
  void stop() {
    client.dispatcher().executorService().shutdown();
    client.connectionPool().evictAll();
  }

  /**
   * A clock whose timers never fire by themselves: a context on it stays in the state every context
   * passes through between its deadline and the moment its timer ends it (a loaded timer thread, a
   * lagging custom context), for as long as the test needs.
   */
  private static final class LaggingClock implements TimeSource {
    volatile Instant now = Instant.parse("2040-01-01T00:00:00Z");

    @Override
    public Instant now() {
      return now;
    }

    @Override
    public Registration schedule(Instant deadline, Runnable action) {
      return () -> true; // the timer has not fired yet
    }

    void pass(Duration d) {
      now = now.plus(d);
    }
  }

  private static CancelableContext withTimeout(LaggingClock clock, Duration timeout) {
    return Context.withTimeout(Context.withTimeSource(Context.background(), clock), timeout);
  }

  private static Request at(String url, Context ctx) {
    return ContextOkHttp.withContext(new Request.Builder().url(url).build(), ctx);
  }

  /** The call failed with the deadline's error, before its timer: no cause known yet. */
  private static void assertDeadlinePassed(IOException e) {
    assertInstanceOf(InterruptedIOException.class, e);
    DeadlineExceededException err = assertInstanceOf(DeadlineExceededException.class, e.getCause(), () -> "failed otherwise: " + e);
    assertNull(err.getCause());
  }

  @Test
  void aCallWhoseDeadlineHasPassedIsNotSentThoughTheTimerHasNotEndedTheContextYet() throws Exception {
    LaggingClock clock = new LaggingClock();
    try (Loopback server = new Loopback(ex -> Loopback.reply(ex, 200, HELLO));
        CancelableContext ctx = withTimeout(clock, Duration.ofSeconds(1))) {
      clock.pass(Duration.ofSeconds(2));
      assertNull(ctx.err(), "the clock fired the timer");
      IOException e = assertThrows(IOException.class, () -> client.newCall(at(server.url("/"), ctx)).execute().close());
      assertDeadlinePassed(e);
      CompletableFuture<String> async = new CompletableFuture<>();
      client.newCall(at(server.url("/async"), ctx)).enqueue(Loopback.bodyInto(async));
      ExecutionException ee = assertThrows(ExecutionException.class, () -> async.get(20, TimeUnit.SECONDS));
      assertDeadlinePassed(assertInstanceOf(IOException.class, ee.getCause()));
      assertEquals(0, server.requests.get(), "a call past its deadline was sent: " + server.seen);
      assertEquals(0, CoreInternals.registrationCount(ctx));
    }
  }

  @Test
  void aRedirectHopPastTheDeadlineIsNotSentThoughTheTimerHasNotEndedTheContextYet() throws Exception {
    LaggingClock clock = new LaggingClock();
    try (Loopback server =
            new Loopback(
                ex -> {
                  if (ex.getRequestURI().getPath().equals("/first")) {
                    clock.pass(Duration.ofSeconds(2)); // past the 1 s deadline, no timer fired
                    ex.getResponseHeaders().set("Location", "/target");
                    Loopback.reply(ex, 302, new byte[0]);
                  } else {
                    Loopback.reply(ex, 200, HELLO);
                  }
                });
        CancelableContext ctx = withTimeout(clock, Duration.ofSeconds(1))) {
      IOException e = assertThrows(IOException.class, () -> client.newCall(at(server.url("/first"), ctx)).execute().close());
      assertDeadlinePassed(e);
      assertNull(ctx.err(), "the clock fired the timer");
      assertEquals("/first=995", server.seen.take());
      assertEquals(1, server.requests.get(), "the redirect target was sent past the deadline: " + server.seen);
      assertEquals(0, CoreInternals.registrationCount(ctx));
    }
  }

  @Test
  void aCustomContextWhoseOnDoneReturnsNullFailsTheCallEarlySayingSo() throws Exception {
    Context broken =
        new ForeignContext() {
          @Override
          public Registration onDone(Runnable callback) {
            return null;
          }
        };
    try (Loopback server = new Loopback(ex -> Loopback.reply(ex, 200, HELLO))) {
      NullPointerException e =
          assertThrows(
              NullPointerException.class,
              () -> {
                try (Response r = client.newCall(at(server.url("/"), broken)).execute()) {
                  r.body().string();
                }
              });
      assertEquals(
          "onDone of " + broken.getClass().getName() + " returned null instead of a Registration",
          e.getMessage());
      assertEquals(0, server.requests.get(), "the call was sent");
    }
  }

  /**
   * OkHttp tells a call's listeners one after the other and stops at the first that throws: the
   * client's own listener comes before the one ctx4j adds to the call, so a client listener that
   * throws from {@code callEnd} (or from {@code connectionReleased}, just before) keeps ctx4j from
   * hearing that the call is over. Closing the response must give the registration back all the
   * same, while the caller still holds the response.
   */
  @ParameterizedTest
  @ValueSource(strings = {"callEnd", "connectionReleased"})
  void aClientListenerThrowingAtTheEndOfTheCallLeavesNoRegistrationOnceTheResponseIsClosed(String where)
      throws Exception {
    IllegalStateException failure = new IllegalStateException("a listener that fails in " + where);
    OkHttpClient throwing =
        client
            .newBuilder()
            .eventListener(
                new EventListener() {
                  @Override
                  public void connectionReleased(Call call, Connection connection) {
                    if (where.equals("connectionReleased")) {
                      throw failure;
                    }
                  }

                  @Override
                  public void callEnd(Call call) {
                    if (where.equals("callEnd")) {
                      throw failure;
                    }
                  }
                })
            .build();
    try (Loopback server = new Loopback(ex -> Loopback.reply(ex, 200, HELLO));
        CancelableContext longLived = Context.withTimeout(Context.background(), Duration.ofMinutes(30))) {
      List<Response> kept = new ArrayList<>();
      for (String how : new String[] {"read", "closed unread"}) {
        Response r = throwing.newCall(at(server.url("/" + how.replace(' ', '-')), longLived)).execute();
        kept.add(r);
        assertSame(failure, assertThrows(IllegalStateException.class, how.equals("read") ? r.body()::string : r::close), how);
        r.close(); // as try-with-resources would
        assertEquals(0, CoreInternals.registrationCount(longLived), "the closed response kept its registration: " + how);
      }
      Reference.reachabilityFence(kept);
    }
  }
}
