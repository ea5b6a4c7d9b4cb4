package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.internal.CoreInternals;
import jakarta.servlet.AsyncContext;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * 10,000 requests on a long-lived server (4 keep-alive connections, a quarter of the requests
 * async, a third with a deadline header of a budget from 59 to 60 s, which changes from request to
 * request, every request context waited on so that it registers with
 * its parent) leave nothing registered: not on the server root but the shared deadlines still
 * current, which no request holds (exact count through the core's internal accessor,
 * CoreInternals), not on Jetty's connections (their own listener lists).
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class ServletRegistrationLeakTest {
  private static final int REQUESTS = 10_000;
  private static final int CONNECTIONS = 4;

  @ParameterizedTest
  @ValueSource(strings = {"JETTY", "TOMCAT"})
  void tenThousandRequestsLeaveNothingRegistered(String container) throws Exception {
    ContextServletFilter filter = ContextServletFilter.create();
    Context root = filter.root();
    CountDownLatch contextsEnded = new CountDownLatch(REQUESTS);
    ContainerAccess.Handler handler =
        (req, res) -> {
          Context ctx = CurrentContext.get();
          ctx.onDone(contextsEnded::countDown);
          res.setContentLength(2);
          if (req.getRequestURI().endsWith("/async")) {
            AsyncContext async = req.startAsync();
            async.start(
                () -> {
                  try {
                    async.getResponse().getOutputStream().write(new byte[] {'o', 'k'});
                  } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                  }
                  async.complete();
                });
          } else {
            res.getOutputStream().write(new byte[] {'o', 'k'});
          }
        };
    int timersBefore = CoreInternals.pendingTimers();
    try (ContainerAccess.Server server = ContainerAccess.start(container, filter, handler)) {
      ExecutorService clients = Executors.newFixedThreadPool(CONNECTIONS);
      try {
        List<Future<Integer>> done = new ArrayList<>();
        for (int c = 0; c < CONNECTIONS; c++) {
          int first = c;
          done.add(clients.submit(() -> runConnection(server.port(), first)));
        }
        int total = 0;
        for (Future<Integer> f : done) {
          total += f.get(240, TimeUnit.SECONDS);
        }
        assertEquals(REQUESTS, total);
      } finally {
        clients.shutdownNow();
      }
      assertTrue(contextsEnded.await(30, TimeUnit.SECONDS), contextsEnded.getCount() + " request contexts never ended");
      // What may stay: the shared deadlines still current (one header is in use, so up to its four
      // slots: the budgets spread the deadlines over a second, two or three 512 ms windows), which
      // no request holds; each ends at its deadline or when a later request replaces it.
      int kept = filter.sharedDeadlinesKept();
      assertTrue(kept >= 1 && kept <= io.ctx4j.servlet.internal.SharedDeadlines.WAYS, "shared deadlines kept: " + kept);
      assertEquals(kept, CoreInternals.registrationCount(root), "request contexts left registered on the server root");
      // Each async request's complete() armed a wait for the container (RequestScope's grace);
      // the request's end must have stopped it. Only the shared deadlines' timers may stay.
      int timers = CoreInternals.pendingTimers() - timersBefore;
      assertTrue(timers <= kept, "timers left pending: " + timers + ", shared deadlines kept: " + kept);
      if (container.equals("JETTY")) {
        // The filter registers nothing on Jetty's connections (they outlive requests); read from
        // each connection's own listener list, so a listener added back would have to be removed.
        assertEquals(0, server.jettyConnectionListenersOfCtx4j(), "ctx4j listeners on Jetty's connections");
      }
      assertTrue(!root.isDone(), "the root is still live");
    }
    System.out.println("LEAK|" + container + "|" + REQUESTS + " requests, left on root "
        + CoreInternals.registrationCount(root));
  }

  /** Sends REQUESTS / CONNECTIONS requests on one keep-alive connection, one at a time. */
  private static int runConnection(int port, int connection) throws IOException {
    int n = 0;
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout(60_000);
      OutputStream out = socket.getOutputStream();
      InputStream in = new BufferedInputStream(socket.getInputStream());
      for (int i = connection; i < REQUESTS; i += CONNECTIONS) {
        String path = i % 4 == 0 ? "/async" : "/sync";
        // Another budget almost every time, as a caller that propagates its deadline sends: the
        // deadlines spread over a second and more, so shared deadlines keep being replaced.
        String deadline = i % 3 == 0 ? "Ctx4j-Timeout-Ms: " + (60_000 - i % 1_000) + "\r\n" : "";
        out.write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + deadline + "\r\n")
            .getBytes(StandardCharsets.US_ASCII));
        out.flush();
        readResponse(in);
        n++;
      }
    }
    return n;
  }

  /** Reads one response with a Content-Length body and checks it is 200 "ok". */
  private static void readResponse(InputStream in) throws IOException {
    StringBuilder head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("connection closed in the response head: " + head);
      }
      head.append((char) b);
    }
    String h = head.toString();
    if (!h.startsWith("HTTP/1.1 200")) {
      throw new IOException("unexpected response: " + h);
    }
    int length = -1;
    for (String line : h.split("\r\n")) {
      if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
        length = Integer.parseInt(line.substring(15).trim());
      }
    }
    if (length != 2) {
      throw new IOException("expected Content-Length: 2 in " + h);
    }
    byte[] body = in.readNBytes(2);
    if (body.length != 2 || body[0] != 'o' || body[1] != 'k') {
      throw new IOException("bad body");
    }
  }
}
