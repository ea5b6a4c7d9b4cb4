package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class DeadlineHeaderTest {

  @ParameterizedTest(name = "{0} ns -> \"{1}\"")
  @CsvSource({
    "0, 0",
    "-5000000, 0",
    "999999, 0",
    "1000000, 1",
    "287900000, 287",
    "99999999000000, 99999999",
    "100000000000000, 99999999",
    "9223372036854775807, 99999999"
  })
  void formatRoundsDownAndClamps(long nanos, String expected) {
    assertEquals(expected, DeadlineHeader.format(Duration.ofNanos(nanos)));
  }

  @Test
  void formatClampsDurationsTooLongForMillis() {
    assertEquals("99999999", DeadlineHeader.format(Duration.ofSeconds(Long.MAX_VALUE)));
  }

  @ParameterizedTest
  @CsvSource({"0, 0", "287, 287", "' 42\t', 42", "00000001, 1", "99999999, 99999999"})
  void parseReadsMilliseconds(String value, long millis) {
    assertEquals(Duration.ofMillis(millis), DeadlineHeader.parse(value));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", "-1", "+5", "1.5", "250m", "3S", "123456789", "１２"})
  void parseRejectsAnythingButOneToEightAsciiDigits(String value) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> DeadlineHeader.parse(value));
    assertTrue(e.getMessage().contains(DeadlineHeader.NAME), e.getMessage());
  }

  @Test
  void valueForIsEmptyWithoutDeadlineAndBoundedWithOne() {
    assertTrue(DeadlineHeader.valueFor(Context.background()).isEmpty());
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ofMillis(300))) {
      long sent = Long.parseLong(DeadlineHeader.valueFor(ctx).orElseThrow());
      assertTrue(sent >= 0 && sent <= 300, "sent " + sent);
    }
  }

  @Test
  void remainingIsZeroOncePast() {
    try (CancelableContext ctx = Context.withTimeout(Context.background(), Duration.ZERO)) {
      assertEquals(Duration.ZERO, DeadlineHeader.remaining(ctx).orElseThrow());
    }
  }

  @Test
  void nullArgumentsAreNamed() {
    assertEquals(
        "remaining",
        assertThrows(NullPointerException.class, () -> DeadlineHeader.format(null)).getMessage());
    assertEquals(
        "value",
        assertThrows(NullPointerException.class, () -> DeadlineHeader.parse(null)).getMessage());
    assertEquals(
        "ctx",
        assertThrows(NullPointerException.class, () -> DeadlineHeader.remaining(null)).getMessage());
  }
}
