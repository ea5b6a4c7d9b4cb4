package io.ctx4j.servlet;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.internal.ContainerHooks;
import io.ctx4j.servlet.internal.RequestScope;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;

/**
 * Run by {@link NoJettyTest} inside a class loader without Jetty: it references Tomcat and the
 * module only (Containers would load Jetty classes).
 */
public final class NoJettyLauncher {
  private NoJettyLauncher() {}

  /** A servlet reporting its context's causes. */
  static final class Servlet extends HttpServlet {
    private static final long serialVersionUID = 1L;
    final transient AtomicReference<String> seen = new AtomicReference<>();
    final transient CountDownLatch done = new CountDownLatch(1);

    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse res) throws IOException {
      Context ctx = CurrentContext.get();
      try {
        ctx.await(Duration.ofSeconds(20));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      String hooks = String.valueOf(ContainerHooks.attach(req, new RequestScope(Context.withCancel(ctx))));
      seen.set(ctx.cause().getMessage() + "|hooks=" + hooks);
      done.countDown();
      res.setContentLength(2);
      res.getOutputStream().write(new byte[] {'o', 'k'});
    }
  }

  /**
   * Starts Tomcat with the filter, sends one request with a 200 ms budget, and reports what the
   * handler saw.
   *
   * @return "deadline cause|hooks attached"
   * @throws Exception on failure
   */
  public static String run() throws Exception {
    // The JVM takes one URL stream handler factory, and the Tomcat of the test's own class loader
    // may have installed its copy already.
    org.apache.catalina.webresources.TomcatURLStreamHandlerFactory.disable();
    Servlet servlet = new Servlet();
    Tomcat tomcat = EmbeddedTomcat.start(
        ContextServletFilter.create(), servlet, Map.of(), EnumSet.of(DispatcherType.REQUEST));
    Connector connector = tomcat.getConnector();
    try (Socket socket = new Socket("127.0.0.1", connector.getLocalPort())) {
      OutputStream out = socket.getOutputStream();
      out.write("GET / HTTP/1.1\r\nHost: h\r\nCtx4j-Timeout-Ms: 200\r\nConnection: close\r\n\r\n"
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = socket.getInputStream();
      String response = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
      if (!response.startsWith("HTTP/1.1 200")) {
        throw new IllegalStateException(response);
      }
      if (!servlet.done.await(10, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the context never ended");
      }
      return servlet.seen.get();
    } finally {
      tomcat.stop();
      tomcat.destroy();
    }
  }
}
