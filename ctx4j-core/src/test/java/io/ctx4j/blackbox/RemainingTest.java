package io.ctx4j.blackbox;

import static io.ctx4j.blackbox.Fixtures.EPOCH;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.Key;
import io.ctx4j.ManualTimeSource;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** {@link Context#remaining()}: the time left follows the context's own time source and saturates. */
class RemainingTest {
  private final ManualTimeSource time = Fixtures.manualTime();
  private final Context root = Context.withTimeSource(Context.background(), time);

  @Test
  void noDeadlineMeansNothingLeftToCount() {
    assertEquals(Optional.empty(), Context.background().remaining());
    assertEquals(Optional.empty(), Context.withCancel(root).remaining());
  }

  @Test
  void followsTheManualClockAndGoesNegativeOncePast() {
    CancelableContext c = Context.withTimeout(root, Duration.ofMillis(300));
    assertEquals(Optional.of(Duration.ofMillis(300)), c.remaining());
    Context below = Context.withValue(c, Key.named("k"), "v");
    time.advance(Duration.ofMillis(120));
    assertEquals(Optional.of(Duration.ofMillis(180)), below.remaining());
    time.advance(Duration.ofMillis(200));
    assertEquals(Optional.of(Duration.ofMillis(-20)), c.remaining());
  }

  @Test
  void aManualClockFarFromTheSystemClockIsStillExact() {
    ManualTimeSource in2040 = ManualTimeSource.startingAt(Instant.parse("2040-01-01T00:00:00Z"));
    Context parent = Context.withTimeSource(Context.background(), in2040);
    CancelableContext c = Context.withTimeout(parent, Duration.ofMillis(300));
    assertEquals(Optional.of(Duration.ofMillis(300)), c.remaining());
  }

  @Test
  void farDeadlinesSaturateSoConversionsNeverThrow() {
    CancelableContext far = Context.withDeadline(root, Instant.MAX);
    Duration left = far.remaining().orElseThrow();
    assertEquals(Long.MAX_VALUE, left.toNanos());
    assertTrue(left.toMillis() > 0);
    CancelableContext past = Context.withDeadline(root, Instant.MIN);
    assertEquals(Long.MIN_VALUE, past.remaining().orElseThrow().toNanos());
    assertTrue(EPOCH.isBefore(Instant.MAX));
  }
}
