package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.DispatcherType;
import java.io.IOException;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;

/**
 * An application that clears the request's attributes before it dispatches. Through the request
 * the chain got (every name): the filter's state and the context attribute are read-only there, so
 * the ASYNC dispatch keeps the context and its watched response, and a failed write there ends the
 * context as a lost client, inside the write (found by a review of the README's promises: the
 * filter's state, a plain attribute then, was removed, and the context stayed live). Through the
 * container's own request (AsyncContext.getRequest()), which the filter does not see: the README's
 * limit, a new context in the ASYNC dispatch; the first one still ends with the cycle.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AttributeCleanupTest {
  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> rows() {
    return Containers.eachWith("control: no cleanup", "every attribute removed through the chain's request");
  }

  @ParameterizedTest(name = "{0}: {1}")
  @org.junit.jupiter.params.provider.MethodSource("rows")
  void aFailedWriteOnTheAsyncDispatchAfterAnAttributeCleanupEndsTheContext(Containers c, String how)
      throws Exception {
    CountDownLatch returned = new CountDownLatch(1);
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch closed = new CountDownLatch(1);
    CountDownLatch finished = new CountDownLatch(1);
    AtomicReference<String> afterFailure = new AtomicReference<>();
    AtomicReference<IOException> failure = new AtomicReference<>();
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() == DispatcherType.ASYNC) {
                Context ctx = CurrentContext.get();
                byte[] chunk = new byte[8192];
                try {
                  for (int i = 0; i < 10_000; i++) {
                    res.getOutputStream().write(chunk);
                    res.getOutputStream().flush();
                  }
                } catch (IOException e) {
                  failure.set(e);
                  afterFailure.set(Probe.state(ctx));
                } finally {
                  finished.countDown();
                }
                return;
              }
              AsyncContext async = req.startAsync();
              async.setTimeout(0);
              new Thread(
                      () -> {
                        try {
                          assertTrue(returned.await(10, TimeUnit.SECONDS));
                          if (!how.startsWith("control")) {
                            for (String n : Collections.list(req.getAttributeNames())) {
                              req.removeAttribute(n);
                            }
                          }
                          entered.countDown();
                          assertTrue(closed.await(10, TimeUnit.SECONDS));
                        } catch (InterruptedException e) {
                          throw new AssertionError(e);
                        }
                        async.dispatch();
                      })
                  .start();
            });
    ContextServletFilter filter = ContextServletFilter.create();
    jakarta.servlet.Filter front =
        (rq, rs, chain) -> {
          filter.doFilter(rq, rs, chain);
          if (rq.getDispatcherType() == DispatcherType.REQUEST) {
            returned.countDown();
          }
        };
    try (Containers.Running server = c.start(front, servlet)) {
      try (Socket socket = new Socket("127.0.0.1", server.port)) {
        socket.getOutputStream()
            .write("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        assertTrue(entered.await(10, TimeUnit.SECONDS));
      }
      closed.countDown();
      assertTrue(finished.await(30, TimeUnit.SECONDS), "the writes finished");
      assertNotNull(failure.get(), "a write failed");
      assertTrue(
          String.valueOf(afterFailure.get())
              .startsWith("done: " + RequestCanceledException.class.getName() + ": client disconnected"),
          "the context right after the failed write (" + failure.get() + "): " + afterFailure.get());
      filter.shutdown("end of test", null);
    }
  }

  /**
   * The limit: every attribute removed from the container's own request, which the filter does not
   * see. The ASYNC dispatch runs with a context of its own; the first context still ends, "response
   * completed", when the cycle does: nothing is left behind.
   */
  @ParameterizedTest(name = "{0}")
  @org.junit.jupiter.params.provider.EnumSource(Containers.class)
  void clearingTheContainersOwnRequestLeavesTheFirstContextToEndWithTheCycle(Containers c)
      throws Exception {
    AtomicReference<Context> first = new AtomicReference<>();
    AtomicReference<Context> inAsync = new AtomicReference<>();
    CountDownLatch returned = new CountDownLatch(1);
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() == DispatcherType.ASYNC) {
                inAsync.set(CurrentContext.get());
                res.getWriter().print("dispatched");
                return;
              }
              first.set(CurrentContext.get());
              AsyncContext async = req.startAsync();
              new Thread(
                      () -> {
                        try {
                          assertTrue(returned.await(10, TimeUnit.SECONDS));
                        } catch (InterruptedException e) {
                          throw new AssertionError(e);
                        }
                        jakarta.servlet.ServletRequest own = async.getRequest();
                        for (String n : Collections.list(own.getAttributeNames())) {
                          own.removeAttribute(n);
                        }
                        async.dispatch();
                      })
                  .start();
            });
    ContextServletFilter filter = ContextServletFilter.create();
    jakarta.servlet.Filter front =
        (rq, rs, chain) -> {
          filter.doFilter(rq, rs, chain);
          if (rq.getDispatcherType() == DispatcherType.REQUEST) {
            returned.countDown();
          }
        };
    try (Containers.Running server = c.start(front, servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      assertEquals("200 dispatched", Http.answer(r).strip());
      assertNotNull(inAsync.get(), "the ASYNC dispatch ran with no context");
      assertEquals(
          RequestCanceledException.Reason.RESPONSE_COMPLETED,
          Probe.reasonAtEnd(first.get(), 10, "the first dispatch's context"),
          String.valueOf(first.get().cause()));
      filter.shutdown("end of test", null);
    }
  }
}
