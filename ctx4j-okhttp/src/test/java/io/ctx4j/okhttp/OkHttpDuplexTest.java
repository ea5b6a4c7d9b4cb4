package io.ctx4j.okhttp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.CanceledException;
import io.ctx4j.Context;
import io.ctx4j.ContextException;
import io.ctx4j.DeadlineExceededException;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.internal.CoreInternals;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import okhttp3.Call;
import okhttp3.EventListener;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okio.BufferedSink;
import okio.BufferedSource;
import okio.Okio;
import okio.Pipe;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Duplex request bodies ({@code RequestBody.isDuplex()}: the caller writes the request body after
 * {@code execute()} has returned, while it reads the response) over real HTTP/2: OkHttp with prior
 * knowledge against Jetty 12's h2c connector on loopback. The writing happens outside any
 * interceptor, so these tests check what the context's end does to it.
 */
@Timeout(60)
class OkHttpDuplexTest {
  /** How long a writer may go on after the context ended before the test calls it a runaway. */
  private static final Duration RUNAWAY = Duration.ofSeconds(10);

  private final ExecutorService threads = Executors.newCachedThreadPool();
  /** What each server exchange came to: "completed", or the failure its read or write saw. */
  private final BlockingQueue<String> serverEnds = new LinkedBlockingQueue<>();
  /** Opens the stalled server's handlers; {@link #stop()} opens it first. */
  private final CountDownLatch release = new CountDownLatch(1);
  private Server server;
  private OkHttpClient client = h2(new OkHttpClient.Builder());

  private static OkHttpClient h2(OkHttpClient.Builder builder) {
    return ContextOkHttp.install(builder).protocols(List.of(Protocol.H2_PRIOR_KNOWLEDGE)).build();
  }

  @AfterEach
  void stop() throws Exception {
    release.countDown();
    threads.shutdownNow();
    assertTrue(threads.awaitTermination(20, TimeUnit.SECONDS));
    client.dispatcher().executorService().shutdown();
    client.connectionPool().evictAll();
    if (server != null) {
      server.stop();
    }
  }

  /**
   * Starts the h2c server and returns its URL. Each exchange answers "ready" at once (so that
   * {@code execute()} returns while the request body is open); then, with {@code echo}, sends back
   * every byte of the request body as it comes, and ends when the request body does; without, reads
   * nothing until the test ends (a stalled peer: HTTP/2 flow control then blocks the writer).
   */
  private String start(boolean echo) throws Exception {
    return serve(
        (request, response, callback) -> {
          response.setStatus(200);
          try {
            try (InputStream in = Content.Source.asInputStream(request);
                OutputStream out = Content.Sink.asOutputStream(response)) {
              out.write("ready\n".getBytes(StandardCharsets.US_ASCII));
              out.flush();
              if (!echo) {
                release.await();
              }
              byte[] buf = new byte[8192];
              for (int n; (n = in.read(buf)) != -1; ) {
                out.write(buf, 0, n);
                out.flush();
              }
            } // closing out ends the response
            serverEnds.add("completed");
            callback.succeeded();
          } catch (Throwable e) {
            serverEnds.add(e.toString());
            callback.failed(e);
          }
          return true;
        });
  }

  /**
   * A client whose own listener throws {@code failure} from {@code callEnd}: OkHttp tells a call's
   * listeners in turn and stops at the first that throws, and the client's comes before ctx4j's.
   */
  private static OkHttpClient throwingOnCallEnd(RuntimeException failure) {
    return h2(
        new OkHttpClient.Builder()
            .eventListener(
                new EventListener() {
                  @Override
                  public void callEnd(Call call) {
                    throw failure;
                  }
                }));
  }

  /** Starts the h2c server with {@code handler} and returns its URL. */
  private String serve(org.eclipse.jetty.server.Request.Handler handler) throws Exception {
    server = new Server();
    ServerConnector connector =
        new ServerConnector(server, new HTTP2CServerConnectionFactory(new HttpConfiguration()));
    connector.setHost("127.0.0.1");
    server.addConnector(connector);
    server.setHandler(
        new Handler.Abstract() {
          @Override
          public boolean handle(
              org.eclipse.jetty.server.Request request,
              org.eclipse.jetty.server.Response response,
              Callback callback)
              throws Exception {
            return handler.handle(request, response, callback);
          }
        });
    server.start();
    return "http://127.0.0.1:" + connector.getLocalPort() + "/duplex";
  }

  /** A duplex body the test writes through {@link #out} once OkHttp has taken it. */
  private static final class PipeBody extends RequestBody {
    final Pipe pipe = new Pipe(64 * 1024);
    final BufferedSink out = Okio.buffer(pipe.sink());
    /** Opened when OkHttp hands the body its sink. */
    final CountDownLatch taken = new CountDownLatch(1);

    @Override
    public MediaType contentType() {
      return MediaType.get("application/octet-stream");
    }

    @Override
    public boolean isDuplex() {
      return true;
    }

    @Override
    public void writeTo(BufferedSink sink) throws IOException {
      taken.countDown();
      pipe.fold(sink); // what the caller writes to the pipe goes to the stream from now on
    }
  }

  /** Starts a duplex call under {@code ctx} and reads the server's "ready". */
  private Response open(OkHttpClient c, String url, PipeBody body, Context ctx) throws IOException {
    Response response =
        c.newCall(ContextOkHttp.withContext(new Request.Builder().url(url).post(body).build(), ctx))
            .execute();
    assertEquals(Protocol.H2_PRIOR_KNOWLEDGE, response.protocol());
    assertEquals("ready", response.body().source().readUtf8LineStrict());
    return response;
  }

  /**
   * Writes and flushes until a write fails, and returns that failure; fails the test if the writer
   * is still going after {@link #RUNAWAY}.
   */
  private static IOException writeUntilFailure(BufferedSink out) {
    long end = System.nanoTime() + RUNAWAY.toNanos();
    long written = 0;
    byte[] chunk = new byte[1024];
    while (System.nanoTime() - end < 0) {
      try {
        out.write(chunk).flush();
        written += chunk.length;
      } catch (IOException e) {
        return e;
      }
    }
    throw new AssertionError(
        "the writer of the duplex body kept going for " + RUNAWAY.toSeconds()
            + " s after the context ended: " + written + " bytes accepted");
  }

  /** {@code e} is the context's error as ctx4j-okhttp reports it: InterruptedIOException(err). */
  private static <E extends ContextException> E assertEndedWith(Class<E> type, IOException e) {
    assertInstanceOf(InterruptedIOException.class, e, () -> "failed otherwise: " + e);
    return assertInstanceOf(type, e.getCause(), () -> "failed otherwise: " + e);
  }

  @Test
  void aContextEndingMidExchangeFailsTheReaderAndTheWriterWithItsErrorAndResetsTheStream()
      throws Exception {
    String url = start(true);
    CancelableContext longLived = Context.withCancel(Context.background());
    CancelableContext ctx = Context.withCancel(longLived);
    PipeBody body = new PipeBody();
    try (Response response = open(client, url, body, ctx)) {
      BufferedSource in = response.body().source();
      for (int i = 0; i < 3; i++) {
        body.out.writeUtf8("ping " + i + "\n").flush();
        assertEquals("ping " + i, in.readUtf8LineStrict());
      }
      RuntimeException cause = new RuntimeException("the caller left");
      ctx.cancel(cause);

      IOException read = assertThrows(IOException.class, in::readUtf8LineStrict);
      assertSame(cause, assertEndedWith(CanceledException.class, read).getCause());
      IOException write = writeUntilFailure(body.out);
      assertSame(cause, assertEndedWith(CanceledException.class, write).getCause());
    }
    // The server's own read or write failed: the stream was reset, not left open.
    String seen = serverEnds.poll(20, TimeUnit.SECONDS);
    assertNotNull(seen, "the server's exchange did not end");
    assertNotEquals("completed", seen);
    assertEquals(0, CoreInternals.registrationCount(longLived));
  }

  @Test
  void aWriterHeldUpByAStalledServerFailsWhenTheDeadlinePasses() throws Exception {
    String url = start(false);
    ManualTimeSource time = ManualTimeSource.startingAt(Instant.parse("2040-01-01T00:00:00Z"));
    CancelableContext ctx =
        Context.withTimeout(Context.withTimeSource(Context.background(), time), Duration.ofSeconds(10));
    PipeBody body = new PipeBody();
    try (Response response = open(client, url, body, ctx)) {
      // The server reads nothing: once its windows and the socket buffers are full the writer is
      // held up by HTTP/2 flow control, wherever it is when the deadline passes.
      CountDownLatch underWay = new CountDownLatch(1);
      CompletableFuture<IOException> writer =
          CompletableFuture.supplyAsync(
              () -> {
                body.out.buffer().writeUtf8("x"); // the first flush below counts it under way
                underWay.countDown();
                return writeUntilFailure(body.out);
              },
              threads);
      assertTrue(underWay.await(20, TimeUnit.SECONDS));
      time.advance(Duration.ofSeconds(10));

      assertEndedWith(DeadlineExceededException.class, writer.get(20, TimeUnit.SECONDS));
      assertEndedWith(
          DeadlineExceededException.class,
          assertThrows(IOException.class, response.body().source()::readUtf8LineStrict));
    }
  }

  @Test
  void theWriterStopsWhenTheContextEndsAfterTheResponseWasClosed() throws Exception {
    String url = start(true);
    CancelableContext ctx = Context.withCancel(Context.background());
    PipeBody body = new PipeBody();
    open(client, url, body, ctx).close(); // the caller wants no more of the response
    body.out.writeUtf8("still writing\n").flush(); // the request body goes on

    ctx.cancel();

    assertEndedWith(CanceledException.class, writeUntilFailure(body.out));
  }

  @Test
  void aDuplexCallKeepsItsRegistrationUntilBothBodiesAreClosed() throws Exception {
    String url = start(true);
    CancelableContext longLived = Context.withCancel(Context.background());

    PipeBody requestFirst = new PipeBody();
    try (Response response = open(client, url, requestFirst, longLived)) {
      requestFirst.out.writeUtf8("ping\n").close();
      assertEquals("ping\n", response.body().string());
    }
    assertEquals("completed", serverEnds.poll(20, TimeUnit.SECONDS));
    assertEquals(0, CoreInternals.registrationCount(longLived), "request closed, then response");

    PipeBody responseFirst = new PipeBody();
    open(client, url, responseFirst, longLived).close();
    assertEquals(
        1, CoreInternals.registrationCount(longLived), "response closed, request body still open");
    responseFirst.out.writeUtf8("ping\n").close();
    // OkHttp resets a stream whose response was closed unread once its request body is closed too:
    // the server may see that reset or finish first.
    assertNotNull(serverEnds.poll(20, TimeUnit.SECONDS), "the server's exchange did not end");
    assertEquals(0, CoreInternals.registrationCount(longLived), "response closed, then request");
  }

  /**
   * OkHttp tells a call's listeners in turn and stops at the first that throws; the client's own
   * comes before ctx4j's. A duplex call whose response was closed first ends when its request body
   * is closed, and that close releases the registration whatever the listeners do.
   */
  @Test
  void closingTheRequestBodyLastReleasesTheRegistrationThoughAListenerThrows() throws Exception {
    String url = start(true);
    IllegalStateException failure = new IllegalStateException("a client listener that throws");
    client = throwingOnCallEnd(failure);
    CancelableContext longLived = Context.withCancel(Context.background());
    PipeBody body = new PipeBody();
    open(client, url, body, longLived).close();
    body.out.writeUtf8("ping\n");
    // OkHttp's callEnd runs in the close of the request body, and throws there.
    assertSame(failure, assertThrows(IllegalStateException.class, body.out::close));
    assertEquals(0, CoreInternals.registrationCount(longLived));
  }

  /**
   * A duplex body OkHttp never sends: the server answers the request's {@code Expect:
   * 100-continue} with a final 417, so OkHttp never calls {@code writeTo}, and the caller has no
   * sink to close. Closing the response is then the end of the call for the caller, and must give
   * the registration back, whatever the client's own listeners do (OkHttp stops telling them at the
   * first that throws, and the client's comes before ctx4j's).
   */
  @Test
  void aDuplexBodyNeverSentForARefusedExpectationGivesItsRegistrationBackWithTheResponse()
      throws Exception {
    String url =
        serve(
            (request, response, callback) -> {
              // Without reading the request body: Jetty sends no 100 then, only this answer.
              response.setStatus(request.getHeaders().contains("Expect") ? 417 : 200);
              Content.Sink.write(response, true, "expectation refused\n", callback);
              return true;
            });
    IllegalStateException failure = new IllegalStateException("a client listener that throws");
    client = throwingOnCallEnd(failure);
    CancelableContext longLived = Context.withCancel(Context.background());
    PipeBody body = new PipeBody();
    Response response =
        client
            .newCall(
                ContextOkHttp.withContext(
                    new Request.Builder().url(url).header("Expect", "100-continue").post(body).build(),
                    longLived))
            .execute();
    assertEquals(417, response.code());
    assertEquals(1, body.taken.getCount(), "OkHttp took the body: no refused expectation to test");
    // OkHttp's callEnd runs in the close of the response (the request side being over), and throws.
    assertSame(failure, assertThrows(IllegalStateException.class, response::close));
    assertEquals(0, CoreInternals.registrationCount(longLived), "the registration outlived the call");
  }
}
