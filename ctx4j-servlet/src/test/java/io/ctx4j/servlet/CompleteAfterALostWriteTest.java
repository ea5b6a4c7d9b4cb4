package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.ServletResponse;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * An application thread writes 256 KiB after the client reset, where the filter does not see the
 * failure at once (the writer, which swallows it, with no flush; the container's own response),
 * then calls complete() through the filter's AsyncContext, as an application does in a finally
 * block. The lost client must be the cause. Found by review of 3878f53, whose complete() ended the
 * context at once, ahead of Tomcat's onError; then by review of db22396: Tomcat calls onComplete,
 * not onError, for a complete() made while the dispatch that started the cycle runs (the handler
 * waits for its thread), and Jetty reports neither, so the writer is asked when that dispatch
 * returns, as at its close. Left to the README's limits, where only the container can report the
 * loss: a complete() after the dispatch returned (Jetty reports nothing; Tomcat's onError did not
 * come in 1 of 24 runs under load for the writer, 1 of about 30 for its own stream), with the
 * writer or the container's own stream: those rows assert only that the context ends. Controls: a client that reads the whole
 * answer, also one of exactly its declared length, is no lost client; and no complete() throws,
 * except the container's refusal once it has reported the lost client itself.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class CompleteAfterALostWriteTest {
  private static final String WRITER = "the watched writer, no flush";
  private static final String OWN_STREAM = "the container's own response's stream";
  private static final String AFTER = "complete() after the dispatch returned";
  private static final String IN = "complete() while the dispatch runs";

  static java.util.stream.Stream<Arguments> lost() {
    return java.util.stream.Stream.of(
        Arguments.of(Containers.TOMCAT, WRITER, IN),
        Arguments.of(Containers.JETTY, WRITER, IN));
  }

  private static final byte[] BIG = new byte[256 * 1024];

  static {
    java.util.Arrays.fill(BIG, (byte) 'x');
  }

  /**
   * A handler whose application thread, once the probe's go came, writes {@code body} as {@code
   * how} says and calls complete(); with {@link #IN}, the dispatch waits for that thread (bounded).
   */
  private static TestServlet writeThenComplete(
      Probe probe, String how, String when, int declared, AtomicReference<String> thrown) {
    boolean writer = how.equals(WRITER);
    boolean in = when.equals(IN);
    return new TestServlet(
        (req, res) -> {
          if (declared >= 0) {
            res.setContentLength(declared);
          }
          AsyncContext async = req.startAsync();
          async.setTimeout(0);
          probe.enter(CurrentContext.get(), true);
          CountDownLatch done = new CountDownLatch(1);
          new Thread(
                  () -> {
                    try {
                      probe.awaitGo();
                      if (writer) {
                        PrintWriter w = async.getResponse().getWriter();
                        w.print(new String(BIG, StandardCharsets.US_ASCII));
                      } else {
                        ServletResponse own = async.getRequest().getAsyncContext().getResponse();
                        try {
                          own.getOutputStream().write(BIG);
                        } catch (IOException e) {
                          thrown.set(e.toString());
                        }
                      }
                    } catch (Throwable t) {
                      thrown.set(t.toString());
                    } finally {
                      try {
                        async.complete();
                      } catch (RuntimeException e) {
                        thrown.set(thrown.get() + (thrownByCtx4j(e) ? "; complete threw " : "; the container refused complete(): ") + e);
                      }
                      done.countDown();
                    }
                  })
              .start();
          if (in && !done.await(20, TimeUnit.SECONDS)) {
            thrown.set(thrown.get() + "; the application thread took over 20 s");
          }
        });
  }

  /**
   * Whether ctx4j's code threw {@code e}, not the container's: the filter's {@code complete()}
   * passes the container's refusal on as it was thrown. Tomcat refuses a {@code complete()} once it
   * has reported the lost client through {@code onError} (after the dispatch returned, which may
   * come first), as the Servlet API lets it.
   */
  private static boolean thrownByCtx4j(RuntimeException e) {
    StackTraceElement[] at = e.getStackTrace();
    return at.length == 0 || at[0].getClassName().startsWith("io.ctx4j.");
  }

  @ParameterizedTest(name = "{0}: {1}, {2}")
  @MethodSource("lost")
  void aLostClientBeforeCompleteIsReported(Containers c, String how, String when)
      throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    HostileUseTest.assertLostAfterItsReset(
        c,
        ContextServletFilter.create(),
        writeThenComplete(probe, how, when, -1, thrown),
        probe,
        () -> how + ", " + when + ": " + thrown.get());
    assertFalse(thrown.get().contains("complete threw"), how + ", " + when + ": " + thrown.get());
  }

  static java.util.stream.Stream<Arguments> reportedByTheContainerOnly() {
    return Containers.eachWith(WRITER, OWN_STREAM);
  }

  /**
   * A complete() after the dispatch returned, the loss in the writer's unflushed writes or in the
   * container's own stream, which the filter does not see: only Tomcat's onError can report it (the
   * filter does not flush inside the application's complete(), which would block it on a slow
   * client), and it did not come in 1 of 24 runs under load. The context must end, with either
   * cause, and no complete() of ctx4j's throw.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("reportedByTheContainerOnly")
  void aLossOnlyTheContainerCanReportEndsTheContext(Containers c, String how) throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    HostileUseTest.assertEndsAfterItsReset(
        c,
        ContextServletFilter.create(),
        writeThenComplete(probe, how, AFTER, -1, thrown),
        probe,
        () -> c + ", " + how + ", " + AFTER + ": " + thrown.get(),
        java.util.EnumSet.of(Reason.CLIENT_DISCONNECTED, Reason.RESPONSE_COMPLETED));
    assertFalse(thrown.get().contains("complete threw"), thrown.get());
  }

  static java.util.stream.Stream<Arguments> read() {
    return Containers.eachWith(
        AFTER, IN, AFTER + ", exactly the declared length", IN + ", exactly the declared length");
  }

  /** The client reads the whole answer: the writer's check at complete() finds no failure. */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("read")
  void aClientThatReadsTheWholeAnswerIsNoLostClient(Containers c, String when) throws Exception {
    Probe probe = new Probe();
    probe.go.countDown();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    int declared = when.contains("declared") ? BIG.length : -1;
    String answer;
    Reason end;
    try (Containers.Running server =
        c.start(
            ContextServletFilter.create(),
            writeThenComplete(probe, WRITER, when.startsWith(IN) ? IN : AFTER, declared, thrown))) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      answer = r.statusCode() + " " + r.body().length() + " chars";
      Context ctx = probe.ctx;
      end = Probe.reasonAtEnd(ctx, 10, when);
    }
    assertEquals("200 " + BIG.length + " chars", answer, when + ": " + thrown.get());
    assertEquals("nothing", thrown.get(), when);
    assertEquals(
        Reason.RESPONSE_COMPLETED, end, when + ": " + thrown.get() + "; " + probe.ctx.cause());
  }
}
