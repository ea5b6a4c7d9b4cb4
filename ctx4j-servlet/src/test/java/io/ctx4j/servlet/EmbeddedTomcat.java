package io.ctx4j.servlet;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Map;
import org.apache.catalina.Wrapper;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;
import org.apache.coyote.http2.Http2Protocol;
import org.apache.tomcat.util.descriptor.web.FilterDef;
import org.apache.tomcat.util.descriptor.web.FilterMap;

/** Embedded Tomcat on 127.0.0.1, port 0, h2c enabled; no Jetty class referenced (see NoJettyTest). */
final class EmbeddedTomcat {
  private EmbeddedTomcat() {}

  /**
   * The multipart configuration of {@code servlet}'s {@code @MultipartConfig}, or null: an
   * embedded container given a servlet instance does not read the annotation itself.
   */
  static jakarta.servlet.MultipartConfigElement multipartConfigOf(HttpServlet servlet) {
    jakarta.servlet.annotation.MultipartConfig config =
        servlet.getClass().getAnnotation(jakarta.servlet.annotation.MultipartConfig.class);
    return config == null ? null : new jakarta.servlet.MultipartConfigElement(config);
  }

  static Tomcat start(Filter filter, HttpServlet servlet, Map<String, String> init, EnumSet<DispatcherType> types)
      throws Exception {
    return start(filter, servlet, init, types, types.contains(DispatcherType.ERROR));
  }

  /** As above; with {@code errorPages}, the error pages whatever the filter is mapped for. */
  static Tomcat start(Filter filter, HttpServlet servlet, Map<String, String> init,
      EnumSet<DispatcherType> types, boolean errorPages) throws Exception {
    Path base = Files.createTempDirectory("ctx4j-tomcat");
    Tomcat tomcat = new Tomcat();
    tomcat.setBaseDir(base.toString());
    Connector connector = new Connector("HTTP/1.1");
    connector.setPort(0);
    connector.setProperty("address", "127.0.0.1");
    // Tomcat closes a keep-alive connection after 100 requests by default; Jetty never does.
    connector.setProperty("maxKeepAliveRequests", "-1");
    connector.addUpgradeProtocol(new Http2Protocol());
    tomcat.getService().addConnector(connector);
    tomcat.setConnector(connector);
    org.apache.catalina.Context context = tomcat.addContext("", base.toString());
    Wrapper wrapper = Tomcat.addServlet(context, "servlet", servlet);
    wrapper.setAsyncSupported(true);
    jakarta.servlet.MultipartConfigElement multipart = multipartConfigOf(servlet);
    if (multipart != null) {
      wrapper.setMultipartConfigElement(multipart);
    }
    context.addServletMappingDecoded("/*", "servlet");
    FilterDef def = new FilterDef();
    def.setFilterName("ctx4j");
    def.setFilter(filter);
    def.setAsyncSupported("true");
    init.forEach(def::addInitParameter);
    context.addFilterDef(def);
    FilterMap map = new FilterMap();
    map.setFilterName("ctx4j");
    map.addURLPatternDecoded("/*");
    for (DispatcherType t : types) {
      map.setDispatcher(t.name());
    }
    context.addFilterMap(map);
    if (errorPages) {
      org.apache.tomcat.util.descriptor.web.ErrorPage page = new org.apache.tomcat.util.descriptor.web.ErrorPage();
      page.setErrorCode(Containers.ERROR_STATUS);
      page.setLocation(Containers.ERROR_PAGE);
      context.addErrorPage(page);
      org.apache.tomcat.util.descriptor.web.ErrorPage low = new org.apache.tomcat.util.descriptor.web.ErrorPage();
      low.setErrorCode(Containers.LOW_ERROR_STATUS);
      low.setLocation(Containers.ERROR_PAGE);
      context.addErrorPage(low);
      org.apache.tomcat.util.descriptor.web.ErrorPage thrown = new org.apache.tomcat.util.descriptor.web.ErrorPage();
      thrown.setExceptionType(Containers.ToErrorPage.class.getName());
      thrown.setLocation(Containers.ERROR_PAGE);
      context.addErrorPage(thrown);
    }
    tomcat.start();
    return tomcat;
  }
}
