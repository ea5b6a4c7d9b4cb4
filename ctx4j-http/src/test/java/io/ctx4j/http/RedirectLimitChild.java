package io.ctx4j.http;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;

/**
 * Run in a child JVM by {@link RedirectLimitTest}: follows an endless chain of redirects (/0 to /1
 * to /2...) with the JDK client's own send and with ContextHttp.send, and prints the path each
 * stopped at: "jdk /n" and "ctx4j /n".
 */
public final class RedirectLimitChild {
  private RedirectLimitChild() {}

  public static void main(String[] args) throws Exception {
    HttpClient client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .followRedirects(HttpClient.Redirect.NORMAL)
            .build();
    try (LoopbackServer server =
            new LoopbackServer(
                ex -> {
                  int n = Integer.parseInt(ex.getRequestURI().getPath().substring(1));
                  ex.getResponseHeaders().set("Location", "/" + (n + 1));
                  ex.sendResponseHeaders(302, -1);
                  ex.close();
                });
        CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(1))) {
      HttpRequest request = HttpRequest.newBuilder(server.uri().resolve("/0")).build();
      HttpResponse<String> jdk = client.send(request, BodyHandlers.ofString());
      HttpResponse<String> ctx4j = ContextHttp.send(ctx, client, request, BodyHandlers.ofString());
      System.out.println("jdk " + jdk.uri().getPath());
      System.out.println("ctx4j " + ctx4j.uri().getPath());
    }
  }
}
