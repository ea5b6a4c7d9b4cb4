package io.ctx4j.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ManualTimeSource;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class ManualClockTimeoutTest {
  @Test
  void theQueryTimeoutFollowsTheContextsOwnClock() {
    // Far from the wall clock: a helper reading Instant.now() would see years left or none.
    ManualTimeSource time = ManualTimeSource.startingAt(Instant.parse("2040-06-01T00:00:00Z"));
    Context root = Context.withTimeSource(Context.background(), time);
    try (CancelableContext ctx = Context.withTimeout(root, Duration.ofMillis(2_500))) {
      assertEquals(3, ContextStatements.queryTimeoutSeconds(ctx), "2.5 s left rounds up to 3 s");
      time.advance(Duration.ofMillis(1_600));
      assertEquals(1, ContextStatements.queryTimeoutSeconds(ctx), "0.9 s left rounds up to 1 s");
    }
  }
}
