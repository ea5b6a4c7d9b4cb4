package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ManualTimeSource;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ManualClockRemainingTest {
  @Test
  void theRemainingTimeFollowsTheContextsOwnClock() {
    ManualTimeSource time = ManualTimeSource.startingAt(Instant.parse("2040-06-01T00:00:00Z"));
    Context root = Context.withTimeSource(Context.background(), time);
    try (CancelableContext ctx = Context.withTimeout(root, Duration.ofMillis(300))) {
      assertEquals(Optional.of(Duration.ofMillis(300)), DeadlineHeader.remaining(ctx));
      time.advance(Duration.ofMillis(120));
      assertEquals(Optional.of(Duration.ofMillis(180)), DeadlineHeader.remaining(ctx));
    }
  }
}
