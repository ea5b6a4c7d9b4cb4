package io.ctx4j.smoke.httpclient5;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.httpclient5.ContextHttpClient5;
import java.io.IOException;
import org.apache.hc.client5.http.classic.methods.HttpGet;
import org.apache.hc.client5.http.impl.classic.CloseableHttpClient;
import org.apache.hc.client5.http.impl.classic.HttpClients;

/** Module-path smoke test of io.ctx4j.httpclient5, with HttpClient 5's automatic modules. */
public final class Main {
  public static void main(String[] args) throws Exception {
    try (CloseableHttpClient client = ContextHttpClient5.install(HttpClients.custom()).build();
        CancelableContext ctx = Context.withCancel(Context.background())) {
      ctx.cancel();
      // An ended context fails the request in the first handler, before any connection.
      try {
        client.execute(new HttpGet("http://127.0.0.1:9/"), ContextHttpClient5.clientContext(ctx), r -> null);
        throw new AssertionError("a request under an ended context was sent");
      } catch (IOException expected) {
        if (!(expected.getCause() instanceof io.ctx4j.CanceledException)) throw expected;
      }
    }
    System.out.println("io.ctx4j.httpclient5 ok");
  }
}
