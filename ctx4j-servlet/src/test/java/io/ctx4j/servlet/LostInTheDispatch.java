package io.ctx4j.servlet;

import io.ctx4j.concurrent.CurrentContext;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServletResponse;
import java.io.PrintWriter;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The shape the writer tests share: a handler that starts an async cycle, takes the {@code
 * AsyncContext}'s writer (over the container's), lets the client reset the connection, writes, and
 * calls {@code complete()} in the dispatch; the request's context must end as a lost client ({@link
 * HostileUseTest#assertLostAfterItsReset}). What differs between the tests is the wrapper in front
 * and what the handler does with the writers before and after the reset.
 */
final class LostInTheDispatch {
  private LostInTheDispatch() {}

  /** What the handler does at one point, with the chain's response and the async writer. */
  interface Step {
    void run(HttpServletResponse res, AsyncContext async, PrintWriter asyncWriter) throws Exception;
  }

  static final Step NOTHING = (res, async, a) -> {};

  /**
   * Runs the request behind {@code inFront} on {@code c} and asserts that its context ends
   * "client disconnected"; what the handler threw, and a refused {@code complete()}, go into the
   * failure's message.
   *
   * @param before run before the handler lets the client go (the client is there)
   * @param after run once the server's kernel has the client's reset
   */
  static void assertReported(Containers c, Filter inFront, String how, Step before, Step after)
      throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              AsyncContext async = req.startAsync();
              async.setTimeout(0);
              try {
                PrintWriter a = async.getResponse().getWriter();
                before.run(res, async, a);
                probe.enter(CurrentContext.get(), true);
                probe.awaitGo(); // the server's kernel has the client's reset
                after.run(res, async, a);
              } catch (Throwable t) {
                thrown.set(t.toString());
              } finally {
                try {
                  async.complete();
                } catch (RuntimeException e) {
                  thrown.set(thrown.get() + "; complete threw " + e);
                }
              }
            });
    HostileUseTest.assertLostAfterItsReset(
        c, inFront, servlet, probe, () -> c + ", " + how + ": " + thrown.get());
  }
}
