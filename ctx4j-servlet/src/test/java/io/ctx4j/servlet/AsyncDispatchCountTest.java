package io.ctx4j.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.ServletOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A body written whole in an ASYNC dispatch, past its declared length: the dispatch's watched
 * stream or writer counts only over what the filter took for the container's response on the
 * first dispatch (RequestScope.containerResponse), so this guards that the container hands the
 * same response object to the ASYNC dispatch (Jetty 12.1, Tomcat 11). Were it another, nothing
 * would be counted there, and the container's refusal of the byte past the length would read as a
 * lost client while the client got its whole answer. (Suggested by review of e025bc5.)
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class AsyncDispatchCountTest {
  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> rows() {
    return Containers.eachWith("stream", "writer");
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void anOverrunWrittenWholeInTheAsyncDispatchIsNoLostClient(Containers c, String how)
      throws Exception {
    AtomicReference<Context> seen = new AtomicReference<>();
    AtomicReference<String> after = new AtomicReference<>("never ran");
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              if (req.getDispatcherType() != DispatcherType.ASYNC) {
                seen.set(CurrentContext.get());
                res.setContentLength(5);
                req.startAsync().dispatch();
                return;
              }
              Context ctx = CurrentContext.get();
              try {
                if (how.equals("writer")) {
                  PrintWriter w = res.getWriter();
                  w.print("hello");
                  w.flush();
                  w.print('!');
                  w.flush();
                  thrown.set("checkError() " + w.checkError());
                } else {
                  ServletOutputStream out = res.getOutputStream();
                  out.write("hello".getBytes(StandardCharsets.US_ASCII));
                  out.flush();
                  out.write('!');
                  out.flush();
                }
              } catch (IOException | IllegalStateException e) {
                thrown.set(e.toString());
              }
              after.set(ctx.isDone() ? "done: " + ctx.cause() : "live");
            });
    String answer;
    Reason end;
    try (Containers.Running server = c.start(ContextServletFilter.create(), servlet)) {
      HttpResponse<String> r = Http.get(server.port, "/x");
      answer = Http.answer(r);
      end = Probe.reasonAtEnd(seen.get(), 10, how + ": the client got " + answer);
    }
    assertEquals(
        "live",
        after.get(),
        how + ": the byte past the length threw " + thrown.get() + "; the client got " + answer);
    assertEquals(
        Reason.RESPONSE_COMPLETED,
        end,
        how + ": the client got " + answer);
    assertEquals("200 hello", answer, how);
  }
}
