package io.ctx4j.servlet;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import io.ctx4j.servlet.internal.ContainerHooks;
import io.ctx4j.servlet.internal.RequestScope;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.catalina.Wrapper;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;
import org.apache.tomcat.util.descriptor.web.FilterDef;
import org.apache.tomcat.util.descriptor.web.FilterMap;

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
    Path base = Files.createTempDirectory("ctx4j-nojetty");
    Tomcat tomcat = new Tomcat();
    tomcat.setBaseDir(base.toString());
    Connector connector = new Connector("HTTP/1.1");
    connector.setPort(0);
    connector.setProperty("address", "127.0.0.1");
    tomcat.getService().addConnector(connector);
    tomcat.setConnector(connector);
    org.apache.catalina.Context context = tomcat.addContext("", base.toString());
    Servlet servlet = new Servlet();
    Wrapper wrapper = Tomcat.addServlet(context, "s", servlet);
    context.addServletMappingDecoded("/*", "s");
    FilterDef def = new FilterDef();
    def.setFilterName("ctx4j");
    def.setFilter(ContextServletFilter.create());
    context.addFilterDef(def);
    FilterMap map = new FilterMap();
    map.setFilterName("ctx4j");
    map.addURLPatternDecoded("/*");
    context.addFilterMap(map);
    wrapper.setAsyncSupported(false);
    tomcat.start();
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
