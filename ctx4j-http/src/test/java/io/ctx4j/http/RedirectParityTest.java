package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.internal.CoreInternals;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The redirects ContextHttp follows itself behave as the JDK client's own, call by call: the same
 * final status, method, body, URI and chain of previous responses, for each status and method and
 * for a redirect loop that hits the hop limit.
 */
@Timeout(120)
class RedirectParityTest {

  /** An HTTP/1.1 client that follows redirects as {@code policy} says. */
  private static HttpClient client(HttpClient.Redirect policy) {
    return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).followRedirects(policy).build();
  }

  /**
   * /r/{status}/{n}: redirects n more times with that status (to /r/{status}/{n-1}), then /end
   * answers "method body-length"; /loop redirects to itself forever.
   */
  private static LoopbackServer redirector() {
    return new LoopbackServer(
        ex -> {
          byte[] requestBody = ex.getRequestBody().readAllBytes();
          String[] path = ex.getRequestURI().getPath().split("/");
          if (path.length == 4 && path[1].equals("r") && !path[3].equals("0")) {
            int n = Integer.parseInt(path[3]);
            ex.getResponseHeaders().set("Location", "/r/" + path[2] + "/" + (n - 1));
            ex.sendResponseHeaders(Integer.parseInt(path[2]), -1);
            ex.close();
            return;
          }
          if (path.length == 2 && path[1].equals("loop")) {
            ex.getResponseHeaders().set("Location", "/loop");
            ex.sendResponseHeaders(302, -1);
            ex.close();
            return;
          }
          byte[] body =
              (ex.getRequestMethod() + " " + requestBody.length).getBytes(StandardCharsets.UTF_8);
          ex.sendResponseHeaders(200, body.length);
          try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
          }
        });
  }

  private static String describe(HttpResponse<String> r) {
    List<String> chain = new ArrayList<>();
    for (HttpResponse<?> p = r.previousResponse().orElse(null); p != null; p = p.previousResponse().orElse(null)) {
      chain.add(p.statusCode() + " " + p.uri().getPath());
    }
    return r.statusCode() + " " + r.uri().getPath() + " [" + r.body() + "] " + chain;
  }

  @ParameterizedTest(name = "{0} {1} via {2}")
  @CsvSource({
    "GET, /r/301/2, NORMAL",
    "POST, /r/301/1, NORMAL",
    "POST, /r/302/1, NORMAL",
    "POST, /r/303/1, NORMAL",
    "PUT, /r/303/1, ALWAYS",
    "POST, /r/307/2, NORMAL",
    "PUT, /r/308/1, ALWAYS",
    "GET, /r/302/4, NORMAL",
    "GET, /loop, NORMAL",
    "GET, /r/300/1, NORMAL",
    "GET, /r/304/1, NORMAL"
  })
  void followsRedirectsAsTheJdkClientDoes(String method, String path, HttpClient.Redirect policy)
      throws IOException, InterruptedException {
    HttpClient client = client(policy);
    try (LoopbackServer s = redirector();
        CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(1))) {
      HttpRequest request =
          HttpRequest.newBuilder(URI.create(s.uri() + path.substring(1)))
              .method(method, HttpRequest.BodyPublishers.ofString("twelve bytes"))
              .build();
      String jdk = describe(client.send(request, BodyHandlers.ofString()));
      String ctx4j = describe(ContextHttp.send(ctx, client, request, BodyHandlers.ofString()));
      assertEquals(jdk, ctx4j);
    }
  }

  /**
   * A redirect ctx4j follows to another origin (here another port) leaves the caller's credentials
   * and the headers naming the first origin behind (Authorization, Cookie, Origin, Referer), as
   * recent JDKs do (JDK 25; JDK 17.0.15 forwards them, so this is no parity check); one to the same
   * origin keeps them; other headers go on either way.
   */
  @ParameterizedTest(name = "{0} redirect via {1}")
  @CsvSource({"another origin, NORMAL", "another origin, ALWAYS", "the same origin, NORMAL"})
  void aRedirectToAnotherOriginDropsTheCredentials(String where, HttpClient.Redirect policy)
      throws IOException, InterruptedException {
    HttpClient client = client(policy);
    String[] names = {"Authorization", "Cookie", "Origin", "Referer", "X-Other"};
    try (LoopbackServer target =
            new LoopbackServer(
                ex -> {
                  if (ex.getRequestURI().getPath().equals("/start")) {
                    ex.getResponseHeaders().set("Location", "/end");
                    ex.sendResponseHeaders(302, -1);
                    ex.close();
                    return;
                  }
                  StringBuilder seen = new StringBuilder();
                  for (String name : names) {
                    seen.append(name).append('=').append(ex.getRequestHeaders().getFirst(name)).append(' ');
                  }
                  byte[] body = seen.toString().trim().getBytes(StandardCharsets.UTF_8);
                  ex.sendResponseHeaders(200, body.length);
                  try (OutputStream out = ex.getResponseBody()) {
                    out.write(body);
                  }
                });
        LoopbackServer other =
            new LoopbackServer(
                ex -> {
                  ex.getResponseHeaders().set("Location", target.uri() + "end");
                  ex.sendResponseHeaders(302, -1);
                  ex.close();
                });
        CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(1))) {
      boolean sameOrigin = where.equals("the same origin");
      HttpRequest request =
          HttpRequest.newBuilder((sameOrigin ? target : other).uri().resolve("/start"))
              .header("Authorization", "Bearer secret")
              .header("Cookie", "session=secret")
              .header("Origin", "http://first.example")
              .header("Referer", "http://first.example/page")
              .header("X-Other", "kept")
              .build();
      String expected =
          sameOrigin
              ? "200 /end [Authorization=Bearer secret Cookie=session=secret"
                  + " Origin=http://first.example Referer=http://first.example/page X-Other=kept]"
                  + " [302 /start]"
              : "200 /end [Authorization=null Cookie=null Origin=null Referer=null X-Other=kept]"
                  + " [302 /start]";
      assertEquals(expected, describe(ContextHttp.send(ctx, client, request, BodyHandlers.ofString())));
    }
  }
  /** The exception's class and message, then its causes' classes: "IOException: m <- IOException". */
  private static String failure(Throwable e) {
    StringBuilder b = new StringBuilder(e.getClass().getSimpleName()).append(": ").append(e.getMessage());
    for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
      b.append(" <- ").append(c.getClass().getSimpleName());
    }
    return b.toString();
  }

  /** The classes of the exception and of its causes: "IOException <- IOException". */
  private static String types(Throwable e) {
    StringBuilder b = new StringBuilder(e.getClass().getSimpleName());
    for (Throwable c = e.getCause(); c != null; c = c.getCause()) {
      b.append(" <- ").append(c.getClass().getSimpleName());
    }
    return b.toString();
  }

  /**
   * A Location that is no URI, missing, or (Redirect.ALWAYS) of another scheme than http and https,
   * or without a host: ctx4j's send gives what its README and Javadoc say, on every JDK. The JDK's
   * own send does not give one answer on JDK 17 and JDK 25 for the first and the last (an
   * IllegalArgumentException on 17, an IOException on 25), and for another scheme with a host it
   * sends plain HTTP to that host, which no HttpRequest can ask of it (HttpRequest.Builder, and the
   * client for any other HttpRequest, refuse such a URI). Its answers are checked on the two JDKs
   * the README names, so that a JDK that changes them is noticed. "none": no Location.
   */
  @ParameterizedTest(name = "{0} to [{1}]")
  @CsvSource(
      delimiter = '|',
      value = {
        "NORMAL | http://[bad"
            + " | IOException: Invalid redirection: Location http://[bad <- IOException <- URISyntaxException"
            + " | IllegalArgumentException <- IllegalArgumentException <- URISyntaxException"
            + " | IOException <- IOException <- IllegalArgumentException <- URISyntaxException",
        "ALWAYS | /a b"
            + " | IOException: Invalid redirection: Location /a b <- IOException <- URISyntaxException"
            + " | IllegalArgumentException <- IllegalArgumentException <- URISyntaxException"
            + " | IOException <- IOException <- IllegalArgumentException <- URISyntaxException",
        "NORMAL | none"
            + " | IOException: Invalid redirection: 302 without Location <- IOException"
            + " | IOException <- UncheckedIOException <- IOException"
            + " | IOException <- IOException <- UncheckedIOException <- IOException",
        "NORMAL | ftp://127.0.0.1:{port}/end | 302 http /start | 302 http /start | 302 http /start",
        "ALWAYS | ftp://127.0.0.1:{port}/end"
            + " | IllegalArgumentException: invalid URI scheme ftp <- IllegalArgumentException"
            + " | 200 ftp /end | 200 ftp /end",
        "ALWAYS | mailto:someone@example.com"
            + " | IllegalArgumentException: invalid URI scheme mailto <- IllegalArgumentException"
            + " | IllegalArgumentException <- IllegalArgumentException"
            + " | IllegalArgumentException <- IllegalArgumentException",
        "NORMAL | http:///nohost"
            + " | IllegalArgumentException: unsupported URI http:///nohost <- IllegalArgumentException"
            + " | IllegalArgumentException <- IllegalArgumentException"
            + " | IOException <- IOException <- NullPointerException"
      })
  void aLocationTheJdkCannotFollowAsItIsFailsAsDocumented(
      HttpClient.Redirect policy, String location, String ctx4j, String jdk17, String jdk25)
      throws IOException, InterruptedException {
    HttpClient client = client(policy);
    LoopbackServer[] server = new LoopbackServer[1];
    server[0] =
        new LoopbackServer(
            ex -> {
              if (ex.getRequestURI().getPath().equals("/start")) {
                if (!location.equals("none")) {
                  ex.getResponseHeaders()
                      .set("Location", location.replace("{port}", "" + server[0].uri().getPort()));
                }
                ex.sendResponseHeaders(302, -1);
                ex.close();
                return;
              }
              ex.sendResponseHeaders(200, -1);
              ex.close();
            });
    try (LoopbackServer s = server[0];
        CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMinutes(1))) {
      HttpRequest request = HttpRequest.newBuilder(s.uri().resolve("/start")).build();
      String ours;
      try {
        HttpResponse<String> r = ContextHttp.send(ctx, client, request, BodyHandlers.ofString());
        ours = r.statusCode() + " " + r.uri().getScheme() + " " + r.uri().getPath();
      } catch (IOException | IllegalArgumentException e) {
        ours = failure(e);
      }
      assertEquals(ctx4j, ours, "ContextHttp.send");
      int feature = Runtime.version().feature();
      if (feature == 17 || feature == 25) {
        String jdks;
        try {
          HttpResponse<String> r = client.send(request, BodyHandlers.ofString());
          jdks = r.statusCode() + " " + r.uri().getScheme() + " " + r.uri().getPath();
        } catch (IOException | IllegalArgumentException e) {
          jdks = types(e);
        }
        assertEquals(feature == 17 ? jdk17 : jdk25, jdks, "HttpClient.send on JDK " + feature);
      }
    }
  }

  /**
   * A hostless {@code Location} that the JDK follows itself (the context has no deadline, so ctx4j
   * leaves redirects to the client): JDK 25's redirect filter fails with a {@code
   * NullPointerException} (JDK 17 with an {@code IllegalArgumentException}). Whatever the JDK
   * throws there, {@code send} throws what the JDK's own {@code send} throws, {@code sendAsync}'s
   * future fails with the JDK's own cause, and the call leaves no registration on the context.
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"http:///nohost", "http:nohost"})
  void aHostlessLocationTheJdkFollowsItselfFailsAsItsOwnSendAndLeavesNoRegistration(String location)
      throws Exception {
    HttpClient client = client(HttpClient.Redirect.NORMAL);
    try (LoopbackServer s =
            new LoopbackServer(
                ex -> {
                  ex.getResponseHeaders().set("Location", location);
                  ex.sendResponseHeaders(302, -1);
                  ex.close();
                });
        CancelableContext ctx = Context.withCancel(Context.background())) {
      HttpRequest request = HttpRequest.newBuilder(s.uri().resolve("/start")).build();
      String jdks = types(assertThrows(Exception.class, () -> client.send(request, BodyHandlers.ofString())));
      String expected =
          Runtime.version().feature() >= 25
              ? "IOException <- IOException <- NullPointerException"
              : "IllegalArgumentException <- IllegalArgumentException";
      if (Runtime.version().feature() == 17 || Runtime.version().feature() >= 25) {
        assertEquals(expected, jdks, "HttpClient.send on JDK " + Runtime.version().feature());
      }
      assertEquals(
          jdks,
          types(assertThrows(Exception.class, () -> ContextHttp.send(ctx, client, request, BodyHandlers.ofString()))),
          "ContextHttp.send");
      assertEquals(0, CoreInternals.registrationCount(ctx), "registrations left by send");
      ExecutionException async =
          assertThrows(
              ExecutionException.class,
              () -> ContextHttp.sendAsync(ctx, client, request, BodyHandlers.ofString()).get(30, TimeUnit.SECONDS));
      assertEquals(jdks.substring(jdks.indexOf(" <- ") + 4), types(async.getCause()), "sendAsync's failure");
      assertEquals(0, CoreInternals.registrationCount(ctx), "registrations left by sendAsync");
      assertNull(ctx.err(), "the context is not ended by the failed call");
    }
  }

  /**
   * A 3xx whose body does not end (chunked, or longer than its first bytes, the rest held back) is
   * followed at once, as the JDK follows it: the JDK reads a redirect's body only when its {@code
   * Content-Length} says 1024 bytes or fewer, and otherwise closes the connection and moves on.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource({"chunked, 0", "Content-Length 100000, 100000"})
  void aRedirectWhoseBodyIsHeldBackIsFollowedAtOnceAsByTheJdk(String body, long length)
      throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    HttpClient client = client(HttpClient.Redirect.NORMAL);
    try (LoopbackServer s =
            new LoopbackServer(
                ex -> {
                  if (ex.getRequestURI().getPath().equals("/start")) {
                    ex.getResponseHeaders().set("Location", "/end");
                    ex.sendResponseHeaders(302, length);
                    OutputStream out = ex.getResponseBody();
                    out.write(new byte[10]);
                    out.flush();
                    try {
                      release.await(); // the rest of the body never comes during the test
                    } catch (InterruptedException e) {
                      Thread.currentThread().interrupt();
                    }
                    ex.close();
                    return;
                  }
                  byte[] end = "end".getBytes(StandardCharsets.UTF_8);
                  ex.sendResponseHeaders(200, end.length);
                  try (OutputStream out = ex.getResponseBody()) {
                    out.write(end);
                  }
                });
        CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofSeconds(10))) {
      try {
        HttpRequest request = HttpRequest.newBuilder(s.uri().resolve("/start")).build();
        String jdk = describe(client.send(request, BodyHandlers.ofString()));
        assertEquals("200 /end [end] [302 /start]", jdk, "the JDK's own redirect");
        String ctx4j = describe(ContextHttp.send(ctx, client, request, BodyHandlers.ofString()));
        assertEquals(jdk, ctx4j);
      } finally {
        release.countDown();
      }
    }
  }
}
