package io.ctx4j.httpclient5;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.DeadlineExceededException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;
import org.apache.hc.core5.http.ContentType;
import org.apache.hc.core5.http.io.entity.ByteArrayEntity;
import org.apache.hc.core5.http.io.entity.EntityUtils;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The snippet of ctx4j-httpclient5/README.md, run against loopback servers. */
@Timeout(60)
class HttpClient5ReadmeTest {
  Context parent = Context.background();
  String url;
  String body;
  boolean outOfTime;

  void call() throws IOException {
    // snippet:start client
    try (CloseableHttpClient client = ContextHttpClient5.install(HttpClients.custom()).build();
        CancelableContext ctx = Context.withTimeout(parent, Duration.ofMillis(300))) {
      body = client.execute(new HttpGet(url), ContextHttpClient5.clientContext(ctx),
          response -> EntityUtils.toString(response.getEntity()));
    } catch (InterruptedIOException e) {
      if (e.getCause() instanceof DeadlineExceededException) {
        outOfTime = true; // the server was told the budget, and the exchange has been aborted
      }
      throw e;
    }
    // snippet:end client
  }

  @Test
  void theSnippetGetsTheBody() throws Exception {
    try (ClassicServer s =
        new ClassicServer((request, response, context) -> response.setEntity(new ByteArrayEntity(ContextHttpClient5Test.HELLO, ContentType.TEXT_PLAIN)))) {
      url = s.url("/");
      // The snippet's 300 ms cover only the exchange; a first exchange in a fresh JVM also loads
      // HttpClient 5's classes, which on a loaded CI machine took more than that (seen: 'context
      // deadline exceeded'). So one plain exchange first, without ctx4j and without a deadline.
      try (CloseableHttpClient plain = HttpClients.createDefault()) {
        assertEquals("hello", plain.execute(new HttpGet(url), r -> EntityUtils.toString(r.getEntity())));
      }
      assertEquals("/=-", s.seen.take(), "the warm-up exchange sends no deadline");
      call();
      assertEquals("hello", body);
      long sent = Long.parseLong(s.seen.take().substring(2));
      assertTrue(sent <= 295, "sent " + sent);
    }
  }

  @Test
  void theSnippetGivesUpAtTheDeadline() throws Exception {
    ClassicServer[] server = new ClassicServer[1];
    server[0] =
        new ClassicServer(
            (request, response, context) -> {
              try {
                server[0].awaitRelease();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    try (ClassicServer s = server[0]) {
      url = s.url("/");
      long start = System.nanoTime();
      IOException e = assertThrows(IOException.class, this::call);
      assertInstanceOf(DeadlineExceededException.class, e.getCause());
      assertTrue(outOfTime);
      assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(20), "the deadline ended the request");
    }
  }
}
