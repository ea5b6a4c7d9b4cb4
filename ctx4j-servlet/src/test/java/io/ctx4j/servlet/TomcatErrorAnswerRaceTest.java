package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.ServletException;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.EnumSet;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.startup.Tomcat;
import org.apache.catalina.valves.ValveBase;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Tomcat 11, an application thread that answers with {@code sendError}, writes, then calls {@code
 * complete()}, racing the end of the dispatch that started the cycle (found by investigating a CI
 * failure of a WrapperStreamsTest row, which lost this race about once in a thousand requests). In
 * the bad order Tomcat's {@code ErrorReportValve} closes the connection on the dispatch's thread
 * while the cycle is still starting, {@code complete()} is only marked pending (or, after the
 * recycle, refused), and Tomcat calls no listener and never times the cycle out: the request
 * context stayed live until the server stopped. The order is forced here by a host valve that holds
 * the dispatch's thread between {@code StandardHostValve} and {@code ErrorReportValve}. The context
 * must end with {@code RESPONSE_COMPLETED} soon after {@code complete()} (at once if Tomcat refused
 * it, 2 s later if it took it and reported nothing), not when the server stops; also when a request
 * wrapper in front hands out an {@code AsyncContext} of its own that never asks the container for
 * the timeout (the filter asks the container's own whether it let go of the request).
 */
class TomcatErrorAnswerRaceTest {
  enum Order {
    /** complete() while the dispatch's thread is still in the valves: marked pending. */
    COMPLETE_WHILE_THE_DISPATCH_ENDS,
    /** As above, the cycle started with startAsync(request, response). */
    COMPLETE_WHILE_THE_DISPATCH_ENDS_TWO_ARGS,
    /** complete() after the client saw the connection closed: refused, the request recycled. */
    COMPLETE_AFTER_THE_CLOSE
  }

  /** One request's latches and what it saw. */
  static final class Run {
    final Order order;
    final AtomicReference<Context> ctx = new AtomicReference<>();
    final AtomicReference<String> complete = new AtomicReference<>("not called");
    final AtomicReference<String> stateAfterComplete = new AtomicReference<>("not called");
    final CountDownLatch sent = new CountDownLatch(1);
    final CountDownLatch hostReturned = new CountDownLatch(1);
    final CountDownLatch written = new CountDownLatch(1);
    final CountDownLatch completed = new CountDownLatch(1);
    final CountDownLatch clientDone = new CountDownLatch(1);

    Run(Order order) {
      this.order = order;
    }
  }

  private static void await(CountDownLatch l) {
    try {
      if (!l.await(20, TimeUnit.SECONDS)) {
        throw new IllegalStateException("a latch was not reached within 20 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * Sits between the host's ErrorReportValve and StandardHostValve: once StandardHostValve has
   * lifted the suspension sendError set, lets the application thread write, and (for the pending
   * orders) waits for its complete() before ErrorReportValve sees the committed error answer.
   */
  static final class Hold extends ValveBase {
    private final AtomicReference<Run> current;

    Hold(AtomicReference<Run> current) {
      super(true);
      this.current = current;
    }

    @Override
    public void invoke(Request request, Response response) throws IOException, ServletException {
      getNext().invoke(request, response);
      Run run = current.get();
      if (run == null || request.getDispatcherType() != DispatcherType.REQUEST) {
        return;
      }
      run.hostReturned.countDown();
      await(run.written);
      if (run.order != Order.COMPLETE_AFTER_THE_CLOSE) {
        await(run.completed);
      }
    }
  }

  private static TestServlet servlet(AtomicReference<Run> current) {
    return new TestServlet(
        (req, res) -> {
          Run run = current.get();
          Context ctx = CurrentContext.get();
          run.ctx.set(ctx);
          AsyncContext async =
              run.order == Order.COMPLETE_WHILE_THE_DISPATCH_ENDS_TWO_ARGS
                  ? req.startAsync(req, res)
                  : req.startAsync();
          async.start(
              () -> {
                try {
                  res.sendError(409);
                  run.sent.countDown();
                  await(run.hostReturned);
                  PrintWriter w = async.getResponse().getWriter();
                  w.print("late");
                  w.flush();
                } catch (IOException | RuntimeException e) {
                  // The late write's fate is not the question here.
                } finally {
                  run.written.countDown();
                  if (run.order == Order.COMPLETE_AFTER_THE_CLOSE) {
                    await(run.clientDone);
                  }
                  try {
                    async.complete();
                    run.complete.set("returned");
                  } catch (RuntimeException e) {
                    run.complete.set("threw " + e);
                  } finally {
                    run.stateAfterComplete.set(ctx.isDone() ? "done: " + ctx.cause() : "live");
                    run.completed.countDown();
                  }
                }
              });
          // The application thread's sendError comes before StandardHostValve lifts the
          // suspension.
          await(run.sent);
        });
  }

  /**
   * An {@code AsyncContext} that an application's request wrapper in front of the filter hands out:
   * every call goes to the container's, except that it keeps the timeout it was given and answers
   * {@code getTimeout()} itself, so it never says that the container let go of the request. Found
   * by review of 69b7ec2: the filter asked it, and the context never ended in the orders above.
   */
  static final class KeptTimeout implements AsyncContext {
    private final AsyncContext d;
    private volatile long timeout = 30_000;

    KeptTimeout(AsyncContext d) {
      this.d = d;
    }

    @Override
    public jakarta.servlet.ServletRequest getRequest() {
      return d.getRequest();
    }

    @Override
    public jakarta.servlet.ServletResponse getResponse() {
      return d.getResponse();
    }

    @Override
    public boolean hasOriginalRequestAndResponse() {
      return d.hasOriginalRequestAndResponse();
    }

    @Override
    public void dispatch() {
      d.dispatch();
    }

    @Override
    public void dispatch(String path) {
      d.dispatch(path);
    }

    @Override
    public void dispatch(jakarta.servlet.ServletContext c, String path) {
      d.dispatch(c, path);
    }

    @Override
    public void complete() {
      d.complete();
    }

    @Override
    public void start(Runnable run) {
      d.start(run);
    }

    @Override
    public void addListener(jakarta.servlet.AsyncListener l) {
      d.addListener(l);
    }

    @Override
    public void addListener(
        jakarta.servlet.AsyncListener l, jakarta.servlet.ServletRequest q, jakarta.servlet.ServletResponse s) {
      d.addListener(l, q, s);
    }

    @Override
    public <T extends jakarta.servlet.AsyncListener> T createListener(Class<T> c)
        throws ServletException {
      return d.createListener(c);
    }

    @Override
    public void setTimeout(long t) {
      timeout = t;
      d.setTimeout(t);
    }

    @Override
    public long getTimeout() {
      return timeout;
    }
  }

  /** The filter, behind a request wrapper whose startAsync hands out a {@link KeptTimeout}. */
  static jakarta.servlet.Filter behindAKeptTimeout() {
    ContextServletFilter filter = ContextServletFilter.create();
    return (rq, rs, chain) ->
        filter.doFilter(
            new jakarta.servlet.http.HttpServletRequestWrapper(
                (jakarta.servlet.http.HttpServletRequest) rq) {
              @Override
              public AsyncContext startAsync() {
                return new KeptTimeout(super.startAsync());
              }

              @Override
              public AsyncContext startAsync(
                  jakarta.servlet.ServletRequest q, jakarta.servlet.ServletResponse s) {
                return new KeptTimeout(super.startAsync(q, s));
              }
            },
            rs,
            chain);
  }

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> rows() {
    return java.util.stream.Stream.of(Order.values())
        .flatMap(
            o ->
                java.util.stream.Stream.of(
                    org.junit.jupiter.params.provider.Arguments.of(o, false),
                    org.junit.jupiter.params.provider.Arguments.of(o, true)));
  }

  @ParameterizedTest(name = "{0}, a wrapper in front keeping the timeout: {1}")
  @MethodSource("rows")
  void theContextEndsWhenTheApplicationCompletesAfterAnErrorAnswerTomcatClosed(
      Order order, boolean keptTimeoutInFront) throws Exception {
    AtomicReference<Run> current = new AtomicReference<>();
    Run run = new Run(order);
    current.set(run);
    Tomcat tomcat =
        EmbeddedTomcat.start(
            keptTimeoutInFront ? behindAKeptTimeout() : ContextServletFilter.create(),
            servlet(current),
            Map.of(),
            EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC));
    Reason end;
    String answer;
    try {
      tomcat.getHost().getPipeline().addValve(new Hold(current));
      try {
        HttpResponse<String> r =
            Http.HTTP1.send(
                HttpRequest.newBuilder(
                        URI.create(
                            "http://127.0.0.1:" + tomcat.getConnector().getLocalPort() + "/x"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        answer = Http.answer(r);
      } catch (IOException e) {
        answer = "no answer: " + e;
      }
      run.clientDone.countDown();
      assertTrue(run.completed.await(20, TimeUnit.SECONDS), "the async task did not finish");
      end =
          Probe.reasonAtEnd(
              run.ctx.get(),
              10,
              order + ", after complete(), which " + run.complete.get() + "; the client got " + answer);
    } finally {
      tomcat.stop();
      tomcat.destroy();
    }
    assertEquals(
        Reason.RESPONSE_COMPLETED,
        end,
        order
            + (keptTimeoutInFront ? " (a wrapper in front keeping the timeout)" : "")
            + ": complete() "
            + run.complete.get()
            + "; the context then "
            + run.stateAfterComplete.get());
  }
}
