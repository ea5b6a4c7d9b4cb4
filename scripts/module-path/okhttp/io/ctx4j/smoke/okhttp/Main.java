package io.ctx4j.smoke.okhttp;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.okhttp.ContextOkHttp;
import java.io.IOException;
import okhttp3.OkHttpClient;
import okhttp3.Request;

/** Module-path smoke test of io.ctx4j.okhttp, with OkHttp 5's okhttp3 module. */
public final class Main {
  public static void main(String[] args) throws Exception {
    OkHttpClient client = ContextOkHttp.install(new OkHttpClient.Builder()).build();
    try (CancelableContext ctx = Context.withCancel(Context.background())) {
      ctx.cancel();
      // An ended context fails the call in the interceptor, before any connection: no server needed.
      Request request = ContextOkHttp.withContext(new Request.Builder().url("http://127.0.0.1:9/").build(), ctx);
      try {
        client.newCall(request).execute().close();
        throw new AssertionError("a call under an ended context was sent");
      } catch (IOException expected) {
        if (!(expected.getCause() instanceof io.ctx4j.CanceledException)) throw expected;
      }
    } finally {
      client.dispatcher().executorService().shutdown();
    }
    System.out.println("io.ctx4j.okhttp ok");
  }
}
