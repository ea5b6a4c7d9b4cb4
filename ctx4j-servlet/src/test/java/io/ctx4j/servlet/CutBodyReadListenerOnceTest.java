package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletInputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A {@code ReadListener} that reads a chunked body cut between a chunk's CR and LF to its end, as
 * the usual loop does ({@code while (isReady()) read until -1}), on Jetty 12.1, and does not
 * complete the request inside {@code onError} (it may answer later, from elsewhere): the listener
 * must hear of the lost client once. The filter throws its {@code EofException} in place of the -1
 * (so {@code onDataAvailable} fails and Jetty calls {@code onError}); Jetty had already noted the
 * end of the body and then calls {@code onAllDataRead}, which the filter turns into a second {@code
 * onError}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CutBodyReadListenerOnceTest {
  @Test
  void aReadListenerHearsOfACutBodyOnce() throws Exception {
    Probe probe = new Probe();
    List<String> calls = new CopyOnWriteArrayList<>();
    CountDownLatch completed = new CountDownLatch(1);
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              probe.enterCurrent(req);
              AsyncContext async = req.startAsync();
              // Completes the request: Jetty acts on the timeout only once its handling loop
              // waits, so after every callback the cut brought.
              async.setTimeout(3000);
              async.addListener(
                  new AsyncListener() {
                    @Override
                    public void onComplete(AsyncEvent event) {
                      completed.countDown();
                    }

                    @Override
                    public void onTimeout(AsyncEvent event) {
                      calls.add("AsyncListener.onTimeout");
                      event.getAsyncContext().complete();
                    }

                    @Override
                    public void onError(AsyncEvent event) {
                      calls.add("AsyncListener.onError");
                      event.getAsyncContext().complete();
                    }

                    @Override
                    public void onStartAsync(AsyncEvent event) {}
                  });
              ServletInputStream in = req.getInputStream();
              in.setReadListener(
                  new ReadListener() {
                    @Override
                    public void onDataAvailable() throws java.io.IOException {
                      byte[] buf = new byte[64];
                      while (in.isReady()) {
                        if (in.read(buf) < 0) {
                          break;
                        }
                      }
                    }

                    @Override
                    public void onAllDataRead() {
                      calls.add("onAllDataRead");
                    }

                    @Override
                    public void onError(Throwable t) {
                      calls.add("onError " + t.getClass().getName());
                    }
                  });
            });
    try (Containers.Running server =
        Containers.JETTY.start(ContextServletFilter.create(), servlet)) {
      try (Socket s = new Socket("127.0.0.1", server.port)) {
        s.getOutputStream()
            .write(
                (ChunkedBodyCutTest.HEAD + ChunkedBodyCutTest.Cut.BETWEEN_CR_AND_LF.sent)
                    .getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        assertTrue(probe.entered.await(10, TimeUnit.SECONDS), "the handler never ran");
      }
      assertTrue(completed.await(20, TimeUnit.SECONDS), "never completed: " + calls);
    }
    long listenerCalls =
        calls.stream().filter(c -> c.startsWith("onError") || c.equals("onAllDataRead")).count();
    assertEquals(1, listenerCalls, "the ReadListener's end callbacks: " + calls);
  }

  /**
   * The cut comes once the listener has read every byte sent (its {@code isReady()} said false), so
   * Jetty calls {@code onAllDataRead}, which the filter turns into {@code onError}; that {@code
   * onError} throws. Jetty hands what {@code onAllDataRead} threw to {@code onError}: the listener
   * must not hear of the failure twice.
   */
  @Test
  void aReadListenerWhoseOnErrorThrowsHearsOfACutBodyOnce() throws Exception {
    Probe probe = new Probe();
    List<String> calls = new CopyOnWriteArrayList<>();
    CountDownLatch completed = new CountDownLatch(1);
    CountDownLatch drained = new CountDownLatch(1);
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              probe.enterCurrent(req);
              AsyncContext async = req.startAsync();
              async.setTimeout(3000);
              async.addListener(
                  new AsyncListener() {
                    @Override
                    public void onComplete(AsyncEvent event) {
                      completed.countDown();
                    }

                    @Override
                    public void onTimeout(AsyncEvent event) {
                      calls.add("AsyncListener.onTimeout");
                      event.getAsyncContext().complete();
                    }

                    @Override
                    public void onError(AsyncEvent event) {
                      calls.add("AsyncListener.onError");
                      event.getAsyncContext().complete();
                    }

                    @Override
                    public void onStartAsync(AsyncEvent event) {}
                  });
              ServletInputStream in = req.getInputStream();
              java.util.concurrent.atomic.AtomicInteger read =
                  new java.util.concurrent.atomic.AtomicInteger();
              in.setReadListener(
                  new ReadListener() {
                    @Override
                    public void onDataAvailable() throws java.io.IOException {
                      byte[] buf = new byte[64];
                      while (in.isReady()) {
                        int n = in.read(buf);
                        if (n < 0) {
                          break;
                        }
                        read.addAndGet(n);
                      }
                      if (read.get() == 10) {
                        drained.countDown();
                      }
                    }

                    @Override
                    public void onAllDataRead() {
                      calls.add("onAllDataRead");
                    }

                    @Override
                    public void onError(Throwable t) {
                      calls.add("onError " + t.getClass().getName());
                      throw new IllegalStateException("the application's onError failed");
                    }
                  });
            });
    try (Containers.Running server =
        Containers.JETTY.start(ContextServletFilter.create(), servlet)) {
      try (Socket s = new Socket("127.0.0.1", server.port)) {
        s.getOutputStream()
            .write(
                (ChunkedBodyCutTest.HEAD + ChunkedBodyCutTest.Cut.BETWEEN_CR_AND_LF.sent)
                    .getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        assertTrue(probe.entered.await(10, TimeUnit.SECONDS), "the handler never ran");
        assertTrue(drained.await(10, TimeUnit.SECONDS), "the listener never read it all");
      }
      assertTrue(completed.await(20, TimeUnit.SECONDS), "never completed: " + calls);
    }
    long listenerCalls =
        calls.stream().filter(c -> c.startsWith("onError") || c.equals("onAllDataRead")).count();
    assertEquals(1, listenerCalls, "the ReadListener's end callbacks: " + calls);
  }
}
