package io.ctx4j.spring.boot.shutdown;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.servlet.ContextServletFilter;
import io.ctx4j.spring.boot.ShutdownContext;
import java.time.Duration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.scheduling.annotation.Scheduled;

/** The README's shutdown examples (regions marked for it), run by {@code ShutdownExamplesTest}. */
public final class ShutdownExamples {
  private ShutdownExamples() {}

  // snippet:start own-filter
  @Configuration(proxyBeanMethods = false)
  public static class MyFilterConfig {
    @Bean
    ContextServletFilter myContextFilter(ShutdownContext shutdown) {
      return ContextServletFilter.builder()
          .parent(shutdown.context())  // without it no request is ended when the drain is over
          .maxTimeout(Duration.ofSeconds(30))
          .trustTimeoutHeaders(false)
          .build();
    }
  }
  // snippet:end own-filter

  // snippet:start scheduled
  public static class Reindexer {
    private final Context application;

    public Reindexer(ShutdownContext shutdown) {
      this.application = shutdown.context();  // ends when the drain is over
    }

    // @Scheduled runs under Context.background(), which never ends: derive from the shutdown
    // context, so that a pass still running at shutdown is told to stop.
    @Scheduled(fixedDelay = 60_000)
    public void reindex() throws InterruptedException {
      try (CancelableContext ctx = Context.withTimeout(application, Duration.ofMinutes(5))) {
        while (!ctx.isDone() && reindexSomeRows(ctx)) {
          // pass ctx on to whatever may block, so that it stops too
        }
      }
    }

    protected boolean reindexSomeRows(Context ctx) throws InterruptedException {
      return false;  // your work: true while there is more
    }
  }
  // snippet:end scheduled
}
