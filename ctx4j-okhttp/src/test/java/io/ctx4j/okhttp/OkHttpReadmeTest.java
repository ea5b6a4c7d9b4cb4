package io.ctx4j.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.concurrent.CurrentContext;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The snippets of ctx4j-okhttp/README.md, run against loopback servers. */
@Timeout(60)
class OkHttpReadmeTest {
  Context parent = Context.background();
  String url;
  String body;
  boolean outOfTime;

  void call() throws IOException {
    // snippet:start client
    OkHttpClient client = ContextOkHttp.install(new OkHttpClient.Builder()).build();
    try (CancelableContext ctx = Context.withTimeout(parent, Duration.ofMillis(300))) {
      Request request = ContextOkHttp.withContext(new Request.Builder().url(url).build(), ctx);
      try (Response response = client.newCall(request).execute()) {
        body = response.body().string();
      } catch (IOException e) {
        if (e.getCause() instanceof DeadlineExceededException) {
          outOfTime = true; // the server was told the budget, and the call has been cancelled
        }
        throw e;
      }
    }
    // snippet:end client
  }

  String current(OkHttpClient client, Context requestCtx) throws Exception {
    // snippet:start current
    // Call.execute() runs the interceptors on the calling thread: the current context applies.
    String quote = CurrentContext.call(requestCtx, () -> {
      try (Response r = client.newCall(new Request.Builder().url(url).build()).execute()) {
        return r.body().string();
      }
    });
    // snippet:end current
    return quote;
  }

  @Test
  void theClientSnippetGivesUpAtTheDeadline() throws Exception {
    Loopback[] server = new Loopback[1];
    server[0] =
        new Loopback(
            ex -> {
              try {
                server[0].awaitRelease();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              ex.close();
            });
    try (Loopback s = server[0]) {
      url = s.url("/");
      long start = System.nanoTime();
      IOException e = assertThrows(IOException.class, this::call);
      assertInstanceOf(DeadlineExceededException.class, e.getCause());
      assertTrue(outOfTime);
      assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(20), "the deadline ended the call");
    }
  }

  @Test
  void theCurrentContextSnippetSendsTheBudget() throws Exception {
    OkHttpClient client = ContextOkHttp.install(new OkHttpClient.Builder()).build();
    try (Loopback s = new Loopback(ex -> Loopback.reply(ex, 200, "42".getBytes(StandardCharsets.US_ASCII)));
        CancelableContext ctx = Context.withTimeout(parent, Duration.ofSeconds(30))) {
      url = s.url("/");
      assertEquals("42", current(client, ctx));
      String seen = s.seen.take();
      assertTrue(!seen.equals("/=-") && Long.parseLong(seen.substring(2)) <= 29_995, seen);
    } finally {
      client.connectionPool().evictAll();
    }
  }
}
