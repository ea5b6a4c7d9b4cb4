package io.ctx4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.Context;
import io.ctx4j.concurrent.CurrentContext;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.beans.factory.annotation.Value;
import org.springframework.context.annotation.Configuration;
import org.springframework.web.servlet.HandlerInterceptor;
import org.springframework.web.servlet.config.annotation.InterceptorRegistry;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

/**
 * springChain on a machine too loaded to keep the 300 ms budget: B uses it all up before it calls
 * C (held here until its context ends, as a GC pause or a starved CPU would hold it), so its
 * RestClient rightly never sends the request. The scenario must say that C was never reached, at
 * once, not wait 20 s for C's context and then claim C "kept working after the request ended" (as
 * it did before).
 */
@Timeout(180)
class SpringChainStallTest {
  /** Armed by the test; disarmed by the one request it holds. */
  static final AtomicBoolean ARMED = new AtomicBoolean();

  /**
   * Added to each service through {@code spring.main.sources}: once armed, holds B's first request
   * that is no warm-up, after ctx4j's filter gave it its context, until that context has ended.
   */
  @Configuration(proxyBeanMethods = false)
  public static class HoldB implements WebMvcConfigurer {
    private final String name;

    /**
     * Created by Spring.
     *
     * @param name the service's {@code demo.name}
     */
    public HoldB(@Value("${demo.name}") String name) {
      this.name = name;
    }

    @Override
    public void addInterceptors(InterceptorRegistry registry) {
      registry.addInterceptor(
          new HandlerInterceptor() {
            @Override
            public boolean preHandle(HttpServletRequest q, HttpServletResponse s, Object handler)
                throws Exception {
              if ("B".equals(name) && q.getParameter("ping") == null && ARMED.compareAndSet(true, false)) {
                Context ctx = CurrentContext.get();
                ctx.await(Duration.ofSeconds(10)); // the budget from A's header ends it
              }
              return true;
            }
          });
    }
  }

  @Test
  void aHopTheRequestNeverReachedIsSaidSoAtOnce() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    int status;
    System.setProperty("spring.main.sources", HoldB.class.getName());
    ARMED.set(true);
    try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8)) {
      status = Demo.run(new String[] {"springChain"}, out, err, DemoTime.system());
    } finally {
      System.clearProperty("spring.main.sources");
      ARMED.set(false);
    }
    List<String> lines = bytes.toString(StandardCharsets.UTF_8).lines().toList();
    String all = String.join("\n", lines) + "\n--- err\n" + errBytes.toString(StandardCharsets.UTF_8);
    assertEquals(0, status, all);
    int second = lines.indexOf("-- no deadline; the caller gives up once C is working (its HTTP/2 stream is reset)");
    assertTrue(second > 0, all);
    List<String> deadline = lines.subList(0, second);
    assertTrue(deadline.stream().anyMatch(l -> l.matches("B: no time left \\(the deadline passed \\d+ ms ago\\)")), all);
    assertFalse(deadline.stream().anyMatch(l -> l.startsWith("C: ") && !l.startsWith("C: never reached")), all);
    assertTrue(deadline.contains("C: never reached (B's context ended before its call got there)"), all);
    assertTrue(deadline.stream().anyMatch(l -> l.matches("B: context ended \\d+ ms after the request was sent \\(.*")), all);
    // The run went on: the second part, with every hop, as without the hold.
    for (String hop : List.of("A", "B", "C")) {
      assertTrue(lines.subList(second, lines.size()).stream()
          .anyMatch(l -> l.matches(hop + ": context ended \\d+ ms after the caller gave up \\(client disconnected: .*")), all);
    }
  }
}
