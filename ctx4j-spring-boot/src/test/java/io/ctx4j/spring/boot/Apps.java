package io.ctx4j.spring.boot;

import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;

/** Starts Spring Boot applications on 127.0.0.1, port 0, on Tomcat or Jetty, in this JVM. */
final class Apps {
  private Apps() {}

  enum Server {
    TOMCAT("org.springframework.boot.jetty.autoconfigure.servlet.JettyServletWebServerAutoConfiguration"),
    JETTY("org.springframework.boot.tomcat.autoconfigure.servlet.TomcatServletWebServerAutoConfiguration");

    /** Both servers are on the test class path: leave the other one's auto-configuration out. */
    final String exclude;

    Server(String exclude) {
      this.exclude = exclude;
    }
  }

  /**
   * Starts {@code app} with the given properties (after the defaults) and singletons (registered
   * before the refresh, by bean name).
   */
  static ConfigurableApplicationContext start(
      Class<?> app, Server server, Map<String, Object> properties, Map<String, Object> singletons) {
    Map<String, Object> p = defaults(server);
    p.putAll(properties);
    return new SpringApplicationBuilder(app)
        .web(WebApplicationType.SERVLET)
        .properties(p)
        .initializers(ctx -> singletons.forEach(ctx.getBeanFactory()::registerSingleton))
        .run();
  }

  /** The properties {@link #start} sets before the caller's: loopback, port 0, quiet, one server. */
  static Map<String, Object> defaults(Server server) {
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("server.port", "0");
    p.put("server.address", "127.0.0.1");
    p.put("spring.main.banner-mode", "off");
    p.put("spring.jmx.enabled", "false");
    p.put("logging.level.root", "WARN");
    p.put("spring.autoconfigure.exclude", server.exclude);
    return p;
  }

  static int port(ConfigurableApplicationContext ctx) {
    return ((WebServerApplicationContext) ctx).getWebServer().getPort();
  }

  static String url(ConfigurableApplicationContext ctx) {
    return "http://127.0.0.1:" + port(ctx);
  }
}
