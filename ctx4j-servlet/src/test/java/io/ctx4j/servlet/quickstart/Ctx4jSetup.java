package io.ctx4j.servlet.quickstart;

// README Quick start, first class: keep the two in sync.
// snippet:start setup
import io.ctx4j.servlet.ContextServletFilter;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.FilterRegistration;
import jakarta.servlet.ServletContextEvent;
import jakarta.servlet.ServletContextListener;
import java.time.Duration;
import java.util.EnumSet;

public class Ctx4jSetup implements ServletContextListener {
  private final ContextServletFilter filter =
      ContextServletFilter.builder().maxTimeout(Duration.ofSeconds(30)).build();

  @Override
  public void contextInitialized(ServletContextEvent event) {
    FilterRegistration.Dynamic f = event.getServletContext().addFilter("ctx4j", filter);
    f.setAsyncSupported(true);
    f.addMappingForUrlPatterns(EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC), false, "/*");
  }

  /** Call when a graceful shutdown begins: requests in flight end, cause "server shutdown". */
  public void beginShutdown() {
    filter.shutdown();
  }
}
// snippet:end setup
