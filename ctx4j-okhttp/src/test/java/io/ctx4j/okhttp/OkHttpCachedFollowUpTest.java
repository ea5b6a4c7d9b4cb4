package io.ctx4j.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.internal.CoreInternals;
import io.ctx4j.testing.LaggingClock;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import okhttp3.Cache;
import okhttp3.Call;
import okhttp3.Callback;
import okhttp3.EventListener;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A context that ends between a redirect and its follow-up, when OkHttp's cache answers the
 * follow-up: the call fails with the context's error, as when the follow-up goes to the network
 * ({@code OkHttpFollowUpTest}). A cached answer starts no network work, where ctx4j's cancel,
 * deferred while the response before it was read, used to be acted on: the call returned the
 * cached 200 though its context had ended, or its deadline passed, mid-call (found by a README
 * review). The context ends from the client's {@code followUpDecision} event, as in {@code
 * OkHttpFollowUpTest}; the application's own {@code Call.cancel()} at that moment is the control.
 */
@Timeout(60)
class OkHttpCachedFollowUpTest {
  private static final byte[] HELLO = "hello".getBytes(StandardCharsets.US_ASCII);

  @ParameterizedTest(name = "{0}")
  @ValueSource(
      strings = {
        "context cancel",
        "context cancel, enqueue",
        "deadline passed, timer not yet fired",
        "the application's own Call.cancel()"
      })
  void aContextEndingBeforeACachedFollowUpFailsTheCall(String how) throws Exception {
    CancelableContext[] ctx = new CancelableContext[1];
    LaggingClock clock = new LaggingClock();
    java.nio.file.Path dir = Files.createTempDirectory("ctx4j-okhttp-cache");
    OkHttpClient client =
        ContextOkHttp.install(
                new OkHttpClient.Builder()
                    .cache(new Cache(dir.toFile(), 1 << 20))
                    .eventListener(
                        new EventListener() {
                          @Override
                          public void followUpDecision(
                              Call call, Response networkResponse, Request next) {
                            if (next == null) {
                              return;
                            }
                            if (how.startsWith("context cancel")) {
                              ctx[0].cancel();
                            } else if (how.startsWith("deadline")) {
                              clock.pass(Duration.ofSeconds(11));
                            } else {
                              call.cancel();
                            }
                          }
                        }))
            .build();
    try (Loopback server =
        new Loopback(
            ex -> {
              if (ex.getRequestURI().getPath().equals("/r")) {
                ex.getResponseHeaders().set("Location", "/t");
                ex.getResponseHeaders().set("Cache-Control", "no-store");
                ex.sendResponseHeaders(302, -1);
                ex.close();
                return;
              }
              ex.getResponseHeaders().set("Cache-Control", "max-age=600");
              Loopback.reply(ex, 200, HELLO);
            })) {
      // The redirect's target, cached.
      try (Response r =
          client.newCall(new Request.Builder().url(server.url("/t")).build()).execute()) {
        assertEquals("hello", r.body().string());
      }
      ctx[0] =
          how.startsWith("deadline")
              ? clock.withTimeout(Duration.ofSeconds(10))
              : Context.withCancel(Context.background());
      Request redirected =
          ContextOkHttp.withContext(
              new Request.Builder().url(server.url("/r")).build(), ctx[0]);
      String outcome =
          how.endsWith("enqueue")
              ? enqueued(client.newCall(redirected))
              : executed(client.newCall(redirected));
      assertEquals(2, server.requests.get(), how + ": the target once, then the redirect");
      assertEquals(0, CoreInternals.registrationCount(ctx[0]), how + ": registrations left");
      if (how.startsWith("the application")) {
        assertTrue(!outcome.startsWith("returned"), how + ": " + outcome);
      } else {
        assertEquals(
            "the context's error",
            outcome,
            how + ": the call, whose context ended before its follow-up");
      }
    } finally {
      client.dispatcher().executorService().shutdown();
      client.connectionPool().evictAll();
      client.cache().delete();
    }
  }

  private static String executed(Call call) {
    try (Response r = call.execute()) {
      return returned(r);
    } catch (IOException e) {
      return failed(e);
    }
  }

  private static String enqueued(Call call) throws Exception {
    CompletableFuture<String> outcome = new CompletableFuture<>();
    call.enqueue(
        new Callback() {
          @Override
          public void onFailure(Call call, IOException e) {
            outcome.complete(failed(e));
          }

          @Override
          public void onResponse(Call call, Response r) {
            try (r) {
              outcome.complete(returned(r));
            } catch (IOException e) {
              outcome.complete(e.toString());
            }
          }
        });
    return outcome.get(20, TimeUnit.SECONDS);
  }

  private static String returned(Response r) throws IOException {
    return "returned "
        + r.code()
        + " "
        + r.body().string()
        + (r.cacheResponse() != null ? " from the cache" : "");
  }

  private static String failed(IOException e) {
    return e instanceof InterruptedIOException && e.getCause() instanceof ContextException
        ? "the context's error"
        : e.toString();
  }
}
