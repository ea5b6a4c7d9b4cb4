package io.ctx4j.servlet;

import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * An application's response given to startAsync(req, res) that delegates to the filter's response
 * without extending ServletResponseWrapper (a proxy, a delegating class), with a stream of its own
 * over the filter's, is watched again in the ASYNC dispatch: its bytes must be counted once (found
 * by review of 4ec088b, which told the watched stream that counts by walking the
 * ServletResponseWrapper chain, and counted them twice: a lost client read as a refusal).
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class DoubleCountTest {

  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> rows() {
    return Containers.eachWith(
        "a delegating proxy given to startAsync(req, res)",
        "control: an HttpServletResponseWrapper given to startAsync(req, res)");
  }

  private static ServletResponse given(HttpServletResponse res, boolean proxy) {
    if (!proxy) {
      return new HttpServletResponseWrapper(res) {
        @Override
        public ServletOutputStream getOutputStream() throws IOException {
          return SharedCountInFrontTest.delegating(super.getOutputStream());
        }
      };
    }
    return (ServletResponse)
        Proxy.newProxyInstance(
            DoubleCountTest.class.getClassLoader(),
            new Class<?>[] {HttpServletResponse.class},
            (p, m, args) -> {
              if (m.getName().equals("getOutputStream")) {
                return SharedCountInFrontTest.delegating(res.getOutputStream());
              }
              try {
                return m.invoke(res, args);
              } catch (InvocationTargetException e) {
                throw e.getCause();
              }
            });
  }

  /**
   * HIDDEN LOST CLIENT? Declared 16; the client resets; in the ASYNC dispatch, 8 bytes and 8 more
   * through the dispatch's response: exactly the length, the client gone: a lost client.
   */
  @ParameterizedTest(name = "{0}: {1}")
  @MethodSource("rows")
  void exactlyTheLengthThroughADelegatingResponseIsALostClient(Containers c, String how)
      throws Exception {
    Probe probe = new Probe();
    AtomicReference<String> thrown = new AtomicReference<>("nothing");
    boolean proxy = !how.contains("control");
    TestServlet servlet =
        TestServlet.declareThenDispatch(
            16,
            res -> given((HttpServletResponse) res, proxy),
            probe,
            res -> {
              ServletOutputStream o = res.getOutputStream();
              o.write("12345678".getBytes(StandardCharsets.US_ASCII));
              o.write("abcdefgh".getBytes(StandardCharsets.US_ASCII));
              o.flush();
              return null;
            },
            thrown);
    HostileUseTest.assertLostAfterItsReset(
        c,
        ContextServletFilter.create(),
        servlet,
        probe,
        () -> how + ": the last call threw " + thrown.get());
  }
}
