package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.Context;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The check the "no lost client" tests share: the client reads the whole answer, the handler threw
 * nothing, and the request's context ends "response completed".
 */
final class WholeAnswer {
  private WholeAnswer() {}

  /** A handler's work; what it throws fails the assertion, with the row's name. */
  interface Body {
    void run(HttpServletRequest req, HttpServletResponse res, Probe probe) throws Exception;
  }

  /**
   * As {@link #assertCompleted(Containers, Filter, TestServlet, Probe, AtomicReference, String,
   * String)}, for a servlet that runs {@code body}: the body enters the probe given to it with the
   * request's context, and what it throws is recorded.
   */
  static void assertCompleted(
      Containers c, Filter chainStart, String how, String expected, Body body) throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              try {
                body.run(req, res, probe);
              } catch (Throwable t) {
                thrown.set(t.toString());
              }
            });
    assertCompleted(c, chainStart, servlet, probe, thrown, how, expected);
  }

  /**
   * Sends one GET of /x to {@code servlet} behind {@code chainStart} on {@code c} and asserts that
   * the answer is {@code expected} ("200 body"), that {@code thrown} still says "nothing", and that
   * the context the handler entered {@code probe} with ends {@code RESPONSE_COMPLETED}.
   */
  static void assertCompleted(
      Containers c,
      Filter chainStart,
      TestServlet servlet,
      Probe probe,
      AtomicReference<String> thrown,
      String how,
      String expected)
      throws Exception {
    String answer;
    Reason end;
    Context ctx;
    try (Containers.Running server = c.start(chainStart, servlet)) {
      answer = Http.answer(Http.get(server.port, "/x"));
      ctx = probe.ctx;
      end = Probe.reasonAtEnd(ctx, 10, how);
    }
    assertEquals(expected, answer, how + ": " + thrown.get());
    assertEquals("nothing", thrown.get(), how);
    assertEquals(Reason.RESPONSE_COMPLETED, end, c + ", " + how + ": " + ctx.cause());
  }
}
