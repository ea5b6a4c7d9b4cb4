package io.ctx4j.servlet;

import io.ctx4j.concurrent.CurrentContext;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.ServletResponse;
import java.io.IOException;
import java.io.PrintWriter;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Tomcat: an application thread writes 256 KiB after the client reset, where the filter does not
 * see the failure at once (the writer, which swallows it, with no flush; the container's own
 * response, which Tomcat reports "a moment later" through onError), then calls complete() through
 * the filter's AsyncContext, as an application does in a finally block. The lost client must be
 * the cause: found by review of 3878f53, whose complete() ended the context at once, ahead of
 * Tomcat's onError. (Jetty reports neither failure: the README's "Jetty not at all".)
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class CompleteAfterALostWriteTest {

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> rows() {
    return java.util.stream.Stream.of(
        org.junit.jupiter.params.provider.Arguments.of(
            Containers.TOMCAT, "the watched writer, no flush, then complete()"),
        org.junit.jupiter.params.provider.Arguments.of(
            Containers.TOMCAT, "the container's own response's stream, then complete()"));
  }

  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void aLostClientBeforeCompleteIsReported(Containers c, String how) throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    boolean writer = how.contains("writer");
    byte[] big = new byte[256 * 1024];
    java.util.Arrays.fill(big, (byte) 'x');
    String bigS = new String(big, java.nio.charset.StandardCharsets.US_ASCII);
    TestServlet servlet =
        new TestServlet(
            (req, res) -> {
              AsyncContext async = req.startAsync();
              async.setTimeout(0);
              probe.enter(CurrentContext.get(), true);
              new Thread(
                      () -> {
                        try {
                          probe.awaitGo();
                          if (writer) {
                            PrintWriter w = async.getResponse().getWriter();
                            w.print(bigS);
                            thrown.set("checkError would say " + "(not asked)");
                          } else {
                            ServletResponse own =
                                async.getRequest().getAsyncContext().getResponse();
                            try {
                              own.getOutputStream().write(big);
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
                            thrown.set(thrown.get() + "; complete threw " + e);
                          }
                        }
                      })
                  .start();
            });
    HostileUseTest.assertLostAfterItsReset(
        c,
        ContextServletFilter.create(),
        servlet,
        probe,
        () -> how + ": " + thrown.get());
  }
}
