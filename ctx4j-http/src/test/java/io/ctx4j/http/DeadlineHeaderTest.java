package io.ctx4j.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.ctx4j.CancelableContext;
import io.ctx4j.Context;
import io.ctx4j.ManualTimeSource;
import io.ctx4j.testing.ForeignContext;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
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
  @CsvSource(
      delimiter = ';',
      value = {
        "0; 0", "287; 287", "' 42\t'; 42", "00000001; 1", "99999999; 99999999", "'5000, 50'; 50",
        "'50,5000'; 50", "' 7 ,\t3 , 9'; 3", "'50,'; 50", "',,50,,'; 50", "'0, 99999999'; 0"
      })
  void parseReadsMilliseconds(String value, long millis) {
    assertEquals(Duration.ofMillis(millis), DeadlineHeader.parse(value));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "", " ", "-1", "+5", "1.5", "250m", "3S", "123456789", "１２", "0x10", "1e3", "5 0", ",",
        " , ", "000000001", "99999999999999999999", "\u000B50", "50\u000C", "\u001C50", "50\u001F",
        "\u200350", "50\u2028", "\u300050", "\u00A050", "50\u0085", "\r50", "50\n", "\u000050"
      })
  void parseRejectsAnythingButOneToEightAsciiDigits(String value) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> DeadlineHeader.parse(value));
    assertTrue(e.getMessage().contains(DeadlineHeader.NAME), e.getMessage());
  }

  @Test
  void parseAllTakesTheSmallestOfAllLinesAndRejectsAnyMalformedOne() {
    assertEquals(Optional.empty(), DeadlineHeader.parseAll(List.of()));
    assertEquals(Optional.of(Duration.ofMillis(50)), DeadlineHeader.parseAll(List.of("5000", "50")));
    assertEquals(Optional.of(Duration.ofMillis(50)), DeadlineHeader.parseAll(List.of("50", "5000")));
    assertEquals(Optional.of(Duration.ofMillis(7)), DeadlineHeader.parseAll(List.of("50, 7", "9")));
    assertThrows(IllegalArgumentException.class, () -> DeadlineHeader.parseAll(List.of("50", "5s")));
    assertThrows(IllegalArgumentException.class, () -> DeadlineHeader.parseAll(List.of("50", "")));
    assertEquals(
        "lines contains null",
        assertThrows(NullPointerException.class, () -> DeadlineHeader.parseAll(Arrays.asList("1", null)))
            .getMessage());
  }

  @Test
  void malformedValuesAreQuotedWithControlCharactersEscaped() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> DeadlineHeader.parse("5\u000B0"));
    assertTrue(e.getMessage().contains("\"5\\u000B0\""), e.getMessage());
  }

  @Test
  void valueForWithholdsTheTransitAllowanceAndRoundsDown() {
    ManualTimeSource time = ManualTimeSource.startingAt(Instant.parse("2040-06-01T00:00:00Z"));
    Context root = Context.withTimeSource(Context.background(), time);
    try (CancelableContext ctx = Context.withTimeout(root, Duration.ofNanos(300_999_999))) {
      assertEquals(Optional.of("295"), DeadlineHeader.valueFor(ctx));
      time.advance(Duration.ofMillis(296));
      assertEquals(Optional.of("0"), DeadlineHeader.valueFor(ctx));
    }
    try (CancelableContext ctx = Context.withDeadline(root, Instant.MAX)) {
      assertEquals(Optional.of("99999999"), DeadlineHeader.valueFor(ctx));
    }
    assertEquals(Duration.ofMillis(5), DeadlineHeader.TRANSIT_ALLOWANCE);
  }

  /**
   * A context implemented outside ctx4j may return any Duration from {@code remaining()}, not the
   * saturated one of the default method: one at the bottom of Duration's range is a deadline long
   * passed ({@code 0}, as for any time that is up), one at the top the most the header allows; a
   * deadline at either end of time, through the default {@code remaining()}, likewise.
   */
  @Test
  void valueForSaturatesTheRemainingTimeOfAForeignContext() {
    Duration[] lowest = {
      Duration.ofSeconds(Long.MIN_VALUE), Duration.ofSeconds(Long.MIN_VALUE, 4_999_999)
    };
    for (Duration left : lowest) {
      assertEquals(Optional.of("0"), DeadlineHeader.valueFor(remainingAlways(left)), left::toString);
    }
    Duration highest = Duration.ofSeconds(Long.MAX_VALUE, 999_999_999);
    assertEquals(Optional.of("99999999"), DeadlineHeader.valueFor(remainingAlways(highest)));
    assertEquals(Optional.of("0"), DeadlineHeader.valueFor(new ForeignContext(Instant.MIN)));
    assertEquals(Optional.of("99999999"), DeadlineHeader.valueFor(new ForeignContext(Instant.MAX)));
  }

  /** A foreign context whose remaining() returns {@code left}, whatever its deadline says. */
  private static Context remainingAlways(Duration left) {
    return new ForeignContext(Instant.EPOCH) {
      @Override
      public Optional<Duration> remaining() {
        return Optional.of(left);
      }
    };
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

  /**
   * Header lines as a client keeps them, in order, names case-insensitive: remove takes every line
   * of a name, as Spring's, Jetty's, Netty's and Apache's header types do.
   */
  private static final class Lines {
    final List<String> lines = new ArrayList<>();
    final List<String> calls = new ArrayList<>();

    Lines(String... lines) {
      this.lines.addAll(Arrays.asList(lines));
    }

    void remove(String name) {
      calls.add("remove " + name);
      lines.removeIf(line -> line.regionMatches(true, 0, name + ":", 0, name.length() + 1));
    }

    void set(String name, String value) {
      calls.add("set " + name + " " + value);
      lines.add(name + ": " + value);
    }
  }

  @Test
  void restateReplacesEveryLineWithTheTimeLeft() {
    ManualTimeSource time = ManualTimeSource.startingAt(Instant.parse("2040-06-01T00:00:00Z"));
    try (CancelableContext ctx =
        Context.withTimeout(Context.withTimeSource(Context.background(), time), Duration.ofMillis(300))) {
      Lines h = new Lines("Accept: */*", "ctx4j-timeout-ms: 99999999", "Ctx4j-Timeout-Ms: 7, 9");
      assertEquals(Optional.of("295"), DeadlineHeader.restate(ctx, h::remove, h::set));
      assertEquals(List.of("Accept: */*", "Ctx4j-Timeout-Ms: 295"), h.lines);
      assertEquals(List.of("remove Ctx4j-Timeout-Ms", "set Ctx4j-Timeout-Ms 295"), h.calls);
      time.advance(Duration.ofMillis(400)); // past the deadline: 0, as valueFor says
      assertEquals(Optional.of("0"), DeadlineHeader.restate(ctx, h::remove, h::set));
      assertEquals(List.of("Accept: */*", "Ctx4j-Timeout-Ms: 0"), h.lines);
    }
  }

  @Test
  void restateWithoutADeadlineOnlyRemoves() {
    Lines h = new Lines("Ctx4j-Timeout-Ms: 50", "Accept: */*");
    assertEquals(Optional.empty(), DeadlineHeader.restate(Context.background(), h::remove, h::set));
    assertEquals(List.of("Accept: */*"), h.lines);
    assertEquals(List.of("remove Ctx4j-Timeout-Ms"), h.calls);
  }

  /**
   * A foreign context whose remaining() throws: the exception goes on, and the request's headers
   * are as they were, not stripped of the caller's value with nothing in its place.
   */
  @Test
  void restateChangesNothingWhenRemainingThrows() {
    Context broken =
        new ForeignContext(Instant.MAX) {
          @Override
          public Optional<Duration> remaining() {
            throw new IllegalStateException("no clock");
          }
        };
    Lines h = new Lines("Ctx4j-Timeout-Ms: 50");
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> DeadlineHeader.restate(broken, h::remove, h::set));
    assertEquals("no clock", e.getMessage());
    assertEquals(List.of("Ctx4j-Timeout-Ms: 50"), h.lines);
    assertEquals(List.of(), h.calls);
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
    Lines h = new Lines();
    assertEquals(
        "ctx",
        assertThrows(NullPointerException.class, () -> DeadlineHeader.restate(null, h::remove, h::set))
            .getMessage());
    assertEquals(
        "remove",
        assertThrows(
                NullPointerException.class,
                () -> DeadlineHeader.restate(Context.background(), null, h::set))
            .getMessage());
    assertEquals(
        "set",
        assertThrows(
                NullPointerException.class,
                () -> DeadlineHeader.restate(Context.background(), h::remove, null))
            .getMessage());
    assertEquals(List.of(), h.calls);
  }
}
