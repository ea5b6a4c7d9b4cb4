package io.ctx4j.spring.boot.shutdown;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import io.ctx4j.servlet.ContextServletFilter;
import io.ctx4j.servlet.RequestCanceledException;
import io.ctx4j.servlet.RequestCanceledException.Reason;
import io.ctx4j.spring.boot.Ctx4jServletAutoConfiguration;
import io.ctx4j.spring.boot.ShutdownContext;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.WebApplicationType;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.scheduling.annotation.EnableScheduling;

/**
 * Runs the README's shutdown examples in a Spring Boot application on Tomcat: the application's own
 * filter, made under the shutdown context, is the one registered, and its requests' root ends with
 * the shutdown cause at the close; a {@code @Scheduled} pass deriving from the shutdown context is
 * told to stop by the close.
 */
@Timeout(120)
class ShutdownExamplesTest {

  /** The example's reindexer, its work replaced by a wait that reports the pass's context. */
  static class WatchedReindexer extends ShutdownExamples.Reindexer {
    final CountDownLatch started = new CountDownLatch(1);
    final CountDownLatch stopped = new CountDownLatch(1);
    volatile Context pass;

    WatchedReindexer(ShutdownContext shutdown) {
      super(shutdown);
    }

    @Override
    protected boolean reindexSomeRows(Context ctx) throws InterruptedException {
      pass = ctx;
      started.countDown();
      if (ctx.await(java.time.Duration.ofMillis(10))) {
        stopped.countDown();
      }
      return true;
    }
  }

  @SpringBootConfiguration
  @EnableAutoConfiguration
  @EnableScheduling
  @Import(ShutdownExamples.MyFilterConfig.class)
  static class App {
    @Bean
    WatchedReindexer reindexer(ShutdownContext shutdown) {
      return new WatchedReindexer(shutdown);
    }
  }

  @Test
  void theOwnFilterAndTheScheduledPassEndAtTheClose() throws Exception {
    ConfigurableApplicationContext app =
        new SpringApplicationBuilder(App.class)
            .web(WebApplicationType.SERVLET)
            .properties(Map.of("server.port", "0", "server.address", "127.0.0.1", "spring.main.banner-mode", "off",
                "spring.jmx.enabled", "false", "logging.level.root", "WARN",
                "spring.autoconfigure.exclude",
                "org.springframework.boot.jetty.autoconfigure.servlet.JettyServletWebServerAutoConfiguration",
                "spring.lifecycle.timeout-per-shutdown-phase", "1s"))
            .run();
    ContextServletFilter filter;
    WatchedReindexer reindexer;
    try {
      filter = app.getBean(ContextServletFilter.class);
      assertSame(app.getBean("myContextFilter"), filter, "the application's own filter did not replace ctx4j's");
      assertSame(filter, app.getBean(Ctx4jServletAutoConfiguration.REGISTRATION_BEAN, FilterRegistrationBean.class).getFilter());
      assertTrue(filter.toString().contains("trustTimeoutHeaders=false, maxTimeout=30000ms"), filter.toString());
      reindexer = app.getBean(WatchedReindexer.class);
      assertTrue(reindexer.started.await(30, TimeUnit.SECONDS), "the scheduled pass never started");
      assertFalse(reindexer.pass.isDone());
    } finally {
      app.close();
    }
    assertTrue(filter.root().isDone(), "the own filter's requests were not ended at the close");
    RequestCanceledException cause = assertInstanceOf(RequestCanceledException.class, filter.root().cause());
    assertEquals(Reason.SERVER_SHUTDOWN, cause.reason());
    assertTrue(reindexer.stopped.await(30, TimeUnit.SECONDS), "the scheduled pass was not told to stop");
    assertNotNull(reindexer.pass.cause());
    assertEquals(Reason.SERVER_SHUTDOWN, ((RequestCanceledException) reindexer.pass.cause()).reason());
  }
}
